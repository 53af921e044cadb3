"""The request log: one record per HTTP attempt, redacted, bounded, delivered live.

It is the debugger pane's data and what a run persists in the ``requests`` table. Secrets
are replaced before a record exists, so nothing downstream (TUI, store, HAR, curl) can leak
them. Bodies are cut at ``body_limit`` with the original size kept; a streamed response
contributes only its first ``body_limit`` bytes (the client never buffers the rest).
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote

log = logging.getLogger(__name__)

REDACTED = "<redacted>"
REDACTED_KEY = "<redacted:integration-key>"
REDACTED_TRACK = "<redacted:track-secret>"
# Header names whose value is a credential whatever it is (so even an unregistered value).
SENSITIVE_HEADERS = frozenset(
    {"x-pendo-integration-key", "authorization", "proxy-authorization", "cookie", "set-cookie"}
)


@dataclass(slots=True)
class RequestRecord:
    seq: int
    at: datetime  # UTC, when the attempt started
    method: str
    url: str
    status: int | None  # None when no response arrived (network error)
    duration_ms: float
    request_size: int  # header + body bytes
    response_size: int
    request_headers: dict[str, str]
    response_headers: dict[str, str]
    request_body: str  # redacted, at most body_limit characters
    response_body: str
    request_body_size: int  # original size in bytes
    response_body_size: int
    error: str | None = None
    attempt: int = 1
    kind: str = ""

    @property
    def truncated(self) -> bool:
        return (
            len(self.request_body.encode()) < self.request_body_size
            or len(self.response_body.encode()) < self.response_body_size
        )


class Redactor:
    """Replaces every registered secret value, wherever it appears, by its placeholder."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pairs: tuple[tuple[str, str], ...] = ()

    def add(self, value: str | None, placeholder: str = REDACTED) -> None:
        if not value:
            return
        forms = {value, quote(value, safe=""), quote(value)}  # as sent in a URL, too
        with self._lock:
            pairs = dict(self._pairs)
            for form in forms:
                pairs[form] = placeholder
            # Longest first, so a secret containing another is replaced whole.
            self._pairs = tuple(sorted(pairs.items(), key=lambda kv: -len(kv[0])))

    @property
    def values(self) -> tuple[str, ...]:
        return tuple(v for v, _ in self._pairs)

    @property
    def longest(self) -> int:
        return max((len(v) for v, _ in self._pairs), default=0)

    def text(self, text: str) -> str:
        for value, placeholder in self._pairs:
            if value in text:
                text = text.replace(value, placeholder)
        return text

    def headers(self, headers: Iterable[tuple[str, str]]) -> dict[str, str]:
        out: dict[str, str] = {}
        for name, value in headers:
            key = name.lower()
            clean = self.text(value)
            if key in SENSITIVE_HEADERS and clean == value:
                clean = REDACTED  # a credential we were not told about: hide it anyway
            out[key] = f"{out[key]}, {clean}" if key in out else clean
        return out

    def body(self, data: bytes, limit: int) -> str:
        """First ``limit`` characters of ``data``, decoded and redacted.

        ``data`` may be longer than ``limit`` by the longest secret, so a secret that straddles
        the cut is still recognised and replaced before the cut is made.
        """
        text = data.decode("utf-8", "replace")
        return self.text(text)[:limit]


Subscriber = Callable[[RequestRecord], None]


class RequestLog:
    """Thread-safe bounded ring of ``RequestRecord`` with live subscribers."""

    def __init__(self, max_records: int = 10_000, body_limit: int = 65_536) -> None:
        self.max_records = max_records
        self.body_limit = body_limit
        self.redactor = Redactor()
        self._lock = threading.Lock()
        self._records: deque[RequestRecord] = deque(maxlen=max_records)
        self._subscribers: list[Subscriber] = []
        self._seq = 0

    # -- secrets ---------------------------------------------------------------------------
    @property
    def secrets(self) -> tuple[str, ...]:
        """Every value redacted from URLs, headers and bodies."""
        return self.redactor.values

    def add_secret(self, value: str | None, placeholder: str = REDACTED) -> None:
        self.redactor.add(value, placeholder)

    @property
    def capture_limit(self) -> int:
        """Bytes of a body to keep so that ``body_limit`` characters survive redaction."""
        return self.body_limit + self.redactor.longest

    # -- records ---------------------------------------------------------------------------
    def next_seq(self) -> int:
        with self._lock:
            self._seq += 1
            return self._seq

    def record(
        self,
        *,
        at: datetime,
        method: str,
        url: str,
        status: int | None,
        duration_ms: float,
        request_headers: Iterable[tuple[str, str]],
        response_headers: Iterable[tuple[str, str]],
        request_body: bytes,
        request_body_size: int,
        response_body: bytes,
        response_body_size: int,
        error: str | None = None,
        attempt: int = 1,
        kind: str = "",
    ) -> RequestRecord:
        """Redact, truncate, store and publish one attempt."""
        red = self.redactor
        req_h = red.headers(request_headers)
        resp_h = red.headers(response_headers)
        rec = RequestRecord(
            seq=self.next_seq(),
            at=at,
            method=method,
            url=red.text(url),
            status=status,
            duration_ms=round(duration_ms, 3),
            request_size=_headers_size(req_h) + request_body_size,
            response_size=_headers_size(resp_h) + response_body_size,
            request_headers=req_h,
            response_headers=resp_h,
            request_body=red.body(request_body[: self.capture_limit], self.body_limit),
            response_body=red.body(response_body[: self.capture_limit], self.body_limit),
            request_body_size=request_body_size,
            response_body_size=response_body_size,
            error=red.text(error) if error else None,
            attempt=attempt,
            kind=kind,
        )
        self.append(rec)
        return rec

    def append(self, rec: RequestRecord) -> None:
        with self._lock:
            self._records.append(rec)
            subscribers = list(self._subscribers)
        for callback in subscribers:  # outside the lock: a slow subscriber blocks only itself
            try:
                callback(rec)
            except Exception:  # a broken pane must not break a sync
                log.exception("request log subscriber failed")

    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        with self._lock:
            self._subscribers.append(callback)

        def unsubscribe() -> None:
            with self._lock:
                if callback in self._subscribers:
                    self._subscribers.remove(callback)

        return unsubscribe

    def records(self) -> list[RequestRecord]:
        with self._lock:
            return list(self._records)

    def clear(self) -> None:
        with self._lock:
            self._records.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._records)

    def __bool__(self) -> bool:
        # An empty log is still a log: ``request_log or RequestLog()`` must keep it.
        return True


def _headers_size(headers: Mapping[str, str]) -> int:
    return sum(len(k) + len(v) + 4 for k, v in headers.items())
