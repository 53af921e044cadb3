"""The aggregation pipelines the pull engine sends (docs/pendo-api.md#aggregations).

Shaped to keep calls few and responses small: grouping happens server-side (one row per
visitor/app/day, not per raw rollup row), every source asks for all apps unless the
mapping is limited to one, and windows are at most ``MAX_CALL_DAYS`` per call.
"""

from __future__ import annotations

import copy
from typing import Any

ALL_APPS = 'expandAppIds("*")'
MAX_CALL_DAYS = 30
_ROLLUP_SOURCES = {"page": ("pageEvents", "pageId"), "feature": ("featureEvents", "featureId")}


def time_series(first_ms: int, count: int) -> dict[str, Any]:
    return {"period": "dayRange", "first": first_ms, "count": count}


def usage_pipeline(
    kind: str,
    object_id: str,
    first_ms: int,
    days: int,
    segment: str | None = None,
    app: Any = ALL_APPS,
) -> list[dict[str, Any]]:
    """Events and minutes per visitor per app per day for one page or feature."""
    source, id_param = _ROLLUP_SOURCES[kind]
    steps: list[dict[str, Any]] = [
        {
            "source": {
                source: {id_param: object_id, "appId": app},
                "timeSeries": time_series(first_ms, days),
            }
        }
    ]
    if segment:
        steps.append({"segment": {"id": segment}})
    steps.append(
        {
            "group": {
                "group": ["visitorId", "appId", "day"],
                "fields": {
                    "events": {"sum": "numEvents"},
                    "minutes": {"sum": "numMinutes"},
                    "accountId": {"first": "accountId"},
                },
            }
        }
    )
    return steps


def visitors_pipeline() -> list[dict[str, Any]]:
    return [{"source": {"visitors": None}}]


def activity_pipeline(app: Any, first_ms: int, days: int) -> list[dict[str, Any]]:
    """Active visitors per account per day (PES)."""
    return [
        {"source": {"events": {"appId": app}, "timeSeries": time_series(first_ms, days)}},
        {"group": {"group": ["accountId", "visitorId", "day"], "fields": {"n": {"count": None}}}},
    ]


def core_usage_pipeline(source: str, id_field: str, app: Any, first_ms: int, days: int) -> list:
    """Which pages/features each visitor used per day (PES adoption; filtered to core ids)."""
    return [
        {"source": {source: {"appId": app}, "timeSeries": time_series(first_ms, days)}},
        {
            "group": {
                "group": ["accountId", "visitorId", "day", id_field],
                "fields": {"n": {"count": None}},
            }
        },
    ]


def substitute_window(steps: list[dict[str, Any]], first_ms: int, count: int = 1) -> list:
    """A copy of a user's pipeline with every source's time series set to our window."""
    out = copy.deepcopy(steps)

    def visit(node: Any) -> None:
        if isinstance(node, dict):
            src = node.get("source")
            if isinstance(src, dict) and "timeSeries" in src:
                src["timeSeries"] = time_series(first_ms, count)
            for value in node.values():
                visit(value)
        elif isinstance(node, list):
            for item in node:
                visit(item)

    visit(out)
    return out


def has_time_series(steps: list[dict[str, Any]]) -> bool:
    return any(
        isinstance(s, dict) and isinstance(s.get("source"), dict) and "timeSeries" in s["source"]
        for s in steps
    )


_ID_FOR_OBJECT = {
    "company": ("accountId",),
    "end_user": ("visitorId",),
    "asset": ("visitorId", "accountId"),
    "project": ("visitorId", "accountId"),
}


def _outputs(step: dict[str, Any]) -> set[str] | None:
    """Fields a shaping step leaves on its rows; None when the step keeps all fields."""
    if "group" in step and isinstance(step["group"], dict):
        g = step["group"]
        keys = set(g.get("group") or [])
        fields = g.get("fields") or {}
        if isinstance(fields, list):
            for item in fields:
                keys |= set(item)
        else:
            keys |= set(fields)
        return keys
    if "select" in step and isinstance(step["select"], dict):
        return set(step["select"])
    if "reduce" in step:
        return set(step["reduce"]) if isinstance(step["reduce"], dict) else set()
    return None


def validate_aggregation(steps: Any, object_type: str, columns: list[str]) -> list[str]:
    """Problems that make a user's pipeline unusable for a mapping (empty = ok).

    Checks what can be known without running it: a list of one-key steps starting with a
    source, and — when the last shaping step (group/select) fixes the fields — that it
    keeps the id column the target object needs and every mapped column. Whether the
    columns are numeric is checked on real rows (``trial_problems``).
    """
    if not isinstance(steps, list) or not steps:
        return ["pipeline must be a non-empty JSON array of steps"]
    problems = []
    for i, step in enumerate(steps):
        if not isinstance(step, dict) or (len(step) != 1 and "source" not in step):
            problems.append(f"step {i + 1} must be an object with one operator")
    first = steps[0]
    if not isinstance(first, dict) or "source" not in first:
        problems.append("the first step must be a source")
    fields: set[str] | None = None
    for step in steps:
        if isinstance(step, dict):
            out = _outputs(step)
            if out is not None:
                fields = out
    if fields is not None:
        ids = _ID_FOR_OBJECT.get(object_type, ("visitorId",))
        if not any(i in fields for i in ids):
            problems.append(f"rows must keep {' or '.join(ids)} to be placed on a {object_type}")
        missing = [c for c in columns if c not in fields]
        if missing:
            problems.append(f"mapped column(s) {', '.join(missing)} are not produced")
    return problems


def trial_problems(rows: list[dict[str, Any]], columns: list[str]) -> list[str]:
    """Mapped columns that are not numeric in a trial run's rows."""
    bad = []
    for c in columns:
        values = [r.get(c) for r in rows if r.get(c) is not None]
        if values and not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) for v in values
        ):
            bad.append(f"column {c} is not numeric (e.g. {values[0]!r})")
    return bad
