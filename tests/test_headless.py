"""Headless output a cron log can trust: one JSON object under --json whatever happens,
plain text that always says why, our words only on stderr, dry runs that leave no trace,
and runs that never finished marked as interrupted by the next one."""

from __future__ import annotations

import hashlib
import json
import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect
from sqlalchemy import select as sql_select

from pendo_tui.cli import main
from pendo_tui.config.toml_io import ConfigDocument
from pendo_tui.sim.demo import demo_config, demo_simulator
from pendo_tui.sim.keys import DEMO_READ_KEY, DEMO_TRACK_SECRET, DEMO_WRITE_KEY
from pendo_tui.sim.server import Simulator
from pendo_tui.store import schema
from pendo_tui.store.db import open_store

AUTH = 3


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    with demo_simulator() as s:
        yield s


@pytest.fixture(autouse=True)
def _clean_sim(sim: Simulator) -> Iterator[None]:
    sim.faults.clear()
    yield
    sim.faults.clear()


@pytest.fixture
def keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PENDO_INTEGRATION_KEY", DEMO_WRITE_KEY)
    monkeypatch.setenv("PENDO_TRACK_SECRET", DEMO_TRACK_SECRET)


def _write_config(tmp_path: Path, sim: Simulator, store_url: str, *, pulls: bool = True,
                  pushes: bool = True) -> Path:  # fmt: skip
    config = demo_config(sim.base_url, store_url)
    config = config.model_copy(
        update={"pull": config.pull if pulls else [], "push": config.push if pushes else []}
    )
    path = tmp_path / "config.toml"
    ConfigDocument.new(config, path).save(path)
    return path


def _json_out(capsys: pytest.CaptureFixture[str]) -> tuple[dict[str, object], str]:
    captured = capsys.readouterr()
    return json.loads(captured.out), captured.err  # exactly one object, or this raises


# -- --json: one object, whatever happens ------------------------------------------------


def test_json_object_when_the_config_is_missing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--config", str(tmp_path / "nope.toml"), "--sync", "--json"]) == 2
    data, err = _json_out(capsys)
    assert data["exit_code"] == 2 and data["status"] == "failed"
    assert "nope.toml" in str(data["error"]) and "nope.toml" in err


def test_json_object_for_a_bad_flag(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--sync", "--json", "--no-such-flag"]) == 2
    data, _ = _json_out(capsys)
    assert data["exit_code"] == 2 and "--no-such-flag" in str(data["error"])


def test_json_object_when_the_secret_is_missing(
    tmp_path: Path, sim: Simulator, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    import keyring
    from keyring.backends import fail

    monkeypatch.delenv("PENDO_INTEGRATION_KEY", raising=False)
    monkeypatch.setattr(keyring, "get_keyring", lambda: fail.Keyring())
    previous = keyring.get_keyring
    cfg = _write_config(tmp_path, sim, f"sqlite:///{tmp_path}/s.db")
    try:
        assert main(["--config", str(cfg), "--sync", "--json"]) == AUTH
    finally:
        monkeypatch.setattr(keyring, "get_keyring", previous)
    data, _ = _json_out(capsys)
    assert data["exit_code"] == AUTH and "PENDO_INTEGRATION_KEY" in str(data["error"]) + str(
        data["hint"]
    )


def test_json_object_when_the_store_is_down(
    tmp_path: Path, sim: Simulator, keys: None, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = _write_config(tmp_path, sim, "postgresql+psycopg://u@127.0.0.1:1/db")
    assert main(["--config", str(cfg), "--sync", "--json"]) == 4
    data, _ = _json_out(capsys)
    assert data["exit_code"] == 4 and "127.0.0.1:1" in str(data["error"])


def test_json_object_when_the_lock_is_held(
    tmp_path: Path, sim: Simulator, keys: None, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path}/s.db"
    cfg = _write_config(tmp_path, sim, url)
    with open_store(url) as store, store.lock():
        assert main(["--config", str(cfg), "--sync", "--json"]) == 6
    data, _ = _json_out(capsys)
    assert data["exit_code"] == 6 and "Another run is in progress" in str(data["error"])


# -- plain text always says why ---------------------------------------------------------


def test_read_only_key_for_a_push_says_why_on_stderr(
    tmp_path: Path, sim: Simulator, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    monkeypatch.setenv("PENDO_INTEGRATION_KEY", DEMO_READ_KEY)
    monkeypatch.setenv("PENDO_TRACK_SECRET", DEMO_TRACK_SECRET)
    cfg = _write_config(tmp_path, sim, f"sqlite:///{tmp_path}/s.db", pulls=False)
    assert main(["--config", str(cfg), "--sync"]) == AUTH
    captured = capsys.readouterr()
    assert "failed" in captured.out
    assert "write access" in captured.err.lower(), captured.err
    assert captured.err.startswith("pendo-tui: ")


def test_missing_track_secret_says_why_on_stderr(
    tmp_path: Path, sim: Simulator, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    import keyring
    from keyring.backends import fail

    monkeypatch.setenv("PENDO_INTEGRATION_KEY", DEMO_WRITE_KEY)
    monkeypatch.delenv("PENDO_TRACK_SECRET", raising=False)
    monkeypatch.setattr(keyring, "get_keyring", lambda: fail.Keyring())
    cfg = _write_config(tmp_path, sim, f"sqlite:///{tmp_path}/s.db", pulls=False)
    code = main(["--config", str(cfg), "--sync"])
    err = capsys.readouterr().err
    assert code == AUTH
    assert "PENDO_TRACK_SECRET" in err, err


# -- stderr carries our words only ------------------------------------------------------


def test_each_retry_is_one_line_saying_what_and_why(tmp_path: Path, sim: Simulator) -> None:
    cfg = _write_config(tmp_path, sim, f"sqlite:///{tmp_path}/s.db", pushes=False)
    sim.faults.add("aggregation", status=503, times=2)
    env = {**os.environ, "PENDO_INTEGRATION_KEY": DEMO_WRITE_KEY}
    proc = subprocess.run(
        [sys.executable, "-m", "pendo_tui", "--config", str(cfg), "--sync", "--json"],
        capture_output=True, text=True, timeout=600, env=env,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    json.loads(proc.stdout)
    retry_lines = [line for line in proc.stderr.splitlines() if "retrying" in line]
    assert len(retry_lines) == 2, proc.stderr
    assert all(
        line.startswith("pendo-tui: retrying POST /api/v1/aggregation") and "503" in line
        for line in retry_lines
    ), retry_lines
    assert "stamina" not in proc.stderr


def test_library_log_records_stay_off_stderr() -> None:
    """A driver's warning (psycopg's 'error ignored terminating …') is not printed raw."""
    code = (
        "import logging, sys\n"
        "from pendo_tui.cli import _configure_logging\n"
        "_configure_logging(False)\n"
        "logging.getLogger('psycopg').warning('error ignored terminating <psycopg.Pipeline>')\n"
        "logging.getLogger('pendo_tui.retry').warning('ours')\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60)  # fmt: skip
    assert proc.stderr.strip() == "pendo-tui: ours", proc.stderr


# -- dry runs leave no trace ------------------------------------------------------------


def test_dry_run_creates_no_sqlite_store(
    tmp_path: Path, sim: Simulator, keys: None, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "not-yet"
    cfg = _write_config(tmp_path, sim, f"sqlite:///{folder}/pendo.db")
    assert main(["--config", str(cfg), "--sync", "--dry-run", "--json"]) == 0
    data, _ = _json_out(capsys)
    assert data["status"] == "planned" and data["items"]
    assert not folder.exists()


@pytest.mark.postgres
def test_dry_run_creates_no_tables_in_postgresql(
    tmp_path: Path, sim: Simulator, keys: None, fresh_pg_url: str,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    cfg = _write_config(tmp_path, sim, fresh_pg_url)
    assert main(["--config", str(cfg), "--sync", "--dry-run", "--json"]) == 0
    assert _json_out(capsys)[0]["status"] == "planned"
    engine = create_engine(fresh_pg_url)
    try:
        with engine.connect() as conn:
            assert inspect(conn).get_table_names() == []
    finally:
        engine.dispose()


def test_dry_run_reads_an_existing_store_without_writing(
    tmp_path: Path, sim: Simulator, keys: None, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "s.db"
    cfg = _write_config(tmp_path, sim, f"sqlite:///{db}", pushes=False)
    assert main(["--config", str(cfg), "--sync", "--json"]) == 0
    capsys.readouterr()
    before = hashlib.sha256(db.read_bytes()).hexdigest()
    assert main(["--config", str(cfg), "--sync", "--dry-run", "--json"]) == 0
    data, _ = _json_out(capsys)
    assert all(i["writes"] == "nothing (up to date)" for i in data["items"]), data["items"]
    assert hashlib.sha256(db.read_bytes()).hexdigest() == before  # not a byte written


# -- runs that never finished -----------------------------------------------------------


def _wait_for_running_row(url: str, proc: subprocess.Popen[str], timeout: float) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        try:
            with open_store(url) as store, store.connect() as conn:
                row = conn.execute(
                    sql_select(schema.runs.c.id).where(schema.runs.c.status == "running")
                ).first()
            if row is not None:
                return int(row[0])
        except Exception:  # the store may be mid-creation by the child
            pass
        select.select([], [], [], 0.2)
    pytest.fail("the child run never recorded itself as running")


@pytest.mark.slow
def test_killed_run_is_marked_interrupted_by_the_next(
    tmp_path: Path, sim: Simulator, keys: None, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path}/s.db"
    cfg = _write_config(tmp_path, sim, url, pushes=False)
    sim.faults.add("aggregation", latency=300, times=1)  # the child hangs in its first call
    env = {**os.environ, "PENDO_INTEGRATION_KEY": DEMO_WRITE_KEY}
    proc = subprocess.Popen(
        [sys.executable, "-m", "pendo_tui", "--config", str(cfg), "--sync"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    try:
        killed_id = _wait_for_running_row(url, proc, timeout=120)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=60)
    sim.faults.clear()

    assert main(["--config", str(cfg), "--sync", "--json"]) == 0
    data, _ = _json_out(capsys)
    [old] = data["interrupted_runs"]
    assert old["run_id"] == killed_id
    assert old["in_flight"] == [m.name for m in demo_config(sim.base_url, url).pull]
    with open_store(url) as store, store.connect() as conn:
        status, error = conn.execute(
            sql_select(schema.runs.c.status, schema.runs.c.error).where(
                schema.runs.c.id == killed_id
            )
        ).one()
    assert status == "interrupted"
    assert "never" in error or "without finishing" in error

    # Plain text says so too, once: the run after that finds nothing left to mark.
    assert main(["--config", str(cfg), "--sync"]) == 0
    assert "interrupted" not in capsys.readouterr().out
