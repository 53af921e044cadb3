"""Turning HTTP outcomes into typed, actionable errors (see ``errors.py`` for the types).

Messages name the host, the call and the status; hints say what to change. Pendo's own
error text is copied in (one line, redacted) because it is usually the useful part.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any

import httpx

from pendo_tui.pendo.errors import (
    REGION_HINT,
    TRACK_HINT,
    WRITE_HINT,
    AuthError,
    BadRequestError,
    MalformedResponseError,
    NetworkError,
    NotFoundError,
    PendoError,
    RateLimitedError,
    ReadOnlyKeyError,
    ServerError,
    host_of,
    server_text,
)
from pendo_tui.pendo.shapes import error_body_text

if TYPE_CHECKING:
    from pendo_tui.pendo.transport import Call

# 501/505 say "this server will never do that": retrying cannot help.
NOT_RETRIED_5XX = frozenset({501, 505})


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def describe(exc: BaseException) -> str:
    """``ConnectError: [Errno 111] Connection refused`` — type and text of an exception."""
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def bad_request_hint(kind: str) -> str:
    """What to fix when Pendo answers 400/422, by call kind."""
    if kind == "aggregation":
        return "Fix the pipeline step Pendo names above (filters use C-like syntax, no `in`)."
    if kind == "metadata":
        return (
            "Check that each field exists in Pendo (create it first) and that values match "
            "the field's type."
        )
    if kind == "track":
        return "A track event needs type, event, visitorId and an integer timestamp in ms."
    return "Pendo's message above says what it did not accept."


class ErrorMapper:
    """Builds the error for a failed attempt; knows the region and the key's write access."""

    def __init__(
        self,
        region_label: str,
        redact: Callable[[str], str],
        write_access: Callable[[], bool | None],
    ) -> None:
        self.region_label = region_label
        self.redact = redact
        self.write_access = write_access

    def transport_error(self, call: Call, exc: httpx.HTTPError, *, sent: bool) -> PendoError:
        host = host_of(call.url)
        if isinstance(exc, httpx.DecodingError):  # e.g. a gzip body that does not inflate
            return self.malformed(call, exc, rows_yielded=False)
        if sent and isinstance(exc, httpx.RemoteProtocolError):
            err: PendoError = MalformedResponseError(
                f"The response from {host} for {call.what} was cut off ({describe(exc)}).",
                "Nothing of it was kept. Retry later; a proxy with a body size limit can also "
                "cause this.",
                url=call.url,
                method=call.method,
            )
            err.retryable = True  # a broken transfer, not a bad document: worth another try
        elif isinstance(exc, httpx.TimeoutException):
            setting = (
                "aggregation_timeout"
                if call.kind in ("aggregation", "report")
                else ("request_timeout")
            )
            err = NetworkError(
                f"{call.what.capitalize()} at {host} timed out ({type(exc).__name__}).",
                f"Raise [pendo] {setting}, or sync a smaller window.",
                url=call.url,
                method=call.method,
            )
        else:
            err = NetworkError(
                f"Could not talk to {host} for {call.what}: {describe(exc)}.",
                f"Check the network, proxy and the Pendo domain ({self.region_label}).",
                url=call.url,
                method=call.method,
            )
        if isinstance(err, NetworkError):
            err.request_sent = sent or not isinstance(
                exc, httpx.ConnectError | httpx.ConnectTimeout
            )
        return err

    def malformed(self, call: Call, exc: Exception, *, rows_yielded: bool) -> PendoError:
        detail = " ".join(str(exc).split())[:200]
        where = "after some rows were read; none may be kept" if rows_yielded else "nothing kept"
        return MalformedResponseError(
            f"Pendo sent {call.what} that is cut off or not valid JSON ({detail}); {where}.",
            "Retry the sync; if it persists, export the call as HAR from the debugger pane.",
            url=call.url,
            method=call.method,
        )

    def no_rows_key(self, call: Call, problem: str) -> PendoError:
        return MalformedResponseError(
            f"Pendo answered {call.what} with {problem}; no rows could be read, nothing kept.",
            "Check that [pendo] domain points at Pendo's API (not a proxy or its web app); "
            "if it does, export the call as HAR from the debugger pane and report it.",
            url=call.url,
            method=call.method,
        )

    def status_error(
        self, call: Call, status: int, headers: httpx.Headers, body: bytes
    ) -> PendoError:
        host = host_of(call.url)
        # Plain text or JSON (``{"overall": .., "fields": {..}}``), empty for auth failures.
        text = server_text(self.redact(error_body_text(body.decode("utf-8", "replace"))))
        kw: dict[str, Any] = {"status": status, "method": call.method, "url": call.url}
        label = self.region_label
        if status in (401, 403):  # 401 was never seen from Pendo; read it as 403
            err = self._auth_error(call, status, host, label, kw)
            if text:
                err.message += f" Pendo said: {text}"
            return err
        return self._other_error(call, status, headers, host, text, kw)

    def _auth_error(
        self, call: Call, status: int, host: str, label: str, kw: dict[str, Any]
    ) -> PendoError:
        if call.secret == "track":
            return AuthError(
                f"Pendo at {host} refused the track secret (HTTP {status}).", TRACK_HINT, **kw
            )
        if call.write and self.write_access() is False:
            return ReadOnlyKeyError(
                f"The integration key is read-only: Pendo at {host} refused {call.what} "
                f"(HTTP {status}).",
                WRITE_HINT,
                **kw,
            )
        if call.write:
            return AuthError(
                f"Pendo at {host} refused {call.what} (HTTP {status}): the key may lack write "
                f"access, or it belongs to another region than {label}.",
                f"{WRITE_HINT} {REGION_HINT}",
                **kw,
            )
        if call.kind == "aggregation":
            return AuthError(
                f"Pendo at {host} refused the aggregation (HTTP {status}): the key may need "
                f"write access (some subscriptions run aggregations only for read-write keys), "
                f"or it belongs to another region than {label}.",
                f"{REGION_HINT} If the key works for other calls, try a key with write access.",
                **kw,
            )
        return AuthError(
            f"Pendo at {host} ({label}) refused the integration key (HTTP {status}) "
            f"for {call.what}.",
            REGION_HINT,
            **kw,
        )

    def _other_error(
        self,
        call: Call,
        status: int,
        headers: httpx.Headers,
        host: str,
        text: str,
        kw: dict[str, Any],
    ) -> PendoError:
        if status == 404:
            return NotFoundError(
                f"Pendo at {host} has no {call.what} (HTTP 404).",
                "Check the id; Pendo also answers 404 for objects this key cannot see.",
                **kw,
            )
        if status in (400, 422):
            return BadRequestError(
                f"Pendo rejected {call.what} (HTTP {status}): {text or 'no reason given'}",
                bad_request_hint(call.kind),
                server_message=text,
                **kw,
            )
        retry_after = parse_retry_after(headers.get("retry-after"))
        if status == 429:
            return RateLimitedError(
                f"Pendo at {host} is rate limiting {call.what} (HTTP 429).",
                "Wait a few minutes, or lower concurrency / batch sizes of push syncs.",
                retry_after=retry_after,
                **kw,
            )
        if status >= 500:
            err = ServerError(
                f"Pendo at {host} failed on {call.what} (HTTP {status})"
                + (f": {text}" if text else "."),
                "Pendo or a proxy in front of it had a problem; retry later "
                "(https://status.pendo.io).",
                retry_after=retry_after,
                **kw,
            )
            err.retryable = status not in NOT_RETRIED_5XX
            return err
        return PendoError(
            f"Unexpected HTTP {status} from {host} for {call.what}"
            + (f": {text}" if text else "."),
            "Export the call from the debugger pane (HAR) to see the full exchange.",
            **kw,
        )
