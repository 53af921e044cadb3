"""Older stores migrate without data loss; newer stores are refused untouched."""

from __future__ import annotations

import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, select, text

from pendo_tui.errors import ExitCode, StoreError
from pendo_tui.store import schema
from pendo_tui.store.db import open_store

# A store as it was before versioning (version 0), written by hand in portable DDL:
# no schema_info, `requests` without kind/body sizes, and only some of the tables.
V0_DDL = [
    """CREATE TABLE companies (
        external_id VARCHAR(512) PRIMARY KEY, name VARCHAR(1024),
        source VARCHAR(32) NOT NULL, last_seen TIMESTAMP, last_active TIMESTAMP)""",
    """CREATE TABLE metrics (
        metric VARCHAR(512), object_type VARCHAR(16), object_id VARCHAR(512), day DATE,
        app_id VARCHAR(64), value FLOAT NOT NULL, mapping VARCHAR(256) NOT NULL,
        PRIMARY KEY (metric, object_type, object_id, day, app_id))""",
    """CREATE TABLE runs (
        id INTEGER PRIMARY KEY, kind VARCHAR(32) NOT NULL, mappings TEXT,
        started_at TIMESTAMP NOT NULL, finished_at TIMESTAMP, status VARCHAR(16) NOT NULL,
        summary TEXT, error TEXT)""",
    """CREATE TABLE requests (
        run_id INTEGER REFERENCES runs(id) ON DELETE CASCADE, seq INTEGER,
        at TIMESTAMP NOT NULL, method VARCHAR(8) NOT NULL, url TEXT NOT NULL,
        status INTEGER, duration_ms FLOAT, request_size BIGINT, response_size BIGINT,
        request_headers TEXT, response_headers TEXT, request_body TEXT,
        response_body TEXT, error TEXT, attempt INTEGER, PRIMARY KEY (run_id, seq))""",
]
V0_DATA = [
    "INSERT INTO companies VALUES ('acme', 'Acme', 'pendo', NULL, NULL)",
    "INSERT INTO metrics VALUES ('Visits', 'company', 'acme', '2026-01-05', '', 42.0, 'visits')",
    "INSERT INTO runs VALUES (1, 'sync', NULL, '2026-01-06 10:00:00', NULL, 'ok', NULL, NULL)",
    "INSERT INTO requests (run_id, seq, at, method, url, status) VALUES"
    " (1, 1, '2026-01-06 10:00:01', 'POST', 'https://app.pendo.io/api/v1/aggregation', 200)",
]


def _raw(url: str, statements: list[str]) -> None:
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            for stmt in statements:
                conn.execute(text(stmt))
    finally:
        engine.dispose()


def _sqlite_prep(store_url: str) -> None:
    """The fixture's SQLite URL points into a folder that does not exist yet."""
    if store_url.startswith("sqlite:///"):
        Path(store_url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)


def test_v0_store_migrates_without_data_loss(store_url: str) -> None:
    _sqlite_prep(store_url)
    _raw(store_url, V0_DDL + V0_DATA)

    with open_store(store_url) as store:
        assert store.schema_version() == schema.SCHEMA_VERSION
        insp = inspect(store.engine)
        assert {"kind", "request_body_size", "response_body_size"} <= {
            c["name"] for c in insp.get_columns("requests")
        }
        assert set(schema.metadata.tables) <= set(insp.get_table_names())  # missing created
        with store.connect() as conn:
            assert conn.execute(select(schema.companies.c.name)).scalar_one() == "Acme"
            metric = conn.execute(select(schema.metrics)).one()
            assert (metric.metric, metric.day, metric.value) == ("Visits", date(2026, 1, 5), 42)
            req = conn.execute(select(schema.requests)).one()
            assert (req.url, req.status, req.kind) == (
                "https://app.pendo.io/api/v1/aggregation",
                200,
                None,
            )
            info = conn.execute(select(schema.schema_info)).one()
            assert info.migrated_at is not None
        # The migrated store takes new-style writes.
        with store.begin() as conn:
            conn.execute(schema.requests.update().values(kind="aggregation", response_body_size=10))
            store.upsert(
                conn,
                "metrics",
                [
                    {
                        "metric": "Visits", "object_type": "company", "object_id": "acme",
                        "day": date(2026, 1, 5), "app_id": "", "value": 43.0, "mapping": "visits",
                    }
                ],
            )  # fmt: skip
        with store.connect() as conn:
            assert conn.execute(select(schema.metrics.c.value)).scalars().all() == [43.0]


def test_v1_store_gains_request_columns(store_url: str) -> None:
    _sqlite_prep(store_url)
    _raw(
        store_url,
        [
            *V0_DDL,
            "CREATE TABLE schema_info (id INTEGER PRIMARY KEY, version INTEGER NOT NULL,"
            " created_at TIMESTAMP NOT NULL, migrated_at TIMESTAMP)",
            "INSERT INTO schema_info VALUES (1, 1, '2026-01-01 00:00:00', NULL)",
            *V0_DATA,
        ],
    )
    with open_store(store_url) as store:
        assert store.schema_version() == schema.SCHEMA_VERSION
        cols = {c["name"] for c in inspect(store.engine).get_columns("requests")}
        assert "kind" in cols
        with store.connect() as conn:
            assert conn.execute(select(schema.requests.c.seq)).scalars().all() == [1]


def test_newer_store_is_refused_and_left_untouched(store_url: str) -> None:
    with open_store(store_url) as store, store.begin() as conn:
        conn.execute(schema.schema_info.update().values(version=schema.SCHEMA_VERSION + 5))
        store.upsert(conn, "companies", [{"external_id": "acme", "name": "A", "source": "pendo"}])

    with pytest.raises(StoreError) as info:
        open_store(store_url)
    err = info.value
    assert err.exit_code == ExitCode.REMOTE
    assert f"version {schema.SCHEMA_VERSION + 5}" in err.message
    assert "Upgrade pendo-tui" in (err.hint or "")

    engine = create_engine(store_url)
    try:
        with engine.connect() as conn:
            assert conn.execute(select(schema.schema_info.c.version)).scalar() == (
                schema.SCHEMA_VERSION + 5
            )
            assert conn.execute(select(schema.companies.c.name)).scalar() == "A"
    finally:
        engine.dispose()


OPEN_ONCE = """
import sys
from pendo_tui.store.db import open_store
open_store(sys.argv[1]).close()
"""


def test_concurrent_first_opens_create_the_schema_once(store_url: str) -> None:
    """Several processes opening a brand-new store at once: all succeed, one version row."""
    _sqlite_prep(store_url)
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", OPEN_ONCE, store_url],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for _ in range(4)
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err.decode()
    with open_store(store_url) as store, store.connect() as conn:
        assert len(conn.execute(select(schema.schema_info)).all()) == 1


def test_v2_store_gains_request_source(store_url: str) -> None:
    _sqlite_prep(store_url)
    _raw(
        store_url,
        [
            *V0_DDL,
            "ALTER TABLE requests ADD COLUMN kind VARCHAR(32)",
            "ALTER TABLE requests ADD COLUMN request_body_size BIGINT",
            "ALTER TABLE requests ADD COLUMN response_body_size BIGINT",
            "CREATE TABLE schema_info (id INTEGER PRIMARY KEY, version INTEGER NOT NULL,"
            " created_at TIMESTAMP NOT NULL, migrated_at TIMESTAMP)",
            "INSERT INTO schema_info VALUES (1, 2, '2026-01-01 00:00:00', NULL)",
            *V0_DATA,
        ],
    )
    with open_store(store_url) as store:
        assert store.schema_version() == schema.SCHEMA_VERSION
        cols = {c["name"] for c in inspect(store.engine).get_columns("requests")}
        assert "source" in cols
        with store.begin() as conn:
            conn.execute(schema.requests.update().values(source="pull Visits"))
        with store.connect() as conn:
            assert conn.execute(select(schema.requests.c.source)).scalars().all() == ["pull Visits"]
