"""The help screen (``?``): this screen's keys, then the keys that work everywhere."""

from __future__ import annotations

from rich.markup import escape
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Footer, Static

KeyList = list[tuple[str, str]]  # (key as shown, what it does)


def _table(rows: KeyList) -> str:
    if not rows:
        return "[dim]none[/]"
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"[b]{escape(k):<{width}}[/]  {escape(d)}" for k, d in rows)


class HelpScreen(ModalScreen[None]):
    BINDINGS = [
        Binding("escape", "close", "Close"),
        Binding("question_mark", "close", "Close", show=False),
        Binding("q", "close", "Close", show=False),
    ]

    def __init__(self, title: str, here: KeyList, everywhere: KeyList, intro: str) -> None:
        super().__init__()
        self._title = title
        self._here = here
        self._everywhere = everywhere
        self._intro = intro

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="modal-box wide", id="help-box"):
            yield Static(f"Help — {escape(self._title)}", classes="modal-title")
            yield Static(self._intro, id="help-intro")
            yield Static("On this screen", classes="section-title")
            yield Static(_table(self._here), id="help-here")
            yield Static("Everywhere", classes="section-title")
            yield Static(_table(self._everywhere), id="help-everywhere")
        yield Footer()

    def action_close(self) -> None:
        self.dismiss(None)
