"""The simulated subscription's fixed catalogue: apps, object names, accounts, people.

Object ids derive from names (not the seed) so the demo config can name pages and reports
without knowing which seed the simulator runs.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from pendo_tui.sim.keys import DEFAULT_APP_ID, LEGACY_APP_ID, MOBILE_APP_ID

APPS: list[dict[str, Any]] = [
    {"id": DEFAULT_APP_ID, "name": "Acme Web"},
    {"id": MOBILE_APP_ID, "name": "Acme Mobile"},
    {"id": LEGACY_APP_ID, "name": "Legacy Admin"},
]
PAGES = {
    DEFAULT_APP_ID: ["Dashboard", "Billing / Invoices", "Reports", "Settings", "Team", "Search"],
    MOBILE_APP_ID: ["Mobile Home", "Mobile Inbox", "Mobile Profile"],
    LEGACY_APP_ID: ["Legacy Console"],
}
FEATURES = {
    DEFAULT_APP_ID: [
        "Export CSV",
        "Create Report",
        "Invite User",
        "Pay Invoice",
        "Filter Results",
        "Share Link",
    ],
    MOBILE_APP_ID: ["Mobile Compose", "Mobile Sync"],
    LEGACY_APP_ID: ["Legacy Import"],
}
TRACK_TYPES = {
    DEFAULT_APP_ID: ["Report Exported", "Subscription Upgraded", "Seat Added"],
    MOBILE_APP_ID: ["Push Opened"],
}
CORE = {"Dashboard", "Reports", "Create Report", "Export CSV", "Report Exported", "Mobile Home"}
ACCOUNTS = [
    ("acme", "Acme Corp", "enterprise", "parent-north"),
    ("globex", "Globex", "enterprise", "parent-north"),
    ("initech", "Initech", "pro", "parent-north"),
    ("umbrella", "Umbrella Corp", "pro", "parent-south"),
    ("hooli", "Hooli", "pro", "parent-south"),
    ("stark", "Stark Industries", "enterprise", None),
    ("wayne", "Wayne Enterprises", "pro", None),
    ("wonka", "Wonka Industries", "trial", None),
    ("tyrell", "Tyrell Corp", "trial", None),
    ("cyberdyne", "Cyberdyne Systems", "pro", None),
    ("soylent", "Soylent", "trial", None),
    ("vandelay", "Vandelay Industries", "pro", None),
]
PARENTS = {"parent-north": "North Holdings", "parent-south": "South Group"}
FIRST_NAMES = [
    "Ada",
    "Grace",
    "Alan",
    "Edsger",
    "Barbara",
    "Ken",
    "Linus",
    "Margaret",
    "Dennis",
    "Frances",
]
LAST_NAMES = [
    "Lovelace",
    "Hopper",
    "Turing",
    "Dijkstra",
    "Liskov",
    "Thompson",
    "Torvalds",
    "Hamilton",
]
AGENTS = [
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_3) AppleWebKit/605.1.15 Safari/605.1.15",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/122.0 Safari/537.36",
    "Mozilla/5.0 (X11; Linux x86_64; rv:123.0) Gecko/20100101 Firefox/123.0",
]
SERVERS = {
    DEFAULT_APP_ID: "app.acme.example",
    MOBILE_APP_ID: "ios",
    LEGACY_APP_ID: "admin.acme.example",
}
ADMIN_USER = {"id": "u-admin", "username": "admin@acme.example", "first": "Pat", "last": "Admin"}


def object_id(name: str) -> str:
    """Pendo-looking opaque id (27 base64url chars), stable for a name across seeds."""
    digest = hashlib.sha1(name.encode()).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def definitions(kind: str, names: dict[int, list[str]], now_ms: int) -> list[dict[str, Any]]:
    out = []
    base = now_ms - 400 * 86_400_000
    for app_id, app_names in names.items():
        for i, name in enumerate(app_names):
            obj: dict[str, Any] = {
                "id": object_id(f"{kind}:{name}"),
                "name": name,
                "kind": kind,
                "appId": app_id,
                "appIds": [app_id],
                "createdAt": base + i * 3_600_000,
                "lastUpdatedAt": base + i * 3_600_000 + 86_400_000,
                "createdByUser": dict(ADMIN_USER),
                "lastUpdatedByUser": dict(ADMIN_USER),
                "isCoreEvent": name in CORE,
                "group": {"id": object_id(f"group:{app_id}"), "name": "Core product"},
                "dirty": False,
            }
            if kind == "Page":
                slug = name.lower().replace(" / ", "/").replace(" ", "-")
                obj["rules"] = [{"rule": f"//*/{slug}", "designerHint": f"https://x/{slug}"}]
            elif kind == "Feature":
                obj["appWide"] = False
                obj["elementPathRules"] = [f"#{name.lower().replace(' ', '-')}"]
            else:
                obj["trackTypeName"] = name
                obj["trackTypeRules"] = [name]
                obj["eventPropertyNameList"] = ["plan", "source"]
            out.append(obj)
    return out


def guides(now_ms: int) -> list[dict[str, Any]]:
    return [
        {
            "id": object_id(f"Guide:{name}"),
            "name": name,
            "kind": "Guide",
            "appId": app_id,
            "state": state,
            "launchMethod": "auto",
            "isMultiStep": False,
            "steps": [],
            "createdAt": now_ms - 90 * 86_400_000,
        }
        for name, app_id, state in (
            ("Welcome tour", DEFAULT_APP_ID, "public"),
            ("Mobile onboarding", MOBILE_APP_ID, "draft"),
        )
    ]


def parent_accounts() -> list[dict[str, Any]]:
    return [
        {"accountId": pid, "metadata": {"agent": {"name": name}, "auto": {"id": pid}}}
        for pid, name in PARENTS.items()
    ]
