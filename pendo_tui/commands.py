"""The headless commands behind ``--check`` and ``--sync``: thin wrappers over the engine
that print for a terminal (progress bars on a TTY, plain lines otherwise) or as JSON."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any

from pendo_tui.errors import ExitCode

if TYPE_CHECKING:
    from pendo_tui.cli import Context
    from pendo_tui.pendo.requestlog import RequestRecord
    from pendo_tui.sync.progress import ProgressEvent
    from pendo_tui.sync.runner import RunSummary


def check(ctx: Context, *, as_json: bool = False) -> int:
    """Prove the key works for this domain, say what it can do, and that the store opens."""
    from pendo_tui.sync.session import EngineSession

    with EngineSession(ctx.config, ctx.secrets) as session:
        result = session.check()
    store_url = result.store_url
    access = "read and write" if result.write_access else "read-only"
    if as_json:
        print(json.dumps({"connection": "active", "write_access": result.write_access,
                          "base_url": result.base_url, "store": store_url}))  # fmt: skip
    else:
        print(f"Connection is active ({access}) — {result.base_url}")
        if not result.write_access:
            print("  Enough for pull mappings; push syncs need a key with write access.")
        print(f"Store is ready — {store_url}")
    return ExitCode.OK


def sync(
    ctx: Context,
    *,
    kind: str,
    mappings: list[str] | None,
    dry_run: bool,
    as_json: bool,
    debug: bool,
) -> int:
    from pendo_tui.sync.session import EngineSession

    session = EngineSession(ctx.config, ctx.secrets)
    if debug:
        session.request_log.subscribe(_print_request)
    with session, _progress_printer(quiet=as_json) as on_progress:
        summary = session.run(
            kind,  # type: ignore[arg-type]
            mappings,
            dry_run=dry_run,
            progress=on_progress,
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
