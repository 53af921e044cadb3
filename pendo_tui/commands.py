"""The headless commands behind ``--check`` and ``--sync``: thin wrappers over the engine
that print for a terminal (progress bars on a TTY, plain lines otherwise) or as JSON."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pendo_tui.cli import Context
    from pendo_tui.pendo.requestlog import RequestRecord
    from pendo_tui.sync.progress import ProgressEvent
    from pendo_tui.sync.runner import RunSummary


def check(ctx: Context, *, as_json: bool = False) -> int:
    """The preflight: one line per check (✓/✗, what was found, how to fix it); ``--json``
    prints the same as a list. Exit 0 only when a ``--sync`` would not fail on
    configuration, else the exit code of the first failing class (3, then 2, then 4)."""
    from pendo_tui.sync.preflight import exit_code, preflight

    checks = preflight(ctx.config, ctx.secrets)
    code = exit_code(checks)
    if as_json:
        print(json.dumps([c.to_dict() for c in checks], indent=2))
    else:
        ok_mark, bad_mark = _marks()
        for c in checks:
            print(f"{ok_mark if c.ok else bad_mark} {c.label}: {c.detail}")
            if not c.ok and c.fix:
                print(f"    fix: {c.fix}")
        failed = sum(not c.ok for c in checks)
        print(f"{len(checks) - failed} of {len(checks)} checks passed")
    first = next((c for c in checks if not c.ok and c.exit_code == code), None)
    if first is not None:  # one line on stderr for cron mail and log scrapers
        fix = f" — {first.fix}" if first.fix else ""
        print(f"pendo-tui: check failed: {first.label}: {first.detail}{fix}", file=sys.stderr)
    return code


def _marks() -> tuple[str, str]:
    try:
        "✓✗".encode(sys.stdout.encoding or "ascii")
    except (UnicodeEncodeError, LookupError):
        return "OK  ", "FAIL"
    return "✓", "✗"


def sync(
    ctx: Context,
    *,
    kind: str,
    mappings: list[str] | None,
    dry_run: bool,
    as_json: bool,
    debug: bool,
) -> int:
    from pendo_tui.pendo.requestlog import RequestLog
    from pendo_tui.sync.runner import run

    log = RequestLog()
    if debug:
        log.subscribe(_print_request)
    with _progress_printer(quiet=as_json) as on_progress:
        summary = run(
            ctx.config,
            ctx.secrets,
            kind=kind,  # type: ignore[arg-type]
            mappings=mappings,
            dry_run=dry_run,
            progress=on_progress,
            request_log=log,
        )
    if as_json:
        print(json.dumps(summary.to_dict(), default=str, indent=2))
    else:
        _print_summary(summary)
    return summary.exit_code


def _print_request(r: RequestRecord) -> None:
    status = r.status if r.status is not None else "ERR"
    print(
        f"[http] {r.method} {r.url} -> {status} {r.duration_ms:.0f} ms "
        f"{r.response_size or 0} B (attempt {r.attempt})",
        file=sys.stderr,
    )


class _progress_printer:
    """A progress bar per mapping on a TTY (rich), one line per phase change otherwise."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.tty = sys.stderr.isatty()
        self.bars: Any = None
        self.tasks: dict[str, Any] = {}
        self.last_phase: dict[str, str] = {}

    def __enter__(self) -> Any:
        if self.tty and not self.quiet:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

            self.bars = Progress(
                TextColumn("{task.description:<28}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[phase]}"),
                transient=False,
            )
            self.bars.__enter__()
        return self.on_event

    def __exit__(self, *exc: object) -> None:
        if self.bars is not None:
            self.bars.__exit__(*exc)

    def on_event(self, ev: ProgressEvent) -> None:
        if self.quiet:
            return
        if self.bars is None:
            if self.last_phase.get(ev.mapping) != ev.phase or ev.phase in ("done", "failed"):
                self.last_phase[ev.mapping] = ev.phase
                total = f" {ev.done}/{ev.total}" if ev.total else ""
                msg = f" {ev.message}" if ev.message else ""
                print(f"{ev.mapping}: {ev.phase}{total}{msg}", file=sys.stderr)
            return
        task = self.tasks.get(ev.mapping)
        if task is None:
            task = self.bars.add_task(ev.mapping, total=ev.total, phase=ev.phase)
            self.tasks[ev.mapping] = task
        self.bars.update(task, completed=ev.done, total=ev.total, phase=ev.message or ev.phase)


def _print_summary(s: RunSummary) -> None:
    head = f"Run {s.run_id}" if s.run_id is not None else "Dry run"
    print(f"{head}: {s.status} ({s.kind})")
    for item in s.items:
        counts = ", ".join(
            f"{k} {v}" for k, v in item.items()
            if k not in ("type", "name", "status", "error") and isinstance(v, int | float)
        )  # fmt: skip
        print(f"  {item['type']:<4} {item['name']}: {item['status']}  {counts}")
        for key in ("skipped", "rejected_reasons", "warnings"):
            if isinstance(item.get(key), dict) and item[key]:
                reasons = ", ".join(f"{r}: {n}" for r, n in item[key].items())
                print(f"       {key}: {reasons}")
        if item.get("error"):
            print(f"       error: {item['error']}")
    if s.identity_preview:
        _print_identity_preview(s.identity_preview)
    if s.error and s.status != "failed":
        print(f"  {s.error}")
    for problem in s.alerts:
        print(f"  alert: {problem}")


def _print_identity_preview(p: dict[str, Any]) -> None:
    print(
        f"  identity: {p['visitors']} visitors — {p['matched_by_email']} match by email, "
        f"{p['matched_by_id']} by id, {p['would_create']} would be created, "
        f"{sum(p['skipped'].values())} skipped"
    )
    for reason, n in p["skipped"].items():
        examples = ", ".join(p["examples"].get(f"skipped:{reason}", []))
        print(f"       skipped {reason}: {n}" + (f" (e.g. {examples})" if examples else ""))
