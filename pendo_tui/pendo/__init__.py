"""Pendo API client, typed errors, request log and pipeline builders (no UI imports)."""

from pendo_tui.pendo.client import MetadataResult, PendoClient, TokenInfo
from pendo_tui.pendo.har import to_curl, to_har
from pendo_tui.pendo.requestlog import RequestLog, RequestRecord

__all__ = [
    "MetadataResult",
    "PendoClient",
    "RequestLog",
    "RequestRecord",
    "TokenInfo",
    "to_curl",
    "to_har",
]
