"""Save when the session has no config file (the demo): explain, then ask for a path."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Footer, Input, Static

import pendo_tui

DEFAULT_NAME = "pendo-tui-demo.toml"


def example_config_path() -> Path | None:
    """config.example.toml of a source checkout (absent from a plain wheel install)."""
    path = Path(pendo_tui.__file__).resolve().parent.parent / "config.example.toml"
    return path if path.is_file() else None


def demo_explanation(sim_url: str | None) -> str:
    example = example_config_path()
    where = str(example) if example else "config.example.toml in the pendo-tui repository"
    return (
        "This demo's settings are throw-away: it talks to a built-in Pendo simulator"
        f"{f' ({sim_url})' if sim_url else ''} and a temporary store, both gone when you "
        "quit — nothing here needs saving.\n\n"
        "To keep these mappings as a starting point, save a copy (secrets are not saved: "
        "the demo keys are fake). Before using the copy for real, set your region under "
        "\\[pendo] and your database under \\[store].\n\n"
        f"For your own set-up, start from {where} and run  pendo-tui --config PATH"
    )


class SaveAsModal(ModalScreen[Path | None]):
    """Asks for a path; ``save(path)`` writes it and returns an error message or None."""

    BINDINGS = [Binding("escape", "cancel", "Close")]

    def __init__(
        self, save: Callable[[Path], str | None], sim_url: str | None, folder: Path | None = None
    ) -> None:
        super().__init__()
        self._save = save
        self._sim_url = sim_url
        self._folder = folder or Path.home()  # never the working directory by default

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="modal-box wide"):
            yield Static("Demo mode: save a copy?", classes="modal-title")
            yield Static(demo_explanation(self._sim_url), id="save-as-body")
            yield Static("Save a copy of this config to", classes="form-label", id="save-as-label")
            yield Input(str(self._folder.expanduser().resolve() / DEFAULT_NAME), id="save-as-path")
            yield Static("", id="save-as-error", classes="form-error")
            with Horizontal(classes="modal-buttons"):
                yield Button("Save copy", variant="primary", id="save-as-ok")
                yield Button("Close", id="save-as-cancel")
        yield Footer()  # this modal's own keys

    def on_mount(self) -> None:
        self.query_one("#save-as-path", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self._try_save()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "save-as-ok":
            self._try_save()
        else:
            self.dismiss(None)

    def action_cancel(self) -> None:
        self.dismiss(None)

    def _try_save(self) -> None:
        raw = self.query_one("#save-as-path", Input).value.strip()
        error = self.query_one("#save-as-error", Static)
        if not raw:
            error.update("Type a file path, e.g. ./" + DEFAULT_NAME)
            error.display = True
            return
        path = Path(raw).expanduser().resolve()  # the toast names the full path
        problem = self._save(path)
        if problem:
            error.update(Text(problem))
            error.display = True
            return
        self.dismiss(path)
