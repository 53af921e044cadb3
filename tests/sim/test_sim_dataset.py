"""The simulated subscription: determinism, DST-correct buckets, and the cases it must hold."""

from __future__ import annotations

import itertools
from collections import defaultdict
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from pendo_tui.sim.dataset import EXPAND_ALL, Dataset, is_anonymous
from pendo_tui.sim.keys import DEFAULT_APP_ID, LEGACY_APP_ID, MOBILE_APP_ID
from pendo_tui.sim.reports import SPECS, window_ms

TZ = ZoneInfo("America/New_York")


def test_same_seed_same_dataset_other_seed_differs(ds: Dataset) -> None:
    again = Dataset()
    assert again.events == ds.events
    assert again.visitors == ds.visitors
    assert again.reports == ds.reports
    other = Dataset(seed=8)
    assert other.events != ds.events
    # ids derive from names, so configs survive a seed change
    assert [p["id"] for p in other.pages] == [p["id"] for p in ds.pages]


def test_days_are_local_midnights_and_span_a_dst_change(ds: Dataset) -> None:
    starts = ds.day_starts()
    assert len(starts) == ds.days + 1 >= 121
    for ms in starts:
        local = datetime.fromtimestamp(ms / 1000, TZ)
        assert (local.hour, local.minute, local.second) == (0, 0, 0)
    lengths = {b - a for a, b in itertools.pairwise(starts)}
    assert 23 * 3_600_000 in lengths  # 2026-03-08, spring forward
    assert lengths <= {23 * 3_600_000, 24 * 3_600_000, 25 * 3_600_000}
    days_with_events = {row["day"] for row in ds.events}
    assert days_with_events <= set(starts)
    short_day = ds.day_start_ms(datetime(2026, 3, 8).date())
    assert short_day in days_with_events


def test_event_rows_are_rollups_with_network_fields(ds: Dataset) -> None:
    assert 2_000 <= len(ds.events) <= 20_000  # modest, so tests stay fast
    for row in ds.events[:200]:
        assert {"visitorId", "accountId", "appId", "day", "numEvents", "numMinutes"} <= set(row)
        assert {"remoteIp", "server", "userAgent"} <= set(row)
        assert sum(k in row for k in ("pageId", "featureId", "trackTypeId")) == 1
        assert 1 <= row["numMinutes"] <= row["numEvents"] or row["numMinutes"] == 1


def test_activity_totals_match_object_rows(ds: Dataset) -> None:
    per_day: dict[tuple, int] = defaultdict(int)
    for row in ds.events:
        per_day[(row["visitorId"], row["appId"], row["day"])] += row["numEvents"]
    assert {(r["visitorId"], r["appId"], r["day"]): r["numEvents"] for r in ds.activity} == per_day


def test_visitor_and_account_variety(ds: Dataset) -> None:
    anon = [v for v in ds.visitors if is_anonymous(v["visitorId"])]
    assert anon and all(v["visitorId"].startswith("_PENDO_T_") for v in anon)
    identified = [v for v in ds.visitors if not v["anonymous"]]
    assert any(not v["accountId"] for v in identified)
    assert any("email" not in v["metadata"]["agent"] for v in identified)
    assert any("email" in v["metadata"]["agent"] for v in identified)
    assert any(a["parentAccountId"] for a in ds.accounts)
    assert all(a["metadata"]["agent"]["name"] for a in ds.accounts)
    assert {a["id"] for a in ds.apps} == {DEFAULT_APP_ID, MOBILE_APP_ID, LEGACY_APP_ID}
    assert {r["appId"] for r in ds.events} == {DEFAULT_APP_ID, MOBILE_APP_ID, LEGACY_APP_ID}
    assert any(p["isCoreEvent"] for p in ds.features) and not all(
        p["isCoreEvent"] for p in ds.features
    )
    seen = {r["visitorId"] for r in ds.activity}
    for v in identified:
        if v["visitorId"] in seen:
            assert v["metadata"]["auto"]["lastvisit"] >= v["metadata"]["auto"]["firstvisit"]


def test_scale_multiplies_visitors() -> None:
    assert len(Dataset(scale=2, days=5).visitors) == 2 * len(Dataset(days=5).visitors)


def _shape(report: dict) -> tuple[str, str]:
    """(where the window is stated, where the columns are listed), read from raw JSON."""
    definition = report["definition"]
    ts = definition.get("timeSeries")
    if ts is None:
        window = (
            "pipeline" if "timeSeries" in report["aggregation"]["pipeline"][0]["source"] else ""
        )
    elif "primaryTimeSeries" in ts:
        window = "nested"
    elif "last" in ts:
        window = "flat first/last"
    elif "first" in ts:
        window = "flat first/count"
    else:
        window = "not stated"
    if "fields" in report["aggregation"]:
        columns = "aggregation.fields"
    elif "columns" in definition:
        columns = "definition.columns"
    elif "columns" in definition["config"]:
        columns = "definition.config.columns"
    else:
        columns = "rows only"
    return window, columns


def test_report_kinds_present(ds: Dataset) -> None:
    by_name = {r["name"]: r for r in ds.reports}
    shapes = {name: _shape(r) for name, r in by_name.items()}
    assert {w for w, _ in shapes.values()} == {
        "nested", "flat first/last", "flat first/count", "pipeline", "not stated",
    }  # fmt: skip
    assert {c for _, c in shapes.values()} == {
        "aggregation.fields", "definition.columns", "definition.config.columns", "rows only",
    }  # fmt: skip
    # the demo's report: a flat rolling 7-day window
    assert by_name["Account usage - last 7 days"]["definition"]["timeSeries"] == {
        "period": "dayRange", "first": "now()", "count": -7,
    }  # fmt: skip
    # a rolling window over 30 days, stated only in the report's pipeline
    pipeline_ts = by_name["Account usage - last 90 days"]["aggregation"]["pipeline"][0]
    assert pipeline_ts["source"]["timeSeries"]["count"] == -90
    fixed = [r for r in ds.reports if "start" in r["definition"].get("timeSeries", {})]
    assert len(fixed) == 1 and isinstance(fixed[0]["definition"]["timeSeries"]["end"], int)
    nov = by_name["Visitor activity - November 2025 (fixed)"]["definition"]["timeSeries"]
    assert isinstance(nov["first"], int)
    assert shapes["Account health - custom range"][0] == "not stated"
    assert "pipeline" not in by_name["Account health - custom range"]["aggregation"]
    directory = by_name["Visitor directory"]["definition"]["columns"]
    assert {c["type"] for c in directory} == {"string"}
    assert by_name["Visitor activity - last 30 days"]["level"] == "visitor"
    assert by_name["Account usage - last 7 days"]["level"] == "account"


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
def test_report_rows_match_raw_events(ds: Dataset, spec) -> None:
    """Recompute each report from object rows, independently of the report code."""
    report = ds.find("reports", spec.name)
    start, end = window_ms(ds, spec)
    if spec.count:
        assert end == ds.day_start_ms(ds.today)
        assert start == ds.day_start_ms(ds.today + timedelta(days=spec.count))
    key = "accountId" if spec.level == "account" else "visitorId"
    expected: dict[str, int] = defaultdict(int)
    for row in ds.events:
        if start <= row["day"] < end and row[key] and not is_anonymous(row["visitorId"]):
            expected[row[key]] += row["numEvents"]
    rows = ds.report_rows(report["id"])
    assert [r[key] for r in rows] == sorted(expected)
    if "numEvents" in rows[0]:
        assert {r[key]: r["numEvents"] for r in rows} == expected
    fields = [f for f, _, _ in spec.fields]
    assert all(list(r) == fields for r in rows)
    for name in spec.as_text:  # numbers sent as text, as some reports do
        assert all(isinstance(r[name], str) and r[name].isdigit() for r in rows)


def test_source_rows_app_scoping_and_bounds(ds: Dataset) -> None:
    default = list(ds.source_rows("pageEvents", None, None, None))
    every = list(ds.source_rows("pageEvents", {"appId": EXPAND_ALL}, None, None))
    mobile = list(ds.source_rows("pageEvents", {"appId": MOBILE_APP_ID}, None, None))
    pair = list(
        ds.source_rows("pageEvents", {"appId": [DEFAULT_APP_ID, MOBILE_APP_ID]}, None, None)
    )
    assert {r["appId"] for r in default} == {DEFAULT_APP_ID}
    assert len(every) == sum("pageId" in r for r in ds.events)
    assert len(every) > len(pair) > len(default) and {r["appId"] for r in mobile} == {MOBILE_APP_ID}
    page = ds.find("pages", "Dashboard")["id"]
    starts = ds.day_starts()
    rows = list(ds.source_rows("pageEvents", {"pageId": page}, starts[10], starts[20]))
    assert rows and all(r["pageId"] == page and starts[10] <= r["day"] < starts[20] for r in rows)
    rows[0]["numEvents"] = -1  # callers may mutate: the dataset must not change
    assert all(r["numEvents"] > 0 for r in ds.events)
    visitors = list(ds.source_rows("visitors", {"identified": True}, None, None))
    assert visitors and not any(is_anonymous(v["visitorId"]) for v in visitors)
    assert {p["appId"] for p in ds.source_rows("pages", {"appId": EXPAND_ALL}, None, None)} == {
        DEFAULT_APP_ID,
        MOBILE_APP_ID,
        LEGACY_APP_ID,
    }
    with pytest.raises(ValueError, match="unknown source"):
        ds.source_rows("nope", None, None, None)


def test_object_lookups(ds: Dataset) -> None:
    seg = ds.segments[0]
    assert ds.segment_visitors(seg["id"]) == set(seg["visitorIds"]) and seg["visitorIds"]
    assert ds.segment_visitors("missing") is None
    v = ds.visitor_object("v-0001")
    assert v is not None and v["visitorId"] == "v-0001" and "agent" in v["metadata"]
    a = ds.account_object("acme")
    assert a is not None and a["metadata"]["agent"]["name"] == "Acme Corp"
    assert ds.visitor_object("nobody") is None and ds.account_object("nobody") is None
