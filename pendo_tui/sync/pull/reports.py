"""Which Pendo reports can feed metrics (docs/pull.md), as functions the TUI's picker reuses.

Rules: no fixed date range; at least one numeric column; a
window of at most 180 days; a warning above 30 days. Only numeric columns are mappable.
Pendo's enum spellings are unpublished (docs/pendo-api.md#report-shapes-we-read), so a
window is judged by its shape: absolute ``start``/``end`` or an absolute ``first`` =
fixed; ``count`` with a relative ``first`` (``now()``...) = rolling.
"""

from __future__ import annotations

from typing import Any

MAX_WINDOW_DAYS = 180
WARN_WINDOW_DAYS = 30
NUMERIC_TYPES = {"number", "integer", "float", "int", "numeric", "double", "long"}


def report_level(report: dict[str, Any]) -> str:
    """``account`` → company metrics, ``visitor`` → end-user metrics."""
    level = str(report.get("level") or report.get("target") or "").lower()
    return "account" if "account" in level else "visitor"


def _series(report: dict[str, Any]) -> dict[str, Any]:
    definition = report.get("definition") or {}
    return definition.get("timeSeries") or {}


def report_window_days(report: dict[str, Any]) -> int | None:
    """Days covered by a rolling report; None when the window is fixed or unknown."""
    series = _series(report)
    primary = series.get("primaryTimeSeries") or {}
    if series.get("start") is not None or series.get("end") is not None:
        return None
    if str(series.get("type", "")).lower() == "fixed":
        return None
    first = primary.get("first")
    if isinstance(first, (int, float)) or (isinstance(first, str) and first.isdigit()):
        return None  # an absolute start is a fixed range
    count = primary.get("count")
    if not isinstance(count, (int, float)):
        return None
    return abs(int(count))


def numeric_columns(report: dict[str, Any]) -> list[str]:
    """Columns a metric can be built from (id columns are never mappable)."""
    fields = (report.get("aggregation") or {}).get("fields") or []
    out = []
    for f in fields:
        name = f.get("field")
        if name in ("visitorId", "accountId"):
            continue
        if str(f.get("type", "")).lower() in NUMERIC_TYPES:
            out.append(name)
    return out


def report_compatibility(report: dict[str, Any]) -> tuple[bool, str | None, str | None]:
    """(ok, reason it is not offered, warning) for one report object."""
    days = report_window_days(report)
    if days is None:
        return False, "has a fixed date range (only rolling windows can sync daily)", None
    if not numeric_columns(report):
        return False, "has no numeric column to build a metric from", None
    if days > MAX_WINDOW_DAYS:
        return (
            False,
            f"covers {days} days; reports over {MAX_WINDOW_DAYS} days are not offered",
            None,
        )
    warning = None
    if days > WARN_WINDOW_DAYS:
        warning = f"covers {days} days: windows over {WARN_WINDOW_DAYS} days make syncs slow"
    return True, None, warning
