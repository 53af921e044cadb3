"""Common base of the panes shown in the main content switcher."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from textual.containers import VerticalScroll
from textual.css.query import NoMatches
from textual.widget import Widget
from textual.widgets import DataTable, Static

from pendo_tui.tui.state import AppState

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
