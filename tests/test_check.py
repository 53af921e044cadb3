"""``--check``: the preflight a cron user trusts — one line per check, exit codes by class.

Every case runs against the simulator over loopback, with real SQLite/PostgreSQL stores.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from pendo_tui.cli import Context
from pendo_tui.commands import check
from pendo_tui.config.model import Config
from pendo_tui.config.secrets import StaticSecrets
from pendo_tui.sim.demo import demo_config
from pendo_tui.sim.keys import DEMO_READ_KEY, DEMO_TRACK_SECRET, DEMO_WRITE_KEY
from pendo_tui.sim.server import Simulator
from pendo_tui.store.db import open_store
from pendo_tui.sync.preflight import Check, exit_code, preflight

WRITE = StaticSecrets(integration_key=DEMO_WRITE_KEY, track_secret=DEMO_TRACK_SECRET)
READ_ONLY = StaticSecrets(integration_key=DEMO_READ_KEY, track_secret=DEMO_TRACK_SECRET)
MISSING = "NoSuchId0000000000000000000"


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    with Simulator() as s:
        yield s


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'store.db'}"


def _config(sim: Simulator, store_url: str, **sections: Any) -> Config:
    data = demo_config(sim.base_url, store_url).model_dump()
    data.update(sections)
    return Config.model_validate(data)


def _pushes(sim: Simulator) -> list[dict[str, Any]]:
    return demo_config(sim.base_url, "sqlite://").model_dump()["push"]


def _by_label(checks: list[Check]) -> dict[str, Check]:
    return {c.label: c for c in checks}


def _failed(checks: list[Check]) -> list[Check]:
    return [c for c in checks if not c.ok]


def _store_where(url: str) -> str:
    store = open_store(url)
    try:
        return str(store.path) if store.path else store.display_url
    finally:
        store.close()


def test_everything_ok_on_both_store_back_ends(sim: Simulator, store_url: str) -> None:
    config = _config(sim, store_url)
    checks = preflight(config, WRITE)
    assert _failed(checks) == [] and exit_code(checks) == 0
    labels = [c.label for c in checks]
    assert labels[:4] == [
        "Pendo integration key",
        "Write access for push syncs",
        "Track event secret",
        "Store",
    ]
    assert {f"Push model of {s.name!r}" for s in config.push} <= set(labels)
    assert {f"Pull mapping {m.name!r}" for m in config.pull} <= set(labels)
    store = _by_label(checks)["Store"]
    assert _store_where(store_url) in store.detail and "writable" in store.detail


def test_read_only_key_names_every_sync_that_writes(sim: Simulator, sqlite_url: str) -> None:
    """Before: only the first sync needing write access was named."""
    pushes = _pushes(sim)
    second = dict(next(p for p in pushes if p["kind"] == "visitor"), name="Visitor plans")
    config = _config(sim, sqlite_url, push=[*pushes, second])
    checks = preflight(config, READ_ONLY)
    (failed,) = _failed(checks)
    assert failed.label == "Write access for push syncs" and failed.exit_code == 3
    assert "'Visitor roles'" in failed.detail and "'Visitor plans'" in failed.detail
    assert "Write Access" in failed.fix
    assert exit_code(checks) == 3


def test_key_whose_write_access_pendo_did_not_state(sim: Simulator, sqlite_url: str) -> None:
    """Some verify answers omit writeAccess: not called read-only, not called writable."""
    sim.shapes.verify = "no_write_access"
    try:
        checks = preflight(_config(sim, sqlite_url, push=_pushes(sim)), READ_ONLY)
    finally:
        sim.shapes.verify = "standard"
    write = _by_label(checks)["Write access for push syncs"]
    assert write.ok and "did not say" in write.detail
    assert "read-only" not in _by_label(checks)["Pendo integration key"].detail


def test_events_sync_without_track_secret_exits_3(sim: Simulator, sqlite_url: str) -> None:
    """Before: --check said all was fine and the next --sync exited 3."""
    config = _config(sim, sqlite_url)
    checks = preflight(config, StaticSecrets(integration_key=DEMO_WRITE_KEY))
    (failed,) = _failed(checks)
    assert failed.label == "Track event secret" and "'Warehouse events'" in failed.detail
    assert "PENDO_TRACK_SECRET" in failed.fix
    assert exit_code(checks) == 3


def _model_db(tmp_path: Path) -> str:
    db = tmp_path / "warehouse.db"
    with sqlite3.connect(db) as conn:
        conn.execute("create table roles (visitor_id text, role text, seats_used int)")
        conn.execute("insert into roles values ('v1', 'admin', 3)")
    return f"sqlite:///{db}"


@pytest.mark.parametrize(
    ("model", "fragment"),
    [
        ({"query": "select visitor_id, role, seats_used from roles"}, None),
        ({"query": "select visitor_id, role, seats_used from no_such_table"}, "no_such_table"),
        ({"query": "select visitor_id, role from roles"}, "'seats_used'"),
        ({"csv": "missing.csv"}, "does not exist"),
        ({"csv": "header_only.csv"}, "'seats_used'"),
    ],
)
def test_push_models_are_run_with_zero_rows(
    sim: Simulator, sqlite_url: str, tmp_path: Path, model: dict, fragment: str | None
) -> None:
    (tmp_path / "header_only.csv").write_text("visitor_id,role\n", encoding="utf-8")
    if "csv" in model:
        model = {"csv": str(tmp_path / model["csv"])}
    else:
        model = {"url": _model_db(tmp_path), **model}
    sync = dict(next(p for p in _pushes(sim) if p["kind"] == "visitor"), model=model)
    checks = preflight(_config(sim, sqlite_url, push=[sync]), WRITE)
    label = f"Push model of {sync['name']!r}"
    result = _by_label(checks)[label]
    if fragment is None:
        assert result.ok and exit_code(checks) == 0
    else:
        assert not result.ok and fragment in result.detail and result.exit_code == 2
        assert exit_code(checks) == 2


@pytest.mark.parametrize(
    ("field", "value", "fragment"),
    [
        ("id", MISSING, f"page {MISSING!r}"),
        ("segment", MISSING, f"segment {MISSING!r}"),
    ],
)
def test_unknown_ids_fail_the_check(
    sim: Simulator, sqlite_url: str, field: str, value: str, fragment: str
) -> None:
    pull = demo_config(sim.base_url, "sqlite://").model_dump()["pull"]
    pull[0][field] = value
    config = _config(sim, sqlite_url, segments=[], pull=pull)
    checks = preflight(config, WRITE)
    (failed,) = _failed(checks)
    assert failed.label == f"Pull mapping {pull[0]['name']!r}" and fragment in failed.detail
    assert exit_code(checks) == 2


@pytest.mark.parametrize(
    ("report", "columns", "fragment"),
    [
        ("Account health - custom range", {"numEvents": "E"}, "could not be determined"),
        ("Account usage - December 2025 (fixed)", {"numEvents": "E"}, "fixed date range"),
        ("Account usage - last 7 days", {"account_agent_name": "N"}, "not numeric"),
        ("Account usage - last 90 days", {"nope": "N"}, "not a column"),
    ],
)
def test_report_mappings_that_would_fail(
    sim: Simulator, sqlite_url: str, report: str, columns: dict, fragment: str
) -> None:
    rid = sim.dataset.find("reports", report)["id"]
    pull = [{"name": "rep", "kind": "report", "id": rid, "columns": columns}]
    checks = preflight(_config(sim, sqlite_url, pull=pull), WRITE)
    (failed,) = _failed(checks)
    assert failed.label == "Pull mapping 'rep'" and fragment in failed.detail
    assert exit_code(checks) == 2


def test_auth_class_wins_over_config_and_store(sim: Simulator, tmp_path: Path) -> None:
    pull = [{"name": "p", "kind": "page", "id": MISSING}]
    url = "postgresql+psycopg://u@127.0.0.1:1/db"
    config = _config(sim, url, pull=pull, segments=[])
    checks = preflight(config, READ_ONLY)
    assert {c.exit_code for c in _failed(checks)} == {2, 3, 4}
    assert exit_code(checks) == 3
    pushes = [p for p in _pushes(sim) if p["kind"] == "events"]  # no write needed
    checks = preflight(_config(sim, url, pull=pull, segments=[], push=pushes), READ_ONLY)
    assert {c.exit_code for c in _failed(checks)} == {2, 4}
    assert exit_code(checks) == 2
    assert "127.0.0.1:1" in _by_label(checks)["Store"].detail


def test_wrong_key_fails_every_pendo_check(sim: Simulator, sqlite_url: str) -> None:
    bad = StaticSecrets(integration_key=str(uuid.UUID(int=0)), track_secret=DEMO_TRACK_SECRET)
    checks = preflight(_config(sim, sqlite_url), bad)
    key = _by_label(checks)["Pendo integration key"]
    assert not key.ok and key.exit_code == 3
    assert not _by_label(checks)["Pendo ids of pull mappings"].ok
    assert exit_code(checks) == 3


@pytest.mark.postgres
def test_store_that_opens_but_cannot_be_written(sim: Simulator, fresh_pg_url: str) -> None:
    """A PostgreSQL role with SELECT only: the store opens, the write check fails (exit 4)."""
    open_store(fresh_pg_url).close()  # create the tables as the owner
    role = f"pendo_ro_{uuid.uuid4().hex[:12]}"
    admin = create_engine(fresh_pg_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE ROLE "{role}" LOGIN'))
            conn.execute(text(f'GRANT USAGE ON SCHEMA public TO "{role}"'))
            conn.execute(text(f'GRANT SELECT ON ALL TABLES IN SCHEMA public TO "{role}"'))
        ro_url = make_url(fresh_pg_url).set(username=role, password=None)
        url = ro_url.render_as_string(hide_password=False)
        checks = preflight(_config(sim, url), WRITE)
        store = _by_label(checks)["Store"]
        assert not store.ok and store.exit_code == 4, store
        assert "cannot be written" in store.detail and "permission" in store.fix
        assert exit_code(checks) == 4
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP OWNED BY "{role}"'))
            conn.execute(text(f'DROP ROLE IF EXISTS "{role}"'))
        admin.dispose()


def test_cli_prints_one_line_per_check_and_json_is_the_same_list(
    sim: Simulator, sqlite_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _config(sim, sqlite_url)
    ctx = Context(config=config, config_path=None, secrets=StaticSecrets(DEMO_WRITE_KEY))
    assert check(ctx) == 3
    out, err = capsys.readouterr()
    lines = [line for line in out.splitlines() if line[:1] in ("✓", "✗")]
    assert check(ctx, as_json=True) == 3
    data = json.loads(capsys.readouterr().out)
    assert [line[2:].split(":", 1)[0] for line in lines] == [c["label"] for c in data]
    assert [line.startswith("✓") for line in lines] == [c["ok"] for c in data]
    failed = [c for c in data if not c["ok"]]
    assert [c["label"] for c in failed] == ["Track event secret"]
    assert "    fix: " + failed[0]["fix"] in out
    assert len(err.strip().splitlines()) == 1 and "Track event secret" in err
