"""A deterministic Pendo subscription for the simulator, the demo and tests.

Everything derives from ``random.Random(seed)`` and a fixed ``now`` so answers are
reproducible. Object ids derive from names (not the seed) so the demo config can name
pages and reports without knowing which seed the simulator runs. Raw facts are plain
lists so tests can compute expected answers without the aggregation evaluator.
"""

from __future__ import annotations

import copy
import random
from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from pendo_tui.sim import catalogue as cat
from pendo_tui.sim import reports as report_defs
from pendo_tui.sim.catalogue import object_id
from pendo_tui.sim.keys import DEFAULT_APP_ID, LEGACY_APP_ID, MOBILE_APP_ID

__all__ = ["DEFAULT_NOW", "EXPAND_ALL", "SOURCES", "Dataset", "is_anonymous", "object_id"]

DEFAULT_NOW = datetime(2026, 3, 20, 15, 0, tzinfo=UTC)  # 11:00 in New York, 12 days after DST
EXPAND_ALL = 'expandAppIds("*")'
SOURCES = (
    "pageEvents",
    "featureEvents",
    "trackEvents",
    "events",
    "visitors",
    "accounts",
    "pages",
    "features",
    "trackTypes",
    "guides",
)
_EVENT_SOURCES = {
    "pageEvents": "pageId",
    "featureEvents": "featureId",
    "trackEvents": "trackTypeId",
}
_ANON_PREFIX = "_PENDO_T_"


def resolve_app_ids(app_param: Any) -> set[int] | None:
    """Apps an ``appId`` source param selects; None means every app."""
    if app_param is None:
        return {DEFAULT_APP_ID}
    if isinstance(app_param, str) and app_param.replace(" ", "").startswith("expandAppIds("):
        return None
    if isinstance(app_param, list):
        return {int(a) for a in app_param}
    return {int(app_param)}


class Dataset:
    """One simulated subscription. Build once; treat the public lists as read-only."""

    def __init__(
        self,
        seed: int = 7,
        now: datetime = DEFAULT_NOW,
        timezone: str = "America/New_York",
        days: int = 120,
        scale: int = 1,
    ) -> None:
        if now.tzinfo is None:
            raise ValueError("now must be timezone-aware")
        self.seed = seed
        self.now = now
        self.now_ms = int(now.timestamp() * 1000)
        self.timezone = timezone
        self.tz = ZoneInfo(timezone)
        self.days = days
        self.scale = scale
        self.today: date = now.astimezone(self.tz).date()
        self._rng = random.Random(seed)
        self.apps = copy.deepcopy(cat.APPS)
        self.pages = cat.definitions("Page", cat.PAGES, self.now_ms)
        self.features = cat.definitions("Feature", cat.FEATURES, self.now_ms)
        self.track_types = cat.definitions("TrackType", cat.TRACK_TYPES, self.now_ms)
        self.guides = cat.guides(self.now_ms)
        self.parent_accounts = cat.parent_accounts()
        self.accounts = self._accounts()
        self.visitors = self._visitors(40 * scale)
        self.events: list[dict[str, Any]] = []  # raw rollup rows, one per object
        self.activity: list[dict[str, Any]] = []  # `events` source: one per visitor/app/day
        self._generate_events()
        self._finish_visitor_dates()
        self.segments = self._segments()
        self.reports = report_defs.build_reports(self)
        self._by_object: dict[str, list[dict[str, Any]]] = {}
        for row in self.events:
            self._by_object.setdefault(_row_object_id(row), []).append(row)
        self._scan_counts = _scan_counts(self.events, self.activity)
        self._visitors_by_id = {v["visitorId"]: v for v in self.visitors}
        self._accounts_by_id = {a["accountId"]: a for a in self.accounts}
        self._parent_ids = self.parent_account_ids()

    # ---- time -----------------------------------------------------------------------
    def day_start_ms(self, day: date) -> int:
        """Local midnight of ``day`` in the subscription zone, epoch ms (DST-correct)."""
        return int(datetime(day.year, day.month, day.day, tzinfo=self.tz).timestamp() * 1000)

    def day_of_ms(self, ms: int) -> date:
        return datetime.fromtimestamp(ms / 1000, tz=self.tz).date()

    def event_days(self) -> list[date]:
        """Days that carry events: ``days`` days before today, plus today (partial)."""
        return [self.today - timedelta(days=i) for i in range(self.days, -1, -1)]

    def day_starts(self) -> list[int]:
        return [self.day_start_ms(d) for d in self.event_days()]

    # ---- object catalogue -----------------------------------------------------------
    def _accounts(self) -> list[dict[str, Any]]:
        out = []
        for acc_id, name, plan, parent in cat.ACCOUNTS:
            first = self.now_ms - self._rng.randint(150, 400) * 86_400_000
            auto: dict[str, Any] = {"id": acc_id, "firstvisit": first, "lastvisit": first}
            if parent:
                auto["parentaccountid"] = parent
            out.append(
                {
                    "accountId": acc_id,
                    "parentAccountId": parent,
                    "metadata": {
                        "agent": {"name": name, "plan": plan},
                        "auto": auto,
                        "custom": {"tier": plan},
                    },
                }
            )
        return out

    def _visitors(self, n: int) -> list[dict[str, Any]]:
        rng = self._rng
        out = []
        for i in range(n):
            anonymous = i % 20 == 19
            no_account = i % 13 == 5
            no_email = i % 7 == 3
            first = self.now_ms - rng.randint(20, 300) * 86_400_000
            if anonymous:
                vid = f"{_ANON_PREFIX}{rng.getrandbits(48):012x}"
                account = ""
                agent: dict[str, Any] = {}
            else:
                vid = f"v-{i:04d}"
                account = "" if no_account else rng.choice(cat.ACCOUNTS)[0]
                fn, ln = rng.choice(cat.FIRST_NAMES), rng.choice(cat.LAST_NAMES)
                agent = {"firstname": fn, "lastname": ln}
                if not no_email:
                    domain = f"{account}.example" if account else "gmail.example"
                    agent["email"] = f"{fn}.{ln}{i}@{domain}".lower()
            auto = {
                "id": vid,
                "accountid": account,
                "accountids": [account] if account else [],
                "firstvisit": first,
                "lastvisit": first,
                "lastupdated": first,
            }
            out.append(
                {
                    "visitorId": vid,
                    "accountId": account,
                    "anonymous": anonymous,
                    "metadata": {"agent": agent, "auto": auto, "custom": {}},
                    # generation knobs: how often and where this visitor is active
                    "_rate": rng.uniform(0.15, 0.6),
                    "_apps": self._visitor_apps(i),
                }
            )
        return out

    def _visitor_apps(self, i: int) -> list[int]:
        apps = [DEFAULT_APP_ID]
        if i % 3 == 1:
            apps.append(MOBILE_APP_ID)
        if i % 9 == 4:
            apps.append(LEGACY_APP_ID)
        return apps

    # ---- events ---------------------------------------------------------------------
    def _generate_events(self) -> None:
        rng = self._rng
        by_app = {
            "pageId": _group_ids(self.pages),
            "featureId": _group_ids(self.features),
            "trackTypeId": _group_ids(self.track_types),
        }
        for day in self.event_days():
            day_ms = self.day_start_ms(day)
            for v in self.visitors:
                if rng.random() >= v["_rate"]:
                    continue
                for app_id in v["_apps"]:
                    if app_id != DEFAULT_APP_ID and rng.random() < 0.5:
                        continue
                    self._visitor_app_day(v, app_id, day_ms, by_app)

    def _visitor_app_day(
        self, v: dict[str, Any], app_id: int, day_ms: int, by_app: dict[str, dict[int, list[str]]]
    ) -> None:
        rng = self._rng
        ip = f"203.0.113.{rng.randint(1, 254)}"
        agent = rng.choice(cat.AGENTS)
        base = {
            "visitorId": v["visitorId"],
            "accountId": v["accountId"],
            "appId": app_id,
            "day": day_ms,
            "remoteIp": ip,
            "server": cat.SERVERS[app_id],
            "userAgent": agent,
        }
        counts = {"pageId": (1, 2), "featureId": (0, 2), "trackTypeId": (0, 1)}
        total_events = 0
        max_minutes = 0
        for field, (lo, hi) in counts.items():
            ids = by_app[field].get(app_id, [])
            if not ids:
                continue
            k = min(len(ids), rng.randint(lo, hi))
            for oid in rng.sample(ids, k):
                events = rng.randint(1, 30)
                minutes = rng.randint(1, min(events, 20))
                total_events += events
                max_minutes = max(max_minutes, minutes)
                if events >= 4 and rng.random() < 0.1:
                    # a second browser the same day: Pendo keeps it as a separate row
                    half = events // 2
                    self.events.append(base | {field: oid, "numEvents": half, "numMinutes": 1})
                    other = base | {"remoteIp": "198.51.100.7", "userAgent": cat.AGENTS[0]}
                    rest = events - half
                    row = other | {field: oid, "numEvents": rest, "numMinutes": min(minutes, rest)}
                    self.events.append(row)
                else:
                    self.events.append(
                        base | {field: oid, "numEvents": events, "numMinutes": minutes}
                    )
        if total_events:
            minutes = min(24 * 60, max_minutes + rng.randint(0, 5))
            self.activity.append(base | {"numEvents": total_events, "numMinutes": minutes})

    def _finish_visitor_dates(self) -> None:
        last: dict[str, int] = {}
        first: dict[str, int] = {}
        for row in self.activity:
            vid = row["visitorId"]
            t = row["day"] + 10 * 3_600_000
            last[vid] = max(last.get(vid, t), t)
            first[vid] = min(first.get(vid, t), t)
        acc_last: dict[str, int] = {}
        for v in self.visitors:
            auto = v["metadata"]["auto"]
            vid = v["visitorId"]
            if vid in first:
                auto["firstvisit"] = min(auto["firstvisit"], first[vid])
                auto["lastvisit"] = last[vid]
                auto["lastupdated"] = last[vid]
            if v["accountId"]:
                acc_last[v["accountId"]] = max(acc_last.get(v["accountId"], 0), auto["lastvisit"])
        for a in self.accounts:
            auto = a["metadata"]["auto"]
            auto["lastvisit"] = max(auto["firstvisit"], acc_last.get(a["accountId"], 0))

    def _segments(self) -> list[dict[str, Any]]:
        totals: dict[str, int] = {}
        for row in self.activity:
            totals[row["visitorId"]] = totals.get(row["visitorId"], 0) + row["numEvents"]
        identified = [v for v in self.visitors if not v["anonymous"]]
        power = sorted(identified, key=lambda v: (-totals.get(v["visitorId"], 0), v["visitorId"]))
        trial = {a[0] for a in cat.ACCOUNTS if a[2] == "trial"}
        specs = [
            ("Power users", [v["visitorId"] for v in power[:10]]),
            ("Trial accounts", [v["visitorId"] for v in identified if v["accountId"] in trial]),
            ("Mobile users", [v["visitorId"] for v in identified if MOBILE_APP_ID in v["_apps"]]),
        ]
        return [
            {
                "id": object_id(f"Segment:{name}"),
                "name": name,
                "kind": "Segment",
                "shared": True,
                "createdAt": self.now_ms - 60 * 86_400_000,
                "lastUpdatedAt": self.now_ms - 30 * 86_400_000,
                "createdByUser": dict(cat.ADMIN_USER),
                "visitorIds": sorted(members),
            }
            for name, members in specs
        ]

    # ---- lookups used by the server and the aggregation evaluator --------------------
    def find(self, kind: str, name: str) -> dict[str, Any]:
        """The object of ``kind`` (pages, features, track_types, reports, segments) by name."""
        for obj in getattr(self, kind):
            if obj["name"] == name:
                return obj
        raise KeyError(f"no {kind} named {name!r}")

    def report_rows(self, report_id: str) -> list[dict[str, Any]]:
        for report in self.reports:
            if report["id"] == report_id:
                return report_defs.report_rows(self, report)
        raise KeyError(report_id)

    def segment_visitors(self, segment_id: str) -> set[str] | None:
        for seg in self.segments:
            if seg["id"] == segment_id:
                return set(seg["visitorIds"])
        return None

    def visitor_object(self, visitor_id: str) -> dict[str, Any] | None:
        v = self._visitors_by_id.get(visitor_id)
        if v is None:
            return None
        return {"visitorId": visitor_id, "metadata": copy.deepcopy(v["metadata"])}

    def account_object(self, account_id: str) -> dict[str, Any] | None:
        a = self._accounts_by_id.get(account_id)
        if a is None:
            return None
        return {"accountId": account_id, "metadata": copy.deepcopy(a["metadata"])}

    def parent_account_ids(self) -> set[str]:
        return {p["accountId"] for p in self.parent_accounts}

    def has_object(self, kind: str, obj_id: str) -> bool:
        """Cheap existence check (no copy) for ``visitor``, ``account``, ``parentAccount``."""
        if kind == "visitor":
            return obj_id in self._visitors_by_id
        if kind == "account":
            return obj_id in self._accounts_by_id
        return obj_id in self._parent_ids

    def scan_rows(
        self,
        source: str,
        params: dict[str, Any] | None,
        start_ms: int | None,
        end_ms: int | None,
    ) -> int:
        """Rows Pendo reads to answer ``source``: every row of it in the window for the
        selected apps, whatever object ids the call asks for (Pendo reads, then filters)."""
        apps = resolve_app_ids((params or {}).get("appId"))
        if source in self._scan_counts:
            return sum(
                n
                for (app, day), n in self._scan_counts[source].items()
                if (apps is None or app in apps)
                and (start_ms is None or day >= start_ms)
                and (end_ms is None or day < end_ms)
            )
        sizes = {"visitors": self.visitors, "accounts": self.accounts}
        if source in sizes:
            return len(sizes[source])
        catalogue = {
            "pages": self.pages,
            "features": self.features,
            "trackTypes": self.track_types,
            "guides": self.guides,
        }
        objs = catalogue.get(source, [])
        return sum(1 for o in objs if apps is None or o["appId"] in apps)

    def source_rows(
        self,
        source: str,
        params: dict[str, Any] | None,
        start_ms: int | None,
        end_ms: int | None,
    ) -> Iterable[dict[str, Any]]:
        """Fresh row dicts of an aggregation source (callers may mutate them)."""
        params = params or {}
        apps = resolve_app_ids(params.get("appId"))
        if source in _EVENT_SOURCES:
            field = _EVENT_SOURCES[source]
            oid = params.get(field)
            rows = self._by_object.get(oid, []) if oid else self.events
            return _event_rows(rows, field, apps, start_ms, end_ms)
        if source == "events":
            return _event_rows(self.activity, None, apps, start_ms, end_ms)
        if source == "visitors":
            return (
                {"visitorId": v["visitorId"], "metadata": copy.deepcopy(v["metadata"])}
                for v in self.visitors
                if not (params.get("identified") and v["anonymous"])
            )
        if source == "accounts":
            return (self.account_object(a["accountId"]) or {} for a in self.accounts)
        catalogue = {
            "pages": self.pages,
            "features": self.features,
            "trackTypes": self.track_types,
            "guides": self.guides,
        }
        if source in catalogue:
            return (
                copy.deepcopy(o) for o in catalogue[source] if apps is None or o["appId"] in apps
            )
        raise ValueError(f"unknown source {source!r}; known: {', '.join(SOURCES)}")


def _scan_counts(
    events: list[dict[str, Any]], activity: list[dict[str, Any]]
) -> dict[str, dict[tuple[int, int], int]]:
    """Rows per event source per (app, day): what a scan of a window reads."""
    out: dict[str, dict[tuple[int, int], int]] = {s: {} for s in (*_EVENT_SOURCES, "events")}
    by_field = {f: s for s, f in _EVENT_SOURCES.items()}
    for rows, fixed in ((events, None), (activity, "events")):
        for row in rows:
            source = fixed or next(by_field[f] for f in by_field if f in row)
            key = (row["appId"], row["day"])
            out[source][key] = out[source].get(key, 0) + 1
    return out


def _row_object_id(row: dict[str, Any]) -> str:
    return row.get("pageId") or row.get("featureId") or row.get("trackTypeId") or ""


def _group_ids(objs: list[dict[str, Any]]) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {}
    for o in objs:
        out.setdefault(o["appId"], []).append(o["id"])
    return out


def _event_rows(
    rows: list[dict[str, Any]],
    field: str | None,
    apps: set[int] | None,
    start_ms: int | None,
    end_ms: int | None,
) -> Iterator[dict[str, Any]]:
    for row in rows:
        if field and field not in row:
            continue
        if apps is not None and row["appId"] not in apps:
            continue
        if start_ms is not None and row["day"] < start_ms:
            continue
        if end_ms is not None and row["day"] >= end_ms:
            continue
        yield dict(row)


def is_anonymous(visitor_id: str) -> bool:
    return visitor_id.startswith(_ANON_PREFIX)
