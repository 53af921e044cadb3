"""The one pipeline module: the engine's builders run on the simulator's evaluator; window
substitution; the one validator (the config model, the TUI editor and the engine agree)."""

from __future__ import annotations

import json

import pytest

from pendo_tui.config.model import Config
from pendo_tui.pendo import PendoClient
from pendo_tui.pendo.pipelines import (
    ALL_APPS,
    activity_pipeline,
    chunk_ids,
    id_filter,
    substitute_window,
    time_series,
    usage_pipeline,
    validate_pipeline,
)
from pendo_tui.sim.server import Simulator
from pendo_tui.sync.session import EngineSession


def _usage(events, id_field, ids, first, end, visitors=None):
    out: dict[tuple, tuple[int, int]] = {}
    for e in events:
        if e.get(id_field) not in ids or not first <= e["day"] < end:
            continue
        if visitors is not None and e["visitorId"] not in visitors:
            continue
        k = (e[id_field], e["visitorId"], e["appId"], e["day"])
        ev, mi = out.get(k, (0, 0))
        out[k] = (ev + e["numEvents"], mi + e["numMinutes"])
    return out


def _got(rows, id_field):
    return {
        (r[id_field], r["visitorId"], r["appId"], r["day"]): (r["events"], r["minutes"])
        for r in rows
    }


def test_usage_pipeline_shape() -> None:
    one = usage_pipeline("page", ["p1"], 1000, 7, "s1")
    assert one[0]["source"]["pageEvents"] == {"pageId": "p1", "appId": ALL_APPS}
    assert one[0]["source"]["timeSeries"] == time_series(1000, 7)
    assert one[1] == {"segment": {"id": "s1"}}
    assert one[2]["group"]["group"] == ["pageId", "visitorId", "appId", "day"]
    many = usage_pipeline("feature", ["a", 'b"\\c'], 1000, 7)
    assert many[0]["source"]["featureEvents"] == {"appId": ALL_APPS}
    assert many[1] == {"filter": 'featureId == "a" || featureId == "b\\"\\\\c"'}


def test_chunk_ids_keeps_each_filter_within_the_limit() -> None:
    ids = [f"id-{i:04d}" for i in range(500)]
    groups = chunk_ids("pageId", ids, max_chars=1000)
    assert [i for g in groups for i in g] == ids and len(groups) > 1
    assert all(len(id_filter("pageId", g)) <= 1000 for g in groups)
    assert chunk_ids("pageId", ["x" * 2000], max_chars=1000) == [["x" * 2000]]


def test_coalesced_usage_on_sim_equals_the_raw_rows(sim: Simulator, client: PendoClient) -> None:
    ds = sim.dataset
    starts = ds.day_starts()
    ids = [p["id"] for p in ds.pages[:3]]
    rows = list(client.aggregate(usage_pipeline("page", ids, starts[-15], 14)))
    exp = _usage(ds.events, "pageId", set(ids), starts[-15], starts[-1])
    assert _got(rows, "pageId") == exp and exp
    seg = next(s for s in ds.segments if s.get("visitorIds"))
    rows = list(client.aggregate(usage_pipeline("page", ids, starts[-61], 60, seg["id"])))
    exp = _usage(ds.events, "pageId", set(ids), starts[-61], starts[-1], set(seg["visitorIds"]))
    assert _got(rows, "pageId") == exp


def test_activity_pipeline_on_sim(sim: Simulator, client: PendoClient) -> None:
    ds = sim.dataset
    starts = ds.day_starts()
    app = -323232
    rows = list(client.aggregate(activity_pipeline(app, starts[-8], 7)))
    exp = {
        (e["accountId"], e["visitorId"], e["day"])
        for e in ds.activity
        if e["appId"] == app and starts[-8] <= e["day"] < starts[-1]
    }
    assert {(r["accountId"], r["visitorId"], r["day"]) for r in rows} == exp and exp


def test_substitute_window_keeps_the_rest() -> None:
    user = [
        {
            "source": {
                "events": {"appId": 5},
                "timeSeries": {"period": "hourRange", "first": "now()", "last": "now()"},
            }
        },
        {"spawn": [[{"source": {"pageEvents": None}}], [{"source": {"accounts": None}}]]},
        {"group": {"group": ["accountId"], "fields": {"n": {"sum": "numEvents"}}}},
    ]
    before = json.dumps(user)
    out = substitute_window(user, 1234, 3)
    assert json.dumps(user) == before  # the input is not mutated
    assert out[0]["source"]["timeSeries"] == {"period": "hourRange", "first": 1234, "count": 3}
    assert out[0]["source"]["events"] == {"appId": 5}
    assert out[1]["spawn"][0][0]["source"]["timeSeries"] == time_series(1234, 3)
    assert "timeSeries" not in out[1]["spawn"][1][0]["source"]  # accounts have none
    assert out[2] == user[2]


def test_substituted_user_pipeline_runs_per_day(sim: Simulator, client: PendoClient) -> None:
    ds = sim.dataset
    starts = ds.day_starts()
    user = [
        {
            "source": {
                "pageEvents": {"appId": ALL_APPS},
                "timeSeries": {"period": "dayRange", "first": "now()", "count": -30},
            }
        },
        {"identified": "visitorId"},
        {"group": {"group": ["accountId"], "fields": {"events": {"sum": "numEvents"}}}},
    ]
    day = starts[-5]
    rows = list(client.aggregate(substitute_window(user, day, 1)))
    exp: dict[str, int] = {}
    for e in ds.events:
        if "pageId" in e and e["day"] == day and not e["visitorId"].startswith("_PENDO_T_"):
            exp[e["accountId"]] = exp.get(e["accountId"], 0) + e["numEvents"]
    assert {r["accountId"]: r["events"] for r in rows} == exp and exp


def test_validate_pipeline() -> None:
    good = [
        {"source": {"events": None, "timeSeries": time_series(0, -7)}},
        {"group": {"group": ["accountId"], "fields": {"events": {"sum": "numEvents"}}}},
    ]
    assert validate_pipeline(good, "company", ["events"]) == []
    assert validate_pipeline(json.dumps({"request": {"pipeline": good}}), "company") == []
    assert any("visitorId" in p for p in validate_pipeline(good, "end_user"))
    assert any("'minutes'" in p for p in validate_pipeline(good, "company", ["minutes"]))
    assert "not valid JSON" in validate_pipeline("[{", "company")[0]
    assert validate_pipeline([], "company") == ["the pipeline has no steps"]
    assert "must be a source" in validate_pipeline([{"filter": "x"}], "company")[0]
    assert "unknown operator 'frobnicate'" in " ".join(
        validate_pipeline([{"source": {"accounts": None}}, {"frobnicate": 1}], "company")
    )
    sel = [{"source": {"visitors": None}}, {"select": {"visitorId": "visitorId", "n": "1"}}]
    assert validate_pipeline(sel, "end_user", ["n"]) == []
    assert validate_pipeline(sel, "company")  # accountId was dropped by select
    # after a step we do not model, no claim is made about the columns
    odd = [{"source": {"visitors": None}}, {"switch": {}}]
    assert validate_pipeline(odd, "company") == []


# The two cases where the TUI editor and the engine used to disagree (docs/pull.md,
# "Aggregation mappings"): every entry point now gives the same answer.
BY_VISITOR = [
    {"source": {"events": None, "timeSeries": time_series(0, -1)}},
    {"group": {"group": ["visitorId"], "fields": {"events": {"sum": "numEvents"}}}},
]
BY_ACCOUNT = [
    {"source": {"events": None, "timeSeries": time_series(0, -1)}},
    {"group": {"group": ["accountId"], "fields": {"events": {"sum": "numEvents"}}}},
]
NO_SERIES = [
    {"source": {"pageEvents": None}},
    {"group": {"group": ["accountId"], "fields": {"events": {"sum": "numEvents"}}}},
]


def _config_problem(pipeline, obj: str) -> str | None:
    mapping = {"name": "a", "kind": "aggregation", "object": obj, "pipeline": pipeline}
    try:
        Config.model_validate({"pull": [mapping | {"columns": {"events": "Events"}}]})
    except ValueError as exc:
        return str(exc)
    return None


@pytest.mark.parametrize("obj", ["asset", "project"])
def test_asset_and_project_rows_are_placed_through_the_visitor(obj: str) -> None:
    assert validate_pipeline(BY_VISITOR, obj, ["events"]) == []
    assert EngineSession.validate_pipeline(json.dumps(BY_VISITOR), obj, ["events"]) == []
    assert _config_problem(BY_VISITOR, obj) is None
    problems = validate_pipeline(BY_ACCOUNT, obj, ["events"])
    assert problems and "visitorId" in problems[0] and f"identity.{obj}_id" in problems[0]
    assert EngineSession.validate_pipeline(json.dumps(BY_ACCOUNT), obj, ["events"]) == problems
    assert "visitorId" in (_config_problem(BY_ACCOUNT, obj) or "")


def test_an_event_source_without_time_series_is_refused_everywhere() -> None:
    problems = validate_pipeline(NO_SERIES, "company", ["events"])
    assert len(problems) == 1 and "pageEvents source needs a timeSeries" in problems[0]
    assert EngineSession.validate_pipeline(json.dumps(NO_SERIES), "company", ["events"]) == problems
    assert "needs a timeSeries" in (_config_problem(NO_SERIES, "company") or "")
