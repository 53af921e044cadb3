"""Shared fixtures: stores on both back ends.

PostgreSQL comes from ``PENDO_TUI_TEST_PG_URL`` (``.ci/run`` starts a throw-away server
and exports it; developers can ``source .ci/pg.sh``). Without it PostgreSQL tests skip,
unless ``PENDO_TUI_REQUIRE_PG=1`` (set by CI), where a skip would hide a whole back end
and is a failure instead.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from pendo_tui.store.db import Store, open_store

PG_ENV = "PENDO_TUI_TEST_PG_URL"
REQUIRE_PG_ENV = "PENDO_TUI_REQUIRE_PG"


def _normalised_pg(url: str) -> str:
    parsed = make_url(url)
    return parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Iterator[None] | pytest.TestReport:
    """Under PENDO_TUI_REQUIRE_PG=1, a skipped ``postgres`` test fails, whatever skipped it."""
    report: pytest.TestReport = yield
    if (
        report.skipped
        and os.environ.get(REQUIRE_PG_ENV) == "1"
        and item.get_closest_marker("postgres") is not None
    ):
        report.outcome = "failed"
        report.longrepr = f"PostgreSQL test skipped under {REQUIRE_PG_ENV}=1: {report.longrepr}"
    return report


@pytest.fixture(scope="session")
def pg_url() -> str:
    """URL of the test PostgreSQL server's maintenance database (shared; don't write)."""
    url = os.environ.get(PG_ENV, "").strip()
    if not url:
        msg = f"PostgreSQL tests need {PG_ENV} (run `source .ci/pg.sh` to start a server)"
        if os.environ.get(REQUIRE_PG_ENV) == "1":
            pytest.fail(f"{msg}; {REQUIRE_PG_ENV}=1 forbids skipping them")
        pytest.skip(msg)
    return _normalised_pg(url)


@pytest.fixture
def fresh_pg_url(pg_url: str) -> Iterator[str]:
    """A new, empty database on the test server for this test only; dropped afterwards."""
    name = f"pendo_test_{uuid.uuid4().hex[:16]}"
    admin = create_engine(pg_url, isolation_level="AUTOCOMMIT", pool_size=1)
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        yield make_url(pg_url).set(database=name).render_as_string(hide_password=False)
        with admin.connect() as conn:
            # FORCE: a test that failed may still hold connections open.
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


@pytest.fixture(
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A URL for a store that does not exist yet, once per back end."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store' / 'pendo.db'}"
    return request.getfixturevalue("fresh_pg_url")


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    """An opened, empty store at the current schema version, once per back end."""
    opened = open_store(store_url)
    try:
        yield opened
    finally:
        opened.close()
