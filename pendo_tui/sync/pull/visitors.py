"""Visitor metadata the identity settings need: read once per run, kept slim."""

from __future__ import annotations

from typing import Any

from pendo_tui.config.model import Config
from pendo_tui.pendo.pipelines import visitors_pipeline
from pendo_tui.sync.ports import PendoApi


def read_visitors(config: Config, client: PendoApi) -> dict[str, dict[str, Any]]:
    """visitorId → the metadata paths identity and PES read (memory is per visitor)."""
    paths = metadata_paths(config)
    out: dict[str, dict[str, Any]] = {}
    for rec in client.aggregate(visitors_pipeline(), name="pendo-tui-visitors"):
        vid = rec.get("visitorId")
        if vid is not None:
            out[str(vid)] = slim(rec.get("metadata") or {}, paths)
    return out


def metadata_paths(config: Config) -> list[list[str]]:
    ident = config.identity
    fields = [
        ident.end_user_email,
        ident.end_user_name,
        ident.end_user_surname,
        ident.asset_id,
        ident.project_id,
        ident.company_external_id,
        ident.end_user_external_id,
        "pendo.donotprocess",
        "auto.firstvisit",
        "auto.accountid",
    ]
    out = []
    for f in fields:
        if f and f not in ("visitorId", "accountId", "-"):
            parts = f.split(".")
            out.append(parts[1:] if parts[0] == "metadata" else parts)
    return out


def slim(metadata: dict[str, Any], paths: list[list[str]]) -> dict[str, Any]:
    """Keep only the metadata paths identity and PES read."""
    out: dict[str, Any] = {}
    for parts in paths:
        node: Any = metadata
        for p in parts:
            node = node.get(p) if isinstance(node, dict) else None
        if node is None:
            continue
        target = out
        for p in parts[:-1]:
            target = target.setdefault(p, {})
        target[parts[-1]] = node
    return out
