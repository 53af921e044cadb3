"""timeSeries resolution for the simulator's evaluator: a source's window and buckets.

Day buckets start at local midnight of the subscription zone (or where a DST gap ends);
hour buckets are absolute hours.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pendo_tui.sim.expr import (
    ExprEnv,
    ExpressionError,
    compile_expression,
    hour_floor,
    local_datetime,
)
from pendo_tui.sim.pipeline_base import PipelineError

DAY_RANGE = "dayRange"
HOUR_RANGE = "hourRange"
HOUR_MS = 3_600_000
MAX_BUCKETS = 100_000


def _time_value(raw: Any, name: str, env: ExprEnv) -> int:
    if isinstance(raw, bool) or raw is None:
        raise PipelineError(f"timeSeries {name} must be a time in ms or an expression")
    if isinstance(raw, int | float):
        return int(raw)
    if not isinstance(raw, str):
        raise PipelineError(f"timeSeries {name} must be a time in ms or an expression")
    text = raw.strip()
    try:
        return int(text)
    except ValueError:
        pass
    try:
        value = compile_expression(text, env)({})
    except ExpressionError as err:
        raise PipelineError(f"Cannot parse timeSeries {name} {raw!r}: {err}") from None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise PipelineError(f"timeSeries {name} {raw!r} does not evaluate to a time")
    return int(value)


def zone_of(tz: str) -> ZoneInfo:
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError) as err:
        raise PipelineError(f"unknown subscription time zone {tz!r}") from err


def day_start(day: date, zone: ZoneInfo) -> int:
    """Epoch ms of the first instant of a local calendar day.

    Local midnight, or the end of the DST gap where a zone skips midnight; never a fixed
    86 400 000 ms step from a neighbour.
    """
    naive = datetime(day.year, day.month, day.day)
    # fold=0 maps a skipped midnight with the pre-transition offset: the transition instant.
    return int(naive.replace(tzinfo=zone).timestamp()) * 1000


def resolve_time_series(ts: dict[str, Any], tz: str, now_ms: int) -> tuple[int, int, list[int]]:
    """Resolve a timeSeries into (start_ms, end_ms exclusive, bucket starts)."""
    if not isinstance(ts, dict):
        raise PipelineError("timeSeries must be an object with period, first and count or last")
    zone = zone_of(tz)
    env = ExprEnv(now_ms=now_ms, tz=tz)
    period = ts.get("period")
    if period not in (DAY_RANGE, HOUR_RANGE):
        raise PipelineError(f"unsupported timeSeries period {period!r} (use dayRange or hourRange)")
    if "first" not in ts:
        raise PipelineError("timeSeries needs 'first'")
    first = _time_value(ts["first"], "first", env)
    has_count, has_last = ts.get("count") is not None, ts.get("last") is not None
    if has_count == has_last:
        raise PipelineError("timeSeries needs exactly one of 'count' or 'last'")
    count: int | None = None
    last: int | None = None
    if has_count:
        raw = ts["count"]
        if isinstance(raw, bool) or not isinstance(raw, int | str):
            raise PipelineError(f"timeSeries count must be an integer, got {raw!r}")
        try:
            count = int(raw)
        except ValueError:
            raise PipelineError(f"timeSeries count must be an integer, got {raw!r}") from None
        if count == 0:
            raise PipelineError("timeSeries count must not be 0")
        if abs(count) > MAX_BUCKETS:
            raise PipelineError(f"timeSeries count {count} exceeds {MAX_BUCKETS} buckets")
    else:
        last = _time_value(ts["last"], "last", env)
        if last < first:
            raise PipelineError("timeSeries last is before first")

    if period == DAY_RANGE:
        buckets = _day_buckets(first, count, last, zone)
        end = day_start(_local_date(buckets[-1], zone) + timedelta(days=1), zone)
    else:
        buckets = _hour_buckets(first, count, last, zone)
        end = buckets[-1] + HOUR_MS
    return buckets[0], end, buckets


def _local_date(ms: int, zone: ZoneInfo) -> date:
    return local_datetime(ms, zone).date()


def _span(first_index: int, count: int | None, last_index: int | None) -> range:
    """Bucket indexes relative to first's bucket (count < 0: the buckets before it)."""
    if count is not None:
        return range(first_index, first_index + count) if count > 0 else range(count, 0)
    assert last_index is not None
    n = last_index - first_index + 1
    if n > MAX_BUCKETS:
        raise PipelineError(f"timeSeries spans {n} buckets, more than {MAX_BUCKETS}")
    return range(first_index, last_index + 1)


def _day_buckets(first: int, count: int | None, last: int | None, zone: ZoneInfo) -> list[int]:
    d0 = _local_date(first, zone)
    last_index = (_local_date(last, zone) - d0).days if last is not None else None
    try:
        starts = [day_start(d0 + timedelta(days=i), zone) for i in _span(0, count, last_index)]
    except OverflowError:
        raise PipelineError("timeSeries reaches outside the supported calendar") from None
    # A zone that skips a whole calendar day (Pacific/Apia, 2011-12-30) maps it onto the
    # next day's start: keep one bucket per distinct instant.
    return sorted(set(starts))


def _hour_buckets(first: int, count: int | None, last: int | None, zone: ZoneInfo) -> list[int]:
    # Hours are absolute: a 25-hour local day simply has 25 hour buckets.
    h0 = hour_floor(first, zone)
    last_index = (hour_floor(last, zone) - h0) // HOUR_MS if last is not None else None
    return [h0 + i * HOUR_MS for i in _span(0, count, last_index)]
