"""Shared fixtures and helpers of the push tests (imported by the test_push_* modules).

Everything is real: the simulator over loopback HTTP, the client, SQLite/PostgreSQL stores
and model databases. Nothing of our own code is mocked.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from pendo_tui.config.model import Config, PushSync
from pendo_tui.pendo.client import PendoClient
from pendo_tui.sim.server import Simulator
from pendo_tui.store import schema
from pendo_tui.store.db import Store, open_store
from pendo_tui.sync.push.engine import PushEngine

NOW_S = int(time.time())


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    with Simulator() as s:
        yield s


@pytest.fixture
def fresh_sim(sim: Simulator) -> Simulator:
    sim.reset()
    return sim


@pytest.fixture
def push_store(tmp_path: Path) -> Iterator[Store]:
    st = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    try:
        yield st
    finally:
        st.close()


def client_for(sim: Simulator, *, key: str | None = None, track: str | None = "sim") -> PendoClient:
    """A real client on the simulator; fast retries so fault tests stay quick."""
    return PendoClient(
        sim.base_url,
        key or sim.keys.write,
        track_secret=sim.keys.track if track == "sim" else track,
        max_retries=2,
        max_retry_seconds=5,
        backoff_initial=0.01,
        backoff_max=0.05,
        backoff_jitter=0.0,
    )


def engine(sim: Simulator, store: Store, **client_kw: Any) -> PushEngine:
    return PushEngine(Config(), client_for(sim, **client_kw), store, run_id=1)


def make_db(path: Path, table: str, columns: list[str], rows: list[tuple[Any, ...]]) -> str:
    """A SQLite model database with one table; returns its SQLAlchemy URL."""
    con = sqlite3.connect(path)
    try:
        con.execute(f"DROP TABLE IF EXISTS {table}")
        con.execute(f"CREATE TABLE {table} ({', '.join(columns)})")
        marks = ", ".join("?" for _ in columns)
        con.executemany(f"INSERT INTO {table} VALUES ({marks})", rows)
        con.commit()
    finally:
        con.close()
    return f"sqlite:///{path}"


def event_rows(n: int, start: int = 0) -> list[tuple[Any, ...]]:
    """(id, visitor, account, name, ts epoch s, plan) — recent timestamps."""
    return [
        (f"e{i}", f"v-{i % 30:04d}", "acme", "Report Exported", NOW_S - i, "pro")
        for i in range(start, start + n)
    ]


EVENT_COLUMNS = ["id", "vid", "acc", "name", "ts", "plan"]


def events_sync(url: str, query: str = "SELECT * FROM ev", **kw: Any) -> PushSync:
    base: dict[str, Any] = {
        "name": "events",
        "kind": "events",
        "model": {"url": url, "query": query},
        "primary_key": "id",
        "event_column": "name",
        "timestamp": "ts",
        "visitor_id": "vid",
        "account_id": "acc",
        "properties": ["plan"],
        "concurrency": 4,
    }
    base.update(kw)
    return PushSync(**base)


def visitor_sync(url: str, query: str = "SELECT * FROM vt", **kw: Any) -> PushSync:
    base: dict[str, Any] = {
        "name": "visitors",
        "kind": "visitor",
        "model": {"url": url, "query": query},
        "primary_key": "vid",
        "match": "vid",
        "fields": {"role": "role", "seats_used": "seats"},
        "batch_size": 16,
        "concurrency": 2,
    }
    base.update(kw)
    return PushSync(**base)


def known_visitors(sim: Simulator) -> list[str]:
    return [v["visitorId"] for v in sim.dataset.visitors if not v["visitorId"].startswith("_")]


def state_rows(store: Store, sync: str) -> dict[str, str]:
    t = schema.push_state
    with store.engine.connect() as conn:
        return dict(conn.execute(select(t.c.key, t.c.status).where(t.c.sync == sync)).all())


def reject_rows(store: Store, sync: str) -> dict[str, str]:
    t = schema.push_rejects
    with store.engine.connect() as conn:
        return dict(conn.execute(select(t.c.key, t.c.error).where(t.c.sync == sync)).all())


def writes(sim: Simulator) -> int:
    """Write calls the simulator received (metadata values and track events)."""
    r = sim.state.requests
    return r["metadata"] + r["track"]


def push_and_kill(sim: Simulator, argv: list[str], until: int, within: float) -> None:
    """Run a push child (``python -c *argv``) and SIGKILL it once ``until`` events reached
    the simulator (waiting at most ``within`` seconds); then let the requests already on
    the wire land."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    child = subprocess.Popen(
        [sys.executable, "-c", *argv], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + within
        while len(sim.state.track_events) < until and time.monotonic() < deadline:
            assert child.poll() is None, child.stderr.read().decode() if child.stderr else ""
            time.sleep(0.01)
        assert len(sim.state.track_events) >= until, f"push did not get going in {within:g} s"
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=10)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(timeout=10)
    assert child.returncode == -signal.SIGKILL
    time.sleep(0.2)  # let requests already on the wire land in the simulator
