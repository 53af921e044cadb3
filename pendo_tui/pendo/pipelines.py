"""Aggregation pipelines the pull engine sends, and checks of pipelines users write.

Every source asks for all apps (``expandAppIds("*")``) unless the mapping limits it: peers
that forgot this silently read only the default app. Work is grouped server-side so one call
returns one row per visitor, account, app and day instead of Pendo's raw rollup rows.
"""

from __future__ import annotations

import copy
import json
from typing import Any, Literal

ALL_APPS = 'expandAppIds("*")'
# Sources whose rows are bucketed in time: Pendo requires a timeSeries for them.
EVENT_SOURCES = frozenset(
    {
        "events",
        "pageEvents",
        "featureEvents",
        "trackEvents",
        "guideEvents",
        "pollEvents",
        "singleEvents",
        "guidesSeen",
        "guidesSeenEver",
        "pollsSeen",
        "pollsSeenEver",
        "emailEvents",
    }
)
_ROLLUP_FIELDS = frozenset(
    {
        "visitorId",
        "accountId",
        "appId",
        "day",
        "hour",
        "numEvents",
        "numMinutes",
        "remoteIp",
        "server",
        "userAgent",
        "firstTime",
        "lastTime",
        "parameters",
        "properties",
        "pageId",
        "featureId",
        "trackTypeId",
        "tabId",
        "country",
        "region",
    }
)
# Fields each source's rows carry (None = not known: no claims are made about it).
SOURCE_FIELDS: dict[str, frozenset[str]] = {
    **{s: _ROLLUP_FIELDS for s in ("events", "pageEvents", "featureEvents", "trackEvents")},
    "visitors": frozenset({"visitorId", "metadata"}),
    "accounts": frozenset({"accountId", "metadata"}),
    "guideEvents": frozenset({"visitorId", "accountId", "appId", "guideId", "type", "browserTime"}),
    "pollEvents": frozenset({"visitorId", "accountId", "appId", "pollId", "pollResponse"}),
    "singleEvents": _ROLLUP_FIELDS,
}
KNOWN_STEPS = frozenset(
    {
        "source",
        "filter",
        "select",
        "eval",
        "identified",
        "group",
        "reduce",
        "count",
        "sort",
        "limit",
        "bulkExpand",
        "segment",
        "unwind",
        "fork",
        "spawn",
        "join",
        "merge",
        "cat",
        "switch",
        "unmarshal",
        "treeify",
        "sessionReplays",
        "useObjects",
    }
)
ID_COLUMN: dict[str, str] = {
    "company": "accountId",
    "asset": "accountId",
    "project": "accountId",
    "end_user": "visitorId",
}
Period = Literal["dayRange", "hourRange"]
AppScope = str | int | list[int] | None


def window(first_ms: int, count: int, period: Period = "dayRange") -> dict[str, Any]:
    """A time series of ``count`` buckets from the bucket holding ``first_ms``."""
    return {"period": period, "first": int(first_ms), "count": int(count)}


def app_scope(app_ids: AppScope = None) -> Any:
    """``None`` → all apps; one id → that app; a list → those apps (ints where numeric)."""
    if app_ids is None or app_ids == "*":
        return ALL_APPS
    if isinstance(app_ids, list):
        return [_app_int(a) for a in app_ids]
    return _app_int(app_ids)


def _app_int(app: str | int) -> Any:
    try:
        return int(app)
    except (TypeError, ValueError):
        return app


def object_events_pipeline(
    kind: Literal["page", "feature", "trackType"],
    object_id: str,
    first_ms: int,
    count: int,
    *,
    app_ids: AppScope = None,
    segment_id: str | None = None,
) -> list[dict[str, Any]]:
    """Events and minutes per visitor, account, app and day for one page/feature/track type."""
    source = {f"{kind}Events": {f"{kind}Id": object_id, "appId": app_scope(app_ids)}}
    return _per_visitor_day(source, first_ms, count, segment_id)


def page_events_pipeline(
    page_id: str,
    first_ms: int,
    count: int,
    *,
    app_ids: AppScope = None,
    segment_id: str | None = None,
) -> list[dict[str, Any]]:
    return object_events_pipeline(
        "page", page_id, first_ms, count, app_ids=app_ids, segment_id=segment_id
    )


def feature_events_pipeline(
    feature_id: str,
    first_ms: int,
    count: int,
    *,
    app_ids: AppScope = None,
    segment_id: str | None = None,
) -> list[dict[str, Any]]:
    return object_events_pipeline(
        "feature", feature_id, first_ms, count, app_ids=app_ids, segment_id=segment_id
    )


def events_per_day_pipeline(
    first_ms: int, count: int, *, app_ids: AppScope = None
) -> list[dict[str, Any]]:
    """All activity per visitor, account, app and day (PES: who was active when)."""
    source = {"events": {"appId": app_scope(app_ids)}}
    return _per_visitor_day(source, first_ms, count, None)


def core_events_pipeline(
    kind: Literal["page", "feature", "trackType"],
    object_ids: list[str],
    first_ms: int,
    count: int,
    *,
    app_ids: AppScope = None,
) -> list[dict[str, Any]]:
    """Events per visitor, account and core page/feature/track type (PES adoption)."""
    id_field = f"{kind}Id"
    steps: list[dict[str, Any]] = [
        {
            "source": {
                f"{kind}Events": {"appId": app_scope(app_ids)},
                "timeSeries": window(first_ms, count),
            }
        },
        {"identified": "visitorId"},
    ]
    if object_ids:  # Pendo's filter language has no `in`: an || chain
        steps.append({"filter": " || ".join(f"{id_field} == {_quote(i)}" for i in object_ids)})
    steps.append(
        {
            "group": {
                "group": ["visitorId", "accountId", id_field],
                "fields": {"numEvents": {"sum": "numEvents"}},
            }
        }
    )
    return steps


def _per_visitor_day(
    source: dict[str, Any], first_ms: int, count: int, segment_id: str | None
) -> list[dict[str, Any]]:
    steps: list[dict[str, Any]] = [{"source": {**source, "timeSeries": window(first_ms, count)}}]
    if segment_id:
        steps.append({"segment": {"id": segment_id}})
    steps += [
        {"identified": "visitorId"},
        {
            "group": {
                "group": ["visitorId", "accountId", "appId", "day"],
                "fields": {"numEvents": {"sum": "numEvents"}, "numMinutes": {"sum": "numMinutes"}},
            }
        },
    ]
    return steps


def _quote(value: str) -> str:
    """A string literal of Pendo's filter language (``"`` and ``\\`` escaped)."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def substitute_window(
    steps: list[dict[str, Any]], first_ms: int, count: int = 1
) -> list[dict[str, Any]]:
    """A copy of a user's pipeline whose source time series is ``count`` days from ``first_ms``.

    Applies to every ``source`` step, including those inside ``spawn``/``fork`` branches;
    keeps the user's ``period`` (hourly stays hourly) and drops ``last``. Sources without
    a time series get one only if they are event sources (which need it).
    """
    out = copy.deepcopy(steps)
    _substitute(out, first_ms, count)
    return out


def _substitute(steps: Any, first_ms: int, count: int) -> None:
    if not isinstance(steps, list):
        return
    for step in steps:
        if not isinstance(step, dict):
            continue
        src = step.get("source")
        if isinstance(src, dict):
            old = src.get("timeSeries")
            if isinstance(old, dict) or EVENT_SOURCES & src.keys():
                period = old.get("period", "dayRange") if isinstance(old, dict) else "dayRange"
                src["timeSeries"] = window(first_ms, count, period)
        for branch_key in ("spawn", "fork"):
            for branch in step.get(branch_key) or []:
                _substitute(branch, first_ms, count)


def parse_steps(steps: str | list[Any] | dict[str, Any]) -> list[Any]:
    """Steps from JSON text, a list, or a whole request envelope a user pasted."""
    if isinstance(steps, str):
        steps = json.loads(steps)
    if isinstance(steps, dict):
        if "request" in steps:
            steps = steps["request"]
        if isinstance(steps, dict) and "pipeline" in steps:
            steps = steps["pipeline"]
    if not isinstance(steps, list):
        raise ValueError("a pipeline is a JSON array of steps")
    return steps


def validate_pipeline(
    steps: str | list[Any] | dict[str, Any],
    object_type: str,
    columns: list[str] | None = None,
) -> list[str]:
    """Problems with a user's pipeline as readable sentences; empty means it looks fine.

    Checks: it parses; it starts with a source; steps are known one-key objects; the rows
    it produces keep the id column of ``object_type`` (accountId for companies, assets and
    projects; visitorId for end users) and the mapped ``columns`` — when that can be told
    from the steps (after ``group``/``select`` it can; after exotic steps it cannot).
    """
    try:
        parsed = parse_steps(steps)
    except json.JSONDecodeError as exc:
        return [f"the pipeline is not valid JSON: {exc.msg} at line {exc.lineno} col {exc.colno}"]
    except ValueError as exc:
        return [f"the pipeline is not usable: {exc}"]
    if not parsed:
        return ["the pipeline has no steps"]
    problems: list[str] = []
    for i, step in enumerate(parsed):
        if not isinstance(step, dict) or len(step) != 1:
            problems.append(f"step {i + 1} must be an object with exactly one key (the operator)")
        elif (op := next(iter(step))) not in KNOWN_STEPS:
            problems.append(f"step {i + 1}: unknown operator {op!r}")
    first = parsed[0]
    src = first.get("source") if isinstance(first, dict) else None
    source_keys = [k for k in src if k != "timeSeries"] if isinstance(src, dict) else []
    if not isinstance(src, dict):
        problems.append('the first step must be a source, e.g. {"source": {"events": null}}')
    elif len(source_keys) != 1:
        problems.append(f"the source must name exactly one source (found {source_keys or 'none'})")
    elif source_keys[0] in EVENT_SOURCES and not isinstance(src.get("timeSeries"), dict):
        problems.append(f"the {source_keys[0]} source needs a timeSeries")
    if problems:
        return problems
    id_col = ID_COLUMN.get(object_type)
    if id_col is None:
        return [f"unknown object type {object_type!r} (use {', '.join(ID_COLUMN)})"]
    fields = _output_fields(parsed, source_keys[0])
    if fields is not None:
        if id_col not in fields:
            problems.append(
                f"the rows must keep {id_col} (the id of a {object_type.replace('_', ' ')}); "
                f"they have only: {', '.join(sorted(fields)) or 'nothing'}"
            )
        for col in columns or []:
            if col not in fields:
                problems.append(f"mapped column {col!r} is not in the pipeline's rows")
    return problems


def _output_fields(steps: list[dict[str, Any]], source: str) -> set[str] | None:
    """Fields of the rows a pipeline outputs, when the steps make that knowable."""
    known = SOURCE_FIELDS.get(source)
    fields: set[str] | None = set(known) if known is not None else None
    for step in steps[1:]:
        op, arg = next(iter(step.items()))
        if op == "group" and isinstance(arg, dict):
            fields = set(_as_list(arg.get("group"))) | _field_names(arg.get("fields"))
        elif op == "reduce":
            fields = _field_names(arg)
        elif op == "select" and isinstance(arg, dict):
            fields = set(arg)
        elif op == "count":
            fields = {"count"}
        elif (op == "eval" and isinstance(arg, dict)) or (
            op == "bulkExpand" and isinstance(arg, dict)
        ):
            fields = None if fields is None else fields | set(arg)
        elif op == "unwind" and isinstance(arg, dict):
            if fields is not None and arg.get("index"):
                fields.add(str(arg["index"]))
        elif op in ("filter", "identified", "segment", "sort", "limit"):
            continue
        else:
            fields = None  # a step whose output shape we do not model
    return fields


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def _field_names(spec: Any) -> set[str]:
    if isinstance(spec, dict):
        return set(spec)
    if isinstance(spec, list):  # Pendo also accepts a list of one-key objects
        return {k for item in spec if isinstance(item, dict) for k in item}
    return set()
