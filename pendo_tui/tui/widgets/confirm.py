"""A yes/no modal used for destructive actions and the unsaved-changes guard."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Footer, Static


class ConfirmModal(ModalScreen[bool]):
    BINDINGS = [
        Binding("escape", "answer(False)", "Cancel"),
        Binding("y", "answer(True)", "Confirm"),
    ]

    def __init__(self, title: str, body: str, confirm_label: str = "Confirm") -> None:
        super().__init__()
        self._title = title
        self._body = body
        self._confirm = confirm_label

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="modal-box"):
            yield Static(self._title, classes="modal-title")
            yield Static(self._body, id="confirm-body")
            with Horizontal(classes="modal-buttons"):
                yield Button(self._confirm, variant="error", id="confirm-yes")
                yield Button("Cancel", id="confirm-no")
        yield Footer()  # this modal's own keys

    def on_mount(self) -> None:
        # Enter on a freshly opened confirmation must not run the destructive action.
        self.query_one("#confirm-no", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(event.button.id == "confirm-yes")

    def action_answer(self, value: bool) -> None:
        self.dismiss(value)
