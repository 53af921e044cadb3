"""A throw-away configuration against the simulator, for ``pendo-tui --demo``.

It exercises every mapping kind and both push destinations, using object ids looked up
by name in the dataset (ids derive from names, so any seed works).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pendo_tui.config.model import Config
from pendo_tui.config.secrets import StaticSecrets
from pendo_tui.sim.dataset import EXPAND_ALL, Dataset, object_id
from pendo_tui.sim.keys import (
    DEFAULT_APP_ID,
    DEMO_TRACK_SECRET,
    DEMO_WRITE_KEY,
    MOBILE_APP_ID,
)
from pendo_tui.sim.server import Simulator

DEMO_DATA = Path(__file__).parent / "demo_data"
DEMO_TIMEZONE = "America/New_York"

# Active visitors and minutes per account and day; the engine substitutes each day's window.
DEMO_PIPELINE: list[dict[str, Any]] = [
    {
        "source": {
            "events": {"appId": EXPAND_ALL},
            "timeSeries": {"period": "dayRange", "first": "now()", "count": -1},
        }
    },
    {"identified": "visitorId"},
    {"filter": 'accountId != ""'},
    {
        "group": {
            "group": ["accountId"],
            "fields": {"activeVisitors": {"count": "visitorId"}, "minutes": {"sum": "numMinutes"}},
        }
    },
]


def current_hour() -> datetime:
    return datetime.now(UTC).replace(minute=0, second=0, microsecond=0)


def demo_dataset(now: datetime | None = None) -> Dataset:
    """The demo's data ends at the real current hour, so the engine's windows
    (computed from the wall clock) find events. Tests use the fixed default instead."""
    return Dataset(now=now or current_hour(), timezone=DEMO_TIMEZONE)


def demo_simulator(port: int = 0, now: datetime | None = None) -> Simulator:
    """A not-yet-started simulator with live-dated demo data."""
    return Simulator(demo_dataset(now), port=port)


def demo_secrets() -> StaticSecrets:
    return StaticSecrets(integration_key=DEMO_WRITE_KEY, track_secret=DEMO_TRACK_SECRET)


def demo_config(base_url: str, store_url: str) -> Config:
    page = object_id("Page:Dashboard")
    feature = object_id("Feature:Export CSV")
    report = object_id("Report:Account usage - last 7 days")
    segment = object_id("Segment:Power users")
    return Config.model_validate(
        {
            "profile": "demo",
            "pendo": {"domain": base_url, "timezone": DEMO_TIMEZONE, "days_to_sync": 30},
            "store": {"url": store_url},
            "identity": {
                "end_user_email": "agent.email",
                "end_user_name": "agent.firstname",
                "end_user_surname": "agent.lastname",
                "auto_create_end_users": True,
            },
            "apps": [
                {"id": str(DEFAULT_APP_ID), "prefix": "Web"},
                {"id": str(MOBILE_APP_ID), "prefix": "Mobile"},
            ],
            "segments": [{"id": segment, "name": "Power users"}],
            "pull": [
                {
                    "name": "Dashboard views",
                    "kind": "page",
                    "id": page,
                    "object": "end_user",
                    "auto_create_users": True,
                },
                {
                    "name": "Dashboard views (power users)",
                    "kind": "page",
                    "id": page,
                    "object": "company",
                    "segment": segment,
                    "passive": True,
                },
                {"name": "CSV exports", "kind": "feature", "id": feature, "multi_app": True},
                {
                    "name": "Weekly usage report",
                    "kind": "report",
                    "id": report,
                    "columns": {"numEvents": "Weekly events", "daysActive": "Weekly active days"},
                },
                {
                    "name": "Account activity",
                    "kind": "aggregation",
                    "pipeline": json.dumps(DEMO_PIPELINE),
                    "columns": {"activeVisitors": "Active visitors", "minutes": "Minutes in app"},
                },
                {"name": "Web PES", "kind": "pes", "app": str(DEFAULT_APP_ID)},
            ],
            "push": [
                {
                    "name": "Warehouse events",
                    "kind": "events",
                    "model": {"csv": str(DEMO_DATA / "events.csv")},
                    "primary_key": "event_id",
                    "event_column": "event",
                    "visitor_id": "visitor_id",
                    "account_id": "account_id",
                    "properties": ["plan", "source"],
                },
                {
                    "name": "Visitor roles",
                    "kind": "visitor",
                    "model": {"csv": str(DEMO_DATA / "visitors.csv")},
                    "primary_key": "visitor_id",
                    "match": "visitor_id",
                    "group": "custom",
                    "fields": {"role": "role", "seats_used": "seats_used"},
                },
            ],
        }
    )
