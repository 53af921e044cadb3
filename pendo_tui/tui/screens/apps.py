"""Apps: app id → metric prefix; the two default rows cannot be removed."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import Button, DataTable, Input, Static

from pendo_tui.config.model import DEFAULT_APP_ID, UNKNOWN_APP_ID, AppRow
from pendo_tui.tui.screens.base import Pane
from pendo_tui.tui.widgets.picker import PickerModal

FIXED = {DEFAULT_APP_ID: "the subscription's first app", UNKNOWN_APP_ID: "any app not listed"}


def duplicate_prefix_warnings(apps: list[AppRow], edited: str) -> list[str]:
    """Multi-app metrics are named "<prefix> - <metric>": two apps with one prefix write
    the same metric names. Allowed (it merges them), but rarely meant."""
    mine = next((a for a in apps if a.id == edited), None)
    if mine is None:
        return []
    others = [a.id for a in apps if a.id != edited and a.prefix == mine.prefix]
    if not others:
        return []
    shown = repr(mine.prefix) if mine.prefix else "'' (no prefix)"
    return [
        f"⚠ prefix {shown} is also used by app {', '.join(others)}: their multi-app metrics "
        "get the same names and are added together; give each app its own prefix to keep "
        "them apart"
    ]


class AppsPane(Pane):
    TITLE = "Apps"
    FOCUS = "#apps-table"
    BINDINGS = [
        Binding("a", "add_app", "Add"),
        Binding("delete", "remove_app", "Remove"),
        Binding("p", "pick_app", "Pick", tooltip="Pick an app id seen in Pendo's data"),
    ]

    def compose(self) -> ComposeResult:
        yield Static("Apps and metric prefixes", classes="pane-title")
        yield Static(
            'Multi-app mappings name metrics "<prefix> - <metric>". Pendo has no app-name '
            "listing: type names yourself. Changing this table needs a Re-sync all.",
            classes="form-help",
        )
        yield DataTable(id="apps-table", cursor_type="row")
        with Horizontal(classes="inline-form"):
            yield Input(placeholder="app id", id="app-id")
            yield Input(placeholder="metric prefix", id="app-prefix")
            yield Button("Add / update", id="app-add", variant="primary")
            yield Button("Pick from Pendo (p)", id="app-pick")
            yield Button("Remove", id="app-remove", variant="error")
        yield Static("", id="apps-errors", classes="form-error")

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("App id", "Prefix", "Note")
        self.refresh_view()

    def refresh_view(self) -> None:
        table = self.query_one(DataTable)
        table.clear()
        for app in self.state.config.apps:
            table.add_row(Text(app.id), Text(app.prefix), FIXED.get(app.id, ""), key=app.id)

    @on(DataTable.RowHighlighted)
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        app_id = event.row_key.value
        app = next((a for a in self.state.config.apps if a.id == app_id), None)
        if app:
            self.query_one("#app-id", Input).value = app.id
            self.query_one("#app-prefix", Input).value = app.prefix

    def _set(self, apps: list[dict[str, str]], edited: str | None = None) -> None:
        errors = self.state.propose({"apps": apps})
        lines = list(errors.values())
        if not errors and edited is not None:
            lines += duplicate_prefix_warnings(self.state.config.apps, edited)
        self.query_one("#apps-errors", Static).update(Text("\n".join(lines)))
        self.refresh_view()
        if edited is not None and not errors:
            self._cursor_to(edited)
        self.changed()

    def _cursor_to(self, app_id: str) -> None:
        table = self.query_one(DataTable)
        for i, app in enumerate(self.state.config.apps):
            if app.id == app_id:
                table.move_cursor(row=i)

    @on(Button.Pressed, "#app-add")
    @on(Input.Submitted)
    def action_add_app(self) -> None:
        app_id = self.query_one("#app-id", Input).value.strip()
        prefix = self.query_one("#app-prefix", Input).value.strip()
        if not app_id:
            self.query_one("#apps-errors", Static).update("enter an app id")
            return
        apps = [a.model_dump() for a in self.state.config.apps]
        for a in apps:
            if a["id"] == app_id:
                a["prefix"] = prefix
                break
        else:
            apps.insert(
                len(apps) - 1 if apps and apps[-1]["id"] == UNKNOWN_APP_ID else len(apps),
                {"id": app_id, "prefix": prefix},
            )
        self._set(apps, edited=app_id)

    @on(Button.Pressed, "#app-remove")
    def action_remove_app(self) -> None:
        table = self.query_one(DataTable)
        if not table.row_count:
            return
        app_id = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        if app_id in FIXED:
            self.query_one("#apps-errors", Static).update(
                f"app {app_id} is a default row ({FIXED[app_id]}) and cannot be removed; "
                "you can edit its prefix"
            )
            return
        self._set([a.model_dump() for a in self.state.config.apps if a.id != app_id])

    @on(Button.Pressed, "#app-pick")
    def action_pick_app(self) -> None:
        self.app.push_screen(
            PickerModal(
                "App ids seen in Pendo's pages and features",
                lambda: self.engine.catalog("app"),
            ),
            self._picked,
        )

    def _picked(self, row: dict[str, str] | None) -> None:
        """Like Segments: the pick fills the form; Enter (or Add / update) adds the row."""
        if row:
            self.query_one("#app-id", Input).value = row["id"]
            self.query_one("#app-prefix", Input).focus()
            self.query_one("#apps-errors", Static).update(
                Text(f"Picked app {row['id']}: type its prefix, then Enter adds it")
            )
