"""Type-to-filter picker over a Pendo catalogue (pages, features, reports, segments, apps)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Footer, Input, OptionList, Static
from textual.widgets.option_list import Option

from pendo_tui.errors import PendoTuiError
from pendo_tui.tui.engine_access import guard

MAX_SHOWN = 500  # bound what the list renders; the filter narrows the rest


class PickerModal(ModalScreen[dict[str, Any] | None]):
    """Loads rows with ``loader`` in a thread, then filters them as the user types."""

    BINDINGS = [
        Binding("escape", "cancel", "Cancel"),
        # While typing in the filter, the arrows move through the list (Enter picks).
        Binding("down", "move(1)", "Next", show=False),
        Binding("up", "move(-1)", "Previous", show=False),
    ]

    def __init__(self, title: str, loader: Callable[[], list[dict[str, Any]]]) -> None:
        super().__init__()
        self._title = title
        self._loader = loader
        self._rows: list[dict[str, Any]] = []

    def compose(self) -> ComposeResult:
        with Vertical(classes="modal-box picker"):
            yield Static(self._title, classes="modal-title")
            yield Input(placeholder="Type to filter…", id="picker-filter")
            yield OptionList(id="picker-list")
            yield Static("Loading from Pendo…", id="picker-status")
        yield Footer()  # this modal's own keys

    def on_mount(self) -> None:
        self.query_one("#picker-filter", Input).focus()
        self._load()

    @work(thread=True, exclusive=True)
    def _load(self) -> None:
        with guard(self.app):
            try:
                rows = self._loader()
            except PendoTuiError as exc:  # shown in place; the user can cancel or retry
                self.app.call_from_thread(self._show_status, f"Could not load: {exc}")
                return
            self.app.call_from_thread(self._loaded, rows)

    def _loaded(self, rows: list[dict[str, Any]]) -> None:
        self._rows = rows
        self._refilter(self.query_one("#picker-filter", Input).value)

    def _show_status(self, text: str) -> None:
        self.query_one("#picker-status", Static).update(Text(text))

    def on_input_changed(self, event: Input.Changed) -> None:
        self._refilter(event.value)

    def _refilter(self, text: str) -> None:
        needle = text.strip().lower()
        matches = [
            (i, r)
            for i, r in enumerate(self._rows)
            if needle in r["name"].lower() or needle in r["id"].lower()
        ]
        options = self.query_one("#picker-list", OptionList)
        options.clear_options()
        options.add_options(Option(_label(r), id=str(i)) for i, r in matches[:MAX_SHOWN])
        self._show_status(f"{len(matches)} of {len(self._rows)} shown")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        options = self.query_one("#picker-list", OptionList)
        if options.option_count:
            options.highlighted = options.highlighted or 0
            self._choose(options.get_option_at_index(options.highlighted or 0).id)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self._choose(event.option.id)

    def _choose(self, option_id: str | None) -> None:
        if option_id is not None:
            self.dismiss(self._rows[int(option_id)])

    def action_cancel(self) -> None:
        self.dismiss(None)

    def action_move(self, step: int) -> None:
        options = self.query_one("#picker-list", OptionList)
        if options.option_count:
            current = options.highlighted if options.highlighted is not None else -1
            options.highlighted = max(0, min(options.option_count - 1, current + step))


def _label(row: dict[str, Any]) -> Text:
    """Names come from Pendo: plain text, never markup."""
    name, ident = str(row["name"]), str(row["id"])
    label = Text(name) if name == ident else Text.assemble(name, "  ", (ident, "dim"))
    if row.get("note"):
        label.append(f"  ⚠ {row['note']}", style="yellow")
    return label
