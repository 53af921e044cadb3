"""HTTP for the Pendo client: one keep-alive httpx.Client, retries, typed errors, request log.

Every attempt (first try and each retry) becomes one ``RequestRecord``. Retries use stamina
(exponential backoff with jitter, bounded in attempts and in total time) and honour
``Retry-After``. Only 429, 5xx and connection trouble are retried, never another 4xx; a
streamed call is retried only before its first row reached the caller.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import httpx
import stamina
import stamina.instrumentation

from pendo_tui.pendo.errormap import ErrorMapper, describe
from pendo_tui.pendo.errors import MalformedResponseError, NetworkError, PendoError
from pendo_tui.pendo.lanes import Lanes
from pendo_tui.pendo.requestlog import RequestLog, current_source
from pendo_tui.pendo.streaming import (
    ByteStreamReader,
    ItemStream,
    JSONError,
    Prefetcher,
    iter_rows,
)

KEY_HEADER = "x-pendo-integration-key"
_END = object()
# ``stream_items`` prefix for "rows": a bare JSON array of rows, or an object holding them
# under ``results`` (aggregations answer the latter; older answers and reports the former).
ROWS = "rows"
_MIN_CAPTURE = 8192
# A non-idempotent call (track) may be re-sent only when the first try surely did nothing.
_SAFE_RESEND_STATUSES = frozenset({429, 502, 503, 504})

# stamina's own hook logs a bare "stamina.retry_scheduled" record per retry; we say what is
# retried and why ourselves (``_announce_retry``), through the ``pendo_tui`` logger.
stamina.instrumentation.set_on_retry_hooks([])
_retry_log = logging.getLogger("pendo_tui.retry")


def _announce_retry(call: Call, exc: Exception, wait: float | None) -> None:
    """One line per retry: the call, what went wrong, and Pendo's Retry-After if any."""
    reason = (getattr(exc, "message", None) or str(exc)).splitlines()[0][:200]
    path = httpx.URL(call.url).path
    after = f"; waiting {wait:.0f} s as Pendo asked (Retry-After)" if wait else ""
    _retry_log.warning("retrying %s %s: %s%s", call.method, path, reason, after)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_retries: int = 7
    max_retry_seconds: float = 600.0
    backoff_initial: float = 1.0  # first wait; doubles each retry
    backoff_max: float = 60.0  # cap of one wait (a Retry-After may ask for more)
    backoff_jitter: float = 1.0  # random extra seconds, so parallel clients spread out


@dataclass(slots=True)
class Call:
    """One logical API call; ``what`` names it in error messages ("the page list")."""

    method: str
    url: str
    kind: str
    what: str
    body: bytes = b""
    params: dict[str, str] | None = None
    secret: Literal["key", "track"] = "key"
    timeout: httpx.Timeout | None = None
    write: bool = False
    idempotent: bool = True
    # who made the call (set when the call is built, on the caller's thread)
    source: str = field(default_factory=current_source)


@dataclass(slots=True)
class Reply:
    status: int
    headers: httpx.Headers
    content: bytes

    def json(self, what: str, url: str) -> Any:
        try:
            return json.loads(self.content)
        except ValueError as exc:
            raise MalformedResponseError(
                f"Pendo sent {what} that is not valid JSON ({exc}).",
                "Retry later; if it persists, export the call as HAR from the debugger "
                "and check what answered (a proxy or captive portal?).",
                status=self.status,
                url=url,
            ) from None


@dataclass(slots=True)
class Stats:
    calls: int = 0  # HTTP attempts sent, retries included
    retries: int = 0
    errors: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, *, calls: int = 0, retries: int = 0, errors: int = 0) -> None:
        with self._lock:
            self.calls += calls
            self.retries += retries
            self.errors += errors


class Transport:
    def __init__(
        self,
        *,
        integration_key: str,
        track_secret: str | None,
        log: RequestLog,
        policy: RetryPolicy,
        timeout: httpx.Timeout,
        region_label: str,
        http_transport: httpx.BaseTransport | None = None,
        user_agent: str = "pendo-tui",
        max_connections: int = 64,
        prefetch_chunks: int = 16,
    ) -> None:
        self._key = integration_key
        self._track = track_secret
        self.log = log
        self.policy = policy
        self.region_label = region_label
        self.errors = ErrorMapper(region_label, log.redactor.text, lambda: self.write_access)
        self.prefetch_chunks = prefetch_chunks  # 0: parse on the reading thread
        self.write_access: bool | None = None  # known after /token/verify
        self.stats = Stats()
        self._timeout = timeout
        self._user_agent = user_agent
        self.lanes = Lanes(http_transport, max_connections)
        self.http = httpx.Client(
            timeout=timeout,
            transport=http_transport,
            limits=httpx.Limits(
                max_connections=max_connections, max_keepalive_connections=max_connections
            ),
            headers={"user-agent": user_agent, "accept": "application/json"},
            follow_redirects=False,  # a redirect would carry the key to another host
        )

    def close(self) -> None:
        self.lanes.close()
        self.http.close()

    # -- public ----------------------------------------------------------------------------
    def fetch(self, call: Call) -> Reply:
        """Send ``call`` with retries; the whole body is read (object calls are small)."""
        request = self._build(call)
        attempt_no = 0
        started = time.monotonic()
        try:
            for attempt in self._retrying(call, started):
                with attempt:
                    attempt_no += 1
                    return self._fetch_once(call, request, attempt_no)
        except PendoError as exc:
            self._gave_up(exc, attempt_no, started)
            raise
        raise AssertionError("unreachable: stamina either returns or re-raises")

    def stream_items(self, call: Call, prefix: str) -> ItemStream:
        """The JSON objects under ``prefix`` of the response, as they arrive; the stream
        also counts the body bytes read so far (``ItemStream.bytes_read``)."""
        stream = ItemStream()
        return stream.bind(self._stream_items(call, prefix, stream))

    def _stream_items(self, call: Call, prefix: str, stream: ItemStream) -> Iterator[Any]:
        request = self._build(call)
        attempt_no = 0
        started = time.monotonic()
        opened: _Opened | None = None
        try:
            for attempt in self._retrying(call, started):
                with attempt:
                    attempt_no += 1
                    opened = self._open_stream(call, request, attempt_no, prefix)
        except PendoError as exc:
            self._gave_up(exc, attempt_no, started)
            raise
        assert opened is not None
        stream.reader = opened.reader
        yield from opened.drain()

    # -- attempts --------------------------------------------------------------------------
    def _build(self, call: Call) -> httpx.Request:
        if call.kind == "track" and self.lanes.enabled:
            return self._build_lean(call)
        headers = {KEY_HEADER: self._track if call.secret == "track" else self._key}
        if call.body:
            headers["content-type"] = "application/json"
        return self.http.build_request(
            call.method,
            call.url,
            params=call.params,
            content=call.body or None,
            headers=headers,
            timeout=call.timeout or httpx.USE_CLIENT_DEFAULT,
        )

    def _build_lean(self, call: Call) -> httpx.Request:
        """The request ``httpx.Client.build_request`` would make, without its URL merging,
        header merging and cookie work (a third of a track call's CPU)."""
        timeout = call.timeout or self._timeout
        return httpx.Request(
            call.method,
            call.url,
            headers=[
                ("accept-encoding", "gzip, deflate"),
                ("connection", "keep-alive"),
                ("user-agent", self._user_agent),
                ("accept", "application/json"),
                (KEY_HEADER, (self._track if call.secret == "track" else self._key) or ""),
                ("content-type", "application/json"),
            ],
            content=call.body,
            extensions={"timeout": timeout.as_dict()},
        )

    def _retrying(self, call: Call, started: float) -> Any:
        p = self.policy
        return stamina.retry_context(
            on=self._retry_hook(call, started),
            attempts=p.max_retries + 1,
            timeout=p.max_retry_seconds if p.max_retry_seconds > 0 else None,
            wait_initial=p.backoff_initial,
            wait_max=p.backoff_max,
            wait_jitter=p.backoff_jitter,
        )

    def _retry_hook(self, call: Call, started: float) -> Callable[[Exception], bool | float]:
        budget = self.policy.max_retry_seconds

        def hook(exc: Exception) -> bool | float:
            if not isinstance(exc, PendoError) or not exc.retryable:
                return False
            if not call.idempotent and not _safe_to_resend(exc):
                return False
            wait = getattr(exc, "retry_after", None)
            if wait is None:
                _announce_retry(call, exc, None)
                return True
            if budget > 0 and time.monotonic() - started + wait > budget:
                exc.hint = (
                    f"Pendo asked to wait {wait:.0f} s (Retry-After), more than what is left of "
                    f"the retry budget ([pendo] max_retry_seconds = {budget:.0f}). Retry later."
                )
                return False
            _announce_retry(call, exc, float(wait))
            return float(wait)

        return hook

    def _gave_up(self, exc: PendoError, attempts: int, started: float) -> None:
        self.stats.add(errors=1)
        if exc.retryable and attempts > 1:
            exc.message += (
                f" Gave up after {attempts} attempts in {time.monotonic() - started:.1f} s."
            )

    def _fetch_once(self, call: Call, request: httpx.Request, attempt: int) -> Reply:
        at, t0 = datetime.now(UTC), time.perf_counter()
        self.stats.add(calls=1, retries=int(attempt > 1))
        lane = self.lanes.take() if call.kind == "track" and self.lanes.enabled else None
        try:
            try:
                if lane is not None:
                    resp = lane.handle_request(request)
                else:
                    resp = self.http.send(request, stream=True)
            except httpx.TransportError as exc:
                self._record(call, request, attempt, at, t0, None, error=exc)
                raise self.errors.transport_error(call, exc, sent=False) from None
            try:
                content = resp.read()
            except httpx.HTTPError as exc:
                self._record(call, request, attempt, at, t0, resp, error=exc)
                raise self.errors.transport_error(call, exc, sent=True) from None
            finally:
                resp.close()
        finally:
            if lane is not None:
                self.lanes.give(lane)
        self._record(call, request, attempt, at, t0, resp, body=content, size=len(content))
        if resp.status_code >= 400:
            raise self.errors.status_error(call, resp.status_code, resp.headers, content)
        return Reply(resp.status_code, resp.headers, content)

    def _open_stream(
        self, call: Call, request: httpx.Request, attempt: int, prefix: str
    ) -> _Opened:
        at, t0 = datetime.now(UTC), time.perf_counter()
        self.stats.add(calls=1, retries=int(attempt > 1))
        try:
            resp = self.http.send(request, stream=True)
        except httpx.TransportError as exc:
            self._record(call, request, attempt, at, t0, None, error=exc)
            raise self.errors.transport_error(call, exc, sent=False) from None
        if resp.status_code >= 400:
            reader = ByteStreamReader(resp.iter_bytes(), capture=self.log.capture_limit)
            try:
                while len(reader.captured) < reader.capture and reader.read(65_536):
                    pass  # an error body: keep only what the log and the message need
            except httpx.TransportError:
                pass
            finally:
                resp.close()
            body = bytes(reader.captured)
            self._record(call, request, attempt, at, t0, resp, body=body, size=reader.size)
            raise self.errors.status_error(call, resp.status_code, resp.headers, body)
        prefetch = (
            Prefetcher(resp.iter_bytes(), self.prefetch_chunks, on_exit=resp.close)
            if self.prefetch_chunks > 0
            else None
        )
        # Rows bodies keep at least a few KiB: enough to name the keys of a rowless answer.
        capture = max(self.log.capture_limit, _MIN_CAPTURE) if prefix == ROWS else None
        reader = ByteStreamReader(
            prefetch or resp.iter_bytes(), capture=capture or self.log.capture_limit
        )
        opened = _Opened(self, call, request, attempt, at, t0, resp, reader, iter(()), prefetch)
        top = b""
        try:
            top = reader.peek() if prefix == ROWS else b""
            items = iter_rows(reader, _rows_prefix(top) if prefix == ROWS else prefix)
            opened.items = items
            opened.first = next(items, _END)
        except JSONError as exc:
            raise opened.fail(self.errors.malformed(call, exc, rows_yielded=False)) from None
        except httpx.HTTPError as exc:
            raise opened.fail(self.errors.transport_error(call, exc, sent=True)) from None
        except BaseException as exc:  # never leave the response (and its thread) behind
            opened.close(describe(exc))
            raise
        if opened.first is _END and top == b"{":
            problem = rows_key_problem(reader)
            if problem:
                raise opened.fail(self.errors.no_rows_key(call, problem))
        return opened

    # -- request log -----------------------------------------------------------------------
    def _record(
        self,
        call: Call,
        request: httpx.Request,
        attempt: int,
        at: datetime,
        t0: float,
        resp: httpx.Response | None,
        *,
        body: bytes = b"",
        size: int = 0,
        error: BaseException | str | None = None,
    ) -> None:
        err = (describe(error) if isinstance(error, BaseException) else error) or None
        self.log.record(
            at=at,
            method=call.method,
            url=str(request.url),
            status=resp.status_code if resp is not None else None,
            duration_ms=(time.perf_counter() - t0) * 1000,
            request_headers=request.headers.multi_items(),
            response_headers=resp.headers.multi_items() if resp is not None else (),
            request_body=call.body,
            request_body_size=len(call.body),
            response_body=body,
            response_body_size=size,
            error=err,
            attempt=attempt,
            kind=call.kind,
            source=call.source,
        )


def _rows_prefix(top: bytes) -> str:
    return "item" if top == b"[" else "results.item"


def rows_key_problem(reader: ByteStreamReader) -> str | None:
    """Why an object answer that yielded no rows is not simply "no rows": it has no
    ``results`` list (the keys it has are named), or it is too large to hold none."""
    body = bytes(reader.captured)
    if reader.size > len(body):
        return f"an object of {reader.size} bytes with no rows under 'results'"
    try:
        data = json.loads(body)
    except ValueError:
        return None  # ijson accepted it; nothing more to say
    if not isinstance(data, dict):
        return None
    if "results" not in data:
        keys = ", ".join(sorted(map(str, data))[:10]) or "none"
        return f"an object without 'results' (keys: {keys})"
    if data["results"] is not None and not isinstance(data["results"], list):
        return f"'results' is {type(data['results']).__name__}, not a list of rows"
    return None


def _safe_to_resend(exc: PendoError) -> bool:
    if isinstance(exc, NetworkError):
        return not exc.request_sent
    return exc.status in _SAFE_RESEND_STATUSES


class _Opened:
    """A streamed response whose status was OK and whose first row (if any) was parsed."""

    def __init__(
        self,
        transport: Transport,
        call: Call,
        request: httpx.Request,
        attempt: int,
        at: datetime,
        t0: float,
        resp: httpx.Response,
        reader: ByteStreamReader,
        items: Iterator[Any],
        prefetch: Prefetcher | None,
    ) -> None:
        self.t = transport
        self.prefetch = prefetch
        self.call, self.request, self.attempt, self.at, self.t0 = call, request, attempt, at, t0
        self.resp, self.reader, self.items = resp, reader, items
        self.first: Any = _END
        self._closed = False

    def close(self, error: BaseException | str | None = None) -> None:
        if self._closed:
            return
        self._closed = True
        if self.prefetch is not None:
            self.prefetch.close()  # its thread closes the response once its read returns
        else:
            self.resp.close()
        self.t._record(
            self.call,
            self.request,
            self.attempt,
            self.at,
            self.t0,
            self.resp,
            body=bytes(self.reader.captured),
            size=self.reader.size,
            error=error,
        )

    def fail(self, err: PendoError) -> PendoError:
        self.close(err.message)
        return err

    def drain(self) -> Iterator[Any]:
        error: str | None = None
        try:
            if self.first is not _END:
                yield self.first
                yield from self.items  # the hot loop: no per-row Python work here
        except (JSONError, httpx.DecodingError) as exc:
            err = self.t.errors.malformed(self.call, exc, rows_yielded=True)
            error = err.message
            raise err from None
        except httpx.HTTPError as exc:
            err = self.t.errors.transport_error(self.call, exc, sent=True)
            err.retryable = False  # rows were handed out already: the caller must discard
            err.message += " Rows already read from this response must be discarded."
            error = err.message
            raise err from None
        except GeneratorExit:
            error = "abandoned by the caller before the end of the response"
            raise
        finally:
            self.close(error)
