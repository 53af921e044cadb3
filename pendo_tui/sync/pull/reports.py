"""Which Pendo reports can feed metrics, read from every report shape Pendo sends.

Rules (docs/pull.md "Reports"): a rolling window of at most 180 days (a warning above
30); only numeric columns are mappable. Pendo's report definitions come in several
shapes and its enum spellings are not documented, so nothing here trusts an enum:

- the window is read from ``definition.timeSeries`` — ``first``/``count``/``last``
  directly or under ``primaryTimeSeries`` — and, failing that, from the time series of
  the report's own aggregation pipeline. A relative ``first`` (``now()``,
  ``dateAdd(now(), -7, "days")``) with a ``count`` or a relative ``last`` is rolling;
  absolute ``start``/``end`` or an absolute ``first`` (epoch ms, a date) is fixed;
  anything else is *unknown*, reported with the keys that were seen.
- columns are declared in ``aggregation.fields``, ``definition.columns`` or
  ``definition.config.columns`` — or nowhere, and then only the result rows tell.
  "Numeric" is judged from the declared type and from the values in the rows.

These are pure functions shared by the pull engine, the TUI's report picker and save
check, and the ``--check`` preflight.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import islice
from typing import Any, Literal

MAX_WINDOW_DAYS = 180
WARN_WINDOW_DAYS = 30
SAMPLE_ROWS = 200  # rows read to judge columns a report does not declare
ID_COLUMNS = ("visitorId", "accountId")
NUMERIC_TYPES = {
    "number", "integer", "int", "float", "double", "long", "numeric", "decimal", "bigint",
}  # fmt: skip
# Type words recognised in ``kind`` keys (which also hold non-type values).
OTHER_TYPES = {
    "string", "text", "time", "date", "datetime", "timestamp", "boolean", "bool", "list",
}  # fmt: skip
_TYPE_KEYS = ("type", "dataType", "fieldType", "kind")
_NAME_KEYS = ("field", "id", "name", "columnName", "fieldName")
_PERIOD_DAYS = {"dayrange": 1.0, "weekrange": 7.0, "monthrange": 30.0, "hourrange": 1 / 24}
_UNIT_DAYS = {"hour": 1 / 24, "day": 1.0, "week": 7.0, "month": 30.0, "year": 365.0}
_RELATIVE = re.compile(r"\b(now|today)\s*\(", re.IGNORECASE)
_OFFSET = re.compile(r",\s*(-?\d+(?:\.\d+)?)\s*,\s*[\"']([A-Za-z]+)[\"']")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")


# -- window ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReportWindow:
    """What a report's definition says about its date window."""

    kind: Literal["rolling", "fixed", "unknown"]
    days: int | None = None  # rolling: days covered
    seen: tuple[str, ...] = ()  # dotted keys where a window could be described
    detail: str = ""


def _is_absolute(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, (int, float)):
        return True
    if isinstance(value, str):
        text = value.strip()
        return text.lstrip("-").isdigit() or bool(_ISO_DATE.match(text))
    return False


def _is_relative(value: Any) -> bool:
    return isinstance(value, str) and bool(_RELATIVE.search(value))


def _offset_days(expr: str) -> float:
    """Days an expression like ``dateAdd(now(), -30, "days")`` lies from now."""
    total = 0.0
    for amount, unit in _OFFSET.findall(expr):
        total += float(amount) * _UNIT_DAYS.get(unit.lower().rstrip("s"), 1.0)
    return total


def _as_date(value: Any) -> str:
    if isinstance(value, str) and not value.strip().lstrip("-").isdigit():
        return value.strip()[:10]
    try:
        return datetime.fromtimestamp(int(value) / 1000, UTC).date().isoformat()
    except (TypeError, ValueError, OverflowError):
        return str(value)


def _keys(prefix: str, node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            path = f"{prefix}.{key}"
            if isinstance(value, dict) and value:
                yield from _keys(path, value)
            else:
                yield path


def _pipeline_series(report: dict[str, Any]) -> dict[str, Any] | None:
    steps = (
        (report.get("aggregation") or {}).get("pipeline")
        if isinstance(report.get("aggregation"), dict)
        else None
    )
    for step in steps if isinstance(steps, list) else []:
        source = step.get("source") if isinstance(step, dict) else None
        if isinstance(source, dict) and isinstance(source.get("timeSeries"), dict):
            return source["timeSeries"]
    return None


def _window_of(series: dict[str, Any], where: str) -> ReportWindow | None:
    """A relative ``first`` decides first: a definition may also carry the absolute
    ``start``/``end`` of its last run, and a fixed report has no ``now()`` in it."""
    first = series.get("first")
    if _is_relative(first):
        per = _PERIOD_DAYS.get(str(series.get("period") or "dayRange").lower(), 1.0)
        count, last = series.get("count"), series.get("last")
        days, how = 0.0, ""
        if isinstance(count, (int, float)) and not isinstance(count, bool) and count:
            days, how = abs(count) * per, f"count {count}"
        elif _is_relative(last):
            days, how = abs(_offset_days(last) - _offset_days(first)), f"last {last!r}"
        if days >= 1:
            n = round(days)
            detail = f"rolling {n} days ({where}: first {first!r}, {how})"
            return ReportWindow("rolling", n, detail=detail)
        return None
    if _is_absolute(first):
        return ReportWindow("fixed", detail=f"from {_as_date(first)}, an absolute {where}.first")
    if _is_absolute(series.get("start")) or _is_absolute(series.get("end")):
        start, end = series.get("start"), series.get("end")
        span = " – ".join(_as_date(v) for v in (start, end) if v is not None)
        return ReportWindow("fixed", detail=f"{span}, from {where}.start/end")
    return None


def report_window(report: dict[str, Any]) -> ReportWindow:
    """Rolling, fixed or unknown — judged from the shape, never from enum spellings."""
    definition = report.get("definition") if isinstance(report.get("definition"), dict) else {}
    ts = definition.get("timeSeries") if isinstance(definition.get("timeSeries"), dict) else {}
    primary = ts.get("primaryTimeSeries") if isinstance(ts.get("primaryTimeSeries"), dict) else {}
    candidates: list[tuple[str, dict[str, Any]]] = []
    if ts:
        flat = {k: v for k, v in ts.items() if k != "primaryTimeSeries"}
        where = "definition.timeSeries" + ("(.primaryTimeSeries)" if primary else "")
        candidates.append((where, {**flat, **primary}))
    pipeline = _pipeline_series(report)
    if pipeline:
        candidates.append(("aggregation.pipeline source timeSeries", pipeline))
    seen = tuple(_keys("definition.timeSeries", ts)) + tuple(
        _keys("definition.dateRanges", definition.get("dateRanges"))
    )
    if pipeline:
        seen += tuple(_keys("aggregation.pipeline[source].timeSeries", pipeline))
    for where, series in candidates:
        found = _window_of(series, where)
        if found is not None:
            return ReportWindow(found.kind, found.days, seen, found.detail)
    listed = (
        ", ".join(seen)
        if seen
        else "none (definition keys: " + (", ".join(sorted(definition)) or "none") + ")"
    )
    return ReportWindow(
        "unknown",
        None,
        seen,
        "its date window could not be determined: no rolling first/count or first/last and "
        f"no absolute start/end (window keys seen: {listed})",
    )


def report_window_days(report: dict[str, Any]) -> int | None:
    """Days covered by a rolling report; None when the window is fixed or unknown."""
    window = report_window(report)
    return window.days if window.kind == "rolling" else None


def report_level(report: dict[str, Any]) -> str:
    """``account`` → company metrics, ``visitor`` → end-user metrics."""
    definition = report.get("definition") if isinstance(report.get("definition"), dict) else {}
    for value in (report.get("level"), report.get("target"), definition.get("type")):
        text = str(value or "").lower()
        if "account" in text:
            return "account"
        if "visitor" in text:
            return "visitor"
    return "visitor"


# -- columns -----------------------------------------------------------------------------


def _entries(node: Any) -> list[dict[str, Any]]:
    return [e for e in node if isinstance(e, dict)] if isinstance(node, list) else []


def _declared_type(entry: dict[str, Any]) -> str:
    for key in _TYPE_KEYS:
        value = str(entry.get(key) or "").strip().lower()
        if not value:
            continue
        # ``kind`` is also used for things that are not types ("visitor_metadata"):
        # read it only when it is a type word.
        if key != "kind" or value in NUMERIC_TYPES | OTHER_TYPES:
            return value
    return ""


def declared_columns(report: dict[str, Any]) -> dict[str, str]:
    """Column → declared type ("" when declared without a type), from every place a
    report lists its columns; the first place giving a type wins."""
    definition = report.get("definition") if isinstance(report.get("definition"), dict) else {}
    config = definition.get("config") if isinstance(definition.get("config"), dict) else {}
    aggregation = report.get("aggregation") if isinstance(report.get("aggregation"), dict) else {}
    out: dict[str, str] = {}
    for entries in (
        _entries(aggregation.get("fields")),
        _entries(definition.get("columns")),
        _entries(config.get("columns")),
    ):
        for entry in entries:
            name = next((str(entry[k]) for k in _NAME_KEYS if entry.get(k)), None)
            if name is None:
                continue
            kind = _declared_type(entry)
            if not out.get(name):
                out[name] = kind
    return out


def numeric_value(value: Any) -> float | None:
    """A row value as a number: JSON numbers, and numbers sent as text ("12.5")."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return None
    return None


@dataclass
class ColumnEvidence:
    """What the result rows say about each column (fed row by row, constant memory)."""

    rows: int = 0
    present: set[str] = field(default_factory=set)
    numbers: set[str] = field(default_factory=set)  # JSON numbers seen
    numeric_text: set[str] = field(default_factory=set)  # numbers sent as strings
    other: dict[str, Any] = field(default_factory=dict)  # column → first non-numeric value

    def observe(self, row: dict[str, Any]) -> None:
        self.rows += 1
        for key, value in row.items():
            self.present.add(key)
            if value is None:
                continue
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                self.numbers.add(key)
            elif numeric_value(value) is not None:
                self.numeric_text.add(key)
            elif key not in self.other:
                self.other[key] = value

    @classmethod
    def of(cls, rows: Iterable[dict[str, Any]]) -> ColumnEvidence:
        ev = cls()
        for row in rows:
            ev.observe(row)
        return ev


def _column_verdict(
    name: str, declared: dict[str, str], ev: ColumnEvidence | None
) -> tuple[bool | None, str]:
    """(numeric?, why not). ``None`` = cannot tell without rows."""
    if name in ID_COLUMNS:
        return False, "is an id column, not a metric"
    kind = declared.get(name)
    in_rows = ev is not None and name in ev.present
    if kind is None and not in_rows:
        if ev is None:
            return None, "is not declared by the report (its rows were not read)"
        if ev.rows == 0:
            return None, "is not declared by the report, and the report has no rows to show it"
        return False, "is not a column of the report"
    example = ev.other.get(name) if ev is not None else None
    if kind in NUMERIC_TYPES:
        if example is not None:
            return (
                False,
                f"is not numeric: declared {kind}, but its rows hold text such as {example!r}",
            )
        return True, ""
    if kind:  # declared with a type that is not a number type
        return False, f"is not numeric: the report declares it {kind}"
    if ev is None:
        return None, "declares no type (its rows were not read)"
    if name in ev.numbers and name not in ev.numeric_text and example is None:
        return True, ""
    if example is not None:
        return False, f"is not numeric: its rows hold text such as {example!r}"
    if name in ev.numeric_text:
        return False, "is not numeric: no declared type, and its rows hold numbers as text"
    return None, "has no value in any row, so its type cannot be judged"


def numeric_columns(report: dict[str, Any], evidence: ColumnEvidence | None = None) -> list[str]:
    """Columns a metric can be built from: declared order first, then row-only columns."""
    declared = declared_columns(report)
    names = list(declared)
    if evidence is not None:
        names += sorted(evidence.present - set(declared))
    return [n for n in names if _column_verdict(n, declared, evidence)[0]]


def needs_rows(report: dict[str, Any], columns: Iterable[str] | None = None) -> bool:
    """Whether a column's verdict depends on the result rows."""
    declared = declared_columns(report)
    names = list(columns) if columns is not None else list(declared)
    if not names:
        return True
    return any(_column_verdict(n, declared, None)[0] is None for n in names)


def column_problems(
    report: dict[str, Any], columns: Iterable[str], evidence: ColumnEvidence | None = None
) -> list[str]:
    """Sentences about mapped columns that cannot become metrics (empty = fine).

    A column whose type cannot be told yet (no rows read, or no value in any row) is not
    a problem here; the engine judges it again on the rows it fetches.
    """
    declared = declared_columns(report)
    out = []
    for name in columns:
        ok, why = _column_verdict(name, declared, evidence)
        if ok is False:
            out.append(f"column {name!r} {why}")
    return out


def sample_rows(client: Any, report_id: str, limit: int = SAMPLE_ROWS) -> ColumnEvidence:
    """Evidence from the first ``limit`` result rows of a report (one call)."""
    rows = client.report_results(report_id)
    try:
        return ColumnEvidence.of(islice(rows, limit))
    finally:
        close = getattr(rows, "close", None)
        if close is not None:
            close()


# -- verdict -----------------------------------------------------------------------------


def window_problem(report: dict[str, Any]) -> tuple[str | None, str | None]:
    """(why the report's window cannot sync daily, warning) — (None, None) when fine."""
    window = report_window(report)
    if window.kind == "fixed":
        reason = f"has a fixed date range ({window.detail}); only rolling windows can sync daily"
        return reason, None
    if window.kind == "unknown":
        return window.detail, None
    days = window.days or 0
    if days > MAX_WINDOW_DAYS:
        return f"covers {days} days; reports over {MAX_WINDOW_DAYS} days are not offered", None
    if days > WARN_WINDOW_DAYS:
        return None, f"covers {days} days: windows over {WARN_WINDOW_DAYS} days make syncs slow"
    return None, None


def report_compatibility(
    report: dict[str, Any], evidence: ColumnEvidence | None = None
) -> tuple[bool, str | None, str | None]:
    """(ok, reason it is not offered, warning) for one report object.

    Pass ``evidence`` (``sample_rows``) for reports that do not declare their columns
    (``needs_rows``); without it such a report has no known numeric column.
    """
    reason, warning = window_problem(report)
    if reason:
        return False, reason, None
    if not numeric_columns(report, evidence):
        if evidence is None and needs_rows(report):
            return False, "declares no numeric column (its rows were not read)", None
        return False, "has no numeric column to build a metric from", None
    return True, None, warning
