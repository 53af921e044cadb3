"""The expression language's functions (isNull, contains, dateAdd, ...) and constants."""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from pendo_tui.sim.expr_time import date_add, start_of_period, to_ms
from pendo_tui.sim.expr_values import eq

ANONYMOUS_PREFIX = "_PENDO_T_"


@dataclass(frozen=True)
class ExprEnv:
    """What time-dependent functions need: the request's "now" and the subscription zone."""

    now_ms: int
    tz: str = "UTC"

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.tz)


def _fn_hash(v: Any) -> int:
    return zlib.crc32(str(v).encode()) if v is not None else 0


def _fn_len(v: Any) -> Any:
    if v is None:
        return 0
    return len(v) if isinstance(v, str | list | dict | tuple) else None


def _fn_contains(hay: Any, needle: Any) -> bool:
    if isinstance(hay, str):
        return isinstance(needle, str) and needle in hay
    if isinstance(hay, list):
        return any(eq(x, needle) for x in hay)
    return False


def _fn_starts(s: Any, prefix: Any) -> bool:
    return isinstance(s, str) and isinstance(prefix, str) and s.startswith(prefix)


def fn_identified(v: Any) -> bool:
    return isinstance(v, str) and v != "" and not v.startswith(ANONYMOUS_PREFIX)


def _guard_time(fn: Callable[..., int]) -> Callable[..., Any]:
    def call(*args: Any) -> Any:
        try:
            return fn(*args)
        except (TypeError, ValueError, OverflowError, OSError):
            return None

    return call


# name -> (min args, max args, factory(env) -> python function over evaluated args)
FUNCS: dict[str, tuple[int, int, Callable[[ExprEnv], Callable[..., Any]]]] = {
    "isNull": (1, 1, lambda env: lambda v: v is None),
    "isNil": (1, 1, lambda env: lambda v: v is None),
    "contains": (2, 2, lambda env: _fn_contains),
    "startsWith": (2, 2, lambda env: _fn_starts),
    "len": (1, 1, lambda env: _fn_len),
    "hash": (1, 1, lambda env: _fn_hash),
    "list": (0, 1000, lambda env: lambda *a: list(a)),
    "now": (0, 0, lambda env: lambda: env.now_ms),
    "date": (
        3,
        6,
        lambda env: _guard_time(
            lambda *a: to_ms(datetime(*(int(x) for x in a), tzinfo=env.zone))  # type: ignore[misc]
        ),
    ),
    "dateAdd": (
        3,
        3,
        lambda env: _guard_time(lambda t, n, u: date_add(int(t), int(n), str(u), env.zone)),
    ),
    "startOfPeriod": (
        2,
        2,
        # One published example writes the arguments reversed; accept both orders.
        lambda env: _guard_time(
            lambda p, t: (
                start_of_period(p, int(t), env.zone)
                if isinstance(p, str)
                else start_of_period(t, int(p), env.zone)
            )
        ),
    ),
}
FUNCS["date_add"] = FUNCS["dateAdd"]
CONSTANTS = {"true": True, "false": False, "null": None, "nil": None}
