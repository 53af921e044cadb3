"""Row-by-row JSON parsing of an HTTP body as it arrives (ijson over the byte stream).

Memory stays flat in the response size: ijson holds one row at a time and the reader holds
one network chunk, plus the first few KiB kept for the request log.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import ijson


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


def iter_items(reader: ByteStreamReader, prefix: str) -> Iterator[Any]:
    """Objects under ``prefix`` (``results.item`` for aggregations, ``item`` for arrays).

    Numbers come back as int/float (``use_float``), not Decimal: faster, and what JSON meant.
    """
    return BACKEND.items(reader, prefix, use_float=True)
