"""The events hot path's plumbing: track lanes, rows read ahead, one-statement state writes.

Each test pins a property the speed-ups must not trade away: bounded connections and a
logged, redacted record per call; rows in order with errors surfaced; state identical to
``Store.upsert``'s.
"""

from __future__ import annotations

import datetime as dt
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import select

sys.path.insert(0, str(Path(__file__).parent))

import test_push_support as sup

from pendo_tui.pendo.client import PendoClient
from pendo_tui.store import schema
from pendo_tui.store.db import open_store
from pendo_tui.sync.push.prefetch import prefetched
from pendo_tui.sync.push.state import DELIVERED, IN_FLIGHT, PushState, StateUpdate

sim, fresh_sim = sup.sim, sup.fresh_sim  # fixtures


def _event(i: int) -> dict:
    return {"event": "Lane", "visitorId": f"v-{i}", "timestamp": 1_700_000_000_000 + i}


def test_track_lanes_stay_within_max_connections_and_log_every_call(fresh_sim) -> None:
    with PendoClient(
        fresh_sim.base_url, fresh_sim.keys.write, track_secret=fresh_sim.keys.track,
        max_connections=3,
    ) as client:  # fmt: skip
        with ThreadPoolExecutor(max_workers=12) as pool:
            list(pool.map(lambda i: client.track(_event(i)), range(120)))
        lanes = client._t.lanes
        assert lanes.enabled
        assert 1 <= len(lanes._made) <= 3  # never more connections than max_connections
        records = [r for r in client.request_log.records() if r.kind == "track"]
    assert fresh_sim.state.track_event_count == 120
    assert sorted(e["visitorId"] for e in fresh_sim.state.track_events) == sorted(
        f"v-{i}" for i in range(120)
    )
    assert len(records) == 120 and all(r.status == 200 for r in records)
    secret = fresh_sim.keys.track
    for rec in records:
        assert rec.request_headers["x-pendo-integration-key"] == "<redacted:track-secret>"
        assert secret not in rec.request_body and rec.request_body.startswith("{")
        assert rec.request_headers["content-type"] == "application/json"
    assert lanes._made == []  # closed with the client


def test_prefetched_keeps_order_and_bounds_the_read_ahead() -> None:
    produced = 0

    def rows() -> Iterator[int]:
        nonlocal produced
        for i in range(10_000):
            produced += 1
            yield i

    it = prefetched(rows(), size=10, depth=2)
    assert [next(it) for _ in range(5)] == [0, 1, 2, 3, 4]
    threading.Event().wait(0.2)  # let the helper fill its queue
    assert produced <= 10 * (2 + 2)  # queue + the chunk being built + the one handed over
    it.close()
    assert list(prefetched(iter(range(1000)), size=7)) == list(range(1000))


def test_prefetched_raises_the_source_error_after_the_rows_before_it() -> None:
    closed = threading.Event()

    def rows() -> Iterator[int]:
        try:
            yield 1
            yield 2
            raise ValueError("model query failed")
        finally:
            closed.set()

    got: list[int] = []
    with pytest.raises(ValueError, match="model query failed"):
        for row in prefetched(rows(), size=1):
            got.append(row)
    assert got == [1, 2] and closed.wait(5)


def test_prefetched_closed_early_closes_the_source() -> None:
    closed = threading.Event()

    def rows() -> Iterator[int]:
        try:
            yield from range(1_000_000)
        finally:
            closed.set()

    it = prefetched(rows(), size=100, depth=2)
    assert next(it) == 0
    it.close()
    assert closed.wait(5)


def test_sqlite_one_statement_state_matches_store_upsert(tmp_path) -> None:
    at = dt.datetime(2026, 3, 1, 12, 30, tzinfo=dt.UTC)
    updates = [
        StateUpdate("a", "h1", IN_FLIGHT),
        StateUpdate("b", "h2", DELIVERED),
        StateUpdate("a", "h3", DELIVERED),  # repeated key: the last row wins
        *(StateUpdate(f"k{i}", f"x{i}", DELIVERED) for i in range(400)),  # > one statement
    ]
    tables = []
    for name in ("fast", "reference"):
        store = open_store(f"sqlite:///{tmp_path / name}.db")
        state = PushState(store, "events", 7)
        with store.begin() as conn:
            if name == "fast":
                state.write(conn, updates, delivered_at=at)
            else:  # what PushState wrote before: the store's generic upsert
                rows = [
                    {"sync": "events", "key": u.key, "value_hash": u.value_hash,
                     "status": u.status, "delivered_at": at if u.status == DELIVERED else None,
                     "run_id": 7}
                    for u in updates
                ]  # fmt: skip
                store.upsert(conn, schema.push_state, rows, ["sync", "key"])
        with store.begin() as conn:  # an update of existing keys takes the same path
            state.write(conn, [StateUpdate("b", "h9", IN_FLIGHT)], delivered_at=at)
        t = schema.push_state
        with store.connect() as conn:
            tables.append(sorted(conn.execute(select(t)).all()))
        assert state.load()["a"] == ("h3", DELIVERED)
        store.close()
    assert tables[0] == tables[1] and len(tables[0]) == 402
    row_a = next(r for r in tables[0] if r.key == "a")
    assert row_a.delivered_at == at and row_a.run_id == 7
