"""Row-by-row JSON parsing of an HTTP body as it arrives.

Rows bodies (an array of rows, or an object holding one under ``results``) are cut into
runs of whole rows and parsed a run at a time with orjson (``iter_rows``); anything else,
and any body the cutting cannot handle, goes through ijson over the byte stream. Memory
stays flat in the response size: at most ``MAX_PENDING`` bytes wait to be cut, and the
reader holds one network chunk, plus the first few KiB kept for the request log.
"""

from __future__ import annotations

import queue
import re
import threading
from collections.abc import Callable, Iterator
from typing import Any

import ijson
import orjson


def _backend() -> Any:
    # The C backend (yajl2_c) is ~10x faster than pure Python; fall back where it is missing.
    for name in ("yajl2_c", "yajl2_cffi", "python"):
        try:
            return ijson.get_backend(name)
        except ImportError:
            continue
    return ijson


BACKEND = _backend()
JSONError = ijson.JSONError  # base of IncompleteJSONError: syntax error or premature end


class _Failure:
    __slots__ = ("exc",)

    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


_DONE = object()


class Prefetcher:
    """Pulls chunks on a helper thread into a bounded queue, so the transfer overlaps parsing.

    Without it the socket is idle while ijson parses, and the server stalls on a full socket
    buffer; with it the client runs close to the slower of the two instead of their sum.
    At most ``depth`` chunks (64 KiB each from httpx) wait in the queue: memory stays bounded.

    The helper thread owns the response: it calls ``on_exit`` (closing the response) itself,
    so a socket is never closed under a thread that is still reading it.
    """

    def __init__(
        self, chunks: Iterator[bytes], depth: int = 16, on_exit: Callable[[], None] | None = None
    ) -> None:
        self._q: queue.Queue[Any] = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._finished = False
        self._on_exit = on_exit
        self._thread = threading.Thread(
            target=self._run, args=(chunks,), name="pendo-prefetch", daemon=True
        )
        self._thread.start()

    def _run(self, chunks: Iterator[bytes]) -> None:
        try:
            for chunk in chunks:
                if not self._put(chunk):
                    return
            self._put(_DONE)
        except BaseException as exc:  # handed to the consumer, which raises it
            self._put(_Failure(exc))
        finally:
            if self._on_exit is not None:
                self._on_exit()

    def _put(self, item: Any) -> bool:
        while not self._stop.is_set():
            try:
                self._q.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def __iter__(self) -> Prefetcher:
        return self

    def __next__(self) -> bytes:
        if self._finished:
            raise StopIteration
        item = self._q.get()
        if item is _DONE:
            self._finished = True
            raise StopIteration
        if isinstance(item, _Failure):
            self._finished = True
            raise item.exc
        return item

    def close(self) -> None:
        """Stop early; the helper thread exits after its current read and closes the response."""
        self._finished = True
        self._stop.set()


class ByteStreamReader:
    """File-like ``read(n)`` over an iterator of byte chunks (``httpx.Response.iter_bytes``).

    Counts every byte and keeps the first ``capture`` bytes for the request log, so the log
    never needs a second copy of a streamed body.
    """

    __slots__ = ("_buf", "_chunks", "_pos", "capture", "captured", "size")

    def __init__(self, chunks: Iterator[bytes], capture: int = 0) -> None:
        self._chunks = chunks
        self._buf = b""
        self._pos = 0
        self.capture = capture
        self.captured = bytearray()
        self.size = 0

    def _next_chunk(self) -> bytes:
        for chunk in self._chunks:
            if chunk:
                self.size += len(chunk)
                room = self.capture - len(self.captured)
                if room > 0:
                    self.captured += chunk[:room]
                return chunk
        return b""

    def peek(self) -> bytes:
        """The body's first byte that is not whitespace (``b""`` when there is none),
        left unread: it tells a bare array from an object before parsing starts."""
        while True:
            rest = self._buf[self._pos :]
            stripped = rest.lstrip()
            if stripped:
                return stripped[:1]
            chunk = self._next_chunk()
            if not chunk:
                return b""
            self._buf, self._pos = rest + chunk, 0

    def read(self, n: int = -1) -> bytes:
        if self._pos >= len(self._buf):
            chunk = self._next_chunk()
            if n < 0 or len(chunk) <= n:
                return chunk  # the common case: hand the chunk over without copying
            self._buf, self._pos = chunk, 0
        end = len(self._buf) if n < 0 else self._pos + n
        out = self._buf[self._pos : end]
        self._pos += len(out)
        return out


class ItemStream:
    """The items of one streamed response, and how many body bytes it has read so far.

    ``bytes_read`` is the response's decoded (uncompressed) bytes handed to the parser up
    to now — the reader's own counter, so counting buffers nothing. It is 0 until the
    request is sent (the first ``next()``). ``iter()`` returns the underlying generator
    itself, so a ``for`` loop pays nothing per row for the counter.
    """

    __slots__ = ("_items", "reader")

    def __init__(self) -> None:
        self._items: Iterator[Any] = iter(())
        self.reader: ByteStreamReader | None = None  # set once the response is open

    def bind(self, items: Iterator[Any]) -> ItemStream:
        self._items = items
        return self

    @property
    def bytes_read(self) -> int:
        reader = self.reader
        return reader.size if reader is not None else 0

    def __iter__(self) -> Iterator[Any]:
        return self._items

    def __next__(self) -> Any:
        return next(self._items)

    def close(self) -> None:
        close = getattr(self._items, "close", None)
        if close is not None:
            close()


def iter_items(reader: ByteStreamReader, prefix: str) -> Iterator[Any]:
    """Objects under ``prefix`` (``results.item`` for aggregations, ``item`` for arrays).

    Numbers come back as int/float (``use_float``), not Decimal: faster, and what JSON meant.
    """
    return BACKEND.items(reader, prefix, use_float=True)


# The opening of a rows body, up to the ``[`` of its rows. Only these common shapes take
# the fast path (``startTime`` before ``results``, or none); any other opening is ijson's.
_ENVELOPE = re.compile(rb'\s*\{\s*(?:"startTime"\s*:\s*(?:-?\d+|null)\s*,\s*)?"results"\s*:\s*\[')
_ARRAY = re.compile(rb"\s*\[")
HEAD_BYTES = 256  # an opening longer than this is not one of the shapes above
# Bytes that may wait for a cut between rows: a run of rows with none (one row this large,
# or rows not separated by "},") goes to ijson from there on.
MAX_PENDING = 1 << 20
_SEP = b"},"


def iter_rows(reader: ByteStreamReader, prefix: str) -> Iterator[Any]:
    """The rows under ``prefix`` (``item``: a bare array, ``results.item``: an object's
    ``results``), as ``iter_items`` yields them, at a third of its cost per row.

    The bytes read so far are cut after the last ``},`` and the run before it is parsed
    as one array. A cut that falls inside a string or a nested object leaves a run that
    is not valid JSON (a string left open, a brace left unclosed), so a run that parses is
    exactly a run of whole rows; one that does not waits for more bytes. The end of the
    body is parsed with its opening, as one document, so whatever follows the rows
    (``"startTime"`` after ``results``, say) is checked too. A body that breaks any of
    this is handed, from the first byte not yet yielded, to ijson, which yields the rest
    or raises the error it would have raised anyway.

    One difference: an integer past 64 bits comes back as a float (ijson refuses it).
    """
    if prefix not in ("item", "results.item"):
        yield from iter_items(reader, prefix)
        return
    shape = _ARRAY if prefix == "item" else _ENVELOPE
    buf = b""
    while len(buf) < HEAD_BYTES:
        chunk = reader.read(65536)
        if not chunk:
            break
        buf += chunk
    head = shape.match(buf)
    if head is None:
        yield from iter_items(_Replay(buf, reader), prefix)
        return
    opening, buf = buf[: head.end()], buf[head.end() :]
    loads, error = orjson.loads, orjson.JSONDecodeError
    while True:  # rows are yielded as soon as they are read: none waits for the next read
        cut = buf.rfind(_SEP)
        for _ in range(2):  # the last "}," and the one before it
            if cut < 0:
                break
            try:
                rows = loads(b"[" + buf[: cut + 1] + b"]")
            except error:
                cut = buf.rfind(_SEP, 0, cut)
                continue
            yield from rows
            buf = buf[cut + 2 :]
            break
        if len(buf) > MAX_PENDING:
            yield from iter_items(_Replay(opening + buf, reader), prefix)
            return
        chunk = reader.read(65536)
        if not chunk:
            break
        buf += chunk
    try:
        doc = loads(opening + buf)
    except error:
        doc = None
    rest = doc if prefix == "item" else doc.get("results") if isinstance(doc, dict) else None
    if not isinstance(rest, list):  # not the shape after all, or broken: ijson says which
        yield from iter_items(_Replay(opening + buf, reader), prefix)
        return
    yield from rest


class _Replay:
    """``read(n)`` over bytes already taken from ``reader``, then the reader's own."""

    __slots__ = ("_pending", "_reader")

    def __init__(self, pending: bytes, reader: ByteStreamReader) -> None:
        self._pending = pending
        self._reader = reader

    def read(self, n: int = -1) -> bytes:
        if self._pending:
            out = self._pending if n < 0 else self._pending[:n]
            self._pending = self._pending[len(out) :]
            return out
        return self._reader.read(n)
