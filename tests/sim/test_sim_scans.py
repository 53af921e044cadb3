"""An honest cost: every aggregation is charged for all the source rows of its window
(every object id of the selected apps, before filtering), on every call."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from pendo_tui.sim.aggregate import evaluate_to_first_row
from pendo_tui.sim.dataset import Dataset
from pendo_tui.sim.server import Simulator

EXPAND_ALL = 'expandAppIds("*")'


def body(source: str, params: dict[str, Any], first: Any, count: int, *steps: Any) -> dict:
    return {
        "request": {
            "pipeline": [
                {
                    "source": {
                        source: params,
                        "timeSeries": {"period": "dayRange", "first": first, "count": count},
                    }
                },
                *steps,
            ]
        }
    }


def scans(http: httpx.Client) -> dict[str, Any]:
    return http.get("/_sim/state").json()["scans"]


def page_rows_in(ds: Dataset, lo: int, hi: int) -> int:
    """Page-event rollup rows of every page and app whose day is in [lo, hi)."""
    return sum(1 for r in ds.events if "pageId" in r and lo <= r["day"] < hi)


def test_every_call_is_charged_for_the_whole_window(
    http: httpx.Client, sim: Simulator, read_h: dict, ds: Dataset
) -> None:
    days = ds.day_starts()
    lo, hi = days[10], days[40]
    one_page = body("pageEvents", {"pageId": ds.pages[0]["id"], "appId": EXPAND_ALL}, lo, 30)
    expected = page_rows_in(ds, lo, hi)
    assert 0 < sum(1 for r in ds.events if r.get("pageId") == ds.pages[0]["id"]) < expected
    sim.scan_cost_us = 2.0
    for _ in range(2):  # the same call twice: read twice, charged twice
        assert http.post("/api/v1/aggregation", json=one_page, headers=read_h).status_code == 200
    got = scans(http)
    assert got["count"] == 2
    assert got["rows"] == 2 * expected  # all pages read, though one page was asked for
    assert got["seconds"] == pytest.approx(2 * expected * 2.0 / 1e6)


def test_a_call_answers_no_sooner_than_its_charge(
    http: httpx.Client, sim: Simulator, read_h: dict, ds: Dataset
) -> None:
    """The charge is the time to the first byte: the evaluation runs inside it, and
    what it leaves is slept — a call is never answered sooner than it is charged for,
    grouped (evaluated before its first row) or streamed."""
    days = ds.day_starts()
    lo, hi = days[10], days[40]
    rows = page_rows_in(ds, lo, hi)
    sim.scan_cost_us = 0.4e6 / rows  # 0.4 s for the window
    group = {"group": {"group": ["pageId"], "fields": {"events": {"sum": "numEvents"}}}}
    for steps in ((), (group,)):
        call = body("pageEvents", {"appId": EXPAND_ALL}, lo, 30, *steps)
        started = time.monotonic()
        answer = http.post("/api/v1/aggregation", json=call, headers=read_h)
        assert answer.status_code == 200 and answer.json()["results"]
        assert time.monotonic() - started >= 0.4
    assert scans(http)["seconds"] == pytest.approx(0.8)


def test_filters_do_not_reduce_the_scan(
    http: httpx.Client, sim: Simulator, read_h: dict, ds: Dataset
) -> None:
    days = ds.day_starts()
    lo = days[0]
    ids = [p["id"] for p in ds.pages]
    chain = " || ".join(f'pageId == "{i}"' for i in ids[:2])
    calls = [
        body("pageEvents", {"appId": EXPAND_ALL}, lo, 60),
        body("pageEvents", {"appId": EXPAND_ALL}, lo, 60, {"filter": chain}),
        body("pageEvents", {"appId": EXPAND_ALL, "pageId": ids[3]}, lo, 60),
    ]
    for call in calls:
        assert http.post("/api/v1/aggregation", json=call, headers=read_h).status_code == 200
    assert scans(http)["rows"] == 3 * page_rows_in(ds, lo, days[60])


def test_scan_counts_the_selected_apps_and_sources(
    http: httpx.Client, sim: Simulator, read_h: dict, ds: Dataset
) -> None:
    days = ds.day_starts()
    lo, hi = days[50], days[80]
    web = ds.apps[0]["id"]
    http.post("/api/v1/aggregation", json=body("pageEvents", {}, lo, 30), headers=read_h)
    default_app = sum(
        1 for r in ds.events if "pageId" in r and r["appId"] == web and lo <= r["day"] < hi
    )
    assert scans(http)["rows"] == default_app  # no appId: the default app only
    http.post(
        "/api/v1/aggregation", json=body("events", {"appId": EXPAND_ALL}, lo, 30), headers=read_h
    )
    activity = sum(1 for r in ds.activity if lo <= r["day"] < hi)
    assert scans(http)["rows"] == default_app + activity


def test_large_mode_scans_every_page_of_the_window(
    http: httpx.Client, sim: Simulator, read_h: dict, ds: Dataset
) -> None:
    sim.large_aggregation_rows = 12_000
    sim.large_pages = 10
    days = ds.day_starts()
    table = sim.ctx.aggregation_data().events  # type: ignore[union-attr]
    page = table.pages[4]["id"]
    for w in range(4):
        call = body("pageEvents", {"appId": EXPAND_ALL, "pageId": page}, days[w * 30], 30)
        rows = http.post("/api/v1/aggregation", json=call, headers=read_h).json()["results"]
        assert rows and all(r["pageId"] == page for r in rows)
    got = scans(http)
    assert got["count"] == 4 and got["rows"] == 12_000  # 4 windows x every page = the table
    assert got["sources"] == {"pageEvents": 4}
    assert sum(1 for _ in table.all_rows()) == 12_000


def test_scan_settings_over_the_admin_api(http: httpx.Client, sim: Simulator) -> None:
    ok = http.post("/_sim/settings", json={"scan_cost_us": 3, "large_pages": 50})
    assert ok.status_code == 200
    assert ok.json()["scan_cost_us"] == 3.0 and sim.scan_cost_us == 3.0
    assert sim.large_pages == 50
    bad = http.post("/_sim/settings", json={"scan_cost_us": -1, "large_pages": 20})
    assert bad.status_code == 400 and "scan_cost_us must be a number" in bad.text
    assert sim.large_pages == 50  # nothing applied from a rejected body
    bad = http.post("/_sim/settings", json={"large_pages": 2.5})
    assert bad.status_code == 400 and "large_pages must be an integer" in bad.text
    http.post("/_sim/reset")
    assert (sim.scan_cost_us, sim.large_pages) == (0.0, 10)
    assert http.get("/_sim/state").json()["scans"] == {
        "count": 0,
        "rows": 0,
        "seconds": 0,
        "sources": {},
    }


def test_pipelines_are_evaluated_one_at_a_time_up_to_their_first_row() -> None:
    """Evaluations share the simulator's one interpreter: each holds the evaluation lock
    until its first row (all of a group step), and streams the rest without it."""
    lock = threading.Lock()
    held: list[bool] = []

    def rows() -> Iterator[int]:
        for n in range(3):
            held.append(lock.locked())
            yield n

    it, first = evaluate_to_first_row(rows(), lock)
    assert first == 0 and held == [True] and not lock.locked()
    assert list(it) == [1, 2] and held == [True, False, False]
