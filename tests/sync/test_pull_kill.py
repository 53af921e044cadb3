"""A sync killed with SIGKILL at any point, then rerun, leaves exactly the store an
uninterrupted sync leaves (staging + one transaction per batch + cursor in it)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from pull_expect import dump
from sqlalchemy import text

from pendo_tui.config.model import Config
from pendo_tui.pendo.client import PendoClient
from pendo_tui.store import schema
from pendo_tui.store.db import open_store
from pendo_tui.sync.pull.engine import PullEngine

CHILD = textwrap.dedent(
    """
    import json, sys
    from datetime import date
    from pendo_tui.config.model import Config
    from pendo_tui.pendo.client import PendoClient
    from pendo_tui.store.db import open_store
    from pendo_tui.sync.pull.engine import PullEngine
    spec = json.loads(sys.argv[1])
    config = Config.model_validate(spec["config"])
    store = open_store(spec["store"])
    with PendoClient(config.pendo.domain, spec["key"]) as client:
        engine = PullEngine(config, client, store, today=date.fromisoformat(spec["today"]))
        print("started", flush=True)
        if spec["together"]:
            engine.sync_many(config.pull)
        else:
            for m in config.pull:
                engine.sync(m)
    print("finished", flush=True)
    """
)


def _config(sim, concurrency: int = 4) -> Config:
    ds = sim.dataset
    dash = ds.find("pages", "Dashboard")["id"]
    other = next(p["id"] for p in ds.pages if p["id"] != dash)
    pendo = {"domain": sim.base_url, "timezone": ds.timezone, "days_to_sync": 60}
    return Config.model_validate(
        {
            "pendo": pendo | {"max_concurrent_calls": concurrency},
            "identity": {"auto_create_end_users": True},
            "pull": [
                {"name": "dash", "kind": "page", "id": dash},
                {
                    "name": "feat",
                    "kind": "feature",
                    "id": ds.features[0]["id"],
                    "object": "end_user",
                },
                {"name": "dash2", "kind": "page", "id": other, "passive": True},
                {"name": "pes", "kind": "pes"},
            ],
        }
    )


def _sync(sim, config: Config, url: str, together: bool) -> None:
    with open_store(url) as store, PendoClient(sim.base_url, sim.keys.read) as client:
        engine = PullEngine(config, client, store, today=sim.dataset.today)
        if together:  # one plan: shared calls, up to max_concurrent_calls in flight
            assert all(not isinstance(r, Exception) for r in engine.sync_many(config.pull))
        else:
            for m in config.pull:
                engine.sync(m)


@pytest.mark.slow
@pytest.mark.parametrize("kill_after", [0.3, 0.9, 1.6])
@pytest.mark.parametrize(
    ("together", "concurrency"), [(False, 1), (True, 4)], ids=["one-by-one", "plan-x4"]
)
def test_sigkill_then_rerun_equals_uninterrupted(
    sim, tmp_path: Path, kill_after: float, together: bool, concurrency: int
):
    import json

    config = _config(sim, concurrency)
    reference = f"sqlite:///{tmp_path / 'ref.db'}"
    _sync(sim, config, reference, together)
    with open_store(reference) as store:
        expected = dump(store)

    # Spread the run over seconds so each kill point lands mid-run: a plan makes a few
    # shared calls, several at once, so each must take longer than one of many solo calls.
    latency = 1.0 if together else 0.08
    sim.faults.add("aggregation", latency=latency, times=None)
    url = f"sqlite:///{tmp_path / 'killed.db'}"
    spec = {
        "config": config.model_dump(),
        "store": url,
        "key": sim.keys.read,
        "today": sim.dataset.today.isoformat(),
        "together": together,
    }
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, json.dumps(spec, default=str)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "started"
        time.sleep(kill_after)
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=10)
        assert child.returncode == -signal.SIGKILL, "the sync finished before the kill"
    finally:
        if child.poll() is None:
            child.kill()
    sim.faults.clear()
    # a kill mid-apply rolled back the index rebuild's drops too
    with open_store(url) as store, store.connect() as conn:
        names = {ix.name for ix in [*schema.activities.indexes, *schema.metrics.indexes]}
        rows = conn.execute(text("SELECT name FROM sqlite_master WHERE type = 'index'"))
        assert names <= {r[0] for r in rows}

    _sync(sim, config, url, together)
    with open_store(url) as store:
        got = dump(store)
    # end_users ids and timestamps must match too: nothing from the killed run survives
    # except whole committed mappings, which the rerun then upserts identically.
    for table in ("activities", "metrics", "companies", "pull_state"):
        assert got[table] == expected[table], table
    strip = lambda rows: sorted(r[1:] for r in rows)  # noqa: E731 - ids follow creation order
    assert strip(got["end_users"]) == strip(expected["end_users"])
