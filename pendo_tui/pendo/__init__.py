"""Pendo API client, typed errors, request log and pipeline builders (no UI imports).

The names below load on first use (PEP 562): importing one small module of this package
(``pendo_tui.pendo.pipelines`` for the config model, ``requestlog`` for the TUI) must not
pull in httpx and the client — the TUI's first screen waits for nothing it does not need.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pendo_tui.pendo.client import MetadataResult, PendoClient, TokenInfo
    from pendo_tui.pendo.har import to_curl, to_har
    from pendo_tui.pendo.requestlog import RequestLog, RequestRecord

_WHERE = {
    "MetadataResult": "client",
    "PendoClient": "client",
    "TokenInfo": "client",
    "to_curl": "har",
    "to_har": "har",
    "RequestLog": "requestlog",
    "RequestRecord": "requestlog",
}

__all__ = [
    "MetadataResult",
    "PendoClient",
    "RequestLog",
    "RequestRecord",
    "TokenInfo",
    "to_curl",
    "to_har",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"{__name__}.{module}"), name)
