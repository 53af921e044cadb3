"""Running a plan's calls: bounded concurrency, ordered hand-over, re-reads and splits.

A ``Scan`` is one Pendo call over one window. Up to ``max_concurrent`` scans are in
flight at once, each on its own fetch thread that streams rows into a bounded queue
(``QUEUE_BATCHES`` batches of ``BATCH_ROWS`` rows): memory is bounded by
``max_concurrent × QUEUE_BATCHES × BATCH_ROWS`` rows however much Pendo returns. The
store thread (the caller) drains the queues strictly in plan order, so identity decisions
and staged rows are the same whatever the timing — a fetch thread never touches the store.

A call whose body is cut off is read again (``FETCH_ATTEMPTS``). A splittable call that
times out, fails with 5xx after the client's own retries, or passes ``max_rows`` rows or
``max_bytes`` response bytes while it streams is cut into two halves, each read in its
turn, down to one day (docs/pull.md, "Adaptive windows"); what it staged is discarded
first. Bytes are the client stream's own counter (``ItemStream.reader.size``, read per
row as one attribute): nothing is buffered to count them.
"""

from __future__ import annotations

import queue
import threading
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

from pendo_tui.errors import ExitCode, PendoTuiError
from pendo_tui.pendo.errors import MalformedResponseError, NetworkError, PendoError, ServerError
from pendo_tui.sync.progress import ProgressCallback, ProgressEvent, emit
from pendo_tui.sync.pull.result import Job
from pendo_tui.sync.windows import SyncWindow

FETCH_ATTEMPTS = 3  # a body cut mid-stream cannot be retried by the client: re-read it
BATCH_ROWS = 500  # rows per queue item
QUEUE_BATCHES = 8  # queue items a fetch thread may run ahead of the store thread
MAX_CALL_ROWS = 2_000_000  # a call returning more is split (it would be costly to re-read)
# A call whose response passes 1 GiB (decoded JSON) is split: a quarter of the ~4 GB Pendo
# lets one aggregation return, so no call we keep nears that cap; usage rows are ~150-300
# bytes, so the row budget usually trips first and this one catches wide rows. Memory
# does not grow with it (rows stream); it bounds the work a late failure throws away.
MAX_CALL_BYTES = 1 << 30
PUT_WAIT = 0.5  # seconds between checks of the stop flag while a queue is full

Rows = list[dict[str, Any]]
_DONE = object()


class _NoMeter:
    size = 0  # a stream that counts no bytes never passes the byte budget


_NO_METER = _NoMeter()


class BudgetExceeded(PendoError):
    """A call returned more rows or bytes than one call may (split and read again)."""

    title = "Call too large"


@dataclass
class Scan:
    """One Pendo call over ``window`` whose rows feed the ``jobs``' mappings."""

    label: str  # request name, also shown in the debugger
    window: SyncWindow
    open: Callable[[SyncWindow, str], Iterator[dict[str, Any]]]  # fetch thread
    consume: Callable[[Rows, SyncWindow], None]  # store thread
    discard: Callable[[SyncWindow], None]  # store thread: forget what it staged
    jobs: list[Job]
    splittable: bool = False  # event scans: halves of the window give the same rows
    kind: str = "aggregation"  # or "report" (report results): what the dry run counts
    reads: str = ""  # what the dry run lists it under (default: the label)
    split: bool = False  # a half of a split call
    attempt: int = 1

    @property
    def name(self) -> str:
        if not self.split:
            return f"pendo-tui:{self.label}"
        w = self.window
        return f"pendo-tui:{self.label} split {w.first_day}..{w.last_day}"

    def halves(self) -> tuple[Scan, Scan]:
        w = self.window
        mid = w.first_day + timedelta(days=len(w) // 2 - 1)
        first = SyncWindow(w.first_day, mid)
        second = SyncWindow(mid + timedelta(days=1), w.last_day)
        return (
            replace(self, window=first, split=True, attempt=1),
            replace(self, window=second, split=True, attempt=1),
        )


def splittable_error(exc: BaseException) -> bool:
    """Errors a smaller window may avoid: timeouts, 5xx after retries, a row or byte
    budget."""
    if isinstance(exc, BudgetExceeded | ServerError):
        return True
    return isinstance(exc, NetworkError) and exc.request_sent


class _Running:
    def __init__(self, scan: Scan, stop: threading.Event, max_rows: int, max_bytes: int) -> None:
        self.scan = scan
        self.queue: queue.Queue[Any] = queue.Queue(maxsize=QUEUE_BATCHES)
        self.stop = stop
        self.max_rows = max_rows
        self.max_bytes = max_bytes
        self.thread = threading.Thread(target=self._work, name=f"pull {scan.label}", daemon=True)
        self.thread.start()

    def _put(self, item: Any) -> bool:
        while not self.stop.is_set():
            try:
                self.queue.put(item, timeout=PUT_WAIT)
                return True
            except queue.Full:
                continue
        return False

    def _work(self) -> None:
        scan, rows = self.scan, 0
        it: Iterator[dict[str, Any]] | None = None
        check = scan.splittable and len(scan.window) > 1  # budgets apply to what can split
        max_rows, max_bytes = self.max_rows, self.max_bytes
        meter: Any = None  # the stream's byte counter: known once its response is open
        try:
            it = scan.open(scan.window, scan.name)
            batch: Rows = []
            for row in it:
                rows += 1
                if check:
                    if meter is None:  # the client's streams count bytes; others do not
                        meter = getattr(it, "reader", None) or _NO_METER
                    if rows > max_rows or meter.size > max_bytes:
                        what = f"{max_rows} rows" if rows > max_rows else f"{max_bytes} bytes"
                        raise BudgetExceeded(
                            f"the call {scan.name!r} passed {what}",
                            "It is split in half and read again.",
                        )
                batch.append(row)
                if len(batch) >= BATCH_ROWS:
                    if not self._put(batch):
                        return
                    batch = []
            if batch and not self._put(batch):
                return
            self._put(_DONE)
        except BaseException as exc:  # handed to the store thread, which decides
            self._put(exc)
        finally:
            close = getattr(it, "close", None)
            if close is not None:
                close()


class ScanRunner:
    """Runs scans (see module docstring); returns nothing, records failures on jobs."""

    def __init__(
        self,
        max_concurrent: int,
        progress: ProgressCallback | None = None,
        fail_fast: bool = False,
        max_rows: int = MAX_CALL_ROWS,
        after_each: Callable[[], None] | None = None,
        max_bytes: int = MAX_CALL_BYTES,
    ) -> None:
        self.max_concurrent = max(1, max_concurrent)
        self.progress = progress
        self.fail_fast = fail_fast
        self.max_rows = max_rows
        self.max_bytes = max_bytes
        self.after_each = after_each  # store thread, after every completed scan

    def run(self, scans: list[Scan]) -> None:
        for s in scans:
            for job in s.jobs:
                job.scans_total += 1
        pending: deque[Scan] = deque(scans)
        running: deque[_Running] = deque()
        stop = threading.Event()
        try:
            while pending or running:
                while pending and len(running) < self.max_concurrent:
                    scan = pending.popleft()
                    if any(j.error is None for j in scan.jobs):
                        self._count(scan)
                        self._progress(scan, finished=False)  # before the request is sent
                        running.append(_Running(scan, stop, self.max_rows, self.max_bytes))
                    else:
                        self._progress(scan)
                if not running:
                    continue
                head = running.popleft()
                outcome = self._drain(head)
                if outcome is None:
                    if self.after_each is not None:
                        self.after_each()
                    self._progress(head.scan)
                    continue
                for retry in reversed(self._after_failure(head.scan, outcome)):
                    pending.appendleft(retry)
        finally:
            stop.set()
            for r in running:
                r.thread.join(timeout=PUT_WAIT * 2)

    def _count(self, scan: Scan) -> None:
        for job in scan.jobs:
            job.result.calls += 1

    def _drain(self, run: _Running) -> BaseException | None:
        scan = run.scan
        while True:
            item = run.queue.get()
            if item is _DONE:
                return None
            if isinstance(item, BaseException):
                return item
            if any(j.error is None for j in scan.jobs):
                scan.consume(item, scan.window)

    def _after_failure(self, scan: Scan, exc: BaseException) -> list[Scan]:
        """What to read instead of a failed scan (nothing: its jobs failed)."""
        scan.discard(scan.window)
        if isinstance(exc, MalformedResponseError) and scan.attempt < FETCH_ATTEMPTS:
            return [replace(scan, attempt=scan.attempt + 1)]
        if scan.splittable and len(scan.window) > 1 and splittable_error(exc):
            for job in scan.jobs:
                job.result.splits += 1
                job.scans_total += 1  # two halves replace one scan
            return list(scan.halves())
        if not isinstance(exc, Exception):
            raise exc
        if self.fail_fast or _fatal(exc):
            raise exc
        for job in scan.jobs:
            if job.error is None:
                job.error = exc
        return []

    def _progress(self, scan: Scan, finished: bool = True) -> None:
        for job in scan.jobs:
            job.scans_done += int(finished)
            done = min(job.scans_done, job.scans_total)
            emit(self.progress, ProgressEvent(job.name, "fetch", done, job.scans_total))


def _fatal(exc: Exception) -> bool:
    """Errors that would fail every later call the same way: stop the run."""
    return isinstance(exc, PendoTuiError) and exc.exit_code == ExitCode.AUTH
