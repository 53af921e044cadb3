"""Large-response mode: lazily generated aggregation rows, streamed in bounded memory."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import ijson
import pytest

from pendo_tui.sim.server import Simulator

AGG = {
    "request": {
        "pipeline": [
            {
                "source": {
                    "pageEvents": {"appId": 'expandAppIds("*")'},
                    "timeSeries": {"period": "dayRange", "first": "now()", "count": -30},
                }
            }
        ]
    }
}
ROW_KEYS = {"visitorId", "accountId", "appId", "day", "numEvents", "numMinutes"}


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


def test_large_rows_are_shaped_and_deterministic(
    http: httpx.Client, sim: Simulator, read_h: dict
) -> None:
    sim.large_aggregation_rows = 2_500
    first = http.post("/api/v1/aggregation", json=AGG, headers=read_h)
    second = http.post("/api/v1/aggregation", json=AGG, headers=read_h)
    assert first.content == second.content
    body = first.json()
    assert body["startTime"] == sim.dataset.day_starts()[-31]
    rows = body["results"]
    assert len(rows) == 2_500
    assert all(set(r) == ROW_KEYS for r in rows)
    assert {r["day"] for r in rows} <= set(sim.dataset.day_starts())
    assert {r["appId"] for r in rows} == {-323232, 5629499534213120}
    assert len({(r["visitorId"], r["day"]) for r in rows}) == 2_500  # grouped per visitor/day


def test_large_mode_truncation_breaks_midway(
    http: httpx.Client, sim: Simulator, read_h: dict
) -> None:
    sim.large_aggregation_rows = 200_000
    sim.faults.add("aggregation", truncate=True)
    seen = 0
    with (
        pytest.raises(httpx.RemoteProtocolError),
        http.stream("POST", "/api/v1/aggregation", json=AGG, headers=read_h) as r,
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
    with http.stream("POST", "/api/v1/aggregation", json=AGG, headers=read_h) as r:
        assert r.status_code == 200
        for row in ijson.items(_Reader(r.iter_bytes()), "results.item"):
            count += 1
            if count % 50_000 == 0:
                peak = max(peak, _rss_mb())
                assert row["numEvents"] >= 1
    assert count == n
    # ~110 MB of JSON went through; a list of 1M dicts would cost several hundred MB.
    assert peak - base < 60, f"RSS grew {peak - base:.0f} MB while streaming"
