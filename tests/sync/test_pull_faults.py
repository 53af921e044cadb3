"""Faults injected in the simulator end in a complete sync or a failure with nothing
half-written; Re-sync all is atomic."""

from __future__ import annotations

import pytest
from pull_expect import dump, make_config

from pendo_tui.pendo.errors import PendoError
from pendo_tui.sync.progress import ProgressEvent
from pendo_tui.sync.pull.engine import PullEngine


def _pull(sim):
    ds = sim.dataset
    return [
        {"name": "dash", "kind": "page", "id": ds.find("pages", "Dashboard")["id"]},
        {"name": "feat", "kind": "feature", "id": ds.features[0]["id"], "object": "end_user"},
    ]


def _reference(sim, client, store_factory):
    """The store an undisturbed sync of both mappings produces."""
    config = make_config(sim, _pull(sim))
    eng = PullEngine(config, client, store_factory, today=sim.dataset.today)
    for m in config.pull:
        eng.sync(m)
    return dump(store_factory)


@pytest.mark.parametrize(
    "fault",
    [
        {"kind": "aggregation", "status": 429, "retry_after": 0, "times": 3},  # 429 storm
        {"kind": "aggregation", "status": 503, "times": 2},
        {"kind": "aggregation", "truncate": True, "times": 1},  # body cut mid-stream
        {"kind": "aggregation", "malformed": True, "times": 1},
    ],
    ids=["429-storm", "5xx", "truncated", "malformed"],
)
def test_transient_faults_end_in_a_complete_sync(sim, client, store, tmp_path, fault):
    from pendo_tui.store.db import open_store

    with open_store(f"sqlite:///{tmp_path / 'ref.db'}") as ref_store:
        expected = _reference(sim, client, ref_store)
    sim.faults.add(**fault)
    config = make_config(sim, _pull(sim))
    eng = PullEngine(config, client, store, today=sim.dataset.today)
    for m in config.pull:
        eng.sync(m)
    assert not sim.faults.active()  # the fault really fired
    got = dump(store)
    for table in ("activities", "metrics", "pull_state"):
        assert got[table] == expected[table], table


def test_persistent_failure_writes_nothing(sim, client, store):
    config = make_config(sim, _pull(sim))
    eng = PullEngine(config, client, store, today=sim.dataset.today)
    eng.sync(config.pull[0])
    before = dump(store)
    sim.faults.add("aggregation", truncate=True, times=None)
    with pytest.raises(PendoError):
        eng.sync(config.pull[1])
    sim.faults.clear()
    assert dump(store) == before  # no activities, no auto-created users, no cursor


def test_resync_all_fault_midway_leaves_previous_data(sim, client, store):
    config = make_config(sim, _pull(sim))
    eng = PullEngine(config, client, store, today=sim.dataset.today)
    for m in config.pull:
        eng.sync(m)
    before = dump(store)

    def inject(event: ProgressEvent) -> None:
        # The first mapping is fully staged when the second starts fetching.
        if event.mapping == "feat" and event.phase == "fetch":
            sim.faults.add("aggregation", status=500, times=None)

    # One call at a time: the fault must land between the two mappings' calls.
    shorter = make_config(sim, _pull(sim), pendo={"days_to_sync": 3, "max_concurrent_calls": 1})
    eng = PullEngine(shorter, client, store, progress=inject, today=sim.dataset.today)
    with pytest.raises(PendoError):
        eng.resync_all(shorter.pull)
    sim.faults.clear()
    assert dump(store) == before

    eng = PullEngine(shorter, client, store, today=sim.dataset.today)
    eng.resync_all(shorter.pull)
    after = dump(store)
    assert after["activities"] and len(after["activities"]) < len(before["activities"])
