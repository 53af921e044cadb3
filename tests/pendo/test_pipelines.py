"""Pipeline builders run on the simulator's evaluator; window substitution; validation."""

from __future__ import annotations

import json

from pendo_tui.pendo import PendoClient
from pendo_tui.pendo.pipelines import (
    ALL_APPS,
    core_events_pipeline,
    events_per_day_pipeline,
    feature_events_pipeline,
    page_events_pipeline,
    substitute_window,
    validate_pipeline,
    window,
)
from pendo_tui.sim.server import Simulator


def _expected(events, id_field, oid, first, end, visitors=None, app=None):
    out: dict[tuple, tuple[int, int]] = {}
    for e in events:
        if oid is not None and e.get(id_field) != oid:
            continue
        if not first <= e["day"] < end or e["visitorId"].startswith("_PENDO_T_"):
            continue
        if visitors is not None and e["visitorId"] not in visitors:
            continue
        if app is not None and e["appId"] != app:
            continue
        k = (e["visitorId"], e["accountId"], e["appId"], e["day"])
        ev, mi = out.get(k, (0, 0))
        out[k] = (ev + e["numEvents"], mi + e["numMinutes"])
    return out


def _got(rows):
    return {
        (r["visitorId"], r["accountId"], r["appId"], r["day"]): (r["numEvents"], r["numMinutes"])
        for r in rows
    }


def test_page_pipeline_shape() -> None:
    steps = page_events_pipeline("p1", 1000, -7, segment_id="s1")
    src = steps[0]["source"]
    assert src["pageEvents"] == {"pageId": "p1", "appId": ALL_APPS}
    assert src["timeSeries"] == {"period": "dayRange", "first": 1000, "count": -7}
    assert steps[1] == {"segment": {"id": "s1"}} and steps[2] == {"identified": "visitorId"}
    assert steps[3]["group"]["group"] == ["visitorId", "accountId", "appId", "day"]
    single = feature_events_pipeline("f1", 1000, 1, app_ids="5629499534213120")
    assert single[0]["source"]["featureEvents"]["appId"] == 5629499534213120


def test_feature_pipeline_all_apps_on_sim(sim: Simulator, client: PendoClient) -> None:
    ds = sim.dataset
    starts = ds.day_starts()
    feat = max(
        ds.features, key=lambda f: sum(1 for e in ds.events if e.get("featureId") == f["id"])
    )
    rows = list(client.aggregate(feature_events_pipeline(feat["id"], starts[-15], 14)))
    exp = _expected(ds.events, "featureId", feat["id"], starts[-15], starts[-1])
    assert _got(rows) == exp and exp


def test_segment_and_single_app_limit(sim: Simulator, client: PendoClient) -> None:
    ds = sim.dataset
    starts = ds.day_starts()
    seg = next(s for s in ds.segments if s.get("visitorIds"))
    page = ds.pages[0]["id"]
    rows = list(
        client.aggregate(
            page_events_pipeline(page, starts[-61], 60, segment_id=seg["id"], app_ids=-323232)
        )
    )
    exp = _expected(
        ds.events,
        "pageId",
        page,
        starts[-61],
        starts[-1],
        visitors=set(seg["visitorIds"]),
        app=-323232,
    )
    assert _got(rows) == exp


def test_events_per_day_pipeline_on_sim(sim: Simulator, client: PendoClient) -> None:
    ds = sim.dataset
    starts = ds.day_starts()
    rows = list(client.aggregate(events_per_day_pipeline(starts[-8], 7)))
    exp = _expected(ds.activity, None, None, starts[-8], starts[-1])
    assert _got(rows) == exp and exp


def test_core_events_pipeline_on_sim(sim: Simulator, client: PendoClient) -> None:
    ds = sim.dataset
    starts = ds.day_starts()
    ids = [p["id"] for p in ds.pages[:2]]
    rows = list(client.aggregate(core_events_pipeline("page", ids, starts[-31], 30)))
    exp: dict[tuple, int] = {}
    for e in ds.events:
        anonymous = e["visitorId"].startswith("_PENDO_T_")
        if e.get("pageId") in ids and starts[-31] <= e["day"] < starts[-1] and not anonymous:
            k = (e["visitorId"], e["accountId"], e["pageId"])
            exp[k] = exp.get(k, 0) + e["numEvents"]
    assert {(r["visitorId"], r["accountId"], r["pageId"]): r["numEvents"] for r in rows} == exp


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
    assert out[1]["spawn"][0][0]["source"]["timeSeries"] == window(1234, 3)
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
        {"source": {"events": None, "timeSeries": window(0, -7)}},
        {"group": {"group": ["accountId"], "fields": {"events": {"sum": "numEvents"}}}},
    ]
    assert validate_pipeline(good, "company", ["events"]) == []
    assert validate_pipeline(json.dumps({"request": {"pipeline": good}}), "asset") == []
    assert any("visitorId" in p for p in validate_pipeline(good, "end_user"))
    assert any("'minutes'" in p for p in validate_pipeline(good, "company", ["minutes"]))
    assert "not valid JSON" in validate_pipeline("[{", "company")[0]
    assert validate_pipeline([], "company") == ["the pipeline has no steps"]
    assert "must be a source" in validate_pipeline([{"filter": "x"}], "company")[0]
    assert (
        "needs a timeSeries" in validate_pipeline([{"source": {"pageEvents": None}}], "company")[0]
    )
    assert "unknown operator 'frobnicate'" in " ".join(
        validate_pipeline([{"source": {"accounts": None}}, {"frobnicate": 1}], "company")
    )
    sel = [{"source": {"visitors": None}}, {"select": {"visitorId": "visitorId", "n": "1"}}]
    assert validate_pipeline(sel, "end_user", ["n"]) == []
    assert validate_pipeline(sel, "company")  # accountId was dropped by select
    # after a step we do not model, no claim is made about the columns
    odd = [{"source": {"visitors": None}}, {"switch": {}}]
    assert validate_pipeline(odd, "company") == []
