"""Fingerprints of the settings that shape a mapping's stored data.

Sync now never rewrites old data (docs/pendo-reference.md#windows-and-timezone-rules), so when
identity, apps, window or the mapping itself change, the stored rows and new rows would
have different shapes. The fingerprint stored in ``pull_state`` lets ``--sync`` and the
TUI say "configuration changed: run --resync-all" instead of silently mixing them. Names
of things that do not shape data (``enabled``) are left out so toggling them does not
demand a rebuild.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from typing import Any

from pendo_tui.config.model import Config, PullMapping

CHANGED_MESSAGE = "configuration changed: run --resync-all"


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def mapping_fingerprint(config: Config, mapping: PullMapping) -> str:
    """SHA-256 over everything that decides which rows this mapping writes."""
    shape = {
        "identity": config.identity.model_dump(),
        "apps": [a.model_dump() for a in config.apps],
        "window": {
            "timezone": config.pendo.timezone,
            "days_to_sync": config.pendo.days_to_sync,
        },
        "mapping": mapping.model_dump(exclude={"enabled"}),
    }
    if mapping.kind == "aggregation":  # JSON text and list spell the same pipeline
        shape["mapping"]["pipeline"] = mapping.pipeline_steps()
    return hashlib.sha256(_canonical(shape).encode()).hexdigest()


def stale_mappings(
    config: Config, mappings: Iterable[PullMapping], stored: Mapping[str, str | None]
) -> list[str]:
    """Names of ``mappings`` whose stored rows were built with other settings.

    ``stored`` maps a mapping name to the fingerprint its data was written with; a
    mapping without one (never synced) is not stale: its first sync builds it whole.
    """
    return [
        m.name
        for m in mappings
        if stored.get(m.name) and stored[m.name] != mapping_fingerprint(config, m)
    ]


def fingerprints(config: Config) -> dict[str, str]:
    """{pull mapping name: fingerprint} for ``config`` (what a sync would store now)."""
    return {m.name: mapping_fingerprint(config, m) for m in config.pull}
