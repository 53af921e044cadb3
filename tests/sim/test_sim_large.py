"""Large mode: a lazily generated pageEvents table of N rows that honours windows, filters
and app selection like any other source, and streams in bounded memory."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import ijson
import pytest

from pendo_tui.sim.keys import DEFAULT_APP_ID, MOBILE_APP_ID
from pendo_tui.sim.large import ROW_FIELDS, LargeEvents
from pendo_tui.sim.server import Simulator

EXPAND_ALL = 'expandAppIds("*")'


def agg(first: Any, count: int, params: dict[str, Any] | None = None, *steps: Any) -> dict:
    source = {"appId": EXPAND_ALL, **(params or {})}
    pipeline = [
        {
            "source": {
                "pageEvents": source,
                "timeSeries": {"period": "dayRange", "first": first, "count": count},
            }
        },
        *steps,
    ]
    return {"request": {"pipeline": pipeline}}


AGG_30 = agg("now()", -30)
AGG_ALL = agg("now()", -120)  # the 120 complete days before today: every large row


class _Reader:
    """File-like view of an httpx byte stream, for ijson."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._buf = b""

    def read(self, n: int) -> bytes:
        if not self._buf:
            self._buf = next(self._chunks, b"")
        out, self._buf = self._buf[:n], self._buf[n:]
        return out


def _rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def _table(sim: Simulator) -> LargeEvents:
    data = sim.ctx.aggregation_data()
    assert not isinstance(data, type(sim.dataset))
    return data.events


def _key(r: dict[str, Any]) -> tuple[Any, ...]:
    return (r["pageId"], r["visitorId"], r["appId"], r["day"], r["numEvents"])


def test_large_rows_are_shaped_and_deterministic(
    http: httpx.Client, sim: Simulator, read_h: dict
) -> None:
    sim.large_aggregation_rows = 2_500
    first = http.post("/api/v1/aggregation", json=AGG_ALL, headers=read_h)
    second = http.post("/api/v1/aggregation", json=AGG_ALL, headers=read_h)
    assert first.content == second.content
    body = first.json()
    days = sim.dataset.day_starts()
    assert body["startTime"] == days[-121]
    rows = body["results"]
    assert len(rows) == 2_500
    assert all(set(r) == set(ROW_FIELDS) for r in rows)
    assert {r["day"] for r in rows} == set(days[:-1])  # every complete day, not today
    assert {r["appId"] for r in rows} == {DEFAULT_APP_ID, MOBILE_APP_ID}
    assert len({(r["pageId"], r["visitorId"], r["appId"], r["day"]) for r in rows}) == 2_500
    mobile = sum(r["appId"] == MOBILE_APP_ID for r in rows)
    assert 0.25 < mobile / 2_500 < 0.4  # the second app holds about a third of the rows
    assert Counter(map(_key, rows)) == Counter(map(_key, _table(sim).all_rows()))


def test_large_mode_honours_windows(http: httpx.Client, sim: Simulator, read_h: dict) -> None:
    sim.large_aggregation_rows = 6_000
    days = sim.dataset.day_starts()
    facts = list(_table(sim).all_rows())
    seen: Counter[tuple[Any, ...]] = Counter()
    for w in range(4):  # four consecutive 30-day windows cover the 120 days
        lo, hi = days[w * 30], days[(w + 1) * 30]
        rows = http.post("/api/v1/aggregation", json=agg(lo, 30), headers=read_h).json()
        rows = rows["results"]
        assert {r["day"] for r in rows} <= set(days[w * 30 : (w + 1) * 30])
        assert Counter(map(_key, rows)) == Counter(_key(r) for r in facts if lo <= r["day"] < hi)
        seen.update(map(_key, rows))
    assert seen == Counter(map(_key, facts))
    last30 = http.post("/api/v1/aggregation", json=AGG_30, headers=read_h).json()["results"]
    assert len(last30) == sum(days[-31] <= r["day"] < days[-1] for r in facts) < 6_000


def test_large_mode_filters_by_page_and_app(
    http: httpx.Client, sim: Simulator, read_h: dict
) -> None:
    sim.large_aggregation_rows = 3_000
    sim.large_pages = 7
    table = _table(sim)
    facts = list(table.all_rows())
    page = table.pages[2]  # page 2 belongs to the second app
    assert page["appId"] == MOBILE_APP_ID
    by_param = http.post("/api/v1/aggregation", json=agg("now()", -120, {"pageId": page["id"]}))
    assert by_param.status_code == 403  # no key: the guard still applies
    by_param = http.post(
        "/api/v1/aggregation", json=agg("now()", -120, {"pageId": page["id"]}), headers=read_h
    ).json()["results"]
    by_filter = http.post(
        "/api/v1/aggregation",
        json=agg("now()", -120, None, {"filter": f'pageId == "{page["id"]}"'}),
        headers=read_h,
    ).json()["results"]
    expected = Counter(_key(r) for r in facts if r["pageId"] == page["id"])
    assert Counter(map(_key, by_param)) == expected == Counter(map(_key, by_filter))
    web = http.post(
        "/api/v1/aggregation", json=agg("now()", -120, {"appId": DEFAULT_APP_ID}), headers=read_h
    ).json()["results"]
    assert Counter(map(_key, web)) == Counter(
        _key(r) for r in facts if r["appId"] == DEFAULT_APP_ID
    )
    listed = http.get("/api/v1/page", params={"expand": "*"}, headers=read_h).json()
    assert {p["id"] for p in table.pages} <= {p["id"] for p in listed}
    assert {p["id"] for p in sim.dataset.pages} <= {p["id"] for p in listed}


def test_large_mode_leaves_other_sources_alone(
    http: httpx.Client, sim: Simulator, read_h: dict
) -> None:
    sim.large_aggregation_rows = 50_000
    body = {"request": {"pipeline": [{"source": {"visitors": None}}, {"count": None}]}}
    rows = http.post("/api/v1/aggregation", json=body, headers=read_h).json()["results"]
    assert rows == [{"count": len(sim.dataset.visitors)}]


def test_large_mode_truncation_breaks_midway(
    http: httpx.Client, sim: Simulator, read_h: dict
) -> None:
    sim.large_aggregation_rows = 200_000
    sim.faults.add("aggregation", truncate=True)
    seen = 0
    with (
        pytest.raises(httpx.RemoteProtocolError),
        http.stream("POST", "/api/v1/aggregation", json=AGG_ALL, headers=read_h) as r,
    ):
        for _ in ijson.items(_Reader(r.iter_bytes()), "results.item"):
            seen += 1
    assert 0 < seen < 200_000


@pytest.mark.slow
def test_million_rows_stream_in_flat_memory(
    http: httpx.Client, sim: Simulator, read_h: dict
) -> None:
    """Server and client share this process: RSS covers both ends of the stream."""
    n = 1_000_000
    sim.large_aggregation_rows = n
    base = _rss_mb()
    peak = base
    count = 0
    with http.stream("POST", "/api/v1/aggregation", json=AGG_ALL, headers=read_h) as r:
        assert r.status_code == 200
        for row in ijson.items(_Reader(r.iter_bytes()), "results.item"):
            count += 1
            if count % 50_000 == 0:
                peak = max(peak, _rss_mb())
                assert row["numEvents"] >= 1
    assert count == n
    # ~130 MB of JSON went through; a list of 1M dicts would cost several hundred MB.
    assert peak - base < 60, f"RSS grew {peak - base:.0f} MB while streaming"
