"""Values of the simulator's expression language: truth, field paths, and the lenient
binary operators (arithmetic on null or mismatched types yields null)."""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Mapping
from typing import Any

Row = Mapping[str, Any]
Compiled = Callable[[Row], Any]


def truthy(value: Any) -> bool:
    """Filter truth: null, false, 0, "" and empty lists are false, everything else true."""
    return bool(value)


def is_num(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def get_path(row: Any, parts: tuple[str, ...]) -> Any:
    cur = row
    for part in parts:
        if not isinstance(cur, Mapping):
            return None
        cur = cur.get(part)
    return cur


def field_getter(path: str) -> Compiled:
    """A fast accessor for a dotted field path (a missing step yields null)."""
    if "." not in path:
        return lambda row: row.get(path)
    parts = tuple(path.split("."))

    def get(row: Row) -> Any:
        if path in row:  # a literal dotted key wins (e.g. written by select)
            return row[path]
        return get_path(row, parts)

    return get


def eq(a: Any, b: Any) -> bool:
    if is_num(a) and is_num(b):
        return a == b
    if type(a) is not type(b):
        return False
    return bool(a == b)


NUM_TYPES = (int, float)
ORDER_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


def _order(op: str) -> Callable[[Any, Any], bool]:
    cmp = ORDER_OPS[op]

    def compare(a: Any, b: Any) -> bool:
        if (is_num(a) and is_num(b)) or (isinstance(a, str) and isinstance(b, str)):
            return bool(cmp(a, b))
        return False

    return compare


def _num_result(v: float) -> int | float:
    return int(v) if isinstance(v, float) and v.is_integer() and abs(v) < 2**53 else v


def _add(a: Any, b: Any) -> Any:
    if is_num(a) and is_num(b):
        return a + b
    if isinstance(a, str) and isinstance(b, str):
        return a + b
    return None


def _sub(a: Any, b: Any) -> Any:
    return a - b if is_num(a) and is_num(b) else None


def _mul(a: Any, b: Any) -> Any:
    return a * b if is_num(a) and is_num(b) else None


def _div(a: Any, b: Any) -> Any:
    if not (is_num(a) and is_num(b)) or b == 0:
        return None
    return _num_result(a / b)


def _mod(a: Any, b: Any) -> Any:
    if not (is_num(a) and is_num(b)) or b == 0:
        return None
    if isinstance(a, int) and isinstance(b, int):
        rest = abs(a) % abs(b)  # C semantics: the sign follows the dividend
        return rest if a >= 0 else -rest
    return math.fmod(a, b)


BINARY: dict[str, Callable[[Any, Any], Any]] = {
    "==": eq,
    "!=": lambda a, b: not eq(a, b),
    "<": _order("<"),
    "<=": _order("<="),
    ">": _order(">"),
    ">=": _order(">="),
    "+": _add,
    "-": _sub,
    "*": _mul,
    "/": _div,
    "%": _mod,
}
