"""The evaluator over the real simulator Dataset, checked against the dataset's raw facts,
and once over loopback HTTP through the simulator's /api/v1/aggregation endpoint."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import httpx
import pytest

from pendo_tui.sim.dataset import Dataset
from pendo_tui.sim.pipeline import PipelineError, compile_pipeline, evaluate

EXPAND_ALL = 'expandAppIds("*")'


@pytest.fixture(scope="module")
def ds() -> Dataset:
    return Dataset()


def page_pipeline(page_id: str, count: int) -> list[dict[str, Any]]:
    return [
        {
            "source": {
                "pageEvents": {"pageId": page_id, "appId": EXPAND_ALL},
                "timeSeries": {"period": "dayRange", "first": "now()", "count": count},
            }
        },
        {"identified": "visitorId"},
        {
            "group": {
                "group": ["visitorId", "day", "appId"],
                "fields": {
                    "events": {"sum": "numEvents"},
                    "minutes": {"sum": "numMinutes"},
                    "accountId": {"first": "accountId"},
                },
            }
        },
        {"sort": ["day", "visitorId", "appId"]},
    ]


def expected_page_usage(ds: Dataset, page_id: str, days: list[int]) -> list[tuple[Any, ...]]:
    totals: dict[tuple[Any, ...], list[int]] = defaultdict(lambda: [0, 0])
    for row in ds.events:
        if row.get("pageId") != page_id or row["day"] not in days:
            continue
        if row["visitorId"].startswith("_PENDO_T_"):
            continue
        acc = totals[(row["day"], row["visitorId"], row["appId"])]
        acc[0] += row["numEvents"]
        acc[1] += row["numMinutes"]
    return [(*k, *v) for k, v in sorted(totals.items())]


def test_per_visitor_per_day_page_usage_matches_raw_events(ds: Dataset) -> None:
    page_id = ds.pages[0]["id"]
    rows = list(evaluate(page_pipeline(page_id, -30), ds, ds.now_ms))
    window = ds.day_starts()[-31:-1]  # the 30 days before today
    want = expected_page_usage(ds, page_id, window)
    got = [(r["day"], r["visitorId"], r["appId"], r["events"], r["minutes"]) for r in rows]
    assert got == want
    assert len(got) > 20  # the dataset really has traffic on this page


def test_window_boundaries_are_the_datasets_local_midnights(ds: Dataset) -> None:
    compiled = compile_pipeline(page_pipeline(ds.pages[0]["id"], -120), ds, ds.now_ms)
    assert compiled.buckets == ds.day_starts()[-121:-1]
    assert compiled.end_ms == ds.day_starts()[-1]  # today is excluded


def test_segment_and_bulk_expand_on_real_objects(ds: Dataset) -> None:
    seg = ds.segments[0]
    rows = list(
        evaluate(
            [
                {"source": {"visitors": None}},
                {"segment": {"id": seg["id"]}},
                {"eval": {"accountId": "metadata.auto.accountid"}},
                {"bulkExpand": {"account": {"account": "accountId"}}},
                {"select": {"visitorId": "visitorId", "acct": "account.accountId"}},
            ],
            ds,
            ds.now_ms,
        )
    )
    assert {r["visitorId"] for r in rows} == set(seg["visitorIds"])
    for r in rows:
        v = next(v for v in ds.visitors if v["visitorId"] == r["visitorId"])
        account_id = v["metadata"]["auto"].get("accountid")
        assert r["acct"] == (account_id if ds.account_object(account_id or "") else None)


def test_count_and_filter_on_events_source(ds: Dataset) -> None:
    steps = [
        {
            "source": {
                "events": {"appId": EXPAND_ALL},
                "timeSeries": {"period": "dayRange", "first": "now()", "count": -7},
            }
        },
        {"filter": f"appId == {ds.apps[0]['id']} && numEvents > 0"},
        {"count": None},
    ]
    (row,) = evaluate(steps, ds, ds.now_ms)
    window = set(ds.day_starts()[-8:-1])
    want = sum(
        1
        for r in ds.activity
        if r["day"] in window and r["appId"] == ds.apps[0]["id"] and r["numEvents"] > 0
    )
    assert row == {"count": want} and want > 0


def test_unknown_source_is_a_pipeline_error(ds: Dataset) -> None:
    steps = [{"source": {"nonsense": None}}]
    with pytest.raises(PipelineError, match="source 'nonsense'"):
        evaluate(steps, ds, ds.now_ms)


def test_aggregation_over_loopback_http(ds: Dataset) -> None:
    server = pytest.importorskip("pendo_tui.sim.server")
    page_id = ds.pages[0]["id"]
    with server.Simulator(ds) as sim:
        url = f"{sim.base_url}/api/v1/aggregation"
        headers = {"x-pendo-integration-key": sim.keys.read}
        body = {"response": {"mimeType": "application/json"}}
        with httpx.Client(timeout=30) as http:
            ok = http.post(
                url,
                headers=headers,
                json=body | {"request": {"pipeline": page_pipeline(page_id, -7)}},
            )
            bad = http.post(
                url,
                headers=headers,
                json=body | {"request": {"pipeline": [{"source": {"visitors": None}},
                                                      {"filter": "numEvents >"}]}},
            )  # fmt: skip
    assert ok.status_code == 200, ok.text
    got = [
        (r["day"], r["visitorId"], r["appId"], r["events"], r["minutes"])
        for r in ok.json()["results"]
    ]
    assert got == expected_page_usage(ds, page_id, ds.day_starts()[-8:-1])
    assert bad.status_code == 400
    assert bad.headers["content-type"].startswith("text/plain")
    assert bad.text.startswith("Cannot parse filter expression: 'numEvents >'")


def test_the_engines_own_pipelines_evaluate(ds: Dataset) -> None:
    builders = pytest.importorskip("pendo_tui.pendo.pipelines")
    first, end = ds.day_starts()[-8], ds.day_starts()[-1]
    core = [p["id"] for p in ds.pages[:2]]
    rows = list(evaluate(builders.usage_pipeline("page", core, first, 7), ds, ds.now_ms))
    want: dict[tuple[Any, ...], int] = defaultdict(int)
    for r in ds.events:
        if r.get("pageId") in core and first <= r["day"] < end:
            want[(r["visitorId"], r["pageId"], r["day"])] += r["numEvents"]
    assert {(r["visitorId"], r["pageId"], r["day"]): r["events"] for r in rows} == want
    assert want
    per_day = list(evaluate(builders.activity_pipeline(-323232, first, 7), ds, ds.now_ms))
    assert {r["day"] for r in per_day} <= set(ds.day_starts()[-8:-1])
    assert {(r["accountId"], r["visitorId"], r["day"]) for r in per_day} == {
        (r["accountId"], r["visitorId"], r["day"])
        for r in ds.activity
        if first <= r["day"] < end and r["appId"] == -323232
    }
