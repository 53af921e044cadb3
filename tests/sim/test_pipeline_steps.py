"""Each pipeline step over a small in-test double of the Dataset interface."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from pendo_tui.sim.pipeline import PipelineError, compile_pipeline, evaluate

NY = "America/New_York"


def day(d: int) -> int:
    return int(datetime(2026, 3, d, tzinfo=ZoneInfo(NY)).timestamp() * 1000)


NOW = int(datetime(2026, 3, 20, 11, 0, tzinfo=ZoneInfo(NY)).timestamp() * 1000)

EVENTS: list[dict[str, Any]] = [
    {"visitorId": "v1", "accountId": "acme", "appId": -323232, "day": day(17), "numEvents": 3,
     "numMinutes": 2, "pageId": "p1"},
    {"visitorId": "v1", "accountId": "acme", "appId": -323232, "day": day(17), "numEvents": 4,
     "numMinutes": 1, "pageId": "p1"},
    {"visitorId": "v2", "accountId": "acme", "appId": 77, "day": day(17), "numEvents": 10,
     "numMinutes": 5, "pageId": "p1"},
    {"visitorId": "v1", "accountId": "acme", "appId": -323232, "day": day(18), "numEvents": 1,
     "numMinutes": 1, "pageId": "p1"},
    {"visitorId": "_PENDO_T_anon", "accountId": None, "appId": -323232, "day": day(18),
     "numEvents": 6, "numMinutes": 3, "pageId": "p1"},
    {"visitorId": "v3", "accountId": "globex", "appId": -323232, "day": day(19), "numEvents": 2,
     "numMinutes": 2, "pageId": "p1"},
    {"visitorId": "v3", "accountId": "globex", "appId": -323232, "day": day(10), "numEvents": 99,
     "numMinutes": 9, "pageId": "p1"},
]  # fmt: skip


class FakeData:
    """Test double of pendo_tui.sim.dataset.Dataset's evaluator-facing interface."""

    timezone = NY

    def __init__(self, endless: bool = False) -> None:
        self.endless = endless
        self.pulled = 0
        self.calls: list[tuple[str, dict[str, Any], int | None, int | None]] = []

    def source_rows(
        self, source: str, params: dict[str, Any], start_ms: int | None, end_ms: int | None
    ) -> Iterator[dict[str, Any]]:
        self.calls.append((source, params, start_ms, end_ms))
        if source == "visitors":
            return iter([{"visitorId": "v1", "tags": ["a", "b"]}, {"visitorId": "v2", "tags": []}])
        if source not in ("pageEvents", "events"):
            raise ValueError(f"unknown source {source!r}")
        if self.endless:
            return self._endless()
        return self._rows(start_ms, end_ms)

    def _rows(self, start: int | None, end: int | None) -> Iterator[dict[str, Any]]:
        for row in EVENTS:
            if (start is None or row["day"] >= start) and (end is None or row["day"] < end):
                self.pulled += 1
                yield dict(row)

    def _endless(self) -> Iterator[dict[str, Any]]:
        for i in itertools.count():
            self.pulled += 1
            yield {"visitorId": f"v{i}", "day": day(19), "numEvents": i}

    def segment_visitors(self, segment_id: str) -> set[str] | None:
        return {"v1", "v3"} if segment_id == "seg-1" else None

    def visitor_object(self, visitor_id: str) -> dict[str, Any] | None:
        if visitor_id == "v1":
            return {"visitorId": "v1", "metadata": {"agent": {"email": "v1@acme.io"}}}
        return None

    def account_object(self, account_id: str) -> dict[str, Any] | None:
        if account_id == "acme":
            return {"accountId": "acme", "metadata": {"agent": {"name": "Acme Inc"}}}
        return None


SOURCE = {
    "source": {
        "pageEvents": {"pageId": "p1", "appId": 'expandAppIds("*")'},
        "timeSeries": {"period": "dayRange", "first": "now()", "count": -3},
    }
}


def run(*steps: dict[str, Any], data: FakeData | None = None) -> list[dict[str, Any]]:
    return list(evaluate([SOURCE, *steps], data or FakeData(), NOW))


def test_source_passes_params_and_resolved_window() -> None:
    data = FakeData()
    rows = run(data=data)
    assert data.calls == [
        ("pageEvents", {"pageId": "p1", "appId": 'expandAppIds("*")'}, day(17), day(20))
    ]
    assert len(rows) == 6  # the day(10) row is outside the window
    assert all(r["day"] in (day(17), day(18), day(19)) for r in rows)


def test_compiled_pipeline_exposes_start_time() -> None:
    compiled = compile_pipeline([SOURCE], FakeData(), NOW)
    assert compiled.start_ms == day(17)
    assert compiled.end_ms == day(20)
    assert compiled.buckets == [day(17), day(18), day(19)]


def test_source_without_time_series() -> None:
    data = FakeData()
    rows = list(evaluate([{"source": {"visitors": None}}], data, NOW))
    assert [r["visitorId"] for r in rows] == ["v1", "v2"]
    assert data.calls == [("visitors", {}, None, None)]


def test_filter() -> None:
    rows = run({"filter": 'numEvents >= 3 && accountId != "globex" && appId == -323232'})
    assert [r["numEvents"] for r in rows] == [3, 4, 6]


def test_select_and_eval() -> None:
    rows = run(
        {"filter": 'visitorId == "v2"'},
        {"eval": {"double": "numEvents * 2", "numEvents": "numEvents + 1"}},
    )
    assert rows[0]["double"] == 20  # eval sees the input row, not its own outputs
    assert rows[0]["numEvents"] == 11
    assert rows[0]["pageId"] == "p1"  # eval keeps the other fields
    rows = run({"filter": 'visitorId == "v2"'}, {"select": {"who": "visitorId", "n": "numEvents"}})
    assert rows == [{"who": "v2", "n": 10}]


def test_eval_never_mutates_source_rows() -> None:
    shared = [{"visitorId": "v1", "n": 1}]

    class Shared(FakeData):
        def source_rows(self, *args: Any) -> Iterator[dict[str, Any]]:
            return iter(shared)

    list(evaluate([{"source": {"visitors": {}}}, {"eval": {"n": "n + 1"}}], Shared(), NOW))
    assert shared == [{"visitorId": "v1", "n": 1}]


def test_identified() -> None:
    assert "_PENDO_T_anon" not in {r["visitorId"] for r in run({"identified": "visitorId"})}
    anon = run({"identified": "!visitorId"})
    assert [r["visitorId"] for r in anon] == ["_PENDO_T_anon"]


def test_group_per_visitor_per_day() -> None:
    rows = run(
        {"identified": "visitorId"},
        {
            "group": {
                "group": ["visitorId", "day"],
                "fields": {
                    "events": {"sum": "numEvents"},
                    "minutes": {"sum": "numMinutes"},
                    "accountId": {"first": "accountId"},
                    "rows": {"count": None},
                    "apps": {"count": "appId"},
                },
            }
        },
    )
    assert rows == [
        {"visitorId": "v1", "day": day(17), "events": 7, "minutes": 3, "accountId": "acme",
         "rows": 2, "apps": 1},
        {"visitorId": "v2", "day": day(17), "events": 10, "minutes": 5, "accountId": "acme",
         "rows": 1, "apps": 1},
        {"visitorId": "v1", "day": day(18), "events": 1, "minutes": 1, "accountId": "acme",
         "rows": 1, "apps": 1},
        {"visitorId": "v3", "day": day(19), "events": 2, "minutes": 2, "accountId": "globex",
         "rows": 1, "apps": 1},
    ]  # fmt: skip


def test_group_aggregators_and_list_form_fields() -> None:
    rows = run(
        {
            "group": {
                "group": ["accountId"],
                "fields": [
                    {"avg": {"avg": "numEvents"}},
                    {"mean": {"mean": "numEvents"}},
                    {"lo": {"min": "numEvents"}},
                    {"hi": {"max": "numEvents"}},
                    {"med": {"median": "numEvents"}},
                    {"firstV": {"first": "visitorId"}},
                    {"lastV": {"last": "visitorId"}},
                    {"all": {"list": "numEvents"}},
                    {"visitors": {"count": "visitorId"}},
                    {"big": {"countIf": "numEvents > 3"}},
                ],
            }
        }
    )
    acme = next(r for r in rows if r["accountId"] == "acme")
    assert acme["avg"] == acme["mean"] == pytest.approx(18 / 4)
    assert (acme["lo"], acme["hi"], acme["med"]) == (1, 10, 3.5)
    assert (acme["firstV"], acme["lastV"]) == ("v1", "v1")
    assert acme["all"] == [3, 4, 10, 1]
    assert (acme["visitors"], acme["big"]) == (2, 2)
    anon = next(r for r in rows if r["accountId"] is None)
    assert anon["all"] == [6]


def test_group_on_nothing_yields_nothing_reduce_yields_one_row() -> None:
    assert run({"filter": "false"}, {"group": {"group": ["visitorId"], "fields": {}}}) == []
    assert run({"filter": "false"}, {"reduce": {"n": {"count": None}, "s": {"sum": "x"}}}) == [
        {"n": 0, "s": 0}
    ]
    assert run({"reduce": [{"total": {"sum": "numEvents"}}, {"v": {"count": "visitorId"}}]}) == [
        {"total": 26, "v": 4}
    ]


def test_count() -> None:
    assert run({"identified": "visitorId"}, {"count": None}) == [{"count": 5}]
    assert run({"filter": "false"}, {"count": None}) == [{"count": 0}]


def test_sort_is_stable_multi_key_with_nulls_first() -> None:
    rows = run({"sort": ["day", "-numEvents"]}, {"select": {"d": "day", "n": "numEvents"}})
    assert [(r["d"], r["n"]) for r in rows] == [
        (day(17), 10), (day(17), 4), (day(17), 3), (day(18), 6), (day(18), 1), (day(19), 2),
    ]  # fmt: skip
    rows = run({"sort": ["accountId"]})
    assert rows[0]["accountId"] is None
    # stability: equal keys keep source order
    assert [r["numEvents"] for r in rows if r["accountId"] == "acme"] == [3, 4, 10, 1]
    rows = run({"sort": "-accountId"})
    assert rows[-1]["accountId"] is None


def test_limit_is_lazy_on_an_endless_source() -> None:
    data = FakeData(endless=True)
    rows = run({"filter": "numEvents % 2 == 0"}, {"eval": {"x": "1"}}, {"limit": 5}, data=data)
    assert [r["numEvents"] for r in rows] == [0, 2, 4, 6, 8]
    assert data.pulled == 9  # nothing past the last needed row was pulled


def test_streaming_steps_do_not_materialise() -> None:
    data = FakeData(endless=True)
    it = evaluate(
        [
            SOURCE,
            {"filter": "numEvents >= 0"},
            {"select": {"visitorId": "visitorId", "numEvents": "numEvents"}},
            {"eval": {"y": "numEvents * 2"}},
            {"identified": "visitorId"},
            {"segment": {"id": "seg-1"}},
            {"bulkExpand": {"visitor": {"visitor": "visitorId"}}},
            {"unwind": {"field": "visitorId"}},
        ],
        data,
        NOW,
    )
    first = next(it)
    assert first["visitorId"] == "v1" and first["y"] == 2
    assert data.pulled == 2  # v0 (not in segment) then v1


def test_bulk_expand_attaches_objects() -> None:
    rows = run(
        {"filter": 'visitorId == "v1" || accountId == "globex"'},
        {"bulkExpand": {"account": {"account": "accountId"}, "who": {"visitor": "visitorId"}}},
        {"select": {"name": "account.metadata.agent.name", "email": "who.metadata.agent.email"}},
    )
    assert rows[0] == {"name": "Acme Inc", "email": "v1@acme.io"}
    assert rows[-1] == {"name": None, "email": None}  # unknown objects expand to null


def test_segment() -> None:
    assert {r["visitorId"] for r in run({"segment": {"id": "seg-1"}})} == {"v1", "v3"}
    with pytest.raises(PipelineError, match="unknown segment 'nope'"):
        run({"segment": {"id": "nope"}})


def test_unwind() -> None:
    src = {"source": {"visitors": None}}
    rows = list(evaluate([src, {"unwind": {"field": "tags", "index": "i"}}], FakeData(), NOW))
    assert rows == [
        {"visitorId": "v1", "tags": "a", "i": 0},
        {"visitorId": "v1", "tags": "b", "i": 1},
    ]
    rows = list(evaluate([src, {"unwind": {"field": "tags", "keepEmpty": True}}], FakeData(), NOW))
    assert rows[-1] == {"visitorId": "v2", "tags": None}


def test_fork_feeds_each_branch_the_same_input() -> None:
    rows = run(
        {"identified": "visitorId"},
        {"fork": [[{"count": None}], [{"reduce": {"total": {"sum": "numEvents"}}}]]},
    )
    assert rows == [{"count": 5}, {"total": 20}]


def test_hour_range_reports_daily_rollups_in_the_days_first_hour() -> None:
    src = {
        "source": {
            "pageEvents": {"pageId": "p1"},
            "timeSeries": {"period": "hourRange", "first": day(18), "count": 48},
        }
    }
    rows = list(evaluate([src], FakeData(), NOW))
    assert {r["hour"] for r in rows} == {day(18), day(19)}
    assert all("day" not in r for r in rows)


@pytest.mark.parametrize(
    ("steps", "fragment"),
    [
        ([], "pipeline is empty"),
        ("not a list", "must be a list"),
        ([{"filter": "true"}], "must start with a source step"),
        ([SOURCE, {"frobnicate": 1}], "unknown pipeline step 'frobnicate'"),
        ([SOURCE, {"join": {}}], "'join' is not supported"),
        ([SOURCE, {"filter": "numEvents >"}], "Cannot parse filter expression: 'numEvents >'"),
        ([SOURCE, {"filter": 'appId in [1, 2]'}], "Cannot parse filter expression"),
        ([SOURCE, {"select": {"x": "a +* b"}}], "Cannot parse select expression"),
        ([SOURCE, {"eval": {}}], "eval needs an object"),
        ([SOURCE, {"filter": "true", "limit": 1}], "exactly one key"),
        ([SOURCE, SOURCE], "source must be the first step"),
        ([{"source": {"pageEvents": {"pageId": "p1"}}}], "requires a timeSeries"),
        ([{"source": {"pageEvents": {}, "visitors": {}}}], "exactly one source key"),
        ([{"source": {"guideEvents": None, "timeSeries": SOURCE["source"]["timeSeries"]}}],
         "source 'guideEvents': unknown source"),
        ([SOURCE, {"group": {"group": ["a"], "fields": {"x": {"p99": "n"}}}}],
         "unknown aggregator 'p99'"),
        ([SOURCE, {"group": {"group": ["a"], "fields": {"x": {"sum": "n", "max": "n"}}}}],
         "needs one aggregator"),
        ([SOURCE, {"group": {"group": "a", "fields": "x"}}], "fields must be"),
        ([SOURCE, {"limit": -1}], "limit must be a non-negative integer"),
        ([SOURCE, {"limit": "10"}], "limit must be"),
        ([SOURCE, {"sort": []}], "sort needs a list"),
        ([SOURCE, {"count": "x"}], "count takes null"),
        ([SOURCE, {"identified": ""}], "identified needs a field name"),
        ([SOURCE, {"unwind": {}}], "unwind needs"),
        ([SOURCE, {"bulkExpand": {"a": {"parentAccount": "x"}}}], "unsupported object kind"),
        ([SOURCE, {"fork": [[SOURCE]]}], "source must be the first step"),
    ],
)  # fmt: skip
def test_bad_pipelines_raise_pipeline_error_at_call_time(steps: Any, fragment: str) -> None:
    with pytest.raises(PipelineError) as info:
        evaluate(steps, FakeData(), NOW)  # no iteration: errors surface before any row
    message = str(info.value)
    assert fragment in message
    assert "\n" not in message


def test_group_by_list_valued_key() -> None:
    src = {"source": {"visitors": None}}
    steps = [
        src,
        {"eval": {"t": "tags"}},
        {"group": {"group": ["t"], "fields": {"n": {"count": None}}}},
    ]
    doubled = [src, {"fork": [[], []]}, *steps[1:]]
    assert list(evaluate(steps, FakeData(), NOW)) == [{"t": ["a", "b"], "n": 1}, {"t": [], "n": 1}]
    assert list(evaluate(doubled, FakeData(), NOW)) == [
        {"t": ["a", "b"], "n": 2},
        {"t": [], "n": 2},
    ]


def test_spawn_concatenates_pipelines_with_their_own_sources() -> None:
    steps = [
        {"spawn": [[SOURCE, {"count": None}], [{"source": {"visitors": None}}, {"count": None}]]},
        {"reduce": {"total": {"sum": "count"}, "parts": {"list": "count"}}},
    ]
    compiled = compile_pipeline(steps, FakeData(), NOW)
    assert compiled.start_ms == day(17)
    assert list(compiled.rows()) == [{"total": 8, "parts": [6, 2]}]
    with pytest.raises(PipelineError, match="spawn must be the first step"):
        evaluate([SOURCE, steps[0]], FakeData(), NOW)
    with pytest.raises(PipelineError, match="source 'nope'"):
        evaluate([{"spawn": [[SOURCE], [{"source": {"nope": None}}]]}], FakeData(), NOW)
