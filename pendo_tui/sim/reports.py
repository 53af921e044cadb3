"""Report definitions of the simulated subscription and their result rows.

One report per case the report picker must handle: rolling 7-, 30- and 90-day reports,
a visitor report, a 200-day window, two fixed date ranges, a report without any numeric
column and one whose window the definition does not state. Each uses one of the shapes
Pendo sends (docs/pull.md "Reports"); rows are computed from the dataset's
``events``-source activity so tests can recompute them independently.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any, Literal

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


SeriesShape = Literal["flat", "flat_last", "nested", "pipeline_only", "none"]
ColumnShape = Literal["aggregation", "definition", "config", "rows_only"]


@dataclass(frozen=True)
class ReportSpec:
    name: str
    level: str  # "account" | "visitor"
    fields: list[tuple[str, str, str]]
    count: int | None = None  # rolling window: |count| days before today
    fixed: tuple[date, date] | None = None  # absolute [start, end) dates
    series: SeriesShape = "nested"  # where the definition states the window
    columns: ColumnShape = "aggregation"  # where the definition lists the columns
    as_text: tuple[str, ...] = ()  # numeric columns whose row values are sent as strings


# Pendo's report definitions come in several shapes; each report here uses one, so a
# client that reads only one shape fails the tests. See docs/pull.md "Reports".
SPECS = [
    # The demo's report: a flat rolling 7-day timeSeries, columns in aggregation.fields.
    ReportSpec("Account usage - last 7 days", "account", _ACCOUNT_FIELDS, count=-7, series="flat"),
    ReportSpec(
        "Account usage - last 30 days", "account", _ACCOUNT_FIELDS, count=-30, columns="definition"
    ),
    ReportSpec(
        "Visitor activity - last 30 days",
        "visitor",
        _VISITOR_FIELDS,
        count=-30,
        series="flat_last",
        columns="config",
        as_text=("numMinutes",),
    ),
    ReportSpec("Account usage - last 200 days", "account", _ACCOUNT_FIELDS, count=-200),
    ReportSpec(
        "Account usage - December 2025 (fixed)",
        "account",
        _ACCOUNT_FIELDS,
        fixed=(date(2025, 12, 1), date(2026, 1, 1)),
    ),
    ReportSpec(
        "Visitor activity - November 2025 (fixed)",
        "visitor",
        _VISITOR_FIELDS,
        fixed=(date(2025, 11, 1), date(2025, 12, 1)),
        series="flat",
        columns="definition",
    ),
    ReportSpec("Visitor directory", "visitor", _DIRECTORY_FIELDS, count=-30, columns="definition"),
    # Window only in the report's own pipeline, columns only in the result rows.
    ReportSpec(
        "Account usage - last 90 days",
        "account",
        _ACCOUNT_FIELDS,
        count=-90,
        series="pipeline_only",
        columns="rows_only",
    ),
    # A window the definition does not state (rows cover 30 days nobody can see).
    ReportSpec(
        "Account health - custom range", "account", _ACCOUNT_FIELDS, count=-30, series="none"
    ),
]


def _series(ds: Dataset, spec: ReportSpec) -> dict[str, Any]:
    """The report's window as its own pipeline states it (Pendo's usual nested form)."""
    if spec.fixed:
        start = ds.day_start_ms(spec.fixed[0])
        days = (spec.fixed[1] - spec.fixed[0]).days
        return {"period": "dayRange", "first": start, "count": days}
    return {"period": "dayRange", "first": "now()", "count": spec.count}


def _definition_series(ds: Dataset, spec: ReportSpec) -> dict[str, Any] | None:
    primary = _series(ds, spec)
    if spec.series == "pipeline_only":
        return None
    if spec.series == "none":
        return {"period": "dayRange"}
    if spec.series == "flat":
        return primary
    if spec.series == "flat_last":
        days = abs(spec.count or 0)
        return {"period": "dayRange", "first": f'dateAdd(now(), -{days}, "days")', "last": "now()"}
    if spec.fixed:
        start, end = (ds.day_start_ms(d) for d in spec.fixed)
        return {"type": "fixed", "start": start, "end": end, "primaryTimeSeries": primary}
    return {"type": "rolling", "primaryTimeSeries": primary}


def _date_range(spec: ReportSpec) -> dict[str, Any]:
    if spec.fixed or spec.series == "none":
        return {"type": "custom"}
    return {"type": f"last{abs(spec.count or 0)}days"}


def build_reports(ds: Dataset) -> list[dict[str, Any]]:
    from pendo_tui.sim.dataset import object_id

    out = []
    for i, spec in enumerate(SPECS):
        created = ds.now_ms - (100 - i) * 86_400_000
        aggregation: dict[str, Any] = {}
        if spec.columns == "aggregation":
            aggregation["fields"] = [
                {"field": f, "title": t, "type": ty} for f, t, ty in spec.fields
            ]
        if spec.series != "none":
            aggregation["pipeline"] = _pipeline(spec, _series(ds, spec))
        definition: dict[str, Any] = {
            "kind": "Report",
            "type": f"{spec.level} list",
            "generator": "reportBuilder",
            "period": "dayRange",
            "segments": [],
            "config": {"appId": 'expandAppIds("*")', "acrossApps": True, "segmentId": "everyone"},
            "dateRanges": {"primaryDateRange": _date_range(spec), "useSecondaryDateRange": False},
        }
        if spec.columns in ("aggregation", "config"):
            # Pendo's report builder lists columns by name; the type key varies.
            type_key = "kind" if spec.columns == "aggregation" else "dataType"
            definition["config"]["columns"] = [
                {"columnName": f, "columnLabel": t, "fieldName": f, type_key: ty}
                for f, t, ty in spec.fields
            ]
        if spec.columns == "definition":
            definition["columns"] = [{"id": f, "name": t, "type": ty} for f, t, ty in spec.fields]
        series = _definition_series(ds, spec)
        if series is not None:
            definition["timeSeries"] = series
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
                "aggregation": aggregation,
                "definition": definition,
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
        row = {f: full.get(f) for f, _, _ in spec.fields}
        for name in spec.as_text:
            row[name] = str(row[name])
        out.append(row)
    return out
