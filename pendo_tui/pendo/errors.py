"""Typed errors of the Pendo client: each says what failed (host, call, status) and how to fix it.

The CLI maps them to exit codes through ``PendoTuiError.exit_code``: authentication and
permission problems exit 3, everything else Pendo- or network-related exits 4.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from pendo_tui.errors import ExitCode, PendoTuiError

# Longest slice of Pendo's own error text copied into a message (it is plain text, one line).
_MAX_SERVER_TEXT = 500

REGION_HINT = (
    "An integration key works only in its own Pendo region: set [pendo] domain to the "
    "region you log into (us, us1, eu, jp, au) or its base URL, and check that the key "
    "was not revoked (Pendo: Settings → Integrations → Integration Keys)."
)
WRITE_HINT = (
    "Create an integration key with 'Allow Write Access' (Pendo: Settings → Integrations → "
    "Integration Keys) and store it with the PENDO_INTEGRATION_KEY variable or the keyring."
)
TRACK_HINT = (
    "The track secret is per app and is not the integration key: Pendo → Settings → "
    "Subscription settings → the app → App details → 'Track Event shared secret'. "
    "Provide it with PENDO_TRACK_SECRET or the keyring."
)


def host_of(url: str) -> str:
    """``https://app.eu.pendo.io/api/v1/page`` → ``app.eu.pendo.io`` (with port if any)."""
    return urlsplit(url).netloc or url


def server_text(body: bytes | str | None) -> str:
    """Pendo's error body as one short line (bodies are plain text, sometimes JSON)."""
    if not body:
        return ""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    text = " ".join(text.split())
    if len(text) > _MAX_SERVER_TEXT:
        text = text[:_MAX_SERVER_TEXT] + "…"
    return text


class PendoError(PendoTuiError):
    """A Pendo call failed (exit 4 unless a subclass says otherwise)."""

    exit_code = ExitCode.REMOTE
    title = "Pendo error"
    retryable = False

    def __init__(
        self,
        message: str,
        hint: str | None = None,
        *,
        status: int | None = None,
        method: str | None = None,
        url: str | None = None,
    ) -> None:
        super().__init__(message, hint)
        self.status = status
        self.method = method
        self.url = url

    @property
    def host(self) -> str | None:
        return host_of(self.url) if self.url else None


class AuthError(PendoError):
    """Pendo refused the key (403/401): bad, revoked, wrong region, or not allowed for this call."""

    exit_code = ExitCode.AUTH
    title = "Pendo refused the key"


class ReadOnlyKeyError(AuthError):
    """A write was attempted with a key that has no write access."""

    title = "Integration key is read-only"


class NotFoundError(PendoError):
    title = "Not found in Pendo"


class BadRequestError(PendoError):
    """Pendo rejected the request (400/422); ``server_message`` is Pendo's own text."""

    title = "Pendo rejected the request"

    def __init__(self, message: str, hint: str | None = None, *, server_message: str = "", **kw):
        super().__init__(message, hint, **kw)
        self.server_message = server_message


class RateLimitedError(PendoError):
    """429: ``retry_after`` holds Pendo's requested wait in seconds, when it sent one."""

    title = "Rate limited by Pendo"
    retryable = True

    def __init__(self, message: str, hint: str | None = None, *, retry_after=None, **kw):
        super().__init__(message, hint, **kw)
        self.retry_after: float | None = retry_after


class ServerError(PendoError):
    """5xx from Pendo (or a proxy in front of it)."""

    title = "Pendo server error"
    retryable = True

    def __init__(self, message: str, hint: str | None = None, *, retry_after=None, **kw):
        super().__init__(message, hint, **kw)
        self.retry_after: float | None = retry_after


class NetworkError(PendoError):
    """The host could not be reached, or the connection broke or timed out."""

    title = "Network error"
    retryable = True
    request_sent = True  # False when the connection never opened: safe to re-send anything


class MalformedResponseError(PendoError):
    """The body was cut off or is not the JSON Pendo sends; nothing of it may be kept."""

    title = "Malformed response from Pendo"
