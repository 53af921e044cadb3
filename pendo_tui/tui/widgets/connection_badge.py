"""The connection status line shown on every screen."""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive
from textual.widgets import Static

from pendo_tui.tui.state import ConnectionStatus


class ConnectionBadge(Static):
    """Green "Connection is active", red with the exact reason, or grey when unknown."""

    status: reactive[ConnectionStatus] = reactive(ConnectionStatus, always_update=True)

    def watch_status(self, status: ConnectionStatus) -> None:
        self.set_classes(f"badge-{status.state}")
        prefix = {"ok": "●", "error": "✖", "checking": "…", "unknown": "○"}[status.state]
        self.update(Text(f"{prefix} {status.message}"))
