"""The registry of main screens, without importing them.

Each screen's module (and what it needs: plotext for the metrics pane, the engine for the
run pane, …) is imported when the pane is first built, which happens right after the first
paint for every pane but the first. Keeping the titles here lets the sidebar, the key
bindings and the command palette be drawn before any of those imports.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import import_module
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pendo_tui.tui.screens.base import Pane


@dataclass(frozen=True)
class PaneSpec:
    id: str
    title: str
    key: str
    module: str  # under pendo_tui.tui.screens
    cls_name: str

    def load(self) -> type[Pane]:
        """The pane class (imports its module the first time)."""
        module = import_module(f"pendo_tui.tui.screens.{self.module}")
        cls: type[Pane] = getattr(module, self.cls_name)
        return cls

    def __iter__(self):  # type: ignore[no-untyped-def]
        """``pane_id, title, key = spec`` (the shape callers unpack)."""
        return iter((self.id, self.title, self.key))


# Order = sidebar order = F-key order.
PANES: list[PaneSpec] = [
    PaneSpec("connection", "Connection", "f1", "connection", "ConnectionPane"),
    PaneSpec("identity", "Identity", "f2", "identity", "IdentityPane"),
    PaneSpec("apps", "Apps", "f3", "apps", "AppsPane"),
    PaneSpec("segments", "Segments", "f4", "segments", "SegmentsPane"),
    PaneSpec("timezone", "Timezone & history", "f5", "timezone", "TimezonePane"),
    PaneSpec("pull", "Pull mappings", "f6", "pull", "PullPane"),
    PaneSpec("push", "Push syncs", "f7", "push", "PushPane"),
    PaneSpec("run", "Run", "f8", "run", "RunPane"),
    PaneSpec("debugger", "Debugger", "f9", "debugger", "DebuggerPane"),
    PaneSpec("metrics", "Metrics", "f10", "metrics", "MetricsPane"),
]
INCOMING_MAX = 5_000  # request records queued for the debugger's next tick; oldest dropped
PANE_IDS = [spec.id for spec in PANES]
