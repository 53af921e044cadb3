"""The read queries the front ends show: run history, a run's HTTP calls, pull cursors,
stored metrics and what a Re-sync would delete.

Each takes an open ``Connection`` (from ``Store.connect()``) and returns plain values, so
the caller decides which handle to read through (the TUI: a read-only one, see
``db.open_reader``). Nothing here writes.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import Connection, func, select

from .schema import activities, metrics, pull_state, requests, runs


def run_history(conn: Connection, limit: int = 50) -> list[dict[str, Any]]:
    """The latest runs, newest first, as ``runs`` rows."""
    rows = conn.execute(select(runs).order_by(runs.c.id.desc()).limit(limit))
    return [dict(r._mapping) for r in rows]


def run_requests(conn: Connection, run_id: int, limit: int = 5000) -> list[dict[str, Any]]:
    """The HTTP calls a run stored, in the order they were made."""
    q = select(requests).where(requests.c.run_id == run_id).order_by(requests.c.seq)
    return [dict(r._mapping) for r in conn.execute(q.limit(limit))]


def pull_cursors(conn: Connection) -> dict[str, date | None]:
    """{mapping: last committed day}."""
    rows = conn.execute(select(pull_state.c.mapping, pull_state.c.cursor_day))
    return {r.mapping: r.cursor_day for r in rows}


def stored_fingerprints(conn: Connection) -> dict[str, str | None]:
    """{mapping: fingerprint of the settings its stored rows were built with}."""
    rows = conn.execute(select(pull_state.c.mapping, pull_state.c.fingerprint))
    return {r.mapping: r.fingerprint for r in rows}


def metric_names(conn: Connection) -> list[tuple[str, str]]:
    """Distinct (metric, object_type), by metric name."""
    q = select(metrics.c.metric, metrics.c.object_type).distinct().order_by(metrics.c.metric)
    return [(r.metric, r.object_type) for r in conn.execute(q)]


def metric_objects(conn: Connection, metric: str, object_type: str, limit: int = 500) -> list[str]:
    """Object ids of one metric, largest total first."""
    total = func.sum(metrics.c.value)
    q = (
        select(metrics.c.object_id, total.label("total"))
        .where(metrics.c.metric == metric, metrics.c.object_type == object_type)
        .group_by(metrics.c.object_id)
        .order_by(total.desc(), metrics.c.object_id)
        .limit(limit)
    )
    return [r.object_id for r in conn.execute(q)]


def metric_series(
    conn: Connection, metric: str, object_type: str, object_id: str
) -> list[tuple[date, float]]:
    """Daily values (summed over app series) for one object."""
    q = (
        select(metrics.c.day, func.sum(metrics.c.value).label("value"))
        .where(
            metrics.c.metric == metric,
            metrics.c.object_type == object_type,
            metrics.c.object_id == object_id,
        )
        .group_by(metrics.c.day)
        .order_by(metrics.c.day)
    )
    return [(r.day, float(r.value)) for r in conn.execute(q)]


def rows_before(conn: Connection, first_day: date) -> dict[str, int]:
    """Stored rows dated before ``first_day`` (what a Re-sync starting there deletes)."""

    def count(table: Any, where: Any = None) -> int:
        q = select(func.count()).select_from(table)
        return int(conn.execute(q if where is None else q.where(where)).scalar_one())

    return {
        "old_metrics": count(metrics, metrics.c.day < first_day),
        "all_metrics": count(metrics),
        "old_activities": count(activities, activities.c.day < first_day),
    }
