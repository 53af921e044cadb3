"""Common base of the panes shown in the main content switcher."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from textual.containers import VerticalScroll

from pendo_tui.tui.state import AppState

if TYPE_CHECKING:
    from pendo_tui.tui.app import PendoTuiApp


class Pane(VerticalScroll):
    """A main screen. ``refresh_view`` re-reads the state each time the pane is shown."""

    TITLE: ClassVar[str] = ""
    KEY: ClassVar[str] = ""

    @property
    def tui(self) -> PendoTuiApp:
        return self.app  # type: ignore[return-value]

    @property
    def state(self) -> AppState:
        return self.tui.state

    def refresh_view(self) -> None:
        """Called when the pane becomes visible; override to reload."""

    def changed(self) -> None:
        """Tell the app the config changed (dirty marker, re-sync banner)."""
        self.tui.config_changed()
