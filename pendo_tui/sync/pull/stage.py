"""Staging tables: fetched rows are built beside the live data, then applied in one go.

Every mapping's rows go first into connection-local temporary tables, in batches, so
memory stays flat however many rows Pendo returns. Only after every fetch of a batch of
mappings succeeded are they applied to ``activities``/``metrics`` in ONE transaction —
a failure at any point leaves the previous data untouched (Re-sync all, docs/pull.md), and a
re-read of the same days never duplicates (upsert on natural keys).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from datetime import date
from itertools import chain
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Date,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    delete,
    func,
    literal,
    select,
    true,
)
from sqlalchemy.dialects import postgresql, sqlite

from pendo_tui.store import schema

BATCH_ROWS = 5_000

_meta = MetaData()

# One row per (visitor, app, day) as fetched; `object_id`/`metric`/`series_app` say which
# daily metric the row's events add to (NULL object_id: activity only). NULL end_user_id:
# a visitor with no end user whose events still count on its company/asset/project
# (metric only, no activity — docs/pull.md, "Where usage lands").
stage_activity = Table(
    "pendo_tui_stage_activity",
    _meta,
    Column("mapping", String(256), nullable=False),
    Column("end_user_id", Integer),
    Column("app_id", String(64), nullable=False),
    Column("day", Date, nullable=False),
    Column("company_external_id", String(512)),
    Column("events", BigInteger, nullable=False),
    Column("minutes", BigInteger, nullable=False),
    Column("object_id", String(512)),
    Column("metric", String(512)),
    Column("series_app", String(64), nullable=False),
    prefixes=["TEMPORARY"],
)

# Metric values that do not come from activities (report, aggregation, PES); summed per key.
stage_metric = Table(
    "pendo_tui_stage_metric",
    _meta,
    Column("mapping", String(256), nullable=False),
    Column("metric", String(512), nullable=False),
    Column("object_type", String(16), nullable=False),
    Column("object_id", String(512), nullable=False),
    Column("day", Date, nullable=False),
    Column("app_id", String(64), nullable=False),
    Column("value", Float, nullable=False),
    prefixes=["TEMPORARY"],
)


# Provisional (negative) end-user id → the id the store gave the new user. Joined in at
# apply time, so the staged rows are never rewritten.
stage_users = Table(
    "pendo_tui_stage_users",
    _meta,
    Column("old", Integer, primary_key=True),
    Column("new", Integer, nullable=False),
    prefixes=["TEMPORARY"],
)
_STAGES = (stage_activity, stage_metric, stage_users)


def _insert(conn: Connection, table: Table) -> Any:
    dialect = sqlite if conn.dialect.name == "sqlite" else postgresql
    return dialect.insert(table)


def create_stage(conn: Connection) -> None:
    for table in _STAGES:
        table.drop(conn, checkfirst=True)
        table.create(conn)
    conn.commit()


def drop_stage(conn: Connection) -> None:
    for table in _STAGES:
        table.drop(conn, checkfirst=True)
    conn.commit()


def index_stage(conn: Connection) -> None:
    """Once every fetch is staged, before the applies: an index on the mapping, so each
    mapping's apply reads its own rows instead of every staged row (N mappings would read
    the table N times over), and PostgreSQL's statistics (temp tables have none, and it
    would plan the big GROUP BY blind)."""
    conn.exec_driver_sql(
        f"CREATE INDEX IF NOT EXISTS ix_{stage_activity.name} ON {stage_activity.name} (mapping)"
    )
    if conn.dialect.name == "postgresql":
        for table in _STAGES:
            conn.exec_driver_sql(f"ANALYZE {table.name}")
    conn.commit()


class StageWriter:
    """Buffers staged rows and writes them in batches of ``BATCH_ROWS``."""

    def __init__(self, conn: Connection, table: Table, batch_rows: int = BATCH_ROWS) -> None:
        self.conn = conn
        self.table = table
        self.batch_rows = batch_rows
        self.columns = [c.name for c in table.columns]
        self.buffer: list[tuple[Any, ...]] = []
        self.written = 0
        self._iso_dates = conn.dialect.name == "sqlite"  # SQLAlchemy's Date format there

    def day_value(self, day: date) -> Any:
        """How a day is passed to the driver (ISO text for SQLite, a date otherwise)."""
        return day.isoformat() if self._iso_dates else day

    def add(self, row: dict[str, Any]) -> None:
        row = {**row, "day": self.day_value(row["day"])}
        self.buffer.append(tuple(row[c] for c in self.columns))
        self.flush_if_full()

    def flush_if_full(self) -> None:
        """Write the buffer once it holds ``batch_rows``. The usage hot path appends to
        ``buffer`` (always the same list) itself and calls this once per fetched batch, so
        there the buffer passes ``batch_rows`` by at most a batch."""
        if len(self.buffer) >= self.batch_rows:
            self.flush()

    def flush(self) -> None:
        if self.buffer:
            _bulk_insert(self.conn, self.table, self.buffer)
            self.written += len(self.buffer)
            self.buffer.clear()
            self.conn.commit()  # temp tables only: keeps no lock on the live tables

    def discard_days(self, mapping: str, first: date, last: date) -> None:
        """Forget what a failed attempt staged for these days (before a retry)."""
        self.buffer.clear()
        self.conn.execute(
            delete(self.table).where(
                self.table.c.mapping == mapping,
                self.table.c.day >= first,
                self.table.c.day <= last,
            )
        )
        self.conn.commit()


# Rows per SQLite INSERT statement (10 columns: 5,000 parameters), fewer where the linked
# SQLite allows fewer parameters (999 before 3.32). One multi-row statement instead of an
# executemany of single rows: SQLite's driver lets go of the GIL around every statement it
# steps, and each time the fetch threads (parsing Pendo's JSON) may keep it for up to the
# interpreter's switch interval — per row, that made staging several times slower than
# the insert itself.
SQLITE_ROWS_PER_INSERT = 500


def _bulk_insert(conn: Connection, table: Table, rows: list[tuple[Any, ...]]) -> None:
    """Driver-level bulk insert: SQLAlchemy's per-row parameter handling costs more than
    the insert itself at a million rows. PostgreSQL gets COPY, SQLite multi-row INSERTs."""
    cols = [c.name for c in table.columns]
    raw = conn.connection.driver_connection
    if conn.dialect.name == "postgresql":
        sql = f"COPY {table.name} ({', '.join(cols)}) FROM STDIN"
        with raw.cursor() as cur, cur.copy(sql) as copy:  # type: ignore[union-attr]
            for row in rows:
                copy.write_row(row)
        return
    one = "(" + ", ".join("?" * len(cols)) + ")"
    head = f"INSERT INTO {table.name} ({', '.join(cols)}) VALUES "
    limit = raw.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)  # type: ignore[union-attr]
    step = max(1, min(SQLITE_ROWS_PER_INSERT, limit // len(cols)))
    cur = raw.cursor()  # type: ignore[union-attr]
    try:
        for start in range(0, len(rows), step):
            part = rows[start : start + step]
            cur.execute(head + ", ".join([one] * len(part)), list(chain.from_iterable(part)))
    finally:
        cur.close()


def reassign_users(conn: Connection, mapping_ids: dict[int, int]) -> None:
    """Record the real ids of users created from provisional (negative) ids."""
    if mapping_ids:
        rows = [{"old": o, "new": n} for o, n in mapping_ids.items()]
        conn.execute(stage_users.insert(), rows)


def _user_id() -> Any:
    return func.coalesce(stage_users.c.new, stage_activity.c.end_user_id)


def _with_users() -> Any:
    return stage_activity.outerjoin(stage_users, stage_users.c.old == stage_activity.c.end_user_id)


def delete_mapping_data(conn: Connection, mappings: Sequence[str]) -> None:
    """Re-sync all: the mappings' old rows go, in the same transaction as the new ones."""
    conn.execute(delete(schema.activities).where(schema.activities.c.mapping.in_(mappings)))
    conn.execute(delete(schema.metrics).where(schema.metrics.c.mapping.in_(mappings)))


def apply_activities(
    conn: Connection, mapping: str, object_type: str, passive: bool, merge: bool = True
) -> tuple[int, int]:
    """Upsert staged activities and the daily metric summed per target object.

    ``merge`` = several staged rows may share an activity key (two visitors matched to
    one end user); otherwise the server-side grouping made keys unique and the costly
    GROUP BY over every staged row is skipped. Returns (activities, metric values) written.
    """
    s = stage_activity.c
    uid = _user_id()
    if merge:
        act = (
            select(
                s.mapping,
                uid,
                s.app_id,
                s.day,
                func.max(s.company_external_id),
                func.sum(s.events),
                func.sum(s.minutes),
                literal(passive),
            )
            .select_from(_with_users())
            .where(s.mapping == mapping, s.end_user_id.is_not(None))
            .group_by(s.mapping, uid, s.app_id, s.day)
            .order_by(s.mapping, uid, s.app_id, s.day)
        )
    else:
        act = (
            select(
                s.mapping,
                uid,
                s.app_id,
                s.day,
                s.company_external_id,
                s.events,
                s.minutes,
                literal(passive),
            )
            .select_from(_with_users())
            .where(s.mapping == mapping, s.end_user_id.is_not(None), true())
            .order_by(s.mapping, uid, s.app_id, s.day)
        )
    cols = ["mapping", "end_user_id", "app_id", "day", "company_external_id"]
    cols += ["events", "minutes", "passive"]
    ins = _insert(conn, schema.activities).from_select(cols, act)
    ins = ins.on_conflict_do_update(
        index_elements=["mapping", "end_user_id", "app_id", "day"],
        set_={c: getattr(ins.excluded, c) for c in cols[4:]},
    )
    n = _rows(conn, conn.execute(ins, execution_options=_ROWCOUNT), act)

    met = (
        select(
            s.metric,
            literal(object_type),
            s.object_id,
            s.day,
            s.series_app,
            func.sum(s.events),
            literal(mapping),
        )
        .where(s.mapping == mapping, s.object_id.is_not(None), true())
        .group_by(s.metric, s.object_id, s.day, s.series_app)
    )
    return n, _upsert_metrics(conn, met)


def apply_metrics(conn: Connection, mapping: str) -> int:
    """Upsert staged direct metric values, summed per metric/object/day/app."""
    s = stage_metric.c
    met = (
        select(s.metric, s.object_type, s.object_id, s.day, s.app_id, func.sum(s.value), s.mapping)
        .where(s.mapping == mapping, true())
        .group_by(s.mapping, s.metric, s.object_type, s.object_id, s.day, s.app_id)
    )
    return _upsert_metrics(conn, met)


def _upsert_metrics(conn: Connection, sel: Any) -> int:
    cols = ["metric", "object_type", "object_id", "day", "app_id", "value", "mapping"]
    ins = _insert(conn, schema.metrics).from_select(cols, sel)
    ins = ins.on_conflict_do_update(
        index_elements=["metric", "object_type", "object_id", "day", "app_id"],
        set_={"value": ins.excluded.value, "mapping": ins.excluded.mapping},
    )
    return _rows(conn, conn.execute(ins, execution_options=_ROWCOUNT), sel)


# SQLAlchemy reports -1 rows for INSERT .. SELECT unless asked to keep the driver's count
# (psycopg knows it); without it every apply counted its rows again with a second query.
_ROWCOUNT = {"preserve_rowcount": True}


def _rows(conn: Connection, result: Any, sel: Any) -> int:
    """Rows an INSERT .. SELECT wrote; counted again only if the driver cannot say."""
    if result.rowcount is not None and result.rowcount >= 0:
        return int(result.rowcount)
    return int(conn.execute(select(func.count()).select_from(sel.subquery())).scalar_one())


def last_days(conn: Connection, mappings: Sequence[str]) -> tuple[dict[int, date], dict[str, date]]:
    """Latest active day per end user and per company in these mappings' staged rows."""
    s = stage_activity.c
    uid = _user_id()
    users = conn.execute(
        select(uid, func.max(s.day))
        .select_from(_with_users())
        .where(s.mapping.in_(mappings), s.end_user_id.is_not(None))
        .group_by(uid)
    )
    comps = conn.execute(
        select(s.company_external_id, func.max(s.day))
        .where(s.mapping.in_(mappings), s.company_external_id.is_not(None))
        .group_by(s.company_external_id)
    )
    return dict(users.all()), dict(comps.all())


def clear_mapping(conn: Connection, mappings: Iterable[str]) -> None:
    names = list(mappings)
    for table in (stage_activity, stage_metric):
        conn.execute(delete(table).where(table.c.mapping.in_(names)))
