"""Filters on id sets (`pageId == "a" || pageId == "b" || …`, Pendo's spelling of `in`):
long chains, multi-app sources, and grouping by id, visitor, app and day."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import httpx

from pendo_tui.sim.dataset import Dataset
from pendo_tui.sim.expr import ExprEnv, compile_expression
from pendo_tui.sim.keys import DEFAULT_APP_ID, MOBILE_APP_ID
from pendo_tui.sim.pipeline import compile_pipeline, evaluate

ENV = ExprEnv(now_ms=0)
EXPAND_ALL = 'expandAppIds("*")'
ODD_VALUES: list[Any] = [None, 3, 3.0, True, ["id-1"], {"id": "id-1"}, "", "id-1 ", "ID-1"]


class CountingRow(dict):
    """A row that counts how often the evaluator reads a field."""

    reads = 0

    def get(self, key: Any, default: Any = None) -> Any:
        CountingRow.reads += 1
        return super().get(key, default)


def chain(ids: list[str], field: str = "pageId") -> str:
    return " || ".join(f'{field} == "{i}"' for i in ids)


def test_a_long_chain_matches_exactly_its_ids() -> None:
    ids = [f"id-{i}" for i in range(2_000)]  # ~40,000 characters
    pred = compile_expression(chain(ids), ENV)
    for value in [*ids[::97], "id-1999"]:
        assert pred({"pageId": value}) is True
    for value in [*ODD_VALUES, "id-2000", "id-"]:
        assert pred({"pageId": value}) is False, value
    assert pred({}) is False


def test_a_long_chain_reads_the_field_once_per_row() -> None:
    ids = [f"id-{i}" for i in range(500)]
    pred = compile_expression(chain(ids), ENV)
    CountingRow.reads = 0
    hits = [pred(CountingRow(pageId=v)) for v in ["nope", "id-499", "id-0", None]]
    assert hits == [False, True, True, False]
    assert CountingRow.reads == 4  # one set lookup, not up to 500 comparisons per row


def test_a_chain_mixed_with_other_tests_keeps_its_meaning() -> None:
    text = f"{chain(['a', 'b', 'c'])} || numEvents > 5 || {chain(['x', 'y'], 'appId')}"
    pred = compile_expression(text, ENV)
    cases = [
        ({"pageId": "b"}, True),
        ({"pageId": "d", "numEvents": 6}, True),
        ({"pageId": "d", "numEvents": 5}, False),
        ({"pageId": "d", "appId": "y"}, True),
        ({"pageId": ["a"], "appId": 1}, False),
    ]
    for row, want in cases:
        assert pred(row) is want, row
    assert compile_expression(f"!({chain(['a', 'b'])})", ENV)({"pageId": "a"}) is False
    both = compile_expression(f"({chain(['a', 'b'])}) && numEvents > 1", ENV)
    assert both({"pageId": "a", "numEvents": 2}) and not both({"pageId": "a", "numEvents": 1})


def usage_by_page(ids: list[str], days: int) -> list[dict[str, Any]]:
    return [
        {
            "source": {
                "pageEvents": {"appId": EXPAND_ALL},
                "timeSeries": {"period": "dayRange", "first": "now()", "count": -days},
            }
        },
        {"filter": chain(ids)},
        {
            "group": {
                "group": ["pageId", "visitorId", "appId", "day"],
                "fields": {
                    "events": {"sum": "numEvents"},
                    "minutes": {"sum": "numMinutes"},
                    "accountId": {"first": "accountId"},
                },
            }
        },
    ]


def expected_usage(ds: Dataset, ids: list[str], days: int) -> dict[tuple, tuple[int, int]]:
    lo, hi = ds.day_starts()[-1 - days], ds.day_starts()[-1]
    out: dict[tuple, list[int]] = defaultdict(lambda: [0, 0])
    for r in ds.events:
        if r.get("pageId") in ids and lo <= r["day"] < hi:
            acc = out[(r["pageId"], r["visitorId"], r["appId"], r["day"])]
            acc[0] += r["numEvents"]
            acc[1] += r["numMinutes"]
    return {k: (v[0], v[1]) for k, v in out.items()}


def test_grouped_by_page_visitor_app_day_over_every_app(
    http: httpx.Client, read_h: dict, ds: Dataset
) -> None:
    ids = [p["id"] for p in ds.pages]  # pages of three apps
    body = {"request": {"pipeline": usage_by_page(ids, 45)}}
    rows = http.post("/api/v1/aggregation", json=body, headers=read_h).json()["results"]
    got = {
        (r["pageId"], r["visitorId"], r["appId"], r["day"]): (r["events"], r["minutes"])
        for r in rows
    }
    assert len(got) == len(rows)
    assert got == expected_usage(ds, ids, 45)
    assert {DEFAULT_APP_ID, MOBILE_APP_ID} <= {r["appId"] for r in rows}
    some = ids[1:4]
    rows = list(evaluate(usage_by_page(some, 45), ds, ds.now_ms))
    assert {r["pageId"] for r in rows} == set(some)
    assert len(rows) == len(expected_usage(ds, some, 45))


def test_the_lean_group_equals_the_general_one(ds: Dataset) -> None:
    """sum/first/count of plain fields take a faster path: same rows as expressions."""
    rows = [
        {"k": "a", "n": 1, "x": None},
        {"k": "a", "n": 2.5, "x": "first"},
        {"k": "b", "n": True, "x": 3},
        {"k": "b", "n": "7", "x": 4},
        {"k": ["l"], "n": 4, "x": 5},
        {"k": ["l"], "n": None, "x": 6},
        {"n": 9},
    ]

    def run(fields: dict[str, Any], keys: list[str]) -> list[dict[str, Any]]:
        steps = [{"source": {"visitors": None}}, {"group": {"group": keys, "fields": fields}}]
        return list(compile_pipeline(steps, ds, ds.now_ms).rows(iter(rows)))

    for keys in (["k"], ["k", "x"]):  # one key, several (a missing one among them: null)
        lean = run({"s": {"sum": "n"}, "f": {"first": "x"}, "c": {"count": None}}, keys)
        general = run({"s": {"sum": "n + 0"}, "f": {"first": "x"}, "c": {"count": None}}, keys)
        # `n + 0` is null for non-numbers, which a sum skips just as it skips them raw
        assert lean == general
    assert run({"s": {"sum": "n"}, "f": {"first": "x"}, "c": {"count": None}}, ["k"])[0] == {
        "k": "a",
        "s": 3.5,
        "f": None,
        "c": 2,
    }
    by_two = run({"c": {"count": None}}, ["k", "x"])
    assert {"k": None, "x": None, "c": 1} in by_two and len(by_two) == len(rows)
    # two sums and nothing else (every usage pipeline) take a path of their own
    for keys in (["k"], ["k", "x"]):
        lean = run({"s": {"sum": "n"}, "t": {"sum": "x"}}, keys)
        general = run({"s": {"sum": "n + 0"}, "t": {"sum": "x + 0"}}, keys)
        assert lean == general
    assert run({"s": {"sum": "n"}, "t": {"sum": "x"}}, ["k"]) == [
        {"k": "a", "s": 3.5, "t": 0},
        {"k": "b", "s": 0, "t": 7},
        {"k": ["l"], "s": 4, "t": 11},
        {"k": None, "s": 9, "t": 0},
    ]
