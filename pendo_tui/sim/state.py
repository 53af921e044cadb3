"""What clients wrote to the simulator, kept so tests can assert on it.

Every record is O(1) (list append, dict update) because push benchmarks send
100k track events and metadata rows through it.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

MetadataKey = tuple[str, str, str]  # (kind, group, id)
# Events past this many are counted but not kept, so a long demo session stays bounded.
TRACK_EVENT_LIMIT = 1_000_000


@dataclass
class SimState:
    track_events: list[dict[str, Any]] = field(default_factory=list)
    track_event_count: int = 0  # all accepted events, kept or not
    metadata: dict[MetadataKey, dict[str, Any]] = field(default_factory=dict)
    # (kind, group) -> {field name: descriptor} created through the schema endpoint
    fields: dict[tuple[str, str], dict[str, dict[str, Any]]] = field(default_factory=dict)
    created: dict[str, set[str]] = field(default_factory=dict)  # kind -> ids made by ?create
    bulk_deletes: list[dict[str, Any]] = field(default_factory=list)
    requests: Counter[str] = field(default_factory=Counter)  # request kind -> count
    # aggregations answered, the source rows they read, and the server time charged for it
    scans: int = 0
    rows_scanned: int = 0
    scan_seconds: float = 0.0
    scanned_sources: Counter[str] = field(default_factory=Counter)  # source -> calls
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def reset(self) -> None:
        with self.lock:
            self.track_events.clear()
            self.track_event_count = 0
            self.metadata.clear()
            self.fields.clear()
            self.created.clear()
            self.bulk_deletes.clear()
            self.requests.clear()
            self.scans = self.rows_scanned = 0
            self.scan_seconds = 0.0
            self.scanned_sources.clear()

    def record_scan(self, rows: int, seconds: float, sources: list[str]) -> None:
        with self.lock:
            self.scans += 1
            self.rows_scanned += rows
            self.scan_seconds += seconds
            self.scanned_sources.update(sources)

    def add_track_event(self, event: dict[str, Any]) -> None:
        self.track_event_count += 1
        if len(self.track_events) < TRACK_EVENT_LIMIT:
            self.track_events.append(event)

    def set_values(self, kind: str, group: str, obj_id: str, values: dict[str, Any]) -> None:
        self.metadata.setdefault((kind, group, obj_id), {}).update(values)

    def to_json(self, limit: int | None = None) -> dict[str, Any]:
        """A JSON view for the admin API; ``limit`` bounds the track event list."""
        events = self.track_events if limit is None else self.track_events[-limit:]
        return {
            "track_events": events,
            "track_event_count": self.track_event_count,
            "metadata": [
                {"kind": k, "group": g, "id": i, "values": v}
                for (k, g, i), v in self.metadata.items()
            ],
            "fields": [{"kind": k, "group": g, "fields": f} for (k, g), f in self.fields.items()],
            "created": {k: sorted(v) for k, v in self.created.items()},
            "bulk_deletes": self.bulk_deletes,
            "requests": dict(self.requests),
            "scans": {
                "count": self.scans,
                "rows": self.rows_scanned,
                "seconds": round(self.scan_seconds, 6),
                "sources": dict(self.scanned_sources),
            },
        }
