"""Plumbing shared by the events and objects pushers: one sync's context and value helpers."""

from __future__ import annotations

import base64
import datetime as dt
import math
import threading
import time
import uuid
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from pendo_tui.config.model import PushSync
from pendo_tui.pendo.requestlog import current_source, inherit_source
from pendo_tui.sync.ports import PendoApi, StoreApi
from pendo_tui.sync.progress import ProgressCallback, ProgressEvent, emit
from pendo_tui.sync.push.keys import InvalidKey, canonical_key
from pendo_tui.sync.push.result import PushResult
from pendo_tui.sync.push.state import KeyState, PushState

# Local rejects are written to push_rejects in chunks of this many.
REJECT_FLUSH = 1_000
# Progress is emitted at most this often (seconds), plus once at the end of each phase.
PROGRESS_EVERY_S = 0.25


# Marks, in the loaded state, a key this run has sent (or is sending).
SENT_THIS_RUN = KeyState(None, "this_run")
# Key of a row the model reader could not shape (ragged CSV): (reason, message).
ROW_PROBLEM = "\x00row_problem"


def sending_pool(workers: int, name: str) -> ThreadPoolExecutor:
    """A pool whose workers' Pendo calls carry the calling thread's request source, so
    the debugger names this sync on each call."""
    return ThreadPoolExecutor(
        max_workers=workers,
        thread_name_prefix=name,
        initializer=inherit_source,
        initargs=(current_source(),),
    )


def as_id(value: Any) -> str | None:
    """A model value as a Pendo id: text, stripped; None/empty/NaN → None. 12.0 → "12"."""
    if value is None:
        return None
    if isinstance(value, float):
        if math.isnan(value):
            return None
        if value.is_integer():
            value = int(value)
    if isinstance(value, Decimal) and value == value.to_integral_value():
        value = int(value)
    text = str(value).strip()
    return text or None


def jsonable(value: Any) -> Any:
    """A model value as JSON: dates as ISO 8601, Decimal as number, bytes as base64."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return None if math.isnan(value) or math.isinf(value) else value
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return str(value)


class CallCounter:
    """HTTP calls this sync made (thread-safe: workers count their own calls)."""

    def __init__(self) -> None:
        self._n = 0
        self._lock = threading.Lock()

    def add(self, n: int = 1) -> None:
        with self._lock:
            self._n += n

    @property
    def value(self) -> int:
        return self._n


def client_retries(client: PendoApi) -> int:
    """The client's retry counter so far."""
    return client.stats.retries


@dataclass
class PushContext:
    sync: PushSync
    client: PendoApi
    store: StoreApi
    state: PushState
    result: PushResult
    progress: ProgressCallback | None
    run_id: int | None
    calls: CallCounter = field(default_factory=CallCounter)
    total_rows: int | None = None
    dry_run: bool = False
    # Events left in flight by a dead run: "resend" (no loss, ≤ concurrency duplicates)
    # or "skip" (no duplicate, but an event that never left is lost). See push/events.py.
    in_flight_policy: str = "resend"
    pending_rejects: list[tuple[str, str]] = field(default_factory=list)
    _last_progress: float = 0.0
    _schemas: dict[str, dict[str, Any]] = field(default_factory=dict)

    def metadata_schema(self, kind: str) -> dict[str, Any]:
        """Pendo's metadata schema of ``kind``, read once per sync."""
        if kind not in self._schemas:
            self.calls.add()
            self._schemas[kind] = self.client.metadata_schema(kind) or {}
        return self._schemas[kind]

    def reject(self, key: str, reason: str, error: str) -> None:
        """Count a rejected row and queue it for ``push_rejects`` (not in a dry run)."""
        self.result.reject(key, reason, error)
        if self.dry_run:
            return
        self.pending_rejects.append((key, error))
        if len(self.pending_rejects) >= REJECT_FLUSH:
            with self.store.begin() as conn:
                self.flush_rejects(conn)

    def flush_rejects(self, conn: Any) -> None:
        if self.pending_rejects:
            self.state.reject(conn, self.pending_rejects)
            self.pending_rejects = []

    def report(self, phase: str, done: int, message: str = "", *, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last_progress < PROGRESS_EVERY_S:
            return
        self._last_progress = now
        emit(
            self.progress,
            ProgressEvent(
                mapping=self.sync.name,
                phase=phase,
                done=done,
                total=self.total_rows,
                message=message,
                run_id=self.run_id,
            ),
        )


def keyed_rows(
    ctx: PushContext,
    rows: Iterable[dict[str, Any]],
    seen: set[str] | None,
    known: dict[str, KeyState],
) -> Iterator[tuple[str, dict[str, Any]]]:
    """Count and report each model row; yield (primary key, row) with the key from
    ``canonical_key``. Rejected here: empty or invalid keys, rows the reader could not
    shape (ragged CSV), a key already sent by this run (the model changed between the
    uniqueness check and the read). Every key goes into ``seen`` (delete behaviour needs
    what the model still has)."""
    s, res = ctx.sync, ctx.result
    for row in rows:
        res.rows_read += 1
        ctx.report("read", res.rows_read)
        raw = row.get(s.primary_key)
        try:
            key = canonical_key(raw)
        except InvalidKey as bad:
            label = f"<row {res.rows_read}>"
            ctx.reject(label, "invalid_primary_key", f"column {s.primary_key!r}: {bad}")
            continue
        if key is None:
            ctx.reject(
                f"<row {res.rows_read}>", "empty_primary_key", f"column {s.primary_key!r} is empty"
            )
            continue
        problem = row.get(ROW_PROBLEM)
        if problem is not None:
            ctx.reject(key, problem[0], f"row {key!r}: {problem[1]}")
            continue
        if known.get(key) is SENT_THIS_RUN:
            ctx.reject(
                key,
                "duplicate_primary_key",
                f"row {key!r}: a row with this key was already sent by this run (the model "
                "changed while it was read); not sent twice",
            )
            continue
        if seen is not None:
            seen.add(key)
        yield key, row
