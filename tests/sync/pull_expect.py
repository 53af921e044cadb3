"""Expected store contents computed straight from the simulator's raw dataset.

Deliberately independent of the aggregation evaluator and of the engine: plain loops
over ``Dataset.events`` / ``Dataset.activity``.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from typing import Any

from sqlalchemy import select

from pendo_tui.config.model import Config
from pendo_tui.sim.dataset import Dataset
from pendo_tui.sim.server import Simulator
from pendo_tui.store import schema
from pendo_tui.store.db import Store


def placed(row: dict[str, Any]) -> bool:
    """Visitors the default identity (auto-create on, accounts as companies) can place."""
    return not row["visitorId"].startswith("_PENDO_T_") and bool(row["accountId"])


def usage(
    ds: Dataset,
    field: str,
    object_id: str,
    first: date,
    last: date,
    members: set[str] | None = None,
) -> tuple[dict[tuple[str, str, date], tuple[int, int]], dict[tuple[str, date], int]]:
    """Activities (visitor, app, day) → (events, minutes) and company metric (acc, day)."""
    acts: dict[tuple[str, str, date], list[int]] = defaultdict(lambda: [0, 0])
    metric: dict[tuple[str, date], int] = defaultdict(int)
    for row in ds.events:
        if row.get(field) != object_id or not placed(row):
            continue
        if members is not None and row["visitorId"] not in members:
            continue
        day = ds.day_of_ms(row["day"])
        if not first <= day <= last:
            continue
        a = acts[(row["visitorId"], str(row["appId"]), day)]
        a[0] += row["numEvents"]
        a[1] += row["numMinutes"]
        metric[(row["accountId"], day)] += row["numEvents"]
    return {k: (v[0], v[1]) for k, v in acts.items()}, dict(metric)


def stored_activities(store: Store, mapping: str) -> dict[tuple[str, str, date], tuple[int, int]]:
    a, u = schema.activities, schema.end_users
    stmt = (
        select(u.c.external_id, a.c.app_id, a.c.day, a.c.events, a.c.minutes)
        .join(u, u.c.id == a.c.end_user_id)
        .where(a.c.mapping == mapping)
    )
    with store.connect() as conn:
        return {(r[0], r[1], r[2]): (r[3], r[4]) for r in conn.execute(stmt)}


def stored_metrics(store: Store, mapping: str) -> dict[tuple[str, str, str, date], float]:
    m = schema.metrics
    stmt = select(m.c.metric, m.c.object_type, m.c.object_id, m.c.day, m.c.value).where(
        m.c.mapping == mapping
    )
    with store.connect() as conn:
        return {(r[0], r[1], r[2], r[3]): r[4] for r in conn.execute(stmt)}


def dump(store: Store) -> dict[str, list[tuple[Any, ...]]]:
    """Every data table, sorted, for before/after comparisons."""
    out = {}
    with store.connect() as conn:
        for t in (schema.activities, schema.metrics, schema.end_users, schema.companies):
            rows = conn.execute(select(t)).all()
            out[t.name] = sorted((tuple(r) for r in rows), key=repr)
        ps = schema.pull_state
        out["pull_state"] = sorted(
            tuple(r) for r in conn.execute(select(ps.c.mapping, ps.c.cursor_day, ps.c.fingerprint))
        )
    return out


def make_config(sim: Simulator, pull: list[dict[str, Any]], **sections: Any) -> Config:
    """A Config aimed at ``sim``: its timezone, a 20-day window (spans the March DST change)."""
    pendo = {"domain": sim.base_url, "timezone": sim.dataset.timezone, "days_to_sync": 20}
    pendo.update(sections.pop("pendo", {}))
    identity = {"auto_create_end_users": True}
    identity.update(sections.pop("identity", {}))
    return Config.model_validate({"pendo": pendo, "identity": identity, "pull": pull, **sections})
