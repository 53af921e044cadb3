"""Common base of the panes shown in the main content switcher."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from textual.containers import VerticalScroll
from textual.css.query import NoMatches
from textual.widget import Widget
from textual.widgets import DataTable, Static

from pendo_tui.tui.state import AppState, FieldIssue
from pendo_tui.tui.widgets.form_row import FormRow, show_errors

if TYPE_CHECKING:
    from pendo_tui.sync.session import EngineSession
    from pendo_tui.tui.app import PendoTuiApp


class Pane(VerticalScroll):
    """A main screen. ``refresh_view`` re-reads the state each time the pane is shown."""

    TITLE: ClassVar[str] = ""
    KEY: ClassVar[str] = ""
    # Selector of the widget that takes focus when the pane is opened (F-key, sidebar
    # enter/click), so the pane's key bindings work at once and show in the footer.
    # Empty: the first focusable widget of the pane.
    FOCUS: ClassVar[str] = ""
    # The pane itself is no focus stop: Tab goes from field to field (an invisible stop
    # swallowed the first Tab, and with it a pasted key). Focused fields scroll into view.
    can_focus = False

    @property
    def tui(self) -> PendoTuiApp:
        return self.app  # type: ignore[return-value]

    @property
    def state(self) -> AppState:
        return self.tui.state

    @property
    def engine(self) -> EngineSession:
        """The app's engine session, following the settings on screen (blocking calls:
        use it from thread workers, inside ``self.tui.guard()``)."""
        return self.tui.engine()

    def refresh_view(self) -> None:
        """Called when the pane becomes visible; override to reload."""

    def focus_target(self) -> Widget:
        """The widget that should receive focus when the pane is opened."""
        if self.FOCUS:
            try:
                return self.query_one(self.FOCUS)
            except NoMatches:
                pass
        for widget in self.query("*"):
            if widget.focusable:
                return widget
        return self

    def saved_in_session(self, what: str) -> None:
        """After an editor's Save: it is in the session, not yet in the file — say which."""
        path = self.state.config_path
        where = (
            f"ctrl+s writes it to {path.expanduser().resolve()}"
            if path is not None
            else "ctrl+s saves a copy of this demo config"
        )
        self.notify(f"{what} — not written yet: {where}", title="Changed", markup=False)

    def hint_if_empty(self, table: DataTable[object], hint: str) -> None:
        """Under an empty table, say how to add its first row (hidden once it has one)."""
        hint_id = f"{table.id}-empty"
        try:
            label = self.query_one(f"#{hint_id}", Static)
        except NoMatches:
            label = Static(hint, id=hint_id, classes="empty-hint")
            self.mount(label, after=table)
        label.update(hint)
        label.display = table.row_count == 0

    def changed(self) -> None:
        """Tell the app the config changed (dirty marker, re-sync banner)."""
        self.tui.config_changed()

    def show_errors(self, errors: dict[str, str], scope: str = "") -> list[str]:
        """Show ``errors`` next to this pane's fields (only rows under ``scope``) and record
        them in the state: while a field's value does not validate, Save and Check refuse,
        naming it. Returns the messages no field claimed (also recorded)."""
        rest = show_errors(self, errors, scope)
        issues = {
            row.path: FieldIssue(row.label, row.error, self.id or "")
            for row in self.query(FormRow)
            if row.error and (not scope or row.path == scope or row.path.startswith(scope + "."))
        }
        base = scope or self.id or "pane"
        for i, msg in enumerate(rest):
            issues[f"{base}.~{i}"] = FieldIssue(self.TITLE, msg, self.id or "")
        self.state.set_issues(self.id or "", scope, issues)
        return rest
