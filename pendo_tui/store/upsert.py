"""Bulk upsert on natural keys, fast on both back ends.

A re-read of a window must never duplicate rows, so every write of
pulled data is ``INSERT … ON CONFLICT (key) DO UPDATE``. Throughput matters for
backfills (one row per visitor per day per mapping), so:

- SQLite: one prepared statement through the driver's ``executemany``, with
  SQLAlchemy's per-type bind processors applied up front (dates, booleans, JSON stored
  exactly as SQLAlchemy reads them back), skipping per-row statement compilation.
- PostgreSQL: large batches are ``COPY``'d into a temporary table and merged with one
  ``INSERT … SELECT … ON CONFLICT``; small batches use a plain executemany.

Both run in the caller's transaction. Rows of one call must share the same keys.
Duplicate keys inside a call keep the last row, on both back ends.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from operator import itemgetter
from typing import Any

from sqlalchemy import JSON, Connection, Table
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import DBAPIError
from sqlalchemy.types import TypeDecorator

COPY_THRESHOLD = 1_000  # rows; below this the temp-table round trips cost more than COPY saves


def _q(conn: Connection, name: str) -> str:
    return conn.dialect.identifier_preparer.quote(name)


def _columns(table: Table, rows: Sequence[Mapping[str, Any]], key_cols: Sequence[str]) -> list[str]:
    cols = list(rows[0].keys())
    unknown = [c for c in cols if c not in table.c]
    if unknown:
        raise ValueError(f"upsert into {table.name}: unknown columns {unknown}")
    missing = [k for k in key_cols if k not in cols]
    if missing:
        raise ValueError(f"upsert into {table.name}: rows lack key columns {missing}")
    wanted = set(cols)
    for row in rows:
        if row.keys() != wanted:
            raise ValueError(
                f"upsert into {table.name}: every row needs the same columns {sorted(wanted)};"
                f" got {sorted(row.keys())}"
            )
    return cols


def dedupe(rows: Iterable[Mapping[str, Any]], key_cols: Sequence[str]) -> list[Mapping[str, Any]]:
    """Last row wins per key, first-seen order kept (ON CONFLICT cannot hit a row twice)."""
    key = itemgetter(*key_cols)
    return list({key(row): row for row in rows}.values())


def _conflict_sql(conn: Connection, cols: Sequence[str], key_cols: Sequence[str]) -> str:
    updates = [c for c in cols if c not in key_cols]
    target = ", ".join(_q(conn, k) for k in key_cols)
    if not updates:
        return f" ON CONFLICT ({target}) DO NOTHING"
    sets = ", ".join(f"{_q(conn, c)} = excluded.{_q(conn, c)}" for c in updates)
    return f" ON CONFLICT ({target}) DO UPDATE SET {sets}"


def upsert_sqlite(
    conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]], key_cols: Sequence[str]
) -> None:
    cols = _columns(table, rows, key_cols)
    procs: list[Callable[[Any], Any] | None] = [
        table.c[c].type.bind_processor(conn.dialect) for c in cols
    ]
    sql = (
        f"INSERT INTO {_q(conn, table.name)} ({', '.join(_q(conn, c) for c in cols)})"
        f" VALUES ({', '.join('?' for _ in cols)})" + _conflict_sql(conn, cols, key_cols)
    )
    # Column-wise conversion then zip: the per-row work stays in C (this is the hot path).
    columns = [[row[c] for row in rows] for c in cols]
    for n, proc in enumerate(procs):
        if proc is not None:
            columns[n] = list(map(proc, columns[n]))
    params = list(zip(*columns, strict=True))
    conn.exec_driver_sql(sql, params)  # type: ignore[arg-type]  # driver executemany


def upsert_postgresql(
    conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]], key_cols: Sequence[str]
) -> None:
    cols = _columns(table, rows, key_cols)
    if len(rows) < COPY_THRESHOLD:
        ins = pg_insert(table)
        updates = {c: ins.excluded[c] for c in cols if c not in key_cols}
        stmt = (
            ins.on_conflict_do_update(index_elements=list(key_cols), set_=updates)
            if updates
            else ins.on_conflict_do_nothing(index_elements=list(key_cols))
        )
        conn.execute(stmt, list(rows))
        return
    _copy_merge(conn, table, rows, cols, key_cols)


def _copy_merge(
    conn: Connection,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    cols: Sequence[str],
    key_cols: Sequence[str],
) -> None:
    collist = ", ".join(_q(conn, c) for c in cols)
    target = _q(conn, table.name)
    tmp = _q(conn, f"_pendo_upsert_{table.name}")
    json_cols = {c for c in cols if isinstance(table.c[c].type, JSON)}
    # COPY takes Python values as they are: apply our own type decorators (UTC times).
    decorated = {
        n: table.c[c].type for n, c in enumerate(cols) if isinstance(table.c[c].type, TypeDecorator)
    }
    import psycopg  # only PostgreSQL stores need the driver loaded

    # Same column types as the target, no constraints: COPY is then a pure append.
    conn.exec_driver_sql(f"DROP TABLE IF EXISTS {tmp}")
    conn.exec_driver_sql(
        f"CREATE TEMP TABLE {tmp} ON COMMIT DROP AS SELECT {collist} FROM {target} WITH NO DATA"
    )
    copy_sql = f"COPY {tmp} ({collist}) FROM STDIN"
    raw = conn.connection.driver_connection
    try:
        with raw.cursor() as cur, cur.copy(copy_sql) as copy:  # type: ignore[union-attr]
            for row in rows:
                values = [
                    json.dumps(row[c]) if c in json_cols and row[c] is not None else row[c]
                    for c in cols
                ]
                for n, coltype in decorated.items():
                    values[n] = coltype.process_bind_param(values[n], conn.dialect)
                copy.write_row(values)
    except psycopg.Error as exc:  # same exception family as every other store call
        raise DBAPIError.instance(copy_sql, None, exc, psycopg.Error) from exc
    conn.exec_driver_sql(
        f"INSERT INTO {target} ({collist}) SELECT {collist} FROM {tmp}"
        + _conflict_sql(conn, cols, key_cols)
    )
    conn.exec_driver_sql(f"DROP TABLE {tmp}")
