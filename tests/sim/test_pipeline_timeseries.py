"""timeSeries resolution: bucket starts in the subscription zone, DST-correct."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pendo_tui.sim.pipeline import PipelineError, resolve_time_series

NY = "America/New_York"
BERLIN = "Europe/Berlin"
HOUR = 3_600_000


def ms(tz: str, *args: int) -> int:
    return int(datetime(*args, tzinfo=ZoneInfo(tz)).timestamp() * 1000)  # type: ignore[misc]


def local(tz: str, t: int) -> datetime:
    return datetime.fromtimestamp(t / 1000, ZoneInfo(tz))


NOW_NY = ms(NY, 2026, 3, 20, 11, 30)


def test_count_positive_starts_at_firsts_bucket_rounded_down() -> None:
    start, end, buckets = resolve_time_series(
        {"period": "dayRange", "first": NOW_NY, "count": 3}, NY, NOW_NY
    )
    assert buckets == [ms(NY, 2026, 3, 20), ms(NY, 2026, 3, 21), ms(NY, 2026, 3, 22)]
    assert start == buckets[0]
    assert end == ms(NY, 2026, 3, 23)


def test_count_negative_is_the_buckets_before_first() -> None:
    _, end, buckets = resolve_time_series(
        {"period": "dayRange", "first": "now()", "count": -1}, NY, NOW_NY
    )
    assert buckets == [ms(NY, 2026, 3, 19)]  # yesterday
    assert end == ms(NY, 2026, 3, 20)  # today excluded
    _, _, week = resolve_time_series(
        {"period": "dayRange", "first": "now()", "count": -7}, NY, NOW_NY
    )
    assert [local(NY, b).day for b in week] == [13, 14, 15, 16, 17, 18, 19]


def test_last_is_inclusive_and_first_equal_last_is_one_bucket() -> None:
    _, end, buckets = resolve_time_series(
        {"period": "dayRange", "first": ms(NY, 2026, 3, 1, 8), "last": "now()"}, NY, NOW_NY
    )
    assert len(buckets) == 20 and buckets[-1] == ms(NY, 2026, 3, 20)
    assert end == ms(NY, 2026, 3, 21)
    _, _, one = resolve_time_series(
        {"period": "dayRange", "first": "now()", "last": "now()"}, NY, NOW_NY
    )
    assert one == [ms(NY, 2026, 3, 20)]


def test_first_accepts_numeric_strings_and_expressions() -> None:
    def first_bucket(first: object) -> int:
        return resolve_time_series({"period": "dayRange", "first": first, "count": 1}, NY, NOW_NY)[
            2
        ][0]

    assert first_bucket(str(ms(NY, 2026, 2, 1, 12))) == ms(NY, 2026, 2, 1)
    assert first_bucket("now() - 30*24*60*60*1000") == first_bucket(NOW_NY - 30 * 86_400_000)
    assert first_bucket("date(2024,1,1)") == ms(NY, 2024, 1, 1)
    assert first_bucket('dateAdd(now(), -7, "days")') == ms(NY, 2026, 3, 13)
    assert first_bucket(float(ms(NY, 2026, 2, 1, 12))) == ms(NY, 2026, 2, 1)


def test_day_bucket_follows_the_subscription_zone_not_utc() -> None:
    # 02:00 UTC on 20 March is still 19 March in New York.
    t = int(datetime(2026, 3, 20, 2, 0, tzinfo=UTC).timestamp() * 1000)
    _, _, buckets = resolve_time_series({"period": "dayRange", "first": t, "count": 1}, NY, t)
    assert buckets == [ms(NY, 2026, 3, 19)]


@pytest.mark.parametrize(
    ("tz", "first", "short", "long"),
    [
        (NY, date(2026, 3, 5), date(2026, 3, 8), date(2026, 11, 1)),
        (BERLIN, date(2026, 3, 26), date(2026, 3, 29), date(2026, 10, 25)),
    ],
)
def test_dst_weeks_have_a_23_and_a_25_hour_day(
    tz: str, first: date, short: date, long: date
) -> None:
    for day, hours in ((short, 23), (long, 25)):
        start_day = day - timedelta(days=3)
        t0 = ms(tz, start_day.year, start_day.month, start_day.day, 13)
        _, end, buckets = resolve_time_series(
            {"period": "dayRange", "first": t0, "count": 7}, tz, t0
        )
        edges = [*buckets, end]
        lengths = [(b - a) // HOUR for a, b in itertools.pairwise(edges)]
        assert lengths == [24, 24, 24, hours, 24, 24, 24], (tz, day)
        assert all(local(tz, b).hour == 0 and local(tz, b).minute == 0 for b in buckets)


def test_hour_range_buckets_across_a_25_hour_day() -> None:
    t0 = ms(NY, 2026, 11, 1, 0, 20)
    start, end, buckets = resolve_time_series(
        {"period": "hourRange", "first": t0, "count": 25}, NY, t0
    )
    assert start == ms(NY, 2026, 11, 1)
    assert end == ms(NY, 2026, 11, 2)  # 25 absolute hours fill the whole local day
    assert [b - a for a, b in itertools.pairwise(buckets)] == [HOUR] * 24
    _, _, before = resolve_time_series(
        {"period": "hourRange", "first": "now()", "count": -2}, NY, NOW_NY
    )
    assert before == [ms(NY, 2026, 3, 20, 9), ms(NY, 2026, 3, 20, 10)]


@pytest.mark.parametrize(
    ("ts", "fragment"),
    [
        ({"period": "weekRange", "first": 0, "count": 1}, "unsupported timeSeries period"),
        ({"period": "dayRange", "count": 1}, "needs 'first'"),
        ({"period": "dayRange", "first": 0}, "exactly one of 'count' or 'last'"),
        ({"period": "dayRange", "first": 0, "count": 1, "last": 0}, "exactly one"),
        ({"period": "dayRange", "first": 0, "count": 0}, "must not be 0"),
        ({"period": "dayRange", "first": 0, "count": "x"}, "count must be an integer"),
        ({"period": "dayRange", "first": 0, "count": 10**7}, "exceeds"),
        ({"period": "dayRange", "first": "now() -", "count": 1}, "Cannot parse timeSeries first"),
        ({"period": "dayRange", "first": '"abc"', "count": 1}, "does not evaluate to a time"),
        ({"period": "dayRange", "first": "now()", "last": "now() - 1"}, "last is before first"),
        ({"period": "dayRange", "first": True, "count": 1}, "must be a time"),
    ],
)
def test_bad_time_series_are_pipeline_errors(ts: dict[str, object], fragment: str) -> None:
    with pytest.raises(PipelineError) as info:
        resolve_time_series(ts, NY, NOW_NY)
    assert fragment in str(info.value)


def test_unknown_zone_is_a_pipeline_error() -> None:
    with pytest.raises(PipelineError, match="unknown subscription time zone"):
        resolve_time_series({"period": "dayRange", "first": 0, "count": 1}, "Mars/Olympus", 0)


# ---------------------------------------------------------------------------- properties

ZONES = [
    NY,
    BERLIN,
    "UTC",
    "Australia/Sydney",  # southern-hemisphere DST
    "Asia/Tokyo",
    "America/Sao_Paulo",
    "Pacific/Apia",  # skipped a whole calendar day in 2011
    "America/Havana",  # DST changes at midnight: some days have no 00:00
]
# 1990-2035 in ms
instants = st.integers(min_value=631_152_000_000, max_value=2_051_222_400_000)


@settings(max_examples=300, deadline=None)
@given(tz=st.sampled_from(ZONES), first=instants, count=st.integers(-60, 60).filter(bool))
def test_buckets_are_consecutive_local_days(tz: str, first: int, count: int) -> None:
    zone = ZoneInfo(tz)
    start, end, buckets = resolve_time_series(
        {"period": "dayRange", "first": first, "count": count}, tz, first
    )
    assert buckets == sorted(set(buckets))
    skipped_day = tz == "Pacific/Apia" and len(buckets) == abs(count) - 1
    assert len(buckets) == abs(count) or skipped_day
    assert start == buckets[0] < end
    first_day = local(tz, first).date()
    bucket_days = [datetime.fromtimestamp(b / 1000, zone).date() for b in buckets]
    # Each bucket starts the local day: local midnight, or the first instant of a day whose
    # midnight the zone skips (the instant before belongs to the previous local day).
    for b, d in zip(buckets, bucket_days, strict=True):
        before = datetime.fromtimestamp((b - 1) / 1000, zone).date()
        assert before < d
        assert local(tz, b).time().hour in (0, 1)
    # Consecutive buckets are consecutive calendar days (Apia's missing day excepted:
    # the zone has no instant on 2011-12-30, so no bucket can start it).
    for a, b in itertools.pairwise(bucket_days):
        assert (b - a).days == 1 or (tz == "Pacific/Apia" and a == date(2011, 12, 29))
    if count > 0:
        assert bucket_days[0] == first_day
    else:
        assert bucket_days[-1] < first_day
        assert (first_day - bucket_days[-1]).days in (1, 2)


def test_a_zone_that_skips_a_day_yields_no_duplicate_bucket() -> None:
    apia = "Pacific/Apia"
    t0 = ms(apia, 2011, 12, 28, 12)
    _, end, buckets = resolve_time_series({"period": "dayRange", "first": t0, "count": 4}, apia, t0)
    days = [local(apia, b).date() for b in buckets]
    assert days == [date(2011, 12, 28), date(2011, 12, 29), date(2011, 12, 31)]
    assert local(apia, end).date() == date(2012, 1, 1)


@settings(max_examples=200, deadline=None)
@given(tz=st.sampled_from([NY, BERLIN, "UTC", "Australia/Sydney"]), first=instants)
def test_first_rounds_down_and_last_is_inclusive(tz: str, first: int) -> None:
    _, _, one = resolve_time_series({"period": "dayRange", "first": first, "count": 1}, tz, 0)
    assert one[0] <= first
    assert local(tz, one[0]).date() == local(tz, first).date()
    assert local(tz, one[0]).time().hour == 0 and local(tz, one[0]).time().minute == 0
    _, _, same = resolve_time_series({"period": "dayRange", "first": first, "last": first}, tz, 0)
    assert same == one
