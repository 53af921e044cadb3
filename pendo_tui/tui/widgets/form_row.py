"""A labelled form field with its validation message right under it."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widget import Widget
from textual.widgets import Label, Static


class FormRow(Vertical):
    """``path`` is the config key path (``pendo.days_to_sync``) whose errors show here."""

    def __init__(self, label: str, field: Widget, path: str, help: str = "") -> None:
        super().__init__(classes="form-row")
        self.path = path
        self._label = label
        self._field = field
        self._help = help

    def compose(self) -> ComposeResult:
        yield Label(self._label, classes="form-label")
        yield self._field
        if self._help:
            yield Static(self._help, classes="form-help")
        yield Static("", classes="form-error")

    def set_error(self, message: str | None) -> None:
        err = self.query_one(".form-error", Static)
        err.update(Text(message or ""))
        err.display = bool(message)
        self.set_class(bool(message), "has-error")


def show_errors(root: Widget, errors: dict[str, str]) -> list[str]:
    """Put each error next to its field; return the ones no field claimed."""
    unclaimed = dict(errors)
    for row in root.query(FormRow):
        msg = next(
            (m for p, m in errors.items() if p == row.path or p.startswith(row.path + ".")), None
        )
        row.set_error(msg)
        for p in [p for p in unclaimed if p == row.path or p.startswith(row.path + ".")]:
            del unclaimed[p]
    return [f"{p}: {m}" for p, m in unclaimed.items()]
