"""The one key function of push syncs: which model values are the same primary key.

Used by the model's uniqueness check (before anything is sent), by the in-flight record
and by the delivered-key state, so the three can never disagree. The rule (docs/push.md,
"Primary keys"):

- NULL, or text that is empty once trimmed: no key (the row is rejected, never sent).
- Text: leading and trailing whitespace removed (Unicode whitespace, as ``str.strip``),
  then Unicode NFC. Case, inner whitespace and every other character are kept:
  ``'A1'``, ``' A1'``, ``'A1 '`` are one key; ``'A1'``, ``'a1'``, ``'A 1'`` are three.
- Numbers (integer, float, decimal) as their decimal value: ``12``, ``12.0`` and
  ``Decimal('12.00')`` are the key ``'12'``, the same as the text ``'12'``;
  ``12.5`` is ``'12.5'``. Text is never read as a number: ``'012'`` and ``'12.0'`` stay
  themselves. NaN and infinity are not keys (rejected).
- Booleans: ``'true'`` / ``'false'``. Bytes: decoded as UTF-8, then as text.
- Other values (dates, UUIDs…): their text form, then as text.
- Longer than ``MAX_KEY_CHARS`` (the store's column): not a key (rejected).
"""

from __future__ import annotations

import math
import unicodedata
from decimal import Decimal
from typing import Any

MAX_KEY_CHARS = 1024  # push_state.key / push_rejects.key are String(1024)


class InvalidKey(ValueError):
    """A non-empty value that cannot be a primary key (NaN, infinity, too long, bad bytes)."""


def _number_text(value: Decimal) -> str:
    if not value.is_finite():
        raise InvalidKey(f"{value} is not a usable key")
    if value == value.to_integral_value():
        return str(int(value))
    return format(value.normalize(), "f")


def canonical_key(value: Any) -> str | None:
    """A model value as a push primary key; None when the key is empty (NULL, blank).

    Raises InvalidKey for a value that is present but cannot be a key.
    """
    if value is None:
        return None
    if isinstance(value, str):
        text = value.strip()
        if not text.isascii():
            text = unicodedata.normalize("NFC", text)
    elif isinstance(value, bool):
        return "true" if value else "false"
    elif isinstance(value, int):
        return str(value)
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidKey(f"{value} is not a usable key")
        text = str(int(value)) if value.is_integer() else _number_text(Decimal(repr(value)))
    elif isinstance(value, Decimal):
        text = _number_text(value)
    elif isinstance(value, bytes | bytearray | memoryview):
        try:
            return canonical_key(bytes(value).decode("utf-8"))
        except UnicodeDecodeError:
            raise InvalidKey("bytes that are not UTF-8 text") from None
    else:
        return canonical_key(str(value))
    if not text:
        return None
    if len(text) > MAX_KEY_CHARS:
        raise InvalidKey(f"longer than {MAX_KEY_CHARS} characters ({len(text)})")
    return text


def state_key(stored: str) -> str:
    """A key read back from ``push_state``, in today's canonical form (keys written by
    earlier versions were trimmed but not NFC-normalised)."""
    if stored.isascii():
        return stored
    return unicodedata.normalize("NFC", stored.strip())
