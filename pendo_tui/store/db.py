"""Open the store (SQLite file or PostgreSQL), keep its schema current, write rows fast.

The one object the engine writes through: ``open_store(url) -> Store``. Screens that only
look read through ``open_reader(url)``: no lock, no migration, nothing created. Errors a user can
act on (unreachable server, read-only folder, store newer than the code) become
``StoreError`` naming the host or path and the fix; a malformed URL is a ``ConfigError``.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    Table,
    and_,
    create_engine,
    event,
    select,
)
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.pool import StaticPool

from pendo_tui.errors import StoreError

from . import lock as _lock
from . import schema
from .migrations import current_version, ensure_schema
from .upsert import dedupe, upsert_postgresql, upsert_sqlite
from .urls import StoreUrl, default_store_url, parse_store_url

__all__ = ["Store", "default_store_url", "open_reader", "open_store"]

SQLITE_BUSY_TIMEOUT_MS = 30_000  # a BI tool or the TUI reading must not fail a sync at once
PG_CONNECT_TIMEOUT_S = 10
UPSERT_CHUNK = 20_000  # rows per driver call: bounds the converted-parameter copy in memory

Where = ColumnElement[bool] | Mapping[str, Any]


class Store:
    """A connected store. Thread-safe (SQLAlchemy engine with a connection pool)."""

    def __init__(self, parsed: StoreUrl, engine: Engine) -> None:
        self._parsed = parsed
        self.engine = engine
        self.dialect = parsed.dialect
        # Any password masked: safe to print or log. ``engine.url`` keeps the real one.
        self.url = parsed.display
        self.display_url = parsed.display
        self.label = parsed.label
        self.location = parsed.location  # the absolute file, for "where is my data"
        self.path: Path | None = parsed.sqlite_path

    def __repr__(self) -> str:
        return f"Store({self.display_url!r})"

    # -- transactions ---------------------------------------------------------------

    @contextlib.contextmanager
    def begin(self) -> Iterator[Connection]:
        """A connection in a transaction: committed on success, rolled back on error.

        Driver-level failures (server gone, disk full, database locked past the busy
        timeout) surface as ``StoreError`` naming this store.
        """
        try:
            with self.engine.begin() as conn:
                yield conn
        except OperationalError as exc:
            raise translate_error(exc, self._parsed) from exc

    @contextlib.contextmanager
    def connect(self) -> Iterator[Connection]:
        """A connection for reads (autobegin; nothing is committed unless you commit)."""
        try:
            with self.engine.connect() as conn:
                yield conn
        except OperationalError as exc:
            raise translate_error(exc, self._parsed) from exc

    # -- writes -----------------------------------------------------------------------

    def upsert(
        self,
        conn: Connection,
        table: Table | str,
        rows: Iterable[Mapping[str, Any]],
        key_cols: Sequence[str] | None = None,
    ) -> int:
        """Insert rows, updating the non-key columns of rows whose key exists.

        ``key_cols`` defaults to the table's primary key. Rows must share the same keys.
        Returns the number of distinct rows written (duplicates in ``rows``: last wins).
        """
        tbl = _table(table)
        keys = list(key_cols) if key_cols else [c.name for c in tbl.primary_key.columns]
        if not keys:
            raise ValueError(f"upsert into {tbl.name}: no key columns and no primary key")
        unique = dedupe(rows, keys)
        write = upsert_sqlite if self.dialect == "sqlite" else upsert_postgresql
        for start in range(0, len(unique), UPSERT_CHUNK):
            write(conn, tbl, unique[start : start + UPSERT_CHUNK], keys)
        return len(unique)

    def delete_where(self, conn: Connection, table: Table | str, where: Where) -> int:
        """Delete the rows matching ``where`` (a SQLAlchemy condition or {column: value})."""
        tbl = _table(table)
        result = conn.execute(tbl.delete().where(_condition(tbl, where)))
        return int(result.rowcount or 0)

    def replace_rows(
        self,
        conn: Connection,
        table: Table | str,
        where: Where,
        rows: Iterable[Mapping[str, Any]],
    ) -> int:
        """Delete the rows matching ``where``, then write ``rows``, in the caller's transaction.

        The atomic re-sync: if anything fails before the caller's transaction commits,
        the previous rows are still there. Rows are upserted on the table's primary key,
        so a row outside ``where`` with the same key is updated rather than failing.
        Returns the number of rows written.
        """
        tbl = _table(table)
        self.delete_where(conn, tbl, where)
        if not tbl.primary_key.columns:
            materialised = [dict(r) for r in rows]
            if materialised:
                conn.execute(tbl.insert(), materialised)
            return len(materialised)
        return self.upsert(conn, tbl, rows)

    # -- locks, lifecycle -------------------------------------------------------------

    def lock(self, name: str = "run") -> contextlib.AbstractContextManager[None]:
        """Exclusive try-lock for a run on this store; ``LockHeldError`` at once if held."""
        if self.dialect == "postgresql":
            return _lock.advisory_lock(self.engine, store_label=self.label, name=name)
        if self.path is None:
            return _lock.memory_lock(self, store_label=self.label, name=name)
        return _lock.file_lock(
            _lock.lock_file_for(self.path, name), store_label=self.label, name=name
        )

    def schema_version(self) -> int:
        with self.connect() as conn:
            return int(conn.execute(select(schema.schema_info.c.version)).scalar_one())

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_store(url: str | None = None) -> Store:
    """Open (creating and migrating as needed) the store at ``url``; default SQLite file."""
    parsed = parse_store_url(url)
    engine = _sqlite_engine(parsed) if parsed.dialect == "sqlite" else _pg_engine(parsed)
    store = Store(parsed, engine)
    try:
        with engine.connect() as conn:
            # SQLite: take the write lock up front so two openers migrate one after the other.
            conn.execution_options(sqlite_begin="BEGIN IMMEDIATE")
            with conn.begin():
                ensure_schema(conn, parsed.label)
    except DBAPIError as exc:
        engine.dispose()
        raise translate_error(exc, parsed) from exc
    except BaseException:
        engine.dispose()
        raise
    return store


def open_reader(url: str | None = None) -> Store | None:
    """A read-only handle on the existing store at ``url``; ``None`` when there is none yet.

    Unlike ``open_store`` it takes no lock (SQLite: no ``BEGIN IMMEDIATE``), creates no
    file or folder and never migrates: a screen refreshing while a sync writes neither
    waits for the sync nor makes it wait (SQLite WAL readers and PostgreSQL MVCC reads
    see the last committed state). Every connection refuses writes (SQLite
    ``query_only``, PostgreSQL ``default_transaction_read_only``). A store at another
    schema version is a ``StoreError``: the next sync (or ``--check``) upgrades it.
    """
    parsed = parse_store_url(url)
    if parsed.dialect == "sqlite":
        path = parsed.sqlite_path
        if path is None or not path.is_file():
            return None  # in-memory stores live in their run; a missing file is empty
        engine = _sqlite_engine(parsed, read_only=True)
    else:
        engine = _pg_engine(parsed, read_only=True)
    try:
        with engine.connect() as conn:
            version = current_version(conn)
    except DBAPIError as exc:
        engine.dispose()
        raise translate_error(exc, parsed) from exc
    if version is None:
        engine.dispose()
        return None
    if version != schema.SCHEMA_VERSION:
        engine.dispose()
        newer = version > schema.SCHEMA_VERSION
        raise StoreError(
            f"The {parsed.label} is at schema version {version}; this pendo-tui reads "
            f"version {schema.SCHEMA_VERSION}.",
            hint="Upgrade pendo-tui (pip install -U pendo-tui)."
            if newer
            else "Run a sync (or pendo-tui --check): it upgrades the store in place.",
        )
    return Store(parsed, engine)


# -- engines ---------------------------------------------------------------------------


WAL_SWITCH_PAUSE = 0.05  # seconds between tries of a WAL switch SQLite refused at once


def _switch_to_wal(cur: Any, pause: Callable[[float], None] = time.sleep) -> None:
    """``PRAGMA journal_mode=WAL``, tried again while SQLite answers "locked", up to the
    busy timeout. On a new file two openers may each hold a shared lock and want the
    exclusive one: SQLite then refuses one of them at once, without waiting on the busy
    timeout (its deadlock rule), which failed a fresh-clone CI run of 4 concurrent first
    opens. Once the file is in WAL mode the pragma takes no exclusive lock."""
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            cur.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() >= deadline:
                raise
            pause(WAL_SWITCH_PAUSE)


def _sqlite_engine(parsed: StoreUrl, *, read_only: bool = False) -> Engine:
    path = parsed.sqlite_path
    if path is None:
        # One shared connection: every new connection to :memory: would be a new database.
        engine = create_engine(
            "sqlite://", poolclass=StaticPool, connect_args={"check_same_thread": False}
        )
    else:
        if not read_only:
            _prepare_sqlite_file(path)
        engine = create_engine(parsed.url.set(database=str(path)))

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event issue BEGIN itself (the pysqlite driver would
        # otherwise defer it and run DDL outside the transaction).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        try:
            # First: switching to WAL takes an exclusive lock, and without the timeout set
            # it gives up after the driver's 5 s default while another process migrates
            # (seen as a flaky "database is locked" with 4 concurrent first opens).
            cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            if read_only:  # a reader never changes the file, not even its journal mode
                cur.execute("PRAGMA query_only=ON")
            elif path is not None:
                _switch_to_wal(cur)  # readers never block the sync
                # WAL + NORMAL: a commit survives a process crash or SIGKILL (it is in the
                # WAL file, which the OS keeps); only a power loss may drop the last ones.
                # Spares one fsync per commit (the push engine commits per event group).
                cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
        finally:
            cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        conn.exec_driver_sql(conn.get_execution_options().get("sqlite_begin", "BEGIN"))

    return engine


def _pg_engine(parsed: StoreUrl, *, read_only: bool = False) -> Engine:
    connect_args: dict[str, Any] = {
        "connect_timeout": PG_CONNECT_TIMEOUT_S,
        "application_name": "pendo-tui",
    }
    if read_only:
        connect_args["options"] = "-c default_transaction_read_only=on"
    return create_engine(
        parsed.url,
        pool_pre_ping=True,  # a long-lived TUI survives a server restart
        connect_args=connect_args,
    )


def _prepare_sqlite_file(path: Path) -> None:
    """Create the store's folder and prove we can write there, with errors naming the path."""
    if path.is_dir():
        raise StoreError(
            f"The SQLite store path {path} is a folder, not a file.",
            hint=f"Set [store] url to a file inside it, e.g. sqlite:///{path / 'pendo.db'}",
        )
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(
            f"Cannot create the folder {path.parent} for the SQLite store: {exc.strerror}.",
            hint="Create it yourself, or set [store] url to a writable location, "
            f"e.g. {default_store_url()}",
        ) from exc
    # SQLite writes its -wal/-shm files beside the database: the folder itself must be
    # writable, even when the database file is. Probe it with a real file.
    try:
        fd, probe = tempfile.mkstemp(prefix=".pendo-tui-probe-", dir=path.parent)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise StoreError(
            f"The folder {path.parent} of the SQLite store {path.name} is not writable "
            f"({exc.strerror}).",
            hint=f"Make it writable for this user (chmod u+w {path.parent}), or set "
            f"[store] url to a writable location, e.g. {default_store_url()}",
        ) from exc
    # An existing read-only file would open fine and fail at the first write, mid-run.
    if path.exists():
        try:
            with path.open("r+b"):
                pass
        except OSError as exc:
            raise StoreError(
                f"The SQLite store {path} is read-only ({exc.strerror}).",
                hint=f"Make it writable for this user (chmod u+w {path}), or set [store] url "
                "to another file.",
            ) from exc


# -- helpers ---------------------------------------------------------------------------


def _table(table: Table | str) -> Table:
    if isinstance(table, Table):
        return table
    try:
        return schema.metadata.tables[table]
    except KeyError:
        raise ValueError(f"unknown store table {table!r}") from None


def _condition(table: Table, where: Where) -> ColumnElement[bool]:
    if isinstance(where, Mapping):
        if not where:
            raise ValueError("delete_where needs a condition; refusing to delete every row")
        return and_(*(table.c[col] == value for col, value in where.items()))
    return where


def translate_error(exc: DBAPIError, parsed: StoreUrl) -> StoreError:
    """A driver error as a ``StoreError`` a user can act on (host or path named)."""
    detail = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
    low = str(exc.orig).lower()
    if parsed.dialect == "postgresql":
        where = parsed.pg_host_port
        db = parsed.url.database
        if "password authentication failed" in low or "no password supplied" in low:
            return StoreError(
                f"PostgreSQL at {where} refused the login of user {parsed.url.username!r}.",
                hint="Check the user and password in [store] url.",
            )
        if "does not exist" in low and "database" in low:
            return StoreError(
                f"The database {db!r} does not exist on the PostgreSQL server at {where}.",
                hint=f"Create it (createdb -h {parsed.url.host or 'localhost'} "
                f"-p {parsed.url.port or 5432} {db}) or fix [store] url.",
            )
        if exc.connection_invalidated or "connection" in low or "timeout" in low:
            return StoreError(
                f"Cannot reach the PostgreSQL store at {where}: {detail}",
                hint=f"Check that PostgreSQL is running and accepts TCP connections on {where}"
                " (host, port, firewall), or fix [store] url in the config.",
            )
        return StoreError(f"The {parsed.label} failed: {detail}", hint="See the server's log.")
    path = parsed.sqlite_path
    if "readonly" in low or "read-only" in low:
        return StoreError(
            f"The SQLite store {path} is read-only: {detail}.",
            hint=f"Make {path} and its folder writable for this user, or set [store] url "
            "to a writable location.",
        )
    if "locked" in low or "busy" in low:
        return StoreError(
            f"The SQLite store {path} stayed locked by another program for "
            f"{SQLITE_BUSY_TIMEOUT_MS // 1000} s.",
            hint="Close long transactions in other tools reading it, then retry.",
        )
    if "not a database" in low or "malformed" in low:
        return StoreError(
            f"The file {path} is not a usable SQLite database: {detail}.",
            hint="Point [store] url at another file, or move this one away to start afresh.",
        )
    return StoreError(
        f"The SQLite store {path or '(in memory)'} failed: {detail}.",
        hint="Check free disk space and that the file and its folder are writable.",
    )
