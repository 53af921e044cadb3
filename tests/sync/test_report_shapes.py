"""Every report shape Pendo sends: windows, declared and undeclared columns, numbers sent
as text. Expectations come from the simulator's report specs and raw activity."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta

import pytest
from pull_expect import make_config, placed, stored_metrics
from sqlalchemy import select

from pendo_tui.errors import ConfigError
from pendo_tui.sim.reports import SPECS
from pendo_tui.store import schema
from pendo_tui.sync.pull.engine import PullEngine
from pendo_tui.sync.pull.reports import (
    ColumnEvidence,
    column_problems,
    numeric_columns,
    report_compatibility,
    report_window,
)

NUMERIC = ("number", "integer")


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
def test_window_of_every_simulated_shape(sim, spec):
    window = report_window(sim.dataset.find("reports", spec.name))
    if spec.fixed:
        assert window.kind == "fixed"
    elif spec.series == "none":
        assert window.kind == "unknown" and window.days is None
        assert "could not be determined" in window.detail and "fixed" not in window.detail
        assert "definition.timeSeries.period" in window.seen
        assert "definition.dateRanges.primaryDateRange.type" in window.seen
    else:
        assert (window.kind, window.days) == ("rolling", abs(spec.count or 0))


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
def test_numeric_columns_from_declarations_or_rows(sim, spec):
    report = sim.dataset.find("reports", spec.name)
    rows = sim.dataset.report_rows(report["id"])
    expected = {f for f, _, t in spec.fields if t in NUMERIC and f not in ("accountId",)}
    assert set(numeric_columns(report, ColumnEvidence.of(rows))) == expected
    if spec.columns == "rows_only":  # nothing declared: without rows nothing is known
        assert numeric_columns(report) == []
    else:
        assert set(numeric_columns(report)) == expected


@pytest.mark.parametrize(
    ("series", "days"),
    [
        ({"first": "now()", "count": -7}, 7),  # flat, the shape that used to be refused
        ({"primaryTimeSeries": {"first": "now()", "count": -14}}, 14),
        ({"period": "weekRange", "first": "now()", "count": -4}, 28),
        ({"first": 'dateAdd(now(), -30, "days")', "count": 30}, 30),
        ({"first": 'dateAdd(now(), -2, "weeks")', "last": "now()"}, 14),
        ({"type": "rolling", "primaryTimeSeries": {"first": "now()"}, "count": -10}, 10),
        # the absolute bounds of the last run beside a relative window: still rolling
        (
            {
                "start": 1764547200000,
                "end": 1765152000000,
                "primaryTimeSeries": {"first": "now()", "count": -7},
            },
            7,
        ),
    ],
)
def test_rolling_shapes(series, days):
    window = report_window({"definition": {"timeSeries": series}})
    assert (window.kind, window.days) == ("rolling", days)


@pytest.mark.parametrize(
    "series",
    [
        {"start": 1764547200000, "end": 1767225600000},
        {"first": 1764547200000, "count": 31},
        {"first": "1764547200000", "count": 31},
        {"primaryTimeSeries": {"first": "2025-12-01", "count": 31}},
    ],
)
def test_fixed_shapes(series):
    assert report_window({"definition": {"timeSeries": series}}).kind == "fixed"


@pytest.mark.parametrize(
    "report",
    [
        {"definition": {"timeSeries": {"period": "dayRange"}}},
        {"definition": {"timeSeries": {"first": "now()"}}},  # no count, no last
        {"definition": {"kind": "Report"}},
        {},
    ],
)
def test_unknown_window_says_so_and_lists_the_keys(report):
    ok, reason, _ = report_compatibility(report)
    assert not ok and "could not be determined" in reason and "fixed" not in reason
    assert "keys seen" in reason


def test_declared_numeric_with_text_values():
    report = {"aggregation": {"fields": [{"field": "n", "type": "number"}]}}
    assert column_problems(report, ["n"], ColumnEvidence.of([{"n": "12"}, {"n": "3.5"}])) == []
    problems = column_problems(report, ["n"], ColumnEvidence.of([{"n": 1}, {"n": "n/a"}]))
    assert problems and "n/a" in problems[0]
    undeclared = {"definition": {"timeSeries": {"first": "now()", "count": -7}}}
    assert column_problems(undeclared, ["x"], ColumnEvidence.of([{"x": 2}])) == []
    assert "not a column" in column_problems(undeclared, ["y"], ColumnEvidence.of([{"x": 2}]))[0]
    assert column_problems(undeclared, ["y"], ColumnEvidence.of([])) == []  # cannot tell


def _account_expected(ds, days: int, columns: dict[str, str]) -> dict:
    yesterday = ds.today - timedelta(days=1)
    events: dict = defaultdict(int)
    minutes: dict = defaultdict(int)
    active: dict = defaultdict(set)
    for row in ds.activity:
        day = ds.day_of_ms(row["day"])
        if ds.today - timedelta(days=days) <= day < ds.today and placed(row):
            events[row["accountId"]] += row["numEvents"]
            minutes[row["accountId"]] += row["numMinutes"]
            active[row["accountId"]].add(day)
    values = {
        "numEvents": events,
        "numMinutes": minutes,
        "daysActive": {a: len(d) for a, d in active.items()},
    }
    return {
        (metric, "company", a, yesterday): float(v)
        for column, metric in columns.items()
        for a, v in values[column].items()
    }


@pytest.mark.parametrize(
    "name",
    ["Account usage - last 7 days", "Account usage - last 30 days", "Account usage - last 90 days"],
)
def test_engine_syncs_each_account_report_shape(sim, client, store, name):
    ds = sim.dataset
    spec = next(s for s in SPECS if s.name == name)
    report = ds.find("reports", name)
    columns = {"numEvents": "Events", "numMinutes": "Minutes", "daysActive": "Days"}
    config = make_config(
        sim, [{"name": "r", "kind": "report", "id": report["id"], "columns": columns}]
    )
    PullEngine(config, client, store, today=ds.today).sync(config.pull[0])
    assert stored_metrics(store, "r") == _account_expected(ds, abs(spec.count or 0), columns)


def test_engine_reads_numbers_sent_as_text(sim, client, store):
    ds = sim.dataset
    report = ds.find("reports", "Visitor activity - last 30 days")
    assert "numMinutes" in next(s for s in SPECS if s.name == report["name"]).as_text
    pull = [{"name": "vr", "kind": "report", "id": report["id"], "columns": {"numMinutes": "Min"}}]
    config = make_config(sim, pull)
    PullEngine(config, client, store, today=ds.today).sync(config.pull[0])
    yesterday = ds.today - timedelta(days=1)
    expected: dict = defaultdict(float)
    for row in ds.activity:
        if ds.today - timedelta(days=30) <= ds.day_of_ms(row["day"]) < ds.today and placed(row):
            expected[("Min", "end_user", row["visitorId"], yesterday)] += row["numMinutes"]
    assert stored_metrics(store, "vr") == dict(expected)


def _nothing_moved(store) -> bool:
    with store.connect() as conn:
        cursors = conn.execute(select(schema.pull_state)).all()
        metrics = conn.execute(select(schema.metrics)).all()
    return not cursors and not metrics


@pytest.mark.parametrize(
    ("name", "columns", "fragment"),
    [
        ("Account health - custom range", {"numEvents": "E"}, "could not be determined"),
        ("Account usage - last 90 days", {"nope": "E"}, "'nope' is not a column"),
        ("Account usage - last 90 days", {"account_agent_name": "E"}, "not numeric"),
        ("Visitor directory", {"visitor_agent_email": "E"}, "not numeric"),
    ],
)
def test_engine_refuses_before_anything_moves(sim, client, store, name, columns, fragment):
    report = sim.dataset.find("reports", name)
    config = make_config(
        sim, [{"name": "r", "kind": "report", "id": report["id"], "columns": columns}]
    )
    with pytest.raises(ConfigError, match=fragment) as exc:
        PullEngine(config, client, store, today=sim.dataset.today).sync(config.pull[0])
    assert "fixed" not in str(exc.value)
    assert _nothing_moved(store)
