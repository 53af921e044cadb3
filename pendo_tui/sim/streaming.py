"""Streamed JSON bodies and the broken bodies fault injection sends.

Large answers are produced by generators in bounded chunks: neither the simulator nor
the client ever holds a whole aggregation result in memory.
"""

from __future__ import annotations

import itertools
import json
import logging
from collections.abc import Iterable, Iterator
from typing import Any

import orjson
from starlette.responses import Response, StreamingResponse

# Each chunk is handed from a worker thread to the event loop and written to the socket,
# and each hand-over waits for the interpreter lock behind whatever pipeline the
# simulator is evaluating meanwhile (up to the 5 ms switch interval). At 64 KiB a 25 MB
# answer made 400 such waits, and a client reading one call while the simulator evaluated
# the next waited on them; at 512 KiB a 10-mapping benchmark's calls ended ~1 s sooner
# (bench/RESULTS.md, "The simulator's charge covers its evaluation").
CHUNK_BYTES = 512 * 1024
CUT_AFTER = 256 * 1024  # a broken stream still delivers this much first
_dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


def _encode(rows: list[Any]) -> bytes:
    """Compact UTF-8 JSON of ``rows``: orjson (a sixth of the CPU of the standard library's
    encoder, which the simulator took from the client it serves on a benchmark's machine),
    or the standard library for what orjson refuses (keys that are not strings, integers
    past 64 bits)."""
    try:
        return orjson.dumps(rows)
    except TypeError:
        return _dumps(rows).encode()


class SimulatedTruncation(Exception):
    """Raised mid-body on purpose so the server drops the connection."""


class _QuietTruncation(logging.Filter):
    """Keep deliberate truncations out of the server's error log."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        while exc is not None:
            if isinstance(exc, SimulatedTruncation):
                return False
            exc = exc.__cause__ or exc.__context__
        return True


def install_log_filter() -> None:
    logger = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, _QuietTruncation) for f in logger.filters):
        logger.addFilter(_QuietTruncation())


def json_chunks(
    prefix: bytes, rows: Iterable[Any], suffix: bytes, batch: int = 256
) -> Iterator[bytes]:
    """``prefix row,row,… suffix`` in chunks of about CHUNK_BYTES.

    Rows are encoded ``batch`` at a time (one encoder call per batch, not per row): the
    simulator must not be what a client benchmark measures.
    """
    buf: list[bytes] = [prefix]
    size = len(prefix)
    sep = b""
    it = iter(rows)
    while pending := list(itertools.islice(it, batch)):
        piece = sep + _encode(pending)[1:-1]
        sep = b","
        buf.append(piece)
        size += len(piece)
        if size >= CHUNK_BYTES:
            yield b"".join(buf)
            buf, size = [], 0
    buf.append(suffix)
    yield b"".join(buf)


class ChunkedJSON(StreamingResponse):
    """A streamed JSON body that keeps its sync chunk iterator for fault wrappers."""

    def __init__(self, chunks: Iterator[bytes], status_code: int = 200) -> None:
        self.chunks = chunks
        super().__init__(chunks, status_code=status_code, media_type="application/json")


def json_array_response(rows: Iterable[Any]) -> ChunkedJSON:
    return ChunkedJSON(json_chunks(b"[", rows, b"]"))


def aggregation_response(start_time: int | None, rows: Iterable[Any]) -> ChunkedJSON:
    prefix = b'{"startTime":' + _dumps(start_time).encode() + b',"results":['
    return ChunkedJSON(json_chunks(prefix, rows, b"]}"))


def _cut(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """Whole chunks up to CUT_AFTER bytes, then half of the chunk where the cut falls
    (for a one-chunk body: its first half)."""
    sent = 0
    prev = next(chunks, b"")
    for nxt in chunks:
        if sent + len(prev) >= CUT_AFTER:
            break
        yield prev
        sent += len(prev)
        prev = nxt
    yield prev[: max(1, len(prev) // 2)]


def _truncated(chunks: Iterator[bytes]) -> Iterator[bytes]:
    yield from _cut(chunks)
    raise SimulatedTruncation("fault injection: body truncated")


def _malformed(chunks: Iterator[bytes]) -> Iterator[bytes]:
    yield from _cut(chunks)
    yield b'<html><body>upstream error</body></html>{"'


def _body_iter(resp: Response) -> Iterator[bytes]:
    if isinstance(resp, ChunkedJSON):
        return resp.chunks
    if isinstance(resp, StreamingResponse):
        raise TypeError("fault injection needs a ChunkedJSON or a plain Response")
    return iter([bytes(resp.body)])


def truncated(resp: Response) -> Response:
    """Same status and headers, half the first chunk of body, then a dropped connection."""
    headers = {k: v for k, v in resp.headers.items() if k.lower() != "content-length"}
    if not isinstance(resp, StreamingResponse):
        headers["content-length"] = str(len(resp.body))  # promise the full body
    return StreamingResponse(
        _truncated(_body_iter(resp)), status_code=resp.status_code, headers=headers
    )


def malformed(resp: Response) -> Response:
    """A complete response whose body is not valid JSON."""
    headers = {k: v for k, v in resp.headers.items() if k.lower() != "content-length"}
    return StreamingResponse(
        _malformed(_body_iter(resp)), status_code=resp.status_code, headers=headers
    )
