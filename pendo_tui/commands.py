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
    """The preflight: one line per check (✓/✗, what was found, how to fix it); ``--json``
    prints the same as a list. Exit 0 only when a ``--sync`` would not fail on
    configuration, else the exit code of the first failing class (3, then 2, then 4)."""
    from pendo_tui.sync.preflight import exit_code
    from pendo_tui.sync.session import EngineSession

    with EngineSession(ctx.config, ctx.secrets) as session:
        checks = session.check()
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
    """Plain text for a terminal or a cron log: what ran, what was skipped or rejected and
    why (with examples), warnings, and — always — why a run failed (also on stderr)."""
    head = f"Run {s.run_id}" if s.run_id is not None else "Dry run"
    print(f"{head}: {s.status} ({s.kind})")
    for old in s.interrupted_runs:
        in_flight = ", ".join(old.get("in_flight") or []) or "nothing yet"
        print(
            f"  note: run {old['run_id']} ({old.get('kind')}, started {old.get('started_at')}) "
            f"never finished — marked interrupted; it had in flight: {in_flight}"
        )
    for item in s.items:
        _print_item(item)
    if s.plan:
        _print_plan(s.plan)
    if s.identity_preview:
        _print_identity_preview(s.identity_preview)
    for problem in s.alerts:
        print(f"  alert: {problem}")
    if s.error:
        text = s.error.replace("\n", "\n    ")
        print(f"  {text}" if s.status != "failed" else f"  failed: {text}")
        if s.exit_code != ExitCode.OK:
            print(f"pendo-tui: {s.error}", file=sys.stderr)


# Item keys printed on their own lines, not in the one-line counts.
_DETAIL_KEYS = {"type", "name", "status", "error", "skipped", "skipped_examples",
                "rejected_reasons", "warnings"}  # fmt: skip


def _print_item(item: dict[str, Any]) -> None:
    counts = ", ".join(
        f"{k} {v}" for k, v in item.items()
        if k not in _DETAIL_KEYS and isinstance(v, int | float) and not isinstance(v, bool)
    )  # fmt: skip
    print(f"  {item['type']:<4} {item['name']}: {item['status']}  {counts}".rstrip())
    if isinstance(item.get("writes"), str):  # a dry run's plan: the window and what it writes
        window = f"{item['first_day']} to {item['last_day']}: " if item.get("first_day") else ""
        shared = item.get("shared_with")
        shared = f" (calls shared with {', '.join(shared)})" if shared else ""
        print(f"       {window}{item['writes']}{shared}")
    for line in detail_lines(item):
        print(f"       {line}")
    if item.get("error"):
        print(f"       error: {item['error']}")


def _print_plan(p: dict[str, Any]) -> None:
    """A dry run's pull plan in one line: every call once, however many mappings share it."""
    print(
        f"  plan: {p['calls']} calls to Pendo for {p['mappings']} pull mappings — "
        f"{p['aggregations']} aggregations ({p['setup']} set-up reads), "
        f"{p['calls'] - p['aggregations']} report results; more if calls are split"
    )


def detail_lines(item: dict[str, Any]) -> list[str]:
    """Skip reasons and rejection reasons with examples, then warnings, one line each."""
    lines: list[str] = []
    skipped, examples = item.get("skipped"), item.get("skipped_examples") or {}
    if isinstance(skipped, dict):
        for reason, n in skipped.items():
            lines.append(f"skipped {reason}: {n}{_examples(examples.get(reason))}")
    elif isinstance(skipped, int) and skipped:
        lines.append(f"skipped: {skipped}")
    rejected = item.get("rejected_reasons")
    if isinstance(rejected, dict):
        for reason, info in rejected.items():
            if isinstance(info, dict):
                lines.append(
                    f"rejected {reason}: {info.get('count', 0)}{_examples(info.get('examples'))}"
                )
            else:
                lines.append(f"rejected {reason}: {info}")
    warnings = item.get("warnings")
    if isinstance(warnings, dict):  # older summaries stored {name: text}
        warnings = list(warnings.values())
    for warning in warnings or []:
        lines.append(f"warning: {warning}")
    return lines


def _examples(values: Any) -> str:
    if not values:
        return ""
    return " (e.g. " + ", ".join(str(v) for v in list(values)[:3]) + ")"


def _print_identity_preview(p: dict[str, Any]) -> None:
    print(
        f"  identity: {p['visitors']} visitors — {p['matched_by_email']} match by email, "
        f"{p['matched_by_id']} by id, {p['would_create']} would be created, "
        f"{sum(p['skipped'].values())} skipped"
    )
    for reason, n in p["skipped"].items():
        examples = ", ".join(p["examples"].get(f"skipped:{reason}", []))
        print(f"       skipped {reason}: {n}" + (f" (e.g. {examples})" if examples else ""))
    for warning in p.get("warnings") or []:
        print(f"       warning: {warning}")
