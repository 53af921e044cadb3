"""One mapping's line on the run panel: name, progress bar, last message."""

from __future__ import annotations

from rich.markup import escape
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Button, Label, ProgressBar, Static


class MappingProgress(Horizontal):
    def __init__(self, name: str, kind: str, widget_id: str) -> None:
        super().__init__(classes="mapping-progress", id=widget_id)
        self.mapping_name = name
        self._kind = kind

    @property
    def is_push(self) -> bool:
        return self._kind.startswith("push")

    def compose(self) -> ComposeResult:
        yield Label(f"{escape(self.mapping_name)} [dim]({self._kind})[/]", classes="mp-name")
        yield ProgressBar(total=1, show_eta=False, classes="mp-bar")  # idle: static, not pulsing
        yield Static("not run yet", classes="mp-message")
        yield Button("Sync now", classes="mp-sync", compact=True)

    def update_progress(self, done: int, total: int | None, message: str) -> None:
        bar = self.query_one(ProgressBar)
        bar.update(total=total if total else None, progress=done)
        self.query_one(".mp-message", Static).update(Text(message))

    def reset(self) -> None:
        """Back to idle (an empty bar), keeping the message."""
        self.query_one(ProgressBar).update(total=1, progress=0)

    def finish(self, message: str, ok: bool) -> None:
        bar = self.query_one(ProgressBar)
        bar.update(total=1, progress=1 if ok else 0)
        msg = self.query_one(".mp-message", Static)
        msg.update(Text(message))
        msg.set_class(not ok, "failed")
