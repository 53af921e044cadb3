"""Bring a store to ``SCHEMA_VERSION``: create it, or upgrade it step by step.

Versions:

- 0 — a store made before versioning: the tables exist but ``schema_info`` does not.
- 1 — first versioned layout (``schema_info`` added).
- 2 — ``requests`` gains ``kind``, ``request_body_size``, ``response_body_size``.
- 3 — ``requests`` gains ``source`` (the mapping or sync that made the call).

``STEPS[n]`` upgrades a store from ``n - 1`` to ``n``. Steps only ever add (tables,
columns, indexes): users point BI tools at these tables, so nothing is renamed or
dropped without a loud note in the README. Every step is idempotent (it checks before
adding), and tables that are missing altogether are created from the current schema
after the steps ran, so a new table never needs a step of its own.

All of it runs in one transaction (both back ends have transactional DDL), serialised
between processes (PostgreSQL advisory lock, SQLite write lock), so two runs opening a
store at once never migrate it twice and a failed migration leaves the old store as is.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import Column, Connection, inspect, select, text

from pendo_tui.errors import StoreError

from . import schema
from .lock import lock_key

Step = Callable[[Connection], None]


def _add_columns(conn: Connection, table_name: str, columns: list[str]) -> None:
    """ALTER TABLE … ADD COLUMN for each named column of the current schema not yet there."""
    present = {c["name"] for c in inspect(conn).get_columns(table_name)}
    table = schema.metadata.tables[table_name]
    prep = conn.dialect.identifier_preparer
    for name in columns:
        if name in present:
            continue
        col: Column = table.c[name]
        coltype = col.type.compile(dialect=conn.dialect)
        conn.exec_driver_sql(
            f"ALTER TABLE {prep.quote(table_name)} ADD COLUMN {prep.quote(name)} {coltype}"
        )


def _step_1_versioning(conn: Connection) -> None:
    schema.schema_info.create(conn, checkfirst=True)


def _step_2_request_kind_and_sizes(conn: Connection) -> None:
    if inspect(conn).has_table("requests"):
        _add_columns(conn, "requests", ["kind", "request_body_size", "response_body_size"])


def _step_3_request_source(conn: Connection) -> None:
    if inspect(conn).has_table("requests"):
        _add_columns(conn, "requests", ["source"])


STEPS: dict[int, Step] = {
    1: _step_1_versioning,
    2: _step_2_request_kind_and_sizes,
    3: _step_3_request_source,
}

assert max(STEPS) == schema.SCHEMA_VERSION, "every SCHEMA_VERSION needs a migration step"


def _serialise(conn: Connection) -> None:
    """Make concurrent openers of one store take turns (held until the transaction ends)."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": lock_key("schema")})
    # SQLite: the caller opened the transaction with BEGIN IMMEDIATE (the write lock).


def current_version(conn: Connection) -> int | None:
    """The store's version; 0 for a pre-versioning store; None for an empty database."""
    insp = inspect(conn)
    if insp.has_table(schema.schema_info.name):
        version = conn.execute(select(schema.schema_info.c.version)).scalar()
        return int(version) if version is not None else 0
    ours = set(schema.metadata.tables) - {schema.schema_info.name}
    return 0 if ours & set(insp.get_table_names()) else None


def ensure_schema(conn: Connection, store_label: str) -> tuple[int | None, int]:
    """Create or migrate the store inside ``conn``'s transaction.

    Returns (version found, version now). Raises ``StoreError`` for a store newer than
    this code.
    """
    _serialise(conn)
    found = current_version(conn)
    target = schema.SCHEMA_VERSION
    if found is not None and found > target:
        raise StoreError(
            f"The {store_label} is at schema version {found}, newer than this pendo-tui "
            f"understands (version {target}).",
            hint="Upgrade pendo-tui (pip install -U pendo-tui) on this machine, "
            "or point [store] url at another store.",
        )
    if found == target:
        return found, target
    now = datetime.now(UTC)
    if found is None:
        schema.metadata.create_all(conn)
        conn.execute(schema.schema_info.insert().values(id=1, version=target, created_at=now))
        return None, target
    for version in range(found + 1, target + 1):
        STEPS[version](conn)
    schema.metadata.create_all(conn, checkfirst=True)  # tables added since, with their indexes
    if conn.execute(select(schema.schema_info.c.id)).first() is None:
        conn.execute(
            schema.schema_info.insert().values(
                id=1, version=target, created_at=now, migrated_at=now
            )
        )
    else:
        conn.execute(schema.schema_info.update().values(version=target, migrated_at=now))
    return found, target
