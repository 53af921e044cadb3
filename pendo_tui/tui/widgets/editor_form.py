"""What the pull and push editors share: the error box and re-checking after a refused save."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import on
from textual.css.query import NoMatches
from textual.screen import ModalScreen
from textual.widgets import Input, Select, Static, Switch, TextArea

from pendo_tui.tui.widgets.form_row import first_error_row, reveal, show_errors


class EditorForm(ModalScreen[bool]):
    """A mapping/sync editor. Subclasses set ``PREFIX`` (their widgets' id prefix: a
    ``#<prefix>-kind`` select and a ``#<prefix>-errors`` box), ``kind`` and ``_tried``,
    and define ``_errors``."""

    PREFIX: ClassVar[str] = ""
    kind: str
    _tried: bool  # after a refused save, every edit re-checks (fixed errors clear)

    def _errors(self, apply: bool) -> dict[str, str]:
        raise NotImplementedError

    def _show(self, errors: dict[str, str]) -> list[str]:
        """Errors next to their fields; the ones without a field in the box."""
        rest = show_errors(self, errors)
        box = self.query_one(f"#{self.PREFIX}-errors", Static)
        box.update(Text("\n".join(rest)))
        box.display = bool(rest)
        return rest

    def _close_or_point(self, errors: dict[str, str]) -> None:
        """After a save: close when nothing is wrong; else each problem next to its field,
        the first bad field in view with the cursor in it."""
        rest = self._show(errors)
        if not errors:
            self._tried = False
            self.dismiss(True)
            return
        self._tried = True
        row = first_error_row(self)
        if row is not None:
            reveal(row)
        elif rest:
            self.query_one(f"#{self.PREFIX}-errors", Static).scroll_visible(animate=False)

    @on(Input.Changed)
    @on(Select.Changed)
    @on(Switch.Changed)
    @on(TextArea.Changed)
    def _recheck(self) -> None:
        """Once a save was refused, each edit re-validates: a fixed error clears at once."""
        if not self._tried or not self.is_attached:
            return
        try:
            self.kind = str(self.query_one(f"#{self.PREFIX}-kind", Select).value)
            self._show(self._errors(apply=False))
        except NoMatches:  # a change queued while the editor was closing
            return
