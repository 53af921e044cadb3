"""Calendar arithmetic in the subscription zone for the expression language's time
functions (dateAdd, startOfPeriod) and the evaluator's hour buckets."""

from __future__ import annotations

import calendar
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo


def local_datetime(ms: int, zone: ZoneInfo) -> datetime:
    return datetime.fromtimestamp(ms // 1000, zone).replace(microsecond=(ms % 1000) * 1000)


def to_ms(dt: datetime) -> int:
    """Epoch ms of an aware datetime; wall times in a DST gap resolve to the later side."""
    return int(dt.replace(microsecond=0).timestamp()) * 1000 + dt.microsecond // 1000


def _add_months(dt: datetime, months: int) -> datetime:
    total = dt.year * 12 + (dt.month - 1) + months
    year, month = divmod(total, 12)
    day = min(dt.day, calendar.monthrange(year, month + 1)[1])
    return dt.replace(year=year, month=month + 1, day=day)


def hour_floor(ms: int, zone: ZoneInfo) -> int:
    """Start of the local hour holding `ms` (the zone's offset at that instant counts)."""
    offset = local_datetime(ms, zone).utcoffset()
    offset_ms = int(offset.total_seconds() * 1000) if offset else 0
    return ms - (ms + offset_ms) % 3_600_000


_UNITS_FIXED = {"hours": 3_600_000, "minutes": 60_000, "seconds": 1000, "milliseconds": 1}


def date_add(ms: int, amount: int, unit: str, zone: ZoneInfo) -> int:
    """Calendar-aware addition: "days" keeps the wall-clock time across DST changes."""
    u = unit.lower().rstrip("s") + "s"
    if u in _UNITS_FIXED:
        return ms + amount * _UNITS_FIXED[u]
    local = local_datetime(ms, zone).replace(tzinfo=None)
    if u == "days":
        local += timedelta(days=amount)
    elif u == "weeks":
        local += timedelta(weeks=amount)
    elif u == "months":
        local = _add_months(local, amount)
    elif u == "years":
        local = _add_months(local, 12 * amount)
    else:
        raise ValueError(f"unknown dateAdd unit {unit!r}")
    return to_ms(local.replace(tzinfo=zone))


def start_of_period(period: str, ms: int, zone: ZoneInfo) -> int:
    p = period.lower()
    if p in ("hourly", "hour"):
        return hour_floor(ms, zone)
    local = local_datetime(ms, zone).replace(tzinfo=None)
    day = local.replace(hour=0, minute=0, second=0, microsecond=0)
    if p in ("weekly", "week"):
        day -= timedelta(days=(day.weekday() + 1) % 7)  # Pendo weeks start on Sunday
    elif p in ("monthly", "month"):
        day = day.replace(day=1)
    elif p in ("quarterly", "quarter"):
        day = day.replace(day=1, month=3 * ((day.month - 1) // 3) + 1)
    elif p in ("yearly", "year"):
        day = day.replace(day=1, month=1)
    elif p not in ("daily", "day"):
        raise ValueError(f"unknown period {period!r}")
    return to_ms(day.replace(tzinfo=zone))
