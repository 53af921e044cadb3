"""Push syncs: list, editor, and a dry-run preview of what would be sent (docs/push.md)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import Button, DataTable, Static

from pendo_tui.config.model import PushSync
from pendo_tui.errors import PendoTuiError
from pendo_tui.tui.screens.base import Pane
from pendo_tui.tui.widgets.push_editor import PushEditor

PREVIEW_ROWS = 200  # the preview is a sample: bound what the table holds


def plan_rows(plan: Any) -> tuple[list[dict[str, Any]], str]:
    """Normalise PushEngine.plan's answer into (rows, summary line)."""
    if dataclasses.is_dataclass(plan) and not isinstance(plan, type):
        plan = dataclasses.asdict(plan)
    if isinstance(plan, list):
        return [r if isinstance(r, dict) else {"value": r} for r in plan], f"{len(plan)} rows"
    if not isinstance(plan, dict):
        return [], str(plan)
    rows: list[dict[str, Any]] = []
    for key in ("first_payloads", "rows", "preview"):
        value = plan.get(key)
        if isinstance(value, list):
            rows = [r if isinstance(r, dict) else {"value": r} for r in value]
            break
    summary = ", ".join(
        f"{k.replace('_', ' ')}: {v}"
        for k, v in plan.items()
        if isinstance(v, int | float | str) and k not in ("name", "type", "status")
    )
    warnings = plan.get("warnings") or []
    if warnings:
        summary += "\n⚠ " + "\n⚠ ".join(str(w) for w in warnings)
    return rows, summary


class PushPane(Pane):
    TITLE = "Push syncs"
    FOCUS = "#push-table"
    BINDINGS = [
        Binding("n", "new_sync", "New"),
        Binding("e", "edit_sync", "Edit"),
        Binding("delete", "remove_sync", "Remove"),
        Binding("p", "preview", "Preview", tooltip="Dry-run preview of what would be sent"),
    ]

    def compose(self) -> ComposeResult:
        yield Static("Push syncs (reverse ETL)", classes="pane-title")
        yield DataTable(id="push-table", cursor_type="row")
        with Horizontal(classes="inline-form"):
            yield Button("New sync (n)", id="push-new", variant="primary")
            yield Button("Edit (e)", id="push-edit")
            yield Button("Remove (del)", id="push-remove", variant="error")
            yield Button("Dry-run preview (p)", id="push-preview")
        yield Static("", id="preview-summary")
        yield DataTable(id="preview-table")

    def on_mount(self) -> None:
        self.query_one("#push-table", DataTable).add_columns(
            "Name", "Destination", "Model", "Primary key", "On delete", "Enabled"
        )
        self.refresh_view()

    def refresh_view(self, cursor: int | None = None) -> None:
        """Redraw the list; the cursor stays on its row (or goes to ``cursor``), so
        ``p`` previews the sync the user just edited, not the first one."""
        table = self.query_one("#push-table", DataTable)
        row = table.cursor_row if cursor is None else cursor
        table.clear()
        for s in self.state.config.push:
            model = Path(s.model.csv).name if s.model.csv else (s.model.query or "")[:40]
            cells = (s.name, s.kind, model, s.primary_key, s.on_delete)
            table.add_row(*(Text(c) for c in cells), "yes" if s.enabled else "no", key=s.name)
        if table.row_count:
            table.move_cursor(row=max(0, min(row, table.row_count - 1)))
        self.hint_if_empty(table, "No push syncs yet: press n to add the first one.")
        self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """The footer never offers a key that would do nothing (no sync to act on)."""
        if action in ("edit_sync", "remove_sync", "preview"):
            return bool(self.state.config.push)
        return True

    def _selected(self) -> int | None:
        table = self.query_one("#push-table", DataTable)
        return table.cursor_row if table.row_count else None

    @on(Button.Pressed, "#push-new")
    def action_new_sync(self) -> None:
        self.app.push_screen(PushEditor(self.state, None), lambda ok: self._edited(ok, None))

    @on(Button.Pressed, "#push-edit")
    @on(DataTable.RowSelected, "#push-table")
    def action_edit_sync(self) -> None:
        idx = self._selected()
        if idx is not None:
            self.app.push_screen(PushEditor(self.state, idx), lambda ok: self._edited(ok, idx))

    def _edited(self, saved: bool | None, index: int | None) -> None:
        if saved:
            row = len(self.state.config.push) - 1 if index is None else index
            self.refresh_view(cursor=row)
            self._clear_preview()  # it described the sync before this edit
            self.changed()
            self.saved_in_session(f"Push sync {self.state.config.push[row].name!r} saved")

    def _clear_preview(self, text: str = "") -> None:
        self.query_one("#preview-summary", Static).update(Text(text))
        self.query_one("#preview-table", DataTable).clear(columns=True)

    @on(Button.Pressed, "#push-remove")
    def action_remove_sync(self) -> None:
        idx = self._selected()
        if idx is None:
            return
        push = [s.model_dump(exclude_defaults=True) for s in self.state.config.push]
        del push[idx]
        self.state.propose({"push": push})
        self.refresh_view()
        self._clear_preview()
        self.changed()

    @on(Button.Pressed, "#push-preview")
    def action_preview(self) -> None:
        idx = self._selected()
        if idx is None:
            self.notify("Add a push sync first", severity="warning")
            return
        name = self.state.config.push[idx].name
        # the old preview goes at once: it must never pass for this sync's
        self._clear_preview(f"planning {name!r} (dry run, nothing is sent)…")
        self._plan(self.state.config.push[idx])

    @work(thread=True, exclusive=True, group="push-preview")
    def _plan(self, sync: PushSync) -> None:
        with self.tui.guard():
            try:
                plan = self.engine.push_preview(sync)
            except PendoTuiError as exc:  # shown as a notification, never a traceback
                self.app.call_from_thread(self.tui.show_error, exc)
                first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                self.app.call_from_thread(
                    self._clear_preview, f"Dry run of {sync.name!r} failed: {first}"
                )
                return
            self.app.call_from_thread(self._show_plan, sync.name, plan)

    def _show_plan(self, name: str, plan: Any) -> None:
        rows, summary = plan_rows(plan)
        self.query_one("#preview-summary", Static).update(
            Text(f"Dry run of {name!r} — nothing was sent. {summary}")
        )
        table = self.query_one("#preview-table", DataTable)
        table.clear(columns=True)
        columns: list[str] = []
        for r in rows[:PREVIEW_ROWS]:
            columns.extend(k for k in r if k not in columns)
        if not columns:
            return
        table.add_columns(*columns)
        for r in rows[:PREVIEW_ROWS]:
            table.add_row(*(_cell(r.get(c)) for c in columns))


def _cell(value: Any) -> Text:
    """Warehouse data as plain text: a value like "a[/b]" is not markup."""
    if isinstance(value, dict | list):  # the JSON Pendo would receive, not a Python repr
        text = json.dumps(value, ensure_ascii=False, default=str)
    else:
        text = "" if value is None else str(value)
    return Text(text if len(text) <= 60 else text[:57] + "…")
