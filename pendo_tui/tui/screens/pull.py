"""Pull mappings: list with status; add/edit by kind (docs/pull.md)."""

from __future__ import annotations

from datetime import date

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import Button, DataTable, Static

from pendo_tui.config.model import PullMapping
from pendo_tui.errors import PendoTuiError
from pendo_tui.tui.screens.base import Pane
from pendo_tui.tui.widgets.confirm import ConfirmModal
from pendo_tui.tui.widgets.pull_editor import PullEditor


def _options(m: PullMapping) -> str:
    flags = [
        name
        for name, on in (
            ("multi_app", m.multi_app),
            ("passive", m.passive),
            ("auto_create_users", m.auto_create_users),
        )
        if on
    ]
    if m.segment:
        flags.append(f"segment {m.segment}")
    return ", ".join(flags)


class PullPane(Pane):
    TITLE = "Pull mappings"
    FOCUS = "#pull-table"
    BINDINGS = [
        Binding("n", "new_mapping", "New"),
        Binding("e", "edit_mapping", "Edit"),
        Binding("delete", "remove_mapping", "Remove"),
        Binding("space", "toggle_enabled", "On/off", tooltip="Enable or disable the mapping"),
    ]

    def compose(self) -> ComposeResult:
        yield Static("Pull mappings", classes="pane-title")
        yield DataTable(id="pull-table", cursor_type="row")
        with Horizontal(classes="inline-form"):
            yield Button("New mapping (n)", id="pull-new", variant="primary")
            yield Button("Edit (e)", id="pull-edit")
            yield Button("Enable/disable (space)", id="pull-toggle")
            yield Button("Remove (del)", id="pull-remove", variant="error")
        self._cursors: dict[str, date | None] = {}

    def on_mount(self) -> None:
        self.query_one(DataTable).add_columns(
            "Name", "Kind", "Object", "Status", "Source", "Options"
        )
        self.refresh_view()

    def refresh_view(self) -> None:
        self._render_table()
        self._load_cursors()

    @work(thread=True, exclusive=True, group="pull-cursors")
    def _load_cursors(self) -> None:
        with self.tui.guard():
            try:
                cursors = self.engine.pull_cursors()  # no store yet: {} ("never synced")
            except PendoTuiError:  # store unreachable: the Run pane and Metrics say why
                return
            self.app.call_from_thread(self._cursors_loaded, cursors)

    def _cursors_loaded(self, cursors: dict[str, date | None]) -> None:
        if cursors == self._cursors:
            return  # nothing new: no rebuild (it would move the table under the pointer)
        self._cursors = cursors
        self._render_table()

    def _render_table(self, cursor: int | None = None) -> None:
        table = self.query_one(DataTable)
        row = table.cursor_row if cursor is None else cursor
        table.clear()
        for m in self.state.config.pull:
            source = m.id or (m.app if m.kind == "pes" else "pipeline")
            cursor = self._cursors.get(m.name)
            status = (
                "disabled"
                if not m.enabled
                else (f"synced to {cursor}" if cursor else "never synced")
            )
            # status before the long ids, so it is visible without scrolling sideways
            cells = (m.name, m.kind, m.object, status, source or "", _options(m))
            table.add_row(*(Text(c) for c in cells), key=m.name)
        if table.row_count:
            table.move_cursor(row=max(0, min(row, table.row_count - 1)))
        self.hint_if_empty(table, "No pull mappings yet: press n to add the first one.")
        self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """The footer never offers a key that would do nothing (no mapping to act on)."""
        if action in ("edit_mapping", "remove_mapping", "toggle_enabled"):
            return bool(self.state.config.pull)
        return True

    def _selected(self) -> int | None:
        table = self.query_one(DataTable)
        return table.cursor_row if table.row_count else None

    @on(Button.Pressed, "#pull-new")
    def action_new_mapping(self) -> None:
        self.app.push_screen(PullEditor(self.state, None), lambda ok: self._edited(ok, None))

    @on(Button.Pressed, "#pull-edit")
    @on(DataTable.RowSelected)
    def action_edit_mapping(self) -> None:
        idx = self._selected()
        if idx is not None:
            self.app.push_screen(PullEditor(self.state, idx), lambda ok: self._edited(ok, idx))

    def _edited(self, saved: bool | None, index: int | None) -> None:
        if saved:
            row = len(self.state.config.pull) - 1 if index is None else index
            self._render_table(cursor=row)  # the cursor stays on the row just edited
            self.changed()
            self.saved_in_session(f"Pull mapping {self.state.config.pull[row].name!r} saved")

    @on(Button.Pressed, "#pull-toggle")
    def action_toggle_enabled(self) -> None:
        idx = self._selected()
        if idx is None:
            return
        pull = [m.model_dump(exclude_defaults=True) for m in self.state.config.pull]
        pull[idx]["enabled"] = not self.state.config.pull[idx].enabled
        self.state.propose({"pull": pull})
        self._render_table()
        self.changed()

    @on(Button.Pressed, "#pull-remove")
    def action_remove_mapping(self) -> None:
        idx = self._selected()
        if idx is None:
            return
        name = self.state.config.pull[idx].name

        def done(ok: bool | None) -> None:
            if ok:
                pull = [m.model_dump(exclude_defaults=True) for m in self.state.config.pull]
                del pull[idx]
                errors = self.state.propose({"pull": pull})
                if errors:
                    self.notify("\n".join(errors.values()), severity="error", markup=False)
                self._render_table()
                self.changed()

        self.app.push_screen(
            ConfirmModal(
                f"Remove mapping {name!r}?",
                "Its stored metrics stay until the next Re-sync all.",
                "Remove",
            ),
            done,
        )
