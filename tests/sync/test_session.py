"""The engine session: read queries never wait for a sync, a missing store reads as
empty, Re-sync dates in the subscription's timezone, model columns with the engine's
reader, stale mappings with the engine's fingerprint rule."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import create_engine, text

from pendo_tui.config.model import Config, ModelSource
from pendo_tui.config.secrets import StaticSecrets
from pendo_tui.errors import PendoTuiError
from pendo_tui.sim.demo import demo_config, demo_simulator
from pendo_tui.sim.keys import DEMO_TRACK_SECRET, DEMO_WRITE_KEY
from pendo_tui.sim.server import Simulator
from pendo_tui.store.lock import lock_key
from pendo_tui.store.urls import parse_store_url
from pendo_tui.sync.session import EngineSession

SECRETS = StaticSecrets(integration_key=DEMO_WRITE_KEY, track_secret=DEMO_TRACK_SECRET)
MAPPING = "Dashboard views"
WAIT = 120.0  # seconds: generous on a loaded machine; a blocked read never finishes


def _session(sim: Simulator, store_url: str, **pendo: Any) -> EngineSession:
    cfg = demo_config(sim.base_url, store_url)
    if pendo:
        cfg = cfg.model_copy(update={"pendo": cfg.pendo.model_copy(update=pendo)})
    return EngineSession(cfg, SECRETS)


@contextmanager
def _sync_write_transaction(store_url: str) -> Iterator[int]:
    """What a running sync holds: an open write transaction with an uncommitted run row.

    SQLite: ``BEGIN IMMEDIATE`` (the write lock). PostgreSQL: the transaction also holds
    the schema lock a sync's store opening takes (``pg_advisory_xact_lock``).
    """
    parsed = parse_store_url(store_url)
    engine = create_engine(parsed.url)
    try:
        with engine.connect() as conn:
            if parsed.dialect == "sqlite":
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            else:
                conn.exec_driver_sql("BEGIN")
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": lock_key("schema")})
            run_id = conn.execute(
                text(
                    "INSERT INTO runs (kind, mappings, started_at, status) "
                    "VALUES ('sync', '[]', :t, 'running') RETURNING id"
                ),
                {"t": datetime.now(UTC)},
            ).scalar_one()
            try:
                yield int(run_id)
            finally:
                conn.exec_driver_sql("ROLLBACK")
    finally:
        engine.dispose()


def _in_thread(fn: Callable[[], Any]) -> Any:
    """Run ``fn`` in a thread; fail (instead of hanging) if it does not finish in WAIT s."""
    box: dict[str, Any] = {}
    done = threading.Event()

    def target() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:  # re-raised in the test's thread
            box["error"] = exc
        finally:
            done.set()

    threading.Thread(target=target, daemon=True).start()
    assert done.wait(WAIT), "the read waited for the sync's write transaction"
    if "error" in box:
        raise box["error"]
    return box["value"]


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    with demo_simulator() as s:  # dated now: runs use the real clock
        yield s


def test_reads_do_not_wait_for_a_running_sync(sim: Simulator, store_url: str) -> None:
    with _session(sim, store_url) as session:
        summary = session.run("sync", [MAPPING])
        assert summary.status == "ok", summary.error
        with _sync_write_transaction(store_url) as open_run:

            def read_everything() -> dict[str, Any]:
                return {
                    "history": session.run_history(),
                    "cursors": session.pull_cursors(),
                    "metrics": session.metric_names(),
                    "stale": session.stale_mappings(),
                    "impact": session.resync_impact(),
                    "requests": session.run_requests(summary.run_id or 0),
                }

            seen = _in_thread(read_everything)
    # Committed state only: the sync's uncommitted run is not visible yet.
    assert [r["id"] for r in seen["history"]] == [summary.run_id]
    assert open_run not in [r["id"] for r in seen["history"]]
    assert seen["cursors"][MAPPING] is not None
    assert seen["metrics"], "the sync wrote metrics"
    assert seen["stale"] == []
    assert seen["impact"]["all_metrics"] > 0
    assert seen["requests"], "the sync's HTTP calls were stored"


def test_reading_neither_creates_nor_migrates_a_store(sim: Simulator, tmp_path: Path) -> None:
    path = tmp_path / "not-yet" / "pendo.db"
    with _session(sim, f"sqlite:///{path}") as session:
        assert session.run_history() == []
        assert session.pull_cursors() == {}
        assert session.metric_names() == []
        assert session.stale_mappings() == []
        assert session.resync_impact() == {"old_metrics": 0, "all_metrics": 0, "old_activities": 0}
        preview = session.identity_preview()  # a first run's view: no end users known yet
        assert preview["visitors"] == len(sim.dataset.visitors)
    assert not path.exists() and not path.parent.exists()


def test_the_read_handle_refuses_writes(sim: Simulator, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'pendo.db'}"
    with _session(sim, url) as session:
        session.check()  # creates the store
        assert session.run_history() == []
        reader = session._reader_store()
        assert reader is not None
        with pytest.raises(PendoTuiError), reader.begin() as conn:
            conn.execute(text("DELETE FROM runs"))


@pytest.mark.parametrize("tz", ["Pacific/Kiritimati", "Pacific/Pago_Pago"])
def test_resync_window_starts_in_the_subscription_timezone(
    sim: Simulator, tmp_path: Path, tz: str
) -> None:
    # UTC+14 and UTC-11: at any hour one of them is on another calendar day than UTC.
    with _session(sim, f"sqlite:///{tmp_path / 'p.db'}", timezone=tz) as session:
        days = session.config.pendo.days_to_sync
        expected = datetime.now(ZoneInfo(tz)).date() - timedelta(days=days)
        assert session.resync_first_day() == expected


def test_model_columns_use_the_engines_reader(sim: Simulator, tmp_path: Path) -> None:
    csv_path = tmp_path / "model.csv"
    csv_path.write_text("\ufeffaccount_id,plan\na1,pro\n", encoding="utf-8")  # Excel's BOM
    with _session(sim, f"sqlite:///{tmp_path / 'p.db'}") as session:
        assert session.model_columns(ModelSource(csv=str(csv_path))) == ["account_id", "plan"]
        with pytest.raises(PendoTuiError, match="does not exist"):
            session.model_columns(ModelSource(csv=str(tmp_path / "missing.csv")))
        sql = ModelSource(url="store", query="SELECT id AS run, status FROM runs")
        session.check()
        assert session.model_columns(sql) == ["run", "status"]


def test_stale_mappings_follow_the_engines_rule(sim: Simulator, store_url: str) -> None:
    with _session(sim, store_url) as session:
        assert session.run("sync", [MAPPING]).status == "ok"
        assert session.stale_mappings() == []
        cfg: Config = session.config
        changed = cfg.model_copy(
            update={"pendo": cfg.pendo.model_copy(update={"days_to_sync": 10})}
        )
        session.update(changed, SECRETS)
        assert session.stale_mappings() == [MAPPING]
        # The same rule refuses a normal sync (exit 2) until Re-sync all.
        with pytest.raises(PendoTuiError, match="resync-all"):
            session.run("sync", [MAPPING])
