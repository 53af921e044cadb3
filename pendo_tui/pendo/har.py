"""Exports of request records: HAR 1.2 for a run, a curl command for one call.

Records are already redacted; the exports only map the secret placeholders to environment
variables (curl) so a copied command works once the user exports the variable.
"""

from __future__ import annotations

import shlex
from datetime import UTC
from http import HTTPStatus
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

from pendo_tui.pendo.requestlog import REDACTED_KEY, REDACTED_TRACK
from pendo_tui.pendo.version import package_version

if TYPE_CHECKING:
    from collections.abc import Iterable

    from pendo_tui.pendo.requestlog import RequestRecord

HTTP_VERSION = "HTTP/1.1"
ENV_PLACEHOLDERS = {
    REDACTED_KEY: "${PENDO_INTEGRATION_KEY}",
    REDACTED_TRACK: "${PENDO_TRACK_SECRET}",
}
# Set by curl itself, or meaningless when replayed.
_CURL_SKIP_HEADERS = frozenset(
    {"host", "content-length", "accept-encoding", "connection", "user-agent"}
)


def _pairs(headers: dict[str, str]) -> list[dict[str, str]]:
    return [{"name": k, "value": v} for k, v in headers.items()]


def _status_text(status: int | None) -> str:
    if not status:
        return ""
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


def _entry(rec: RequestRecord) -> dict[str, Any]:
    started = rec.at if rec.at.tzinfo else rec.at.replace(tzinfo=UTC)
    req_mime = rec.request_headers.get("content-type", "")
    resp_mime = rec.response_headers.get("content-type", "")
    entry: dict[str, Any] = {
        "startedDateTime": started.isoformat(),
        "time": rec.duration_ms,
        "request": {
            "method": rec.method,
            "url": rec.url,
            "httpVersion": HTTP_VERSION,
            "cookies": [],
            "headers": _pairs(rec.request_headers),
            "queryString": [
                {"name": k, "value": v}
                for k, v in parse_qsl(urlsplit(rec.url).query, keep_blank_values=True)
            ],
            "postData": {"mimeType": req_mime, "params": [], "text": rec.request_body},
            "headersSize": -1,
            "bodySize": rec.request_body_size,
        },
        "response": {
            "status": rec.status or 0,
            "statusText": _status_text(rec.status),
            "httpVersion": HTTP_VERSION,
            "cookies": [],
            "headers": _pairs(rec.response_headers),
            "content": {
                "size": rec.response_body_size,
                "mimeType": resp_mime,
                "text": rec.response_body,
            },
            "redirectURL": "",
            "headersSize": -1,
            "bodySize": rec.response_body_size if rec.status else -1,
        },
        "cache": {},
        "timings": {"send": 0, "wait": rec.duration_ms, "receive": 0},
        "_kind": rec.kind,
        "_source": getattr(rec, "source", ""),  # the mapping or sync that made the call
        "_attempt": rec.attempt,
    }
    if rec.error:
        entry["_error"] = rec.error
    if len(rec.response_body.encode()) < rec.response_body_size:
        entry["response"]["content"]["comment"] = (
            f"truncated: first {len(rec.response_body)} characters of "
            f"{rec.response_body_size} bytes"
        )
    return entry


def to_har(records: Iterable[RequestRecord]) -> dict[str, Any]:
    """HAR 1.2 document (``json.dumps`` it) of the given records, in order."""
    return {
        "log": {
            "version": "1.2",
            "creator": {"name": "pendo-tui", "version": package_version()},
            "pages": [],
            "entries": [_entry(r) for r in records],
        }
    }


def _shell(text: str) -> str:
    """Quote ``text`` for a POSIX shell, turning secret placeholders into env variables."""
    if not any(p in text for p in ENV_PLACEHOLDERS):
        return shlex.quote(text)
    # Double quotes so the variables expand; escape what is special inside them.
    out = text
    for ch in ("\\", '"', "`", "$"):
        out = out.replace(ch, "\\" + ch)
    for placeholder, var in ENV_PLACEHOLDERS.items():
        out = out.replace(placeholder, var)
    return f'"{out}"'


def to_curl(record: RequestRecord) -> str:
    """A curl command replaying ``record``; the key reads ``$PENDO_INTEGRATION_KEY``."""
    parts = ["curl", "-X", record.method, _shell(record.url)]
    for name, value in record.request_headers.items():
        if name in _CURL_SKIP_HEADERS:
            continue
        parts += ["-H", _shell(f"{name}: {value}")]
    if record.request_body:
        parts += ["--data-raw", _shell(record.request_body)]
    cmd = " ".join(parts)
    if len(record.request_body.encode()) < record.request_body_size:
        cmd = (
            f"# warning: the request body was truncated in the log "
            f"({record.request_body_size} bytes originally)\n{cmd}"
        )
    return cmd
