"""Run panel: Sync now / Sync all / Re-sync all, progress per mapping, run history."""

from __future__ import annotations

import threading
import zlib
from datetime import date
from typing import TYPE_CHECKING, Any

from rich.markup import escape
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, DataTable, Static

from pendo_tui.errors import PendoTuiError
from pendo_tui.tui.screens.base import Pane
from pendo_tui.tui.widgets.confirm import ConfirmModal
from pendo_tui.tui.widgets.mapping_progress import MappingProgress

if TYPE_CHECKING:
    from pendo_tui.sync.session import ProgressEvent, RunSummary

HISTORY_ROWS = 50
BANNER = "⚠ Configuration changed — re-sync needed: Re-sync all applies it to old data"


def _widget_id(name: str) -> str:
    return (
        "mp-" + "".join(c if c.isalnum() else "_" for c in name) + f"-{zlib.crc32(name.encode())}"
    )


def summary_dict(summary: RunSummary | None) -> dict[str, Any]:
    return summary.to_dict() if summary is not None else {}


def totals_text(totals: Any) -> str:
    if not isinstance(totals, dict):
        return ""
    return ", ".join(
        f"{k.replace('_', ' ')} {v}" for k, v in totals.items() if isinstance(v, int) and v
    )


def summary_line(summary: RunSummary) -> tuple[str, bool]:
    """(one-line text, ok) for a RunSummary."""
    data = summary_dict(summary)
    status = str(data.get("status", "done"))
    ok = summary.exit_code == 0 and status == "ok"
    text = f"Run {data.get('run_id') or ''} {status}"
    counts = totals_text(data.get("totals"))
    if counts:
        text += f" · {counts}"
    if data.get("error"):
        text += f" · {str(data['error']).splitlines()[0]}"
    return text, ok


# (summary key, short label, shown when zero): the mapping rows have little room
ITEM_COUNTS = (
    ("rows_fetched", "fetched", True),
    ("rows_written", "written", True),
    ("sent", "sent", True),
    ("delivered", "delivered", True),
    ("skipped", "skipped", False),
    ("rejected", "rejected", False),
    ("splits", "split calls", False),  # pull calls split after a timeout/5xx (docs/pull.md)
)


def _reasons(value: Any) -> str:
    """{reason: count} (or {reason: {"count": n}}) → "anonymous 3, no company 2"."""
    if not isinstance(value, dict):
        return ""
    return ", ".join(f"{reason} {_n(n)}" for reason, n in value.items() if _n(n))


def item_line(item: dict[str, Any]) -> str:
    parts = []
    for k, label, zero in ITEM_COUNTS:
        if k in item and (zero or _n(item[k])):
            reasons = _reasons(item[k]) if k == "skipped" else ""
            parts.append(f"{label} {_n(item[k])}" + (f" ({reasons})" if reasons else ""))
    if item.get("error"):
        parts.append(str(item["error"]).splitlines()[0])
    return f"{item.get('status', '')}: " + ", ".join(parts)


def item_notes(item: dict[str, Any]) -> list[str]:
    """Why rows were skipped or rejected, and the run's advice, as whole lines: the
    mapping rows only have room for counts."""
    name = item.get("name", "")
    lines = []
    skipped, examples = item.get("skipped"), item.get("skipped_examples") or {}
    if isinstance(skipped, dict) and _n(skipped):
        parts = []
        for reason, n in skipped.items():
            ex = examples.get(reason) if isinstance(examples, dict) else None
            shown = f" (e.g. {', '.join(map(str, ex[:3]))})" if ex else ""
            parts.append(f"{_n(n)} {reason}{shown}")
        lines.append(f"{name}: skipped " + "; ".join(parts))
    rejected = item.get("rejected_reasons")
    if isinstance(rejected, dict) and rejected:
        parts = []
        for reason, v in rejected.items():
            ex = v.get("examples") if isinstance(v, dict) else None
            count = v.get("count", 0) if isinstance(v, dict) else v
            shown = f" (e.g. {', '.join(map(str, ex[:3]))})" if ex else ""
            parts.append(f"{_n(count)} {reason}{shown}")
        lines.append(f"{name}: rejected " + "; ".join(parts))
    for warning in item.get("warnings") or []:
        lines.append(f"{name}: ⚠ {warning}")
    return lines


def _n(value: Any) -> int:
    if isinstance(value, dict):
        return sum(_n(v) for v in value.values())
    if isinstance(value, list):
        return len(value)
    return int(value or 0)


def nothing_to_run(config: Any, kind: str) -> str:
    """Why a Sync all / Re-sync all has nothing to do (empty when it has work)."""
    pulls = [m for m in config.pull if m.enabled]
    pushes = [s for s in config.push if getattr(s, "enabled", True)]
    if kind == "resync_all" and not pulls:
        return (
            "Nothing to re-sync: no pull mapping is enabled. Add one on Pull mappings (F6, then n)."
        )
    if not pulls and not pushes:
        return (
            "Nothing to sync: no pull mapping or push sync is enabled. Add one on Pull "
            "mappings (F6, then n) or Push syncs (F7, then n)."
        )
    return ""


class RunPane(Pane):
    TITLE = "Run"
    FOCUS = "#run-sync-all"
    BINDINGS = [
        Binding("s", "sync_all", "Sync all"),
        Binding("R", "resync_all", "Re-sync all"),
        Binding("h", "refresh_history", "History", tooltip="Refresh the run history"),
    ]

    def compose(self) -> ComposeResult:
        yield Static("Run", classes="pane-title")
        yield Static(
            BANNER,
            id="resync-banner",
        )
        with Horizontal(classes="inline-form"):
            yield Button("Sync all (s)", id="run-sync-all", variant="primary")
            yield Button("Re-sync all… (R)", id="run-resync", variant="error")
        yield Static("", id="run-status")
        yield Vertical(id="run-mappings")
        notes = Static("", id="run-notes")  # skip reasons and warnings of the last run
        notes.display = False
        yield notes
        yield Static("Run history", classes="section-title")
        yield DataTable(id="run-history", cursor_type="row")
        self._lock = threading.Lock()
        self._pending: dict[str, Any] = {}
        self._running = False
        self._queued: set[str] = set()
        self.runs_finished = 0  # observable by tests and scripts
        self._stale: list[str] = []  # mappings the store says need a Re-sync

    def on_mount(self) -> None:
        self.query_one("#run-history", DataTable).add_columns(
            "Run", "Kind", "Started (UTC)", "Status", "Counts", "Error"
        )
        self.set_interval(0.1, self._drain)
        self.refresh_view()

    def refresh_view(self) -> None:
        self.update_banner()
        self._check_stale()
        box = self.query_one("#run-mappings", Vertical)
        names = [(m.name, m.kind) for m in self.state.config.pull] + [
            (s.name, f"push {s.kind}") for s in self.state.config.push
        ]
        if not names and not self._running:
            self.query_one("#run-status", Static).update(
                "No mappings yet: add one on Pull mappings (F6, then n) or Push syncs "
                "(F7, then n), then press s here."
            )
        existing = [w.mapping_name for w in box.query(MappingProgress)]
        if not existing:
            box.mount_all(MappingProgress(n, k, _widget_id(n)) for n, k in names)
        elif existing != [n for n, _ in names]:
            self._rebuild_rows(names)  # mappings added/removed/renamed since last shown
        self.action_refresh_history()

    @work(exclusive=True, group="run-rows")
    async def _rebuild_rows(self, names: list[tuple[str, str]]) -> None:
        """Old rows must be gone before new ones mount: their ids would clash."""
        box = self.query_one("#run-mappings", Vertical)
        await box.remove_children()
        await box.mount_all(MappingProgress(n, k, _widget_id(n)) for n, k in names)

    @work(thread=True, exclusive=True, group="run-stale")
    def _check_stale(self) -> None:
        """Mappings whose stored data was built with other settings (engine's fingerprints)."""
        with self.tui.guard():
            try:
                stale = self.engine.stale_mappings()  # no store yet: nothing is stale
            except PendoTuiError:  # store unreachable: the history below says why
                return
            self.app.call_from_thread(self._show_stale, stale)

    def _show_stale(self, stale: list[str]) -> None:
        self._stale = stale
        self.update_banner()

    def update_banner(self) -> None:
        stale = self._stale
        banner = next(self.query("#resync-banner").results(Static), None)
        if banner is None:  # a late worker result while the app shuts down
            return
        if stale:
            banner.update(
                "⚠ Configuration changed — re-sync needed for "
                + escape(", ".join(stale))
                + " (Sync now refuses to mix old and new shapes)"
            )
        else:
            banner.update(BANNER)
        banner.display = bool(stale) or self.state.resync_needed

    # -- history -------------------------------------------------------------------------
    def action_refresh_history(self) -> None:
        self._load_history()

    @work(thread=True, exclusive=True, group="run-history")
    def _load_history(self) -> None:
        with self.tui.guard():
            try:
                rows = self.engine.run_history(HISTORY_ROWS)  # no store yet: empty
            except PendoTuiError as exc:
                self.app.call_from_thread(self._history_failed, exc)
                return
            self.app.call_from_thread(self._show_history, rows)

    def _history_failed(self, exc: PendoTuiError) -> None:
        self.query_one("#run-history", DataTable).clear()
        self.query_one("#run-status", Static).update(Text(f"Store not readable: {exc}"))

    def _show_history(self, rows: list[dict[str, Any]]) -> None:
        found = self.query("#run-history")
        if not found:  # the app is closing: the worker's answer has nowhere to go
            return
        table = found.first(DataTable)
        table.clear()
        for r in rows:
            summary = r.get("summary") or {}
            totals = summary.get("totals") if isinstance(summary, dict) else None
            started = r["started_at"].strftime("%Y-%m-%d %H:%M:%S") if r.get("started_at") else ""
            table.add_row(
                str(r["id"]),
                r["kind"],
                started,
                r["status"],
                totals_text(totals),
                Text((r.get("error") or "")[:80]),
                key=str(r["id"]),
            )
        self.hint_if_empty(table, "No runs yet: press s to sync all.")

    # -- running -------------------------------------------------------------------------
    @on(Button.Pressed, ".mp-sync")
    def _sync_one(self, event: Button.Pressed) -> None:
        row = event.button.parent
        if isinstance(row, MappingProgress):
            self.start_run("sync", [row.mapping_name])

    @on(Button.Pressed, "#run-sync-all")
    def action_sync_all(self) -> None:
        self.start_run("sync", None)

    @on(Button.Pressed, "#run-resync")
    def action_resync_all(self) -> None:
        self._resync_impact()

    @work(thread=True, exclusive=True, group="resync-impact")
    def _resync_impact(self) -> None:
        with self.tui.guard():
            engine = self.engine
            first = engine.resync_first_day()  # in the subscription's timezone
            try:
                impact: dict[str, int] | None = engine.resync_impact()
            except PendoTuiError:  # the question is still asked, without the counts
                impact = None
            try:
                where = engine.store_location()
            except PendoTuiError as exc:  # a bad URL: the run itself will say so too
                where = str(exc).splitlines()[0]
            self.app.call_from_thread(self._confirm_resync, first, impact, where)

    def _confirm_resync(self, first: date, impact: dict[str, int] | None, where: str = "") -> None:
        cfg = self.state.config
        names = ", ".join(m.name for m in cfg.pull if m.enabled) or "none"
        body = (
            f"Every mapped metric is rebuilt from {first} ({cfg.pendo.days_to_sync} days).\n"
            f"Mappings: {names}.\n"
            + (f"Store: {where}.\n" if where else "")
            + f"Deleted: all metrics and activities dated before {first}"
        )
        if impact is not None:
            body += (
                f" ({impact['old_metrics']} of {impact['all_metrics']} metric rows, "
                f"{impact['old_activities']} activity rows)"
            )
        body += (
            ", and values inside the window are replaced.\n"
            "The rebuild is atomic: if it fails, the current data stays."
        )
        self.app.push_screen(
            ConfirmModal("Re-sync all?", body, "Re-sync all"),
            lambda ok: self.start_run("resync_all", None) if ok else None,
        )

    def start_run(self, kind: str, mappings: list[str] | None) -> None:
        if self._running:
            self.notify("A run is already in progress", severity="warning")
            return
        nothing = nothing_to_run(self.state.config, kind)
        if mappings is None and nothing:
            self.query_one("#run-status", Static).update(nothing)
            self.notify(nothing, title="Nothing to sync", severity="warning")
            return
        self._running = True
        self._queued = {
            w.mapping_name
            for w in self.query(MappingProgress)
            if (mappings is None or w.mapping_name in mappings)
            and not (kind == "resync_all" and w.is_push)  # re-sync rebuilds pull data only
        }
        for w in self.query(MappingProgress):
            if w.mapping_name in self._queued:
                w.update_progress(0, None, "queued")
            elif kind == "resync_all" and w.is_push:
                # an older run's numbers must not pass for this one's
                w.finish("not part of Re-sync all (it rebuilds pull data only)", True)
                w.reset()
        self.query_one("#run-notes", Static).display = False
        self.query_one("#run-status", Static).update(f"{kind.replace('_', ' ')} running…")
        self._run(kind, mappings)

    def _on_progress(self, event: ProgressEvent) -> None:
        """Engine thread → latest event per mapping; the timer renders (bounded, no flood)."""
        with self._lock:
            self._pending[event.mapping] = event

    def _drain(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, {}
        if not pending:
            return
        rows = {w.mapping_name: w for w in self.query(MappingProgress)}
        for name, ev in pending.items():
            row = rows.get(name)
            if row:
                row.update_progress(ev.done or 0, ev.total, ev.message or ev.phase)

    @work(thread=True, exclusive=True, group="run")
    def _run(self, kind: str, mappings: list[str] | None) -> None:
        summary: RunSummary | None = None
        error: PendoTuiError | None = None
        try:
            with self.tui.guard():
                try:
                    summary = self.engine.run(
                        "resync_all" if kind == "resync_all" else "sync",
                        mappings,
                        progress=self._on_progress,
                    )
                except PendoTuiError as exc:  # set-up failures: a notification
                    error = exc
        finally:  # the pane leaves its running state whatever happened
            self.app.call_from_thread(self._finished, kind, mappings, summary, error)

    def _finished(
        self,
        kind: str,
        mappings: list[str] | None,
        summary: RunSummary | None,
        error: PendoTuiError | None,
    ) -> None:
        self._running = False
        self.runs_finished += 1
        self._drain()
        if error is not None:
            text, ok = str(error).splitlines()[0], False
            self.tui.show_error(error)
        elif summary is None:  # a bug, already reported by the guard
            text, ok = "Run stopped by an unexpected error", False
        else:
            text, ok = summary_line(summary)
            if summary.store:  # the full location: the same store cron must use
                text += f"\nStore: {summary.store}"
            self.notify(
                text,
                severity="information" if ok else "error",
                title="Run finished",
                markup=False,
            )
            if ok and kind == "resync_all":
                self.state.mark_resynced()
        items = {i.get("name"): i for i in summary_dict(summary).get("items", [])}
        for w in self.query(MappingProgress):
            item = items.get(w.mapping_name)
            if item is not None:
                w.finish(item_line(item), item.get("status") == "ok")
            elif w.mapping_name in self._queued:
                w.finish("done" if ok else "not run", ok)
        self.query_one("#run-status", Static).update(Text(text))
        notes = [line for i in summary_dict(summary).get("items", []) for line in item_notes(i)]
        box = self.query_one("#run-notes", Static)
        box.update(Text("\n".join(notes)))
        box.display = bool(notes)
        self.update_banner()
        self._check_stale()
        self.tui.runs_changed()
        self.action_refresh_history()
