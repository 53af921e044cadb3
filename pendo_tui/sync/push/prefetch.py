"""Read model rows ahead on a helper thread, in bounded chunks.

The SQLite driver releases the GIL for every row it steps, and with 32 track threads
busy each release costs the reading thread a wait for the GIL. Reading on the main
(sending) thread stalled the in-flight pipeline on every row; a helper thread takes those
waits instead, and the main thread receives rows in chunks. At most ``depth`` chunks of
``size`` rows wait in the queue, so memory stays bounded.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from typing import Any, TypeVar

T = TypeVar("T")
_DONE = object()


def prefetched(rows: Iterator[T], size: int = 256, depth: int = 8) -> Iterator[T]:
    """Yield ``rows`` in order, read ahead by a helper thread; its exceptions re-raised here."""
    chunks: queue.Queue[Any] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: Any) -> bool:
        while not stop.is_set():
            try:
                chunks.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def run() -> None:
        try:
            chunk: list[T] = []
            for row in rows:
                chunk.append(row)
                if len(chunk) >= size:
                    if not put(chunk):
                        return
                    chunk = []
            if chunk and not put(chunk):
                return
            put(_DONE)
        except BaseException as exc:  # handed to the consumer, which raises it
            put(_Raised(exc))
        finally:
            close = getattr(rows, "close", None)
            if close is not None:
                close()  # the source (and its database connection) ends on its own thread

    thread = threading.Thread(target=run, name="push-read", daemon=True)
    thread.start()
    try:
        while True:
            item = chunks.get()
            if item is _DONE:
                return
            if isinstance(item, _Raised):
                raise item.exc
            yield from item
    finally:
        stop.set()
        thread.join(timeout=10)


class _Raised:
    __slots__ = ("exc",)

    def __init__(self, exc: BaseException) -> None:
        self.exc = exc
