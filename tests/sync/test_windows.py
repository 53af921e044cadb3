"""Windows: which days a sync covers, and DST-correct day boundaries."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from pendo_tui.config.model import Config
from pendo_tui.sync.windows import (
    SyncWindow,
    day_of_ms,
    day_start_ms,
    today_in,
    window_for,
)

ZONES = [
    "America/New_York",
    "Europe/Berlin",
    "Australia/Sydney",
    "America/Sao_Paulo",
    "Asia/Kolkata",
    "Pacific/Auckland",
    "UTC",
]
TODAY = date(2026, 3, 20)


def cfg(tz: str | None = "America/New_York", days: int = 90) -> Config:
    return Config.model_validate({"pendo": {"timezone": tz, "days_to_sync": days}})


def test_new_mapping_covers_days_to_sync_ending_yesterday():
    w = window_for(cfg(days=90), None, today=TODAY)
    assert (w.first_day, w.last_day, len(w)) == (date(2025, 12, 20), date(2026, 3, 19), 90)


def test_today_is_never_in_a_window():
    for cursor in (None, TODAY - timedelta(days=5), TODAY - timedelta(days=1)):
        for tz in ("Europe/Berlin", None):
            assert TODAY not in window_for(cfg(tz), cursor, today=TODAY)


def test_sync_now_resumes_after_cursor_with_timezone():
    w = window_for(cfg(), TODAY - timedelta(days=4), today=TODAY)
    assert (w.first_day, w.last_day) == (TODAY - timedelta(days=3), TODAY - timedelta(days=1))
    assert window_for(cfg(), TODAY - timedelta(days=1), today=TODAY).empty


def test_without_timezone_last_two_days_are_reread():
    w = window_for(cfg(None), TODAY - timedelta(days=1), today=TODAY)
    assert (w.first_day, w.last_day) == (TODAY - timedelta(days=2), TODAY - timedelta(days=1))
    old = window_for(cfg(None), TODAY - timedelta(days=6), today=TODAY)
    assert old.first_day == TODAY - timedelta(days=5)  # older cursors resume as usual


def test_old_cursor_is_clamped_to_days_to_sync_and_resync_ignores_cursor():
    w = window_for(cfg(days=10), date(2020, 1, 1), today=TODAY)
    assert len(w) == 10
    r = window_for(cfg(days=10), TODAY - timedelta(days=1), today=TODAY, resync=True)
    assert len(r) == 10


def test_chunks_cover_the_window_without_gaps():
    w = SyncWindow(date(2026, 1, 1), date(2026, 3, 31))
    chunks = list(w.chunks(30))
    assert all(len(c) <= 30 for c in chunks)
    assert [d for c in chunks for d in c.days()] == list(w.days())


def test_dst_days_are_23_and_25_hours_in_new_york():
    tz = "America/New_York"
    spring, autumn = date(2026, 3, 8), date(2026, 11, 1)
    hours = lambda d: (day_start_ms(d + timedelta(days=1), tz) - day_start_ms(d, tz)) / 3.6e6  # noqa: E731
    assert hours(spring) == 23 and hours(autumn) == 25 and hours(date(2026, 3, 9)) == 24


@settings(max_examples=300, deadline=None)
@given(
    day=st.dates(min_value=date(2000, 1, 1), max_value=date(2037, 12, 31)),
    tz=st.sampled_from(ZONES),
)
def test_day_start_round_trips_and_is_local_midnight(day: date, tz: str):
    ms = day_start_ms(day, tz)
    assert day_of_ms(ms, tz) == day
    local = datetime.fromtimestamp(ms / 1000, ZoneInfo(tz))
    assert (local.hour, local.minute) == (0, 0) or local.date() == day  # midnight may not exist
    assert day_of_ms(day_start_ms(day + timedelta(days=1), tz) - 1, tz) == day


@settings(max_examples=300, deadline=None)
@given(
    day=st.dates(min_value=date(2000, 1, 1), max_value=date(2037, 12, 31)),
    offset_h=st.integers(min_value=-11, max_value=11),
)
def test_without_timezone_buckets_map_to_the_right_day(day: date, offset_h: int):
    # Pendo answers with local midnight of the subscription's zone, unknown to us.
    local_midnight_ms = int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp() * 1000)
    bucket_ms = local_midnight_ms - offset_h * 3_600_000
    assert day_of_ms(bucket_ms, None) == day
    # ...and the time we ask for lies inside that local day for any such offset.
    asked = day_start_ms(day, None) + offset_h * 3_600_000
    assert datetime.fromtimestamp(asked / 1000, UTC).date() == day


@settings(max_examples=200, deadline=None)
@given(
    now=st.datetimes(min_value=datetime(2001, 1, 1), max_value=datetime(2037, 1, 1)),
    tz=st.sampled_from(ZONES),
    days=st.integers(min_value=1, max_value=365),
    back=st.integers(min_value=0, max_value=400),
)
def test_window_properties(now: datetime, tz: str, days: int, back: int):
    today = today_in(tz, now.replace(tzinfo=UTC))
    assert today == now.replace(tzinfo=UTC).astimezone(ZoneInfo(tz)).date()
    cursor = today - timedelta(days=back)
    w = window_for(cfg(tz, days), cursor, today=today)
    assert len(w) <= days
    assert w.empty or (w.last_day == today - timedelta(days=1) and w.first_day > cursor)
