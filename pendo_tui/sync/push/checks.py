"""Row checks: values Pendo cannot take are rejected per row, with a reason, before sending.

Each check has a name a sync can list in ``skip_checks`` (then failing rows are sent as
they are, as before these checks existed). Reasons and limits: docs/push.md, "Rejected rows".
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from decimal import Decimal
from typing import Any, get_args

from pendo_tui.config.model import PushCheck, PushSync
from pendo_tui.errors import ConfigError
from pendo_tui.sync.push.common import jsonable

CHECKS: tuple[str, ...] = get_args(PushCheck)  # the config's list of opt-outs
MAX_VALUE_BYTES = 64 * 1024  # one value, UTF-8 bytes of its JSON text
# A str of at most this many characters is under MAX_VALUE_BYTES whatever it holds
# (≤ 4 UTF-8 bytes a character, ≤ 6 once JSON-escaped): no need to measure it.
_SAFE_CHARS = MAX_VALUE_BYTES // 6
MAX_PROPERTIES_BYTES = 512  # Pendo shows a larger properties object as "too large"
MAX_REQUEST_CHARS = 1024 * 1024  # metadata batches are cut before this many value characters
MIN_TIMESTAMP_MS = 946_684_800_000  # 2000-01-01T00:00:00Z
MAX_AHEAD_MS = 24 * 3600 * 1000  # one day into the future
PROPERTY_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,31}")
_DUNDER = re.compile(r"__\w*__")
NUMERIC_TYPES = frozenset({"integer", "float", "number"})
_NUMBER_TEXT = re.compile(r"\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*")


class BadValue(ValueError):
    """A row value that cannot be used; ``reason`` is the short code counted in the summary."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def property_name_problem(name: str) -> str | None:
    if not PROPERTY_NAME.fullmatch(name):
        return (
            "Pendo takes letters, digits and _ only, at most 32 characters, not starting "
            "with a digit"
        )
    if _DUNDER.fullmatch(name):
        return "names like __x__ are reserved by Pendo"
    return None


def check_property_names(sync: PushSync) -> None:
    """Configured property names Pendo rejects stop the sync before anything is sent."""
    if "property_names" in sync.skip_checks:
        return
    for name in sync.property_columns():
        problem = property_name_problem(name)
        if problem:
            raise ConfigError(
                f"push sync {sync.name!r}: property name {name!r} would be rejected by Pendo: "
                f"{problem}",
                'Name it in the sync, e.g. properties = { plan_name = "Plan Name" } '
                '(property = column), or add "property_names" to skip_checks. Nothing was sent.',
            )


def _non_finite(value: Any) -> bool:
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, Decimal):
        return not value.is_finite()
    if isinstance(value, dict):
        return any(_non_finite(v) for v in value.values())
    if isinstance(value, list | tuple):
        return any(_non_finite(v) for v in value)
    return False


def _bad_nested_name(value: Any) -> str | None:
    if isinstance(value, dict):
        for k, v in value.items():
            if property_name_problem(str(k)):
                return str(k)
            found = _bad_nested_name(v)
            if found:
                return found
    elif isinstance(value, list):
        for v in value:
            found = _bad_nested_name(v)
            if found:
                return found
    return None


def _json_bytes(value: Any) -> int:
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())


class RowChecks:
    """The checks one sync runs on each value it sends (``skip_checks`` removed)."""

    def __init__(self, sync: PushSync) -> None:
        on = set(CHECKS) - set(sync.skip_checks)
        self.non_finite = "non_finite" in on
        self.numeric_fields = "numeric_fields" in on
        self.timestamp_range = "timestamp_range" in on
        self.properties_size = "properties_size" in on
        self.property_names = "property_names" in on
        self.value_size = "value_size" in on
        self.chars = 0  # characters of text values cleaned since the caller last reset it

    def clean(self, raw: Any, what: str) -> Any:
        """``raw`` as a JSON value, or BadValue (non-finite number, value over 64 KiB)."""
        kind = type(raw)
        if kind is str:
            self.chars += len(raw)
            if len(raw) > _SAFE_CHARS and self.value_size:
                self._size(raw, what)
            return raw
        if raw is None or kind is int or kind is bool:
            return raw
        if _non_finite(raw):
            if self.non_finite:
                raise BadValue(
                    "non_finite_number",
                    f"{what} is {raw!r}: Pendo has no NaN or infinity, and sent as null it "
                    "would clear the value",
                )
            return jsonable(raw)  # NaN / infinity become null
        value = jsonable(raw)
        if isinstance(value, str):
            self.chars += len(value)
            if len(value) > _SAFE_CHARS and self.value_size:
                self._size(value, what)
        elif isinstance(value, dict | list):
            if self.value_size:
                self._size(value, what)
            if self.property_names:
                bad = _bad_nested_name(value)
                if bad is not None:
                    raise BadValue(
                        "bad_property_name",
                        f"{what} holds the name {bad!r}: {property_name_problem(bad)}",
                    )
        return value

    def _size(self, value: Any, what: str) -> None:
        size = _json_bytes(value)
        if size > MAX_VALUE_BYTES:
            raise BadValue(
                "value_too_large",
                f"{what} is {size:,} bytes; a value may be at most {MAX_VALUE_BYTES // 1024} KiB",
            )

    def numeric(self, value: Any, field: str) -> None:
        """A value for a field Pendo's schema types as a number (None clears it)."""
        kind = type(value)
        if value is None or kind is int or kind is float or not self.numeric_fields:
            return
        if kind is bool or not (
            isinstance(value, int | float)
            or (isinstance(value, str) and _NUMBER_TEXT.fullmatch(value))
        ):
            raise BadValue(
                "not_numeric",
                f"field {field!r} is {str(value)[:60]!r}, but Pendo's schema types the field "
                "as a number",
            )

    def properties(self, props: dict[str, Any]) -> None:
        if not self.properties_size or not props:
            return
        size = _json_bytes(props)
        if size > MAX_PROPERTIES_BYTES:
            raise BadValue(
                "properties_too_large",
                f"properties are {size:,} bytes as JSON; Pendo shows more than "
                f"{MAX_PROPERTIES_BYTES} bytes as 'too large'",
            )

    def timestamp(self, ms: int, raw: Any, column: str, now_ms: int) -> None:
        if not self.timestamp_range:
            return
        if MIN_TIMESTAMP_MS <= ms <= now_ms + MAX_AHEAD_MS:
            return
        try:
            moment = dt.datetime.fromtimestamp(ms / 1000, dt.UTC).strftime("%Y-%m-%d %H:%M:%SZ")
        except (ValueError, OverflowError, OSError):
            moment = f"epoch ms {ms}"
        raise BadValue(
            "timestamp_out_of_range",
            f"column {column!r} value {str(raw)[:40]!r} reads as {moment} (numbers below 10^11 "
            "are epoch seconds, others epoch milliseconds); Pendo takes events from "
            "2000-01-01 to one day ahead",
        )
