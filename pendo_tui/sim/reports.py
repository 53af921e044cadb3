"""Report definitions of the simulated subscription and their result rows.

One report per case the report picker must handle: rolling 7- and 30-day account
reports, a visitor report, a 200-day window, a fixed date range and a report without any
numeric column. Objects follow docs/pendo-api.md#report-shapes-we-read; rows are computed
from the dataset's
``events``-source activity so tests can recompute them independently.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pendo_tui.sim.dataset import Dataset

_ACCOUNT_FIELDS = [
    ("accountId", "Account ID", "string"),
    ("account_agent_name", "Account name", "string"),
    ("numEvents", "Number of events", "number"),
    ("numMinutes", "Number of minutes", "number"),
    ("daysActive", "Days active", "integer"),
    ("activeVisitors", "Active visitors", "integer"),
]
_VISITOR_FIELDS = [
    ("visitorId", "Visitor ID", "string"),
    ("accountId", "Account ID", "string"),
    ("visitor_agent_email", "Email", "string"),
    ("numEvents", "Number of events", "number"),
    ("numMinutes", "Number of minutes", "number"),
    ("daysActive", "Days active", "integer"),
]
_DIRECTORY_FIELDS = [
    ("visitorId", "Visitor ID", "string"),
    ("accountId", "Account ID", "string"),
    ("visitor_agent_email", "Email", "string"),
    ("visitor_agent_firstname", "First name", "string"),
]


@dataclass(frozen=True)
class ReportSpec:
    name: str
    level: str  # "account" | "visitor"
    fields: list[tuple[str, str, str]]
    count: int | None = None  # rolling window: |count| days before today
    fixed: tuple[date, date] | None = None  # absolute [start, end) dates


SPECS = [
    ReportSpec("Account usage - last 7 days", "account", _ACCOUNT_FIELDS, count=-7),
    ReportSpec("Account usage - last 30 days", "account", _ACCOUNT_FIELDS, count=-30),
    ReportSpec("Visitor activity - last 30 days", "visitor", _VISITOR_FIELDS, count=-30),
    ReportSpec("Account usage - last 200 days", "account", _ACCOUNT_FIELDS, count=-200),
    ReportSpec(
        "Account usage - December 2025 (fixed)",
        "account",
        _ACCOUNT_FIELDS,
        fixed=(date(2025, 12, 1), date(2026, 1, 1)),
    ),
    ReportSpec("Visitor directory", "visitor", _DIRECTORY_FIELDS, count=-30),
]


def build_reports(ds: Dataset) -> list[dict[str, Any]]:
    from pendo_tui.sim.dataset import object_id

    out = []
    for i, spec in enumerate(SPECS):
        if spec.fixed:
            start, end = (ds.day_start_ms(d) for d in spec.fixed)
            days = (spec.fixed[1] - spec.fixed[0]).days
            series: dict[str, Any] = {
                "type": "fixed",
                "start": start,
                "end": end,
                "primaryTimeSeries": {"period": "dayRange", "first": start, "count": days},
            }
            date_range = {"type": "custom"}
        else:
            series = {
                "type": "rolling",
                "primaryTimeSeries": {"period": "dayRange", "first": "now()", "count": spec.count},
            }
            date_range = {"type": f"last{abs(spec.count or 0)}days"}
        created = ds.now_ms - (100 - i) * 86_400_000
        out.append(
            {
                "id": object_id(f"Report:{spec.name}"),
                "name": spec.name,
                "kind": "Report",
                "type": "Report",
                "level": spec.level,
                "scope": "global",
                "share": "public",
                "shared": True,
                "target": spec.level,
                "ownedByUser": {"id": "u-admin", "username": "admin@acme.example"},
                "createdAt": created,
                "lastUpdatedAt": created,
                "lastRunAt": ds.now_ms - 3_600_000,
                "lastSuccessRunAt": ds.now_ms - 3_600_000,
                "aggregation": {
                    "fields": [{"field": f, "title": t, "type": ty} for f, t, ty in spec.fields],
                    "pipeline": _pipeline(spec, series["primaryTimeSeries"]),
                },
                "definition": {
                    "kind": "Report",
                    "type": f"{spec.level} list",
                    "generator": "reportBuilder",
                    "period": "dayRange",
                    "segments": [],
                    "config": {
                        "columns": [
                            {"columnName": f, "columnLabel": t, "fieldName": f, "kind": ty}
                            for f, t, ty in spec.fields
                        ],
                        "appId": 'expandAppIds("*")',
                        "acrossApps": True,
                        "segmentId": "everyone",
                    },
                    "dateRanges": {"primaryDateRange": date_range, "useSecondaryDateRange": False},
                    "timeSeries": series,
                },
            }
        )
    return out


def _pipeline(spec: ReportSpec, series: dict[str, Any]) -> list[dict[str, Any]]:
    key = "accountId" if spec.level == "account" else "visitorId"
    return [
        {"source": {"events": {"appId": 'expandAppIds("*")'}, "timeSeries": series}},
        {"identified": "visitorId"},
        {
            "group": {
                "group": [key],
                "fields": {"numEvents": {"sum": "numEvents"}, "numMinutes": {"sum": "numMinutes"}},
            }
        },
    ]


def _spec_for(report: dict[str, Any]) -> ReportSpec:
    for spec in SPECS:
        if spec.name == report["name"]:
            return spec
    raise KeyError(report["name"])


def window_ms(ds: Dataset, spec: ReportSpec) -> tuple[int, int]:
    """[start, end) epoch ms of the report's window in the subscription zone."""
    if spec.fixed:
        return ds.day_start_ms(spec.fixed[0]), ds.day_start_ms(spec.fixed[1])
    first = ds.today + timedelta(days=spec.count or 0)
    return ds.day_start_ms(first), ds.day_start_ms(ds.today)


def report_rows(ds: Dataset, report: dict[str, Any]) -> list[dict[str, Any]]:
    """Rows of one report, sorted by id, computed from the dataset's activity."""
    spec = _spec_for(report)
    start, end = window_ms(ds, spec)
    account_level = spec.level == "account"
    acc: dict[str, dict[str, Any]] = {}
    for row in ds.activity:
        if not start <= row["day"] < end or row["visitorId"].startswith("_PENDO_T_"):
            continue
        key = row["accountId"] if account_level else row["visitorId"]
        if not key:
            continue
        agg = acc.setdefault(
            key, {"numEvents": 0, "numMinutes": 0, "days": set(), "visitors": set(), "row": row}
        )
        agg["numEvents"] += row["numEvents"]
        agg["numMinutes"] += row["numMinutes"]
        agg["days"].add(row["day"])
        agg["visitors"].add(row["visitorId"])
    out = []
    for key in sorted(acc):
        agg = acc[key]
        full = {
            "numEvents": agg["numEvents"],
            "numMinutes": agg["numMinutes"],
            "daysActive": len(agg["days"]),
            "activeVisitors": len(agg["visitors"]),
        }
        if account_level:
            account = ds.account_object(key)
            name = account["metadata"]["agent"].get("name", "") if account else ""
            full |= {"accountId": key, "account_agent_name": name}
        else:
            visitor = ds.visitor_object(key) or {"metadata": {"agent": {}}}
            agent = visitor["metadata"]["agent"]
            full |= {
                "visitorId": key,
                "accountId": agg["row"]["accountId"],
                "visitor_agent_email": agent.get("email"),
                "visitor_agent_firstname": agent.get("firstname"),
            }
        out.append({f: full.get(f) for f, _, _ in spec.fields})
    return out
