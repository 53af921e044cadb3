"""A labelled form field with its validation message right under it.

Validation messages come from the config package in config-key words
(``push.2: an events sync needs exactly one of event or event_column``). ``show_errors``
puts each one next to the field it is about — a record-level message goes to the first
field it names — and rewrites the key names into the labels the form shows.
"""

from __future__ import annotations

import re

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
        self.label = label
        self.field = field
        self.error: str | None = None
        self._help = help

    def compose(self) -> ComposeResult:
        yield Label(self.label, classes="form-label")
        yield self.field
        if self._help:
            yield Static(self._help, classes="form-help")
        yield Static("", classes="form-error")

    def set_error(self, message: str | None) -> None:
        self.error = message or None
        err = self.query_one(".form-error", Static)
        err.update(Text(message or ""))
        err.display = bool(message)
        self.set_class(bool(message), "has-error")

    @property
    def empty(self) -> bool:
        value = getattr(self.field, "value", None)
        return isinstance(value, str) and not value.strip()

    @property
    def shown(self) -> bool:
        """False when the row (or a container of it) is hidden for the current kind."""
        node: Widget | None = self
        while isinstance(node, Widget):
            if not node.display:
                return False
            node = node.parent if isinstance(node.parent, Widget) else None
        return True


def _under(path: str, base: str) -> bool:
    return path == base or path.startswith(base + ".")


# A plain-word key ("id", "event", "path") is a key only where a rule names a field:
# first in the message, or after one of these words ("needs id", "one of event or …").
# Elsewhere it is English ("the page's Pendo id") and stays.
_KEY_CONTEXT = ("needs ", "of ", "or ", "and ", "but ", "both ", "either ")


def label_words(message: str, rows: list[FormRow], base: str) -> tuple[str, FormRow | None]:
    """``message`` with the keys of ``rows`` under ``base`` replaced by their labels, and
    the first of those rows it mentions (shown rows first, then empty ones, form order)."""
    by_key: dict[str, FormRow] = {}
    for row in rows:
        if not _under(row.path, base) or row.path == base:
            continue
        rel = row.path[len(base) + 1 :]
        for key in (rel, rel.rsplit(".", 1)[-1]):
            by_key.setdefault(key, row)
    if not by_key:
        return message, None
    keys = sorted(by_key, key=len, reverse=True)  # longest first: event_column before event
    pattern = re.compile(
        r"(?<![\w.'\"/])(" + "|".join(map(re.escape, keys)) + r")(?![\w'\"/]|\.\w)"
    )
    mentioned: list[FormRow] = []

    def replace(match: re.Match[str]) -> str:
        key, before = match.group(1), message[: match.start()]
        if "_" not in key and before.strip() and not before.endswith(_KEY_CONTEXT):
            return key
        row = by_key[key]
        mentioned.append(row)
        return f'"{row.label}"'

    out = pattern.sub(replace, message)  # one pass: a label is never rewritten again
    if not mentioned:
        return out, None
    order = {id(r): i for i, r in enumerate(rows)}
    # the field to fix: shown, and empty if one is ("source 'csv' needs path" → CSV path)
    candidates = sorted(mentioned, key=lambda r: (not r.shown, not r.empty, order[id(r)]))
    return out, candidates[0]


def show_errors(root: Widget, errors: dict[str, str], scope: str = "") -> list[str]:
    """Put each error next to its field; return the ones no field claimed.

    Only rows whose path is under ``scope`` are touched (all rows when empty), so a
    handler that validates one section never wipes another section's messages.
    Returned messages are in the form's label words, without the config key path.
    """
    rows = [r for r in root.query(FormRow) if not scope or _under(r.path, scope)]
    messages: dict[int, str] = {}
    unclaimed: list[str] = []
    for path, msg in errors.items():
        owner = next((r for r in rows if _under(path, r.path)), None)
        if owner is not None:  # about the field itself; keys of its parts become labels
            words, _named = label_words(msg, rows, owner.path)
            messages.setdefault(id(owner), words)
            continue
        # a record-level rule (push.2, identity): the first field its message names
        words, named = label_words(msg, rows, path)
        if named is not None and id(named) not in messages:
            messages[id(named)] = words
        else:
            unclaimed.append(words)
    for row in rows:
        row.set_error(messages.get(id(row)))
    return unclaimed


def first_error_row(root: Widget) -> FormRow | None:
    """The first row (form order) showing an error, preferring rows that are shown."""
    rows = [r for r in root.query(FormRow) if r.error]
    shown = [r for r in rows if r.shown]
    return (shown or rows or [None])[0]


def reveal(row: FormRow) -> None:
    """Scroll the row into view and put the cursor in its field."""
    row.scroll_visible(animate=False)
    if row.field.focusable:
        row.field.focus()
