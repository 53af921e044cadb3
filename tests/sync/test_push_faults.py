"""Push under faults: 429/5xx storms, and SIGKILL in the middle of an events push."""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

import test_push_support as sup
from test_push_support import (
    EVENT_COLUMNS,
    engine,
    event_rows,
    events_sync,
    known_visitors,
    make_db,
    push_and_kill,
    state_rows,
    visitor_sync,
)

from pendo_tui.errors import ExitCode
from pendo_tui.pendo.errors import RateLimitedError, ServerError
from pendo_tui.store.db import open_store

sim, fresh_sim, push_store = sup.sim, sup.fresh_sim, sup.push_store  # fixtures


def test_short_5xx_burst_is_retried_within_bounds(fresh_sim, push_store, tmp_path) -> None:
    url = make_db(tmp_path / "m.db", "ev", EVENT_COLUMNS, event_rows(5))
    fresh_sim.faults.add("track", status=503, times=2)
    res = engine(fresh_sim, push_store).sync(events_sync(url, concurrency=1))
    assert res.delivered == 5 and res.retries == 2
    assert len(fresh_sim.state.track_events) == 5


def test_track_storm_fails_the_run_and_a_rerun_completes(fresh_sim, push_store, tmp_path) -> None:
    url = make_db(tmp_path / "m.db", "ev", EVENT_COLUMNS, event_rows(20))
    fresh_sim.faults.add("track", status=503, times=None)
    with pytest.raises(ServerError) as err:
        engine(fresh_sim, push_store).sync(events_sync(url))
    assert err.value.exit_code == ExitCode.REMOTE
    assert fresh_sim.state.requests["track"] <= 4 * 3  # concurrency × (1 + max_retries)
    assert "in_flight" not in state_rows(push_store, "events").values()  # 503: surely unsent

    fresh_sim.faults.clear()
    res = engine(fresh_sim, push_store).sync(events_sync(url))
    assert res.delivered == 20 and res.in_flight_found == 0
    assert len(fresh_sim.state.track_events) == 20


def test_metadata_429_storm_fails_then_rerun_completes(fresh_sim, push_store, tmp_path) -> None:
    ids = known_visitors(fresh_sim)[:30]
    url = make_db(tmp_path / "m.db", "vt", ["vid", "role", "seats"], [(v, "r", 1) for v in ids])
    fresh_sim.faults.add("metadata", status=429, retry_after=0.01, times=None)
    with pytest.raises(RateLimitedError):
        engine(fresh_sim, push_store).sync(visitor_sync(url, batch_size=10, concurrency=1))
    assert fresh_sim.state.requests["metadata"] == 3  # one batch: 1 try + 2 retries, then stop

    fresh_sim.faults.clear()
    fresh_sim.faults.add("metadata", status=429, retry_after=0.01, times=2)
    res = engine(fresh_sim, push_store).sync(visitor_sync(url, batch_size=10, concurrency=1))
    assert res.delivered == 30 and res.retries == 2
    custom = {i for (k, g, i) in fresh_sim.state.metadata if k == "visitor" and g == "custom"}
    assert custom == set(ids)


CHILD = """
import sys
from pendo_tui.config.model import Config, PushSync
from pendo_tui.pendo.client import PendoClient
from pendo_tui.store.db import open_store
from pendo_tui.sync.push.engine import PushEngine

base_url, write_key, track, store_url, model_url, concurrency = sys.argv[1:7]
sync = PushSync(
    name="events", kind="events", model={"url": model_url, "query": "SELECT * FROM ev"},
    primary_key="id", event_column="name", timestamp="ts", visitor_id="vid", account_id="acc",
    properties=["id"], concurrency=int(concurrency),
)
client = PendoClient(base_url, write_key, track_secret=track)
PushEngine(Config(), client, open_store(store_url), run_id=1).sync(sync)
print("finished")
"""


@pytest.mark.slow
def test_sigkill_mid_push_loses_nothing_and_duplicates_only_in_flight(fresh_sim, tmp_path) -> None:
    n, concurrency = 2_000, 4
    model_url = make_db(tmp_path / "m.db", "ev", EVENT_COLUMNS, event_rows(n))
    store_url = f"sqlite:///{tmp_path / 'store.db'}"
    open_store(store_url).close()
    fresh_sim.faults.add("track", latency=0.004, times=None)  # slow enough to kill mid-way
    args = [fresh_sim.base_url, fresh_sim.keys.write, fresh_sim.keys.track, store_url, model_url]
    push_and_kill(fresh_sim, [CHILD, *args, str(concurrency)], n // 4, 30)
    delivered_at_kill = len(fresh_sim.state.track_events)
    assert delivered_at_kill < n, "the push finished before the kill; slow it down"

    store = open_store(store_url)
    try:
        left = state_rows(store, "events")
        in_flight = {k for k, st in left.items() if st == "in_flight"}
        assert len(in_flight) <= concurrency

        fresh_sim.faults.clear()
        res = sup.engine(fresh_sim, store).sync(
            events_sync(model_url, properties=["id"], concurrency=concurrency)
        )
    finally:
        store.close()

    assert set(res.in_flight_keys) == in_flight and res.in_flight_found == len(in_flight)
    seen = Counter(e["properties"]["id"] for e in fresh_sim.state.track_events)
    assert set(seen) == {f"e{i}" for i in range(n)}, "an event was lost"
    duplicates = {k for k, c in seen.items() if c > 1}
    assert duplicates <= in_flight, duplicates - in_flight
    assert all(c <= 2 for c in seen.values())
    assert res.sent == n - (len(left) - len(in_flight))
