"""Debugger: every HTTP call, live and for past runs; detail, filter, HAR, curl.

Throughput: the RequestLog calls ``app.incoming.append`` on the engine's thread: a bounded
deque, nothing else. A 10 Hz timer here drains it into the table. No per-record hop to the event
loop, so 200+ calls/s cost one batch per tick, and memory stays bounded if the UI lags.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections import deque
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import Button, DataTable, Input, Select, Static

from pendo_tui.errors import PendoTuiError
from pendo_tui.sync.session import RequestRecord, to_curl, to_har
from pendo_tui.tui.panes import INCOMING_MAX
from pendo_tui.tui.screens.base import Pane
from pendo_tui.tui.widgets.request_detail import RequestDetail

_AGG_NAME = re.compile(r'"name"\s*:\s*"pendo-tui:([^"]*)"')
SHOWN_MAX = 2_000  # records kept for the view (the store keeps them all)
LIVE = "live"
STATUS_FILTERS = [
    ("All statuses", "all"),
    ("2xx", "2"),
    ("3xx", "3"),
    ("4xx", "4"),
    ("5xx", "5"),
    ("No response", "none"),
]


def status_text(status: int | None) -> Text:
    if status is None:
        return Text("ERR", style="bold red")
    style = "green" if status < 300 else "yellow" if status < 400 else "red"
    return Text(str(status), style=style)


def human_size(n: int | None) -> str:
    if not n:
        return "0 B"
    for unit in ("B", "KB", "MB"):
        if n < 1024:
            return f"{n:.0f} {unit}"
        n = n / 1024  # type: ignore[assignment]
    return f"{n:.1f} GB"


def made_by(record: RequestRecord) -> str:
    """Which mapping, sync or screen action made the call; calls stored before the
    source was recorded fall back to the name the engine gives an aggregation."""
    if record.source:
        return record.source
    match = _AGG_NAME.search(record.request_body or "")
    return f"pull {match.group(1)}" if match else ""


def record_from_row(row: dict[str, Any]) -> RequestRecord:
    """A stored ``requests`` row → a RequestRecord (for detail, HAR and curl)."""
    data = dict(row)
    for name in ("request_headers", "response_headers"):
        if isinstance(data.get(name), str):
            data[name] = json.loads(data[name])
    for name in ("request_body", "response_body"):
        data[name] = data.get(name) or ""
    for name in ("duration_ms", "request_size", "response_size"):
        data[name] = data.get(name) or 0
    # The table keeps the stored (possibly truncated) bodies, not their original sizes.
    for name in ("request_body", "response_body"):
        if data.get(f"{name}_size") is None:
            data[f"{name}_size"] = len(data[name].encode())
    data["attempt"] = data.get("attempt") or 1
    data["source"] = data.get("source") or ""
    names = {f.name for f in dataclasses.fields(RequestRecord)}
    return RequestRecord(**{n: data[n] for n in names if n in data})


class DebuggerPane(Pane):
    TITLE = "Debugger"
    FOCUS = "#dbg-table"
    BINDINGS = [
        Binding("c", "copy_curl", "curl", tooltip="Copy the selected call as a curl command"),
        Binding("x", "export_har", "Export HAR"),
        Binding("ctrl+l", "clear", "Clear live"),
    ]

    def compose(self) -> ComposeResult:
        self._live: deque[Any] = deque(maxlen=SHOWN_MAX)
        self._shown: dict[str, Any] = {}
        self._source = LIVE
        self._past: list[Any] = []
        yield Static("Debugger", classes="pane-title")
        with Horizontal(classes="inline-form"):
            yield Select(
                [("Live (this session)", LIVE)], value=LIVE, allow_blank=False, id="dbg-source"
            )
            yield Select(STATUS_FILTERS, value="all", allow_blank=False, id="dbg-status")
            yield Input(placeholder="filter (mapping, method, URL)", id="dbg-text")
            yield Button("Export HAR (x)", id="dbg-har")
        yield DataTable(id="dbg-table", cursor_type="row")
        yield Static(
            "Enter: details · c: copy as curl · x: export HAR", id="dbg-hint", classes="form-help"
        )

    def on_mount(self) -> None:
        self.query_one(DataTable).add_columns(
            "Time", "Method", "Path", "Status", "Duration", "Size", "Made by"
        )
        self.set_interval(0.1, self._drain)

    def refresh_view(self) -> None:
        self._load_runs()

    # -- live feed -----------------------------------------------------------------------
    def _drain(self) -> None:
        """Move what the engine thread queued in ``app.incoming`` into the table."""
        incoming = self.tui.incoming
        if not incoming:
            return
        batch = []
        while incoming and len(batch) < INCOMING_MAX:
            batch.append(incoming.popleft())
        self._live.extend(batch)
        if self._source == LIVE:
            self._add_rows(batch, "L")
            self._trim()

    def _trim(self) -> None:
        table = self.query_one(DataTable)
        while table.row_count > SHOWN_MAX:
            key = next(iter(self._shown))
            del self._shown[key]
            table.remove_row(key)

    # -- rendering -----------------------------------------------------------------------
    def _matches(self, r: RequestRecord) -> bool:
        status = self.query_one("#dbg-status", Select).value
        if status == "none" and r.status is not None:
            return False
        if status not in ("all", "none") and not (
            r.status and str(r.status).startswith(str(status))
        ):
            return False
        needle = self.query_one("#dbg-text", Input).value.strip().lower()
        return not needle or needle in f"{made_by(r)} {r.method} {r.url}".lower()

    def _add_rows(self, records: list[RequestRecord], prefix: str) -> None:
        table = self.query_one(DataTable)
        for r in records:
            if not self._matches(r):
                continue
            key = f"{prefix}{r.seq}-{len(self._shown)}-{id(r)}"
            at = (
                r.at.astimezone(UTC).strftime("%H:%M:%S.%f")[:-3]
                if isinstance(r.at, datetime)
                else ""
            )
            path = r.url.split("://", 1)[-1].split("/", 1)[-1]
            table.add_row(
                at,
                r.method,
                Text("/" + path[:90]),
                status_text(r.status),
                f"{r.duration_ms or 0:.0f} ms",
                human_size(r.response_size),
                Text(made_by(r)[:40]),  # last: status stays on screen at 80 columns
                key=key,
            )
            self._shown[key] = r

    def _rebuild(self) -> None:
        self.query_one(DataTable).clear()
        self._shown.clear()
        records = list(self._live) if self._source == LIVE else self._past
        self._add_rows(records, "L" if self._source == LIVE else "P")
        self._trim()

    @on(Select.Changed, "#dbg-status")
    @on(Input.Changed, "#dbg-text")
    def _filter_changed(self) -> None:
        self._rebuild()

    # -- past runs -----------------------------------------------------------------------
    @work(thread=True, exclusive=True, group="dbg-runs")
    def _load_runs(self) -> None:
        with self.tui.guard():
            try:
                runs = self.engine.run_history(50)
            except PendoTuiError:  # the live view still works; the Run pane says why
                return
            self.app.call_from_thread(self._runs_loaded, runs)

    def _runs_loaded(self, runs: list[dict[str, Any]], tries: int = 0) -> None:
        select = self.query_one("#dbg-source", Select)
        if not select.query("SelectOverlay"):  # not composed yet (a loaded machine): soon
            if tries < 20:
                self.set_timer(0.1, lambda: self._runs_loaded(runs, tries + 1))
            return
        options = [("Live (this session)", LIVE)] + [
            (f"Run {r['id']} · {r['kind']} · {r['status']}", str(r["id"])) for r in runs
        ]
        current = select.value
        with self.prevent(Select.Changed):
            select.set_options(options)
            select.value = current if any(v == current for _l, v in options) else LIVE

    @on(Select.Changed, "#dbg-source")
    def _source_changed(self, event: Select.Changed) -> None:
        self._source = str(event.value)
        if self._source == LIVE:
            self._rebuild()
        else:
            self._load_past(int(self._source))

    @work(thread=True, exclusive=True, group="dbg-past")
    def _load_past(self, run_id: int) -> None:
        with self.tui.guard():
            try:
                rows = self.engine.run_requests(run_id, SHOWN_MAX)
            except PendoTuiError as exc:
                self.app.call_from_thread(self.tui.show_error, exc)
                return
            records = [record_from_row(r) for r in rows]
            self.app.call_from_thread(self._past_loaded, records)

    def _past_loaded(self, records: list[Any]) -> None:
        self._past = records
        self._rebuild()

    # -- actions -------------------------------------------------------------------------
    def _current(self) -> Any | None:
        table = self.query_one(DataTable)
        if not table.row_count:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return self._shown.get(str(key))

    @on(DataTable.RowSelected, "#dbg-table")
    def _open(self, event: DataTable.RowSelected) -> None:
        record = self._shown.get(str(event.row_key.value))
        if record is not None:
            self.app.push_screen(RequestDetail(record, _curl(record)))

    def action_copy_curl(self) -> None:
        record = self._current()
        if record is None:
            return
        self.app.copy_to_clipboard(_curl(record))
        self.notify("curl command copied (key shown as $PENDO_INTEGRATION_KEY)")

    @on(Button.Pressed, "#dbg-har")
    def action_export_har(self) -> None:
        records = list(self._shown.values())
        if not records:
            self.notify("No calls to export", severity="warning")
            return
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
        name = f"pendo-tui-{'live' if self._source == LIVE else 'run-' + self._source}-{stamp}.har"
        path = Path(self.tui.export_dir).expanduser().resolve() / name
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(to_har(records), indent=1), encoding="utf-8")
        except OSError as exc:  # disk full, no permission: a notification, not a traceback
            self.notify(
                f"Could not write {path}: {exc.strerror or exc}",
                title="HAR not saved",
                severity="error",
                markup=False,
            )
            return
        self.notify(f"Exported {len(records)} calls to {path}", title="HAR saved", markup=False)
        self.last_export = path

    def action_clear(self) -> None:
        self._live.clear()
        if self._source == LIVE:
            self._rebuild()


def _curl(record: RequestRecord) -> str:
    return to_curl(record)
