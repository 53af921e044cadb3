"""One run at a time per store.

SQLite: ``fcntl.flock`` on ``<db>.lock`` beside the database's real file: symlinks, ``./``,
``..`` and relative spellings all resolve to one path, so they all meet the same lock. (The
lock is not on the database file itself: SQLite's own POSIX locks are dropped whenever any
descriptor of the file closes in the process.) The kernel drops the lock when the holder dies,
so a crashed run never leaves a stale lock behind. PostgreSQL: a session-level advisory
lock held on a dedicated connection for the run; it also dies with its session, and it
covers every machine that points at the same database, not only this one. Its key depends
only on the lock name and PostgreSQL scopes advisory locks to the database, so every
spelling of the URL (host alias, ``postgres://``, extra options) meets the same lock.
Both are try-locks: a second run fails at once with ``LockHeldError`` instead of queueing.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine, text

from pendo_tui.errors import LockHeldError, StoreError

_HOLDER_INFO_LIMIT = 200  # bytes of holder info we read back for the message


def lock_key(name: str) -> int:
    """A stable signed 64-bit advisory-lock key for a lock name (same in every process)."""
    digest = hashlib.blake2b(f"pendo-tui:{name}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def lock_file_for(db_path: Path, name: str = "run") -> Path:
    """The lock file of a SQLite store: beside the database's real file (symlinks and
    relative spellings resolved), so one store has one lock however its URL names it."""
    real = db_path.expanduser().resolve()
    suffix = ".lock" if name == "run" else f".{name}.lock"
    return real.with_name(real.name + suffix)


def _held_error(store_label: str, name: str, holder: str | None, how: str) -> LockHeldError:
    who = f" (held by {holder})" if holder else ""
    return LockHeldError(
        f"Another run is in progress on the {store_label}{who}; pendo-tui lock {name!r}.",
        hint=f"Wait for that run to finish, or stop it. {how}",
    )


@contextlib.contextmanager
def file_lock(lock_path: Path, *, store_label: str, name: str) -> Iterator[None]:
    """Exclusive, non-blocking ``flock`` on ``lock_path`` for the duration of the block."""
    try:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise StoreError(
            f"Cannot create the lock file {lock_path}: {exc.strerror}.",
            hint="The folder of the SQLite store must be writable by the user running pendo-tui.",
        ) from exc
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, _HOLDER_INFO_LIMIT, 0).decode(errors="replace").strip()
            raise _held_error(
                store_label,
                name,
                holder or None,
                f"The lock is released when that process exits (lock file {lock_path}).",
            ) from None
        # Who holds it, for the message a second run prints. Informational only.
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()} since {datetime.now(UTC):%Y-%m-%d %H:%M:%SZ}".encode(), 0)
        try:
            yield
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


_memory_locks: dict[tuple[int, str], threading.Lock] = {}
_memory_locks_guard = threading.Lock()


@contextlib.contextmanager
def memory_lock(owner: object, *, store_label: str, name: str) -> Iterator[None]:
    """In-process try-lock for an in-memory store (no file to lock; one process sees it)."""
    with _memory_locks_guard:
        lock = _memory_locks.setdefault((id(owner), name), threading.Lock())
    if not lock.acquire(blocking=False):
        raise _held_error(store_label, name, f"pid {os.getpid()}", "")
    try:
        yield
    finally:
        lock.release()


@contextlib.contextmanager
def advisory_lock(engine: Engine, *, store_label: str, name: str) -> Iterator[None]:
    """Session advisory lock on a connection held (in autocommit) for the whole block."""
    key = lock_key(name)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        got = conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar()
        if not got:
            holder = conn.execute(
                text(
                    "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted"
                    " AND database = (SELECT oid FROM pg_database WHERE datname ="
                    " current_database()) AND ((classid::bigint << 32) | objid::bigint) = :k"
                    " LIMIT 1"
                ),
                {"k": key},
            ).scalar()
            raise _held_error(
                store_label,
                name,
                f"PostgreSQL backend pid {holder}" if holder else None,
                "The lock is released when that run's database session ends.",
            )
        try:
            yield
        finally:
            with contextlib.suppress(Exception):  # session end releases it anyway
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
