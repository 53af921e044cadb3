"""Which calendar days a sync covers, and how those days map to Pendo's time buckets.

Pendo buckets event data by day in the subscription's timezone (docs/pendo-reference.md,
"Aggregations"; the rules below are its "Windows and timezone rules"). Today is never
stored: Pendo's processing lags by hours, so a window always ends yesterday.

- Timezone set: data is complete up to yesterday in that zone, so Sync now resumes the
  day after the cursor.
- Timezone unset (our convention): "today" is taken in UTC and every sync re-reads the
  last 2 days, because the subscription's yesterday may not be final yet.
  Bucket starts are then asked for at 12:00 UTC, which lies inside the same calendar day
  for any whole-hour offset between -11 and +11, and returned bucket timestamps are
  rounded to the nearest UTC midnight (local midnight is within ±12 h of it).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from pendo_tui.config.model import Config

MS_PER_DAY = 86_400_000
NO_TZ_LOOKBACK_DAYS = 2


@dataclass(frozen=True)
class SyncWindow:
    """An inclusive range of calendar days; empty when ``first_day > last_day``."""

    first_day: date
    last_day: date

    @property
    def empty(self) -> bool:
        return self.first_day > self.last_day

    def __len__(self) -> int:
        return 0 if self.empty else (self.last_day - self.first_day).days + 1

    def days(self) -> Iterator[date]:
        for i in range(len(self)):
            yield self.first_day + timedelta(days=i)

    def chunks(self, max_days: int) -> Iterator[SyncWindow]:
        """Consecutive sub-windows of at most ``max_days`` (Pendo advises ≤30 days a call)."""
        start = self.first_day
        while start <= self.last_day:
            end = min(self.last_day, start + timedelta(days=max_days - 1))
            yield SyncWindow(start, end)
            start = end + timedelta(days=1)

    def __contains__(self, day: object) -> bool:
        return isinstance(day, date) and self.first_day <= day <= self.last_day


def zone(tz: str | None) -> ZoneInfo | None:
    return ZoneInfo(tz) if tz else None


def today_in(tz: str | None, now: datetime | None = None) -> date:
    """The current calendar day in ``tz`` (UTC when unset)."""
    now = now or datetime.now(UTC)
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    return now.astimezone(zone(tz) or UTC).date()


def day_start_ms(day: date, tz: str | None) -> int:
    """Epoch ms that falls in ``day``'s Pendo bucket.

    With a zone this is local midnight, computed through the tz database so a 23 h or
    25 h DST day is right. Without one it is 12:00 UTC (see the module docstring).
    """
    z = zone(tz)
    if z is None:
        return int(datetime.combine(day, time(12), UTC).timestamp() * 1000)
    return int(datetime.combine(day, time(0), z).timestamp() * 1000)


def day_of_ms(ms: int | float, tz: str | None) -> date:
    """The calendar day of a bucket timestamp returned by Pendo."""
    z = zone(tz)
    if z is None:
        nearest = round(ms / MS_PER_DAY) * MS_PER_DAY
        return datetime.fromtimestamp(nearest / 1000, UTC).date()
    return datetime.fromtimestamp(ms / 1000, z).date()


def full_window(config: Config, today: date) -> SyncWindow:
    """The ``days_to_sync`` days that end yesterday: what Re-sync all rebuilds."""
    last = today - timedelta(days=1)
    return SyncWindow(last - timedelta(days=config.pendo.days_to_sync - 1), last)


def window_for(
    config: Config,
    cursor: date | None,
    today: date | None = None,
    resync: bool = False,
) -> SyncWindow:
    """Days a sync must fetch, given the mapping's cursor (last committed day).

    A new mapping (no cursor) or a re-sync covers the whole ``days_to_sync`` window. Sync
    now resumes after the cursor, never earlier than the window start (older data would
    be outside what the store keeps), and without a timezone re-reads the last 2 days.
    """
    tz = config.pendo.timezone
    today = today or today_in(tz)
    full = full_window(config, today)
    if resync or cursor is None:
        return full
    first = cursor + timedelta(days=1)
    if tz is None:
        first = min(first, full.last_day - timedelta(days=NO_TZ_LOOKBACK_DAYS - 1))
    return SyncWindow(max(first, full.first_day), full.last_day)
