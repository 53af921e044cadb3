"""Opening a store: creation on first use, schema version, URLs, SQLite settings."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import inspect, select

from pendo_tui.errors import ConfigError, ExitCode
from pendo_tui.store import schema
from pendo_tui.store.db import Store, default_store_url, open_store
from pendo_tui.store.urls import parse_store_url


def test_first_open_creates_every_table_at_current_version(store: Store) -> None:
    names = set(inspect(store.engine).get_table_names())
    assert set(schema.metadata.tables) <= names
    assert store.schema_version() == schema.SCHEMA_VERSION
    with store.connect() as conn:
        rows = conn.execute(select(schema.schema_info)).all()
    assert len(rows) == 1 and rows[0].version == schema.SCHEMA_VERSION


def test_spec_tables_and_columns_exist(store: Store) -> None:
    """Spec §9 names are a contract with users' BI tools."""
    expected = {
        "companies": {"external_id", "name", "source", "last_seen", "last_active"},
        "end_users": {
            "id", "external_id", "email", "name", "surname",
            "company_external_id", "created_by", "last_seen", "last_active",
        },
        "assets": {"external_id", "company_external_id"},
        "projects": {"external_id", "company_external_id"},
        "metrics": {"metric", "object_type", "object_id", "day", "value", "mapping"},
        "activities": {
            "mapping", "end_user_id", "app_id", "day",
            "company_external_id", "events", "minutes", "passive",
        },
        "runs": {"id", "kind", "started_at", "finished_at", "status", "summary", "error"},
        "requests": {"run_id", "seq", "at", "method", "url", "status", "duration_ms", "kind"},
        "pull_state": {"mapping", "cursor_day", "fingerprint"},
        "push_state": {"sync", "key", "value_hash", "status", "delivered_at"},
        "push_rejects": {"run_id", "sync", "key", "error"},
    }  # fmt: skip
    insp = inspect(store.engine)
    for table, cols in expected.items():
        assert cols <= {c["name"] for c in insp.get_columns(table)}, table


def test_reopen_keeps_data_and_does_not_recreate(store_url: str) -> None:
    with open_store(store_url) as first, first.begin() as conn:
        row = {"external_id": "acme", "name": "Acme", "source": "pendo"}
        first.upsert(conn, "companies", [row])
    with open_store(store_url) as again, again.connect() as conn:
        assert conn.execute(select(schema.companies.c.name)).scalars().all() == ["Acme"]
        assert len(conn.execute(select(schema.schema_info)).all()) == 1


def test_sqlite_settings_wal_foreign_keys_busy_timeout(tmp_path: Path) -> None:
    with open_store(f"sqlite:///{tmp_path / 'p.db'}") as store, store.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 5000


def test_sqlite_creates_missing_folders(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "pendo.db"
    with open_store(f"sqlite:///{path}") as store:
        assert store.path == path and store.dialect == "sqlite"
    assert path.is_file()


def test_default_url_is_sqlite_in_user_data_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    expected = tmp_path / "xdg" / "pendo-tui" / "pendo.db"
    assert default_store_url() == f"sqlite:///{expected}"
    with open_store(None) as store:
        assert store.path == expected
    assert expected.is_file()


def test_in_memory_sqlite_store_works() -> None:
    with open_store("sqlite://") as store:
        with store.begin() as conn:
            store.upsert(conn, "pull_state", [{"mapping": "m", "cursor_day": date(2026, 1, 2)}])
        with store.connect() as conn:
            assert conn.execute(select(schema.pull_state.c.cursor_day)).scalar() == date(2026, 1, 2)


@pytest.mark.parametrize(
    "raw",
    [
        "postgres://u:pw@db.example:5433/pendo",
        "postgresql://u:pw@db.example:5433/pendo",
        "postgresql+psycopg2://u:pw@db.example:5433/pendo",
        "postgresql+psycopg://u:pw@db.example:5433/pendo",
    ],
)
def test_postgres_urls_normalise_to_psycopg3(raw: str) -> None:
    parsed = parse_store_url(raw)
    assert parsed.dialect == "postgresql"
    assert parsed.url.drivername == "postgresql+psycopg"
    assert parsed.pg_host_port == "db.example:5433"
    assert "pw" not in parsed.display and "pw" not in parsed.label


@pytest.mark.parametrize(
    ("raw", "named"),
    [
        ("not a url", "not a url"),
        ("mysql://u@h/db", "mysql"),
        ("postgresql://u@h:5432", "names no database"),
        ("postgresql://u:secret@h:notaport/db", "valid database URL"),
    ],
)
def test_bad_urls_are_config_errors(raw: str, named: str) -> None:
    with pytest.raises(ConfigError) as info:
        open_store(raw)
    err = info.value
    assert err.exit_code == ExitCode.USAGE
    assert named in str(err) and err.hint
    assert "secret" not in str(err)


@pytest.mark.postgres
def test_store_never_shows_the_database_password(fresh_pg_url: str) -> None:
    # The test server trusts local logins, so any password is accepted and ignored.
    url = fresh_pg_url.replace("postgres@", "postgres:hunter2@", 1)
    with open_store(url) as store:
        shown = [store.url, store.display_url, store.label, repr(store)]
        assert all("hunter2" not in s for s in shown), shown
        assert store.engine.url.password == "hunter2"  # still used to connect


def test_a_wal_switch_refused_at_once_is_tried_again(tmp_path: Path) -> None:
    """SQLite may refuse the switch to WAL at once, without waiting on the busy timeout
    (two openers of a new file). Here the refusal is made certain: the switching
    connection waits 0 ms while another one holds the file's exclusive lock, released
    once the switch has been refused and pauses to try again."""
    import sqlite3
    import threading
    import time

    from pendo_tui.store.db import _switch_to_wal

    path = tmp_path / "new.db"
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("CREATE TABLE t (x INTEGER)")
    holder.execute("BEGIN EXCLUSIVE")
    switcher = sqlite3.connect(path, isolation_level=None)
    switcher.execute("PRAGMA busy_timeout=0")
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        switcher.execute("PRAGMA journal_mode=WAL")  # refused at once, as in the race

    refused = threading.Event()

    def pause(seconds: float) -> None:
        refused.set()
        time.sleep(seconds)

    def release() -> None:
        if refused.wait(timeout=60):
            holder.execute("COMMIT")

    releaser = threading.Thread(target=release)
    releaser.start()
    try:
        _switch_to_wal(switcher.cursor(), pause=pause)
    finally:
        refused.set()
        releaser.join(timeout=60)
    assert switcher.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    holder.close()
    switcher.close()
