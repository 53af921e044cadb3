"""Reaching the app's engine session and bug guard from widgets and modals.

Panes use ``Pane.engine`` and ``self.tui.guard()``; widgets and modals only know
``self.app`` (typed as Textual's ``App``), so they go through these two functions.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, cast

from textual.app import App

if TYPE_CHECKING:
    from pendo_tui.sync.session import EngineSession
    from pendo_tui.tui.app import PendoTuiApp


def _tui(app: App[object]) -> PendoTuiApp:
    return cast("PendoTuiApp", app)


def engine(app: App[object]) -> EngineSession:
    """The app's engine session, following the settings on screen."""
    return _tui(app).engine()


def guard(app: App[object]) -> AbstractContextManager[None]:
    """``PendoTuiApp.guard``: anything but a ``PendoTuiError`` is reported as a bug."""
    return _tui(app).guard()
