"""Staging tables: fetched rows are built beside the live data, then applied in one go.

Every mapping's rows go first into connection-local temporary tables, in batches, so
memory stays flat however many rows Pendo returns. Only after every fetch of a batch of
mappings succeeded are they applied to ``activities``/``metrics`` in ONE transaction —
a failure at any point leaves the previous data untouched (Re-sync all, docs/pull.md), and a
re-read of the same days never duplicates (upsert on natural keys).
"""

from __future__ import annotations

import queue
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date
from itertools import chain
from operator import itemgetter
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
    literal_column,
    select,
    true,
)
from sqlalchemy.dialects import postgresql, sqlite

from pendo_tui.store import schema

BATCH_ROWS = 5_000
_MAPPING = itemgetter(0)

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


def release_stage(conn: Connection) -> None:
    """The batch is over: its staging tables go. On SQLite they live in the connection's
    own temporary file, which closing the connection deletes whole, where DROP TABLE frees
    a million staged rows page by page (0.2-0.4 s, bench/RESULTS.md "Rows cut and parsed
    by orjson"): the connection is closed instead of going back to the pool."""
    if conn.dialect.name == "sqlite":
        conn.invalidate()
    else:
        drop_stage(conn)


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


class Inserter:
    """Writes a batch's staged rows. On PostgreSQL one thread does it, so the COPY (psycopg
    lets go of the GIL while it sends) overlaps the parsing and routing of the next rows on
    the store thread: the calls of a 10-mapping, 1M-row backfill took 12.9-13.6 s against
    15.1-16.9 s inline (bench/RESULTS.md, "Key-ordered applies"). On SQLite the store
    thread writes inline: a writing thread measured no faster, with ijson parsing (its
    driver waited for the GIL behind the parsing threads after every statement) and again
    with orjson's (0.2-0.6 s slower; bench/RESULTS.md, "Rows cut and parsed by orjson").

    While the thread may be writing, nothing else uses the connection: every
    ``StageWriter`` of the connection hands its batches here, and ``wait`` (before any
    other use of the connection) returns once the batches handed over are written — or
    raises what failed there. At most one batch waits while another is written: memory
    stays bounded.
    """

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.background = conn.dialect.name == "postgresql"
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=1)
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    def submit(self, table: Table, rows: list[tuple[Any, ...]]) -> None:
        self._raise()
        if not self.background:
            _write(self.conn, table, rows)
            return
        if self._thread is None:
            self._thread = threading.Thread(target=self._work, name="pull stage", daemon=True)
            self._thread.start()
        self._queue.put((table, rows))

    def wait(self) -> None:
        """Block until every handed-over batch is written; raise what failed there."""
        if self._thread is not None:
            self._queue.join()
        self._raise()

    def close(self) -> None:
        """Stop the thread (after the batches already handed over); nothing is raised."""
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join()
            self._thread = None

    def _raise(self) -> None:
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            try:
                if item is None:
                    return
                if self._error is None:  # after a failure, later batches are dropped
                    _write(self.conn, *item)
            except BaseException as exc:  # handed to the store thread by wait/submit
                self._error = exc
            finally:
                self._queue.task_done()


def _write(conn: Connection, table: Table, rows: list[tuple[Any, ...]]) -> None:
    """The staging writes of a batch share one transaction, committed by the next step
    (``index_stage``): temporary tables take no lock on the live ones, and a commit per
    batch cost SQLite 5 ms each (1 s per million rows). The insert goes through the driver,
    so SQLAlchemy's transaction is opened first: the caller's rollback after a failure
    then reaches the driver (PostgreSQL refuses every later statement until it does)."""
    if not conn.in_transaction():
        conn.begin()
    _bulk_insert(conn, table, rows)


class StageWriter:
    """Buffers staged rows and hands them to the ``Inserter`` in batches of ``BATCH_ROWS``
    (rows of one mapping together: each mapping's apply then reads fewer pages)."""

    def __init__(self, inserter: Inserter, table: Table, batch_rows: int = BATCH_ROWS) -> None:
        self.inserter = inserter
        self.conn = inserter.conn
        self.table = table
        self.batch_rows = batch_rows
        self.columns = [c.name for c in table.columns]
        self.buffer: list[tuple[Any, ...]] = []
        self.written = 0
        self._iso_dates = self.conn.dialect.name == "sqlite"  # SQLAlchemy's Date format

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
        """Hand the buffer over to be written (``Inserter.wait``: until it is)."""
        if self.buffer:
            rows = sorted(self.buffer, key=_MAPPING)  # a copy: the buffer list is shared
            self.buffer.clear()
            self.written += len(rows)
            self.inserter.submit(self.table, rows)

    def discard_days(self, mapping: str, first: date, last: date) -> None:
        """Forget what a failed attempt staged for these days (before a retry)."""
        self.buffer.clear()
        self.inserter.wait()
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


# An apply adding at least this share of the rows a table holds rebuilds the table's
# secondary indexes on SQLite instead of updating them row by row (``rebuilt_indexes``).
REBUILD_SHARE = 0.5


@contextmanager
def rebuilt_indexes(conn: Connection, incoming: dict[Table, int]) -> Iterator[None]:
    """SQLite, large applies: the secondary indexes of ``activities`` (day, company) and
    ``metrics`` (object, mapping) are dropped before the writes and built again after
    them, in the same transaction.

    Rows reach those indexes in random order, and SQLite updating them one row at a time
    tripled the cost of inserting a million activities (5.4 s against 1.3 s with the key
    alone, then 1.1 s to build both indexes), and made each mapping's metric insert slower
    than the one before as the table grew (bench/RESULTS.md, "Key-ordered applies").
    Only for a table whose ``incoming`` rows (an estimate) are at least
    ``REBUILD_SHARE`` of what it holds (a backfill, a Re-sync all): a daily sync of a few
    rows into a large table keeps the indexes. Readers keep their snapshot meanwhile (WAL);
    on failure the rollback restores the indexes. PostgreSQL is left alone: dropping an
    index there locks readers out until commit."""
    rebuilt: list[Any] = []
    if conn.dialect.name == "sqlite":
        for table, rows in incoming.items():
            if rows > 0 and table.indexes:
                # max(rowid) is read from the B-tree's end: an estimate (never under)
                held = conn.execute(select(func.max(literal_column("rowid"))).select_from(table))
                if rows >= REBUILD_SHARE * (held.scalar() or 0):
                    rebuilt += sorted(table.indexes, key=lambda ix: str(ix.name))
    for index in rebuilt:
        index.drop(conn, checkfirst=True)
    yield
    for index in rebuilt:
        index.create(conn, checkfirst=True)


def delete_mapping_data(conn: Connection, mappings: Sequence[str]) -> None:
    """Re-sync all: the mappings' old rows go, in the same transaction as the new ones."""
    conn.execute(delete(schema.activities).where(schema.activities.c.mapping.in_(mappings)))
    conn.execute(delete(schema.metrics).where(schema.metrics.c.mapping.in_(mappings)))


def apply_activities(
    conn: Connection,
    mapping: str,
    object_type: str,
    passive: bool,
    merge: bool = True,
    fresh: bool = False,
) -> tuple[int, int]:
    """Upsert staged activities and the daily metric summed per target object.

    ``merge`` = several staged rows may share an activity key (two visitors matched to
    one end user); otherwise the server-side grouping made keys unique and the costly
    GROUP BY over every staged row is skipped. ``fresh`` = the mapping holds no activity on
    the staged days (``no_activities_between``): the activities are inserted without an
    ON CONFLICT clause. Returns (activities, metric values) written.
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
    if not fresh:
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
        .order_by(s.metric, s.object_id, s.day, s.series_app)
    )
    return n, _upsert_metrics(conn, met)


def no_activities_between(conn: Connection, mapping: str, first: date, last: date) -> bool:
    """True when ``mapping`` holds no activity from ``first`` to ``last`` (a backfill,
    new days, a Re-sync all after its delete): staged keys are unique (grouped by Pendo, or
    by the apply when visitors merge), so nothing there can conflict.

    PostgreSQL only: its ON CONFLICT costs a speculative insertion per row, and a plain
    INSERT of 1M activities took 5.5 s against 7.5 s (bench/RESULTS.md, "Rows cut and
    parsed by orjson"); SQLite's upsert costs what its insert does (1.55-1.58 s against
    1.56-1.72 s), so it is not asked."""
    a = schema.activities.c
    found = conn.execute(
        select(literal(1)).where(a.mapping == mapping, a.day >= first, a.day <= last).limit(1)
    ).first()
    return found is None


def apply_metrics(conn: Connection, mapping: str) -> int:
    """Upsert staged direct metric values, summed per metric/object/day/app."""
    s = stage_metric.c
    met = (
        select(s.metric, s.object_type, s.object_id, s.day, s.app_id, func.sum(s.value), s.mapping)
        .where(s.mapping == mapping, true())
        .group_by(s.mapping, s.metric, s.object_type, s.object_id, s.day, s.app_id)
        .order_by(s.metric, s.object_type, s.object_id, s.day, s.app_id)
    )
    return _upsert_metrics(conn, met)


def _upsert_metrics(conn: Connection, sel: Any) -> int:
    """``sel`` is ordered like the metrics key: PostgreSQL's hash aggregate hands rows out in
    random order, and inserting them so into the key's B-tree took 1.4 s per 100k rows
    against 0.5 s in key order (EXPLAIN ANALYZE, bench/RESULTS.md "Key-ordered applies")."""
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
