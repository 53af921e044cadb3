"""Turn pydantic's ``ValidationError`` into a ``ConfigError`` a person can act on.

Pydantic reports locations as tuples such as ``('pull', 2, 'pipeline', 'str')``; users
think in TOML key paths (``pull[2].pipeline``). This module walks the location together
with the model classes and the raw TOML data so union-branch tags (``'str'``,
``'list[str]'``) are dropped, unknown keys get a "did you mean" suggestion from the field
names at that level, and range errors say the whole allowed range.
"""

from __future__ import annotations

import difflib
import json
import re
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import annotated_types
from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo

from pendo_tui.config.model import Config
from pendo_tui.errors import ConfigError

MAX_LISTED_ERRORS = 12
_VALUE_LIMIT = 60
# Names people paste secrets under: pointed at the keyring/env instead of "did you mean".
_SECRET_WORDS = ("integration", "secret", "token", "password", "api_key", "apikey")
_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")
_PATH_IN_MESSAGE = re.compile(r"^((?:pull|push)\[\d+\](?:\.\w+)?)")


class ConfigValidationError(ConfigError):
    """A ``ConfigError`` that also says, per TOML key path, what is wrong there."""

    def __init__(
        self, message: str, hint: str | None = None, field_errors: dict[str, str] | None = None
    ) -> None:
        super().__init__(message, hint)
        self.field_errors: dict[str, str] = dict(field_errors or {})


@dataclass(frozen=True)
class FieldProblem:
    """One bad value: where it is (TOML key path), what it was, what is wrong."""

    key_path: str
    message: str
    value: str | None  # rendered the way TOML would show it; None when the key is absent
    suggestion: str | None = None

    def line(self) -> str:
        where = self.key_path or "(top level)"
        shown = f" = {self.value}" if self.value is not None else ""
        return f"{where}{shown}: {self.message}"


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model class inside ``Model``, ``list[Model]`` or ``Model | None``."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    origin = typing.get_origin(annotation)
    if origin in (list, typing.Union, types.UnionType):
        for arg in typing.get_args(annotation):
            found = _model_in(arg)
            if found is not None:
                return found
    return None


def _join(parts: list[str], key: str) -> None:
    shown = key if _BARE_KEY.match(key) else json.dumps(key)
    parts.append(f".{shown}" if parts else shown)


@dataclass
class _Located:
    key_path: str
    model: type[BaseModel] | None  # model class whose field/level the error is about
    field: FieldInfo | None
    last_key: str | None
    union_tag: bool = False  # the error is about one branch of a union-typed field


def _is_union(annotation: Any) -> bool:
    """True for a union of two or more non-None types (``str | list[dict]``)."""
    if typing.get_origin(annotation) not in (typing.Union, types.UnionType):
        return False
    return len([a for a in typing.get_args(annotation) if a is not type(None)]) > 1


def _locate(loc: tuple[int | str, ...], data: Any) -> _Located:
    model: type[BaseModel] | None = Config
    owner: type[BaseModel] | None = Config
    field: FieldInfo | None = None
    at_field = False  # the last step named a model field (not an index or a free-form key)
    cur: Any = data
    parts: list[str] = []
    last_key: str | None = None
    for item in loc:
        if isinstance(item, int):
            parts.append(f"[{item}]")
            cur = cur[item] if isinstance(cur, list) and -len(cur) <= item < len(cur) else None
            model = _model_in(field.annotation) if field is not None else None
            at_field = False
            continue
        in_data = isinstance(cur, dict) and item in cur
        if at_field and field is not None and _is_union(field.annotation):
            # pydantic tried each branch of a union: report the field itself, once
            return _Located("".join(parts), owner, field, last_key, union_tag=True)
        if model is not None:  # at a model's level every name is a key (known or not)
            _join(parts, item)
            owner, field, last_key, at_field = model, model.model_fields.get(item), item, True
            model = None
            if field is not None and typing.get_origin(field.annotation) is not list:
                model = _model_in(field.annotation)  # list[Model] descends at the index
            cur = cur.get(item) if isinstance(cur, dict) else None
        elif model is None and in_data:  # a key of a free-form table (columns, fields ...)
            _join(parts, item)
            cur, last_key, at_field = cur[item], item, False
        # anything else is a union-branch tag ('str', 'list[str]'): not part of the path
    return _Located("".join(parts), owner, field, last_key)


def render_value(value: Any) -> str:
    """A value as it would look in TOML, shortened for an error line."""
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, str | int | float):
        text = json.dumps(value, ensure_ascii=False)
    else:
        try:
            text = json.dumps(value, ensure_ascii=False, default=str)
        except (TypeError, ValueError):
            text = repr(value)
    return text if len(text) <= _VALUE_LIMIT else text[: _VALUE_LIMIT - 1] + "…"


def _bounds(field: FieldInfo | None) -> tuple[Any, Any, bool, bool]:
    lo = hi = None
    lo_strict = hi_strict = False
    for meta in field.metadata if field is not None else ():
        if isinstance(meta, annotated_types.Ge):
            lo = meta.ge
        elif isinstance(meta, annotated_types.Gt):
            lo, lo_strict = meta.gt, True
        elif isinstance(meta, annotated_types.Le):
            hi = meta.le
        elif isinstance(meta, annotated_types.Lt):
            hi, hi_strict = meta.lt, True
    return lo, hi, lo_strict, hi_strict


def _range_text(field: FieldInfo | None, ctx: dict[str, Any]) -> str:
    lo, hi, lo_strict, hi_strict = _bounds(field)
    lo = lo if lo is not None else ctx.get("ge", ctx.get("gt"))
    hi = hi if hi is not None else ctx.get("le", ctx.get("lt"))
    if lo is not None and hi is not None and not (lo_strict or hi_strict):
        return f"must be between {lo} and {hi}"
    parts = []
    if lo is not None:
        parts.append(f"{'greater than' if lo_strict or 'gt' in ctx else 'at least'} {lo}")
    if hi is not None:
        parts.append(f"{'less than' if hi_strict or 'lt' in ctx else 'at most'} {hi}")
    return "must be " + " and ".join(parts)


_UNION_WORDS = {
    "pipeline": "must be the pipeline's JSON array as a string or an array of tables",
    "properties": 'must be a list of column names, or a table of property = "column"',
}
_TYPE_WORDS = {
    "int_type": "must be a whole number (no quotes)",
    "int_parsing": "must be a whole number (no quotes)",
    "int_from_float": "must be a whole number, not a fraction",
    "float_type": "must be a number (no quotes)",
    "float_parsing": "must be a number (no quotes)",
    "bool_type": "must be true or false (no quotes)",
    "bool_parsing": "must be true or false (no quotes)",
    "string_type": 'must be a text value in quotes, e.g. "abc"',
    "list_type": "must be a list, e.g. [1, 2]",
    "dict_type": "must be a table, e.g. { a = 1 } or a [section]",
    "model_type": "must be a table, e.g. { a = 1 } or a [section]",
    "model_attributes_type": "must be a table, e.g. { a = 1 } or a [section]",
    "missing": "is required but missing",
}


def _looks_secret(key: str | None) -> bool:
    lowered = (key or "").lower()
    return lowered == "key" or any(word in lowered for word in _SECRET_WORDS)


def _describe(err: Any, located: _Located) -> tuple[str, str | None]:
    """(message, did-you-mean suggestion) for one pydantic error."""
    kind = err["type"]
    ctx = err.get("ctx") or {}
    if located.union_tag:
        return _UNION_WORDS.get(located.last_key or "", "has the wrong type"), None
    if kind == "extra_forbidden":
        if _looks_secret(located.last_key):
            return (
                "unknown key; secrets never go in this file: set PENDO_INTEGRATION_KEY / "
                "PENDO_TRACK_SECRET or save them with the set-up screen (keyring)",
                None,
            )
        key = located.last_key or ""
        names = list(located.model.model_fields) if located.model is not None else []
        close = difflib.get_close_matches(key, names, n=1, cutoff=0.6)
        if close:
            return f"unknown key; did you mean {close[0]!r}?", close[0]
        return f"unknown key (allowed here: {', '.join(names)})", None
    if kind in ("greater_than_equal", "less_than_equal", "greater_than", "less_than"):
        return _range_text(located.field, ctx), None
    if kind == "literal_error":
        return f"must be one of {ctx.get('expected', '')}", None
    if kind == "string_too_short":
        return "must not be empty", None
    if kind in _TYPE_WORDS:
        return _TYPE_WORDS[kind], None
    msg: str = err["msg"]
    return msg.removeprefix("Value error, ").removeprefix("Assertion failed, "), None


def _problems(exc: ValidationError, data: Any) -> list[FieldProblem]:
    problems: list[FieldProblem] = []
    seen: set[str] = set()
    for err in exc.errors():
        located = _locate(tuple(err["loc"]), data)
        message, suggestion = _describe(err, located)
        key_path = located.key_path
        if not key_path:  # a whole-file rule: its message starts with the path it is about
            match = _PATH_IN_MESSAGE.match(message)
            if match:
                key_path = match.group(1)
                message = message[match.end() :].lstrip()
        value = None
        raw = err.get("input")
        tables = isinstance(raw, dict) or (
            isinstance(raw, list) and any(isinstance(r, dict) for r in raw)
        )
        if err["type"] != "missing" and not tables:  # whole tables are not worth echoing
            value = render_value(err.get("input"))
            if _looks_secret(located.last_key):  # never echo a pasted key into logs
                value = "<hidden>"
        if located.union_tag:  # one line per union field, not one per branch tried
            if key_path in seen:
                continue
            seen.add(key_path)
        problems.append(FieldProblem(key_path, message, value, suggestion))
    return problems


def format_validation_error(
    exc: ValidationError, path: Path | str | None, data: Any = None
) -> ConfigValidationError:
    """A ``ConfigError`` naming the file, each key path, its bad value and what is allowed.

    ``data`` is the raw TOML data that was validated; with it, key paths skip pydantic's
    union tags more precisely. The returned error carries ``field_errors`` (key path →
    message) so the TUI can show each message next to its field.
    """
    problems = _problems(exc, data)
    where = f"{path}" if path is not None else "the settings"
    count = len(problems)
    lines = [p.line() for p in problems[:MAX_LISTED_ERRORS]]
    if count > MAX_LISTED_ERRORS:
        lines.append(f"… and {count - MAX_LISTED_ERRORS} more")
    noun = "problem" if count == 1 else "problems"
    head = f"Invalid configuration in {path}" if path is not None else "Invalid settings"
    message = f"{head} ({count} {noun}):\n  " + "\n  ".join(lines)
    suggestions = [
        f"{p.key_path} → did you mean {p.suggestion!r}?" for p in problems if p.suggestion
    ]
    hint = (
        f"Edit {where} (see config.example.toml for every key), "
        "or run `pendo-tui` to change it in the set-up screens."
    )
    if suggestions:
        hint = "; ".join(suggestions) + "\n" + hint
    field_errors: dict[str, str] = {}
    for p in problems:
        field_errors.setdefault(p.key_path, p.message)
    return ConfigValidationError(message, hint, field_errors)
