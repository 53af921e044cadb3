"""A push sync's memory, in the store: what each primary key last sent, and its fate.

``push_state`` holds one row per (sync, key): the hash of the values last delivered and a
status — ``in_flight`` (an event whose track call may or may not have reached Pendo),
``delivered``, ``missing`` (Pendo has no such record) or ``rejected``. ``push_rejects``
keeps each run's rejected rows with Pendo's error.

State is loaded into a dict (key → (hash, status)) at the start of a sync: about 150 bytes
per key, so a 1M-row model needs ~150 MB. Beyond that, chunked lookups would be the next step.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, NamedTuple

from sqlalchemy import Connection, delete, select

from pendo_tui.store import schema
from pendo_tui.sync.ports import StoreApi
from pendo_tui.sync.push.keys import state_key

IN_FLIGHT = "in_flight"
DELIVERED = "delivered"
MISSING = "missing"
REJECTED = "rejected"

# Rows per statement when writing state, so one huge batch never builds a giant statement.
WRITE_CHUNK = 500
# SQLite: rows per multi-row INSERT (6 parameters each: under SQLite's oldest limit of 999).
SQLITE_ROWS_PER_STATEMENT = 150
_STATE_COLS = ("sync", "key", "value_hash", "status", "delivered_at", "run_id")


# Which state wins when two stored spellings of one key merge (lower wins).
_RANK = {DELIVERED: 0, IN_FLIGHT: 1, MISSING: 2, REJECTED: 3}


class KeyState(NamedTuple):
    value_hash: str | None
    status: str


class StateUpdate(NamedTuple):
    key: str
    value_hash: str | None
    status: str


def value_hash(values: Any) -> str:
    """Stable hash of a row's mapped values (key order and JSON spelling do not matter)."""
    blob = json.dumps(values, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.blake2b(blob.encode(), digest_size=16).hexdigest()


class PushState:
    """Reads and writes one sync's rows of ``push_state`` / ``push_rejects``."""

    def __init__(self, store: StoreApi, sync: str, run_id: int | None) -> None:
        self.store = store
        self.sync = sync
        self.run_id = run_id

    def load(self) -> dict[str, KeyState]:
        """Key → state, keys in the canonical form of ``keys.canonical_key``. Rows stored
        by earlier versions under another spelling of a key are remembered in
        ``self.respelled`` (``migrate`` rewrites them); two spellings of one key merge,
        the most delivered status winning."""
        t = schema.push_state
        out: dict[str, KeyState] = {}
        self.respelled: list[str] = []
        with self.store.engine.connect() as conn:
            result = conn.execution_options(stream_results=True, yield_per=5_000).execute(
                select(t.c.key, t.c.value_hash, t.c.status).where(t.c.sync == self.sync)
            )
            statuses = {s: s for s in (IN_FLIGHT, DELIVERED, MISSING, REJECTED)}
            for stored, h, status in result:
                key = state_key(stored)
                # One shared string per status instead of one per row: ~60 bytes a key.
                st = KeyState(h, statuses.get(status, status))
                if key != stored:
                    self.respelled.append(stored)
                    other = out.get(key)
                    if other is not None and _RANK.get(other.status, 9) <= _RANK.get(status, 9):
                        continue
                out[key] = st
        return out

    def migrate(self, known: dict[str, KeyState]) -> None:
        """Store the keys ``load`` found under an old spelling in their canonical form."""
        old = getattr(self, "respelled", [])
        if not old:
            return
        fixed = {state_key(k) for k in old}
        with self.store.begin() as conn:
            self.forget(conn, old)
            self.write(conn, [StateUpdate(k, known[k].value_hash, known[k].status) for k in fixed])
        self.respelled = []

    def write(
        self,
        conn: Connection,
        updates: Iterable[StateUpdate],
        *,
        delivered_at: datetime | None = None,
    ) -> None:
        now = delivered_at or datetime.now(UTC)
        rows = [
            {
                "sync": self.sync,
                "key": u.key,
                "value_hash": u.value_hash,
                "status": u.status,
                "delivered_at": now if u.status == DELIVERED else None,
                "run_id": self.run_id,
            }
            for u in updates
        ]
        if self.store.dialect == "sqlite":
            for i in range(0, len(rows), SQLITE_ROWS_PER_STATEMENT):
                _sqlite_upsert_one_statement(conn, rows[i : i + SQLITE_ROWS_PER_STATEMENT])
            return
        for i in range(0, len(rows), WRITE_CHUNK):
            self.store.upsert(conn, schema.push_state, rows[i : i + WRITE_CHUNK], ["sync", "key"])

    def forget(self, conn: Connection, keys: list[str]) -> None:
        """Drop keys: their send failed for sure (or their record was cleared)."""
        t = schema.push_state
        for i in range(0, len(keys), WRITE_CHUNK):
            conn.execute(
                delete(t).where(t.c.sync == self.sync, t.c.key.in_(keys[i : i + WRITE_CHUNK]))
            )

    def reject(self, conn: Connection, rejects: list[tuple[str, str]]) -> None:
        """Record rejected rows (key, error) for this run."""
        rows = [
            {"run_id": self.run_id or 0, "sync": self.sync, "key": k, "error": e}
            for k, e in rejects
        ]
        for i in range(0, len(rows), WRITE_CHUNK):
            self.store.upsert(
                conn, schema.push_rejects, rows[i : i + WRITE_CHUNK], ["run_id", "sync", "key"]
            )


def _sqlite_upsert_one_statement(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """``Store.upsert`` of push_state rows as ONE multi-row statement (same values and
    conflict rule; a repeated key: the last row wins, as there).

    The events pusher writes state on its sending thread between track calls. The SQLite
    driver releases the GIL for every row of an ``executemany``, and with 32 HTTP threads
    each release costs a wait to get it back: one statement is one release.
    """
    t = schema.push_state
    procs = [t.c[c].type.bind_processor(conn.dialect) for c in _STATE_COLS]
    params: list[Any] = []
    for row in rows:
        for col, proc in zip(_STATE_COLS, procs, strict=True):
            value = row[col]
            params.append(proc(value) if proc is not None else value)
    one = "(" + ", ".join("?" * len(_STATE_COLS)) + ")"
    updates = ", ".join(f"{c} = excluded.{c}" for c in _STATE_COLS[2:])
    conn.exec_driver_sql(
        f"INSERT INTO push_state ({', '.join(_STATE_COLS)}) VALUES {', '.join([one] * len(rows))}"
        f" ON CONFLICT (sync, key) DO UPDATE SET {updates}",
        tuple(params),
    )
