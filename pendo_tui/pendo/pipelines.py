"""The one module of aggregation pipelines: what the pull engine sends, and the one check
of the pipelines users write (used by the config model, the TUI editor and the engine).

Every source asks for all apps (``expandAppIds("*")``) unless a caller limits it: peers
that forgot this silently read only the default app. Work is grouped server-side so one
call returns one row per id, visitor, app and day instead of Pendo's raw rollup rows, and
event windows are at most ``MAX_CALL_DAYS`` days per call (Pendo's advice; see docs/pull.md).
"""

from __future__ import annotations

import copy
import json
from typing import Any, Literal

ALL_APPS = 'expandAppIds("*")'
MAX_CALL_DAYS = 30
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
# Usage scans: kind → (source, id field). Page and feature mappings, and PES core usage.
USAGE_SOURCES: dict[str, tuple[str, str]] = {
    "page": ("pageEvents", "pageId"),
    "feature": ("featureEvents", "featureId"),
    "trackType": ("trackEvents", "trackTypeId"),
}
# Longest id filter (characters) one usage call carries; more ids → more calls. Measured
# against the filter parser of the simulator and kept far below any proxy's body limit:
# see docs/pull.md ("Coalesced calls").
MAX_FILTER_CHARS = 8_000
Period = Literal["dayRange", "hourRange"]


def time_series(first_ms: int, count: int, period: Period = "dayRange") -> dict[str, Any]:
    """A time series of ``count`` buckets from the bucket holding ``first_ms``."""
    return {"period": period, "first": int(first_ms), "count": int(count)}


def quote(value: str) -> str:
    """A string literal of Pendo's filter language (``"`` and ``\\`` escaped)."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def id_filter(id_field: str, ids: list[str]) -> str:
    """``pageId == "a" || pageId == "b"``: Pendo's filter language has no ``in``."""
    return " || ".join(f"{id_field} == {quote(i)}" for i in ids)


def chunk_ids(id_field: str, ids: list[str], max_chars: int = MAX_FILTER_CHARS) -> list[list[str]]:
    """The ids split into groups whose filter stays within ``max_chars`` (at least one id
    per group, in the given order)."""
    groups: list[list[str]] = []
    current: list[str] = []
    size = 0
    for i in ids:
        term = len(id_field) + 4 + len(quote(i)) + (4 if current else 0)
        if current and size + term > max_chars:
            groups.append(current)
            current, size = [], 0
            term -= 4
        current.append(i)
        size += term
    if current:
        groups.append(current)
    return groups


def usage_pipeline(
    kind: str,
    ids: list[str],
    first_ms: int,
    days: int,
    segment: str | None = None,
    app: Any = ALL_APPS,
) -> list[dict[str, Any]]:
    """Events and minutes per id, visitor, app and day for a set of pages, features or
    track types (one id: the source's own parameter; several: an ``||`` filter)."""
    source, id_field = USAGE_SOURCES[kind]
    params: dict[str, Any] = {"appId": app}
    if len(ids) == 1:
        params = {id_field: ids[0], "appId": app}
    steps: list[dict[str, Any]] = [
        {"source": {source: params, "timeSeries": time_series(first_ms, days)}}
    ]
    if len(ids) > 1:
        steps.append({"filter": id_filter(id_field, ids)})
    if segment:
        steps.append({"segment": {"id": segment}})
    steps.append(
        {
            "group": {
                "group": [id_field, "visitorId", "appId", "day"],
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
                src["timeSeries"] = time_series(first_ms, count, period)
        for branch_key in ("spawn", "fork"):
            for branch in step.get(branch_key) or []:
                _substitute(branch, first_ms, count)


def has_time_series(steps: list[dict[str, Any]]) -> bool:
    """True when the pipeline's first source reads a time window (run once per day)."""
    return any(
        isinstance(s, dict) and isinstance(s.get("source"), dict) and "timeSeries" in s["source"]
        for s in steps
    )


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


# -- checking a user's pipeline -----------------------------------------------------------

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
# The column a row needs so the engine can place it on a target object. Companies are
# keyed by the account; end users, assets and projects are found through the visitor
# (an asset's or project's id is a field of the visitor's metadata: identity.asset_id /
# identity.project_id), so an accountId-only row could never be placed on them.
ID_COLUMN: dict[str, str] = {
    "company": "accountId",
    "end_user": "visitorId",
    "asset": "visitorId",
    "project": "visitorId",
}
_ID_WHY = {
    "company": "the id of a company",
    "end_user": "the id of an end user",
    "asset": "an asset's id is read from the visitor's metadata (identity.asset_id)",
    "project": "a project's id is read from the visitor's metadata (identity.project_id)",
}


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

    Checks: it parses; it starts with a source naming one source; an event source has a
    timeSeries (Pendo refuses one without); steps are known one-key objects; the rows it
    produces keep the id column of ``object_type`` (``ID_COLUMN``) and the mapped
    ``columns`` — when that can be told from the steps (after ``group``/``select`` it can;
    after exotic steps it cannot). Whether columns are numeric is checked on real rows
    (``trial_problems``).
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
        problems.append(
            f"the {source_keys[0]} source needs a timeSeries (Pendo refuses event sources "
            'without one), e.g. "timeSeries": {"period": "dayRange", "first": "now()", '
            '"count": -1}'
        )
    if problems:
        return problems
    id_col = ID_COLUMN.get(object_type)
    if id_col is None:
        return [f"unknown object type {object_type!r} (use {', '.join(ID_COLUMN)})"]
    fields = _output_fields(parsed, source_keys[0])
    if fields is not None:
        if id_col not in fields:
            problems.append(
                f"the rows must keep {id_col} ({_ID_WHY[object_type]}); "
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
