"""Runs that never finished: found 'running' by the next run, marked 'interrupted'."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from pendo_tui.store import schema
from pendo_tui.sync.ports import StoreApi
from pendo_tui.sync.push.state import IN_FLIGHT


def mark_interrupted_runs(store: StoreApi, noticed_at: datetime) -> list[dict[str, Any]]:
    """Runs still marked 'running' when a new run holds the store's lock never finished
    (SIGKILL, power loss, a store that went away mid-run): mark them 'interrupted', saying
    when that was noticed and what they had in flight, and return what was marked."""
    runs, requests, state = schema.runs, schema.requests, schema.push_state
    found: list[dict[str, Any]] = []
    with store.begin() as conn:
        stale = conn.execute(
            select(runs.c.id, runs.c.kind, runs.c.mappings, runs.c.started_at)
            .where(runs.c.status == "running")
            .order_by(runs.c.id)
        ).all()
        for run_id, kind, names, started_at in stale:
            last_call = conn.execute(
                select(func.max(requests.c.at)).where(requests.c.run_id == run_id)
            ).scalar()
            in_flight_keys = conn.execute(
                select(func.count())
                .select_from(state)
                .where(state.c.run_id == run_id, state.c.status == IN_FLIGHT)
            ).scalar()
            info = {
                "run_id": run_id,
                "kind": kind,
                "started_at": started_at.isoformat() if started_at else None,
                "noticed_at": noticed_at.isoformat(),
                "in_flight": list(names or []),
                "last_call_at": last_call.isoformat() if last_call else None,
                "push_keys_in_flight": int(in_flight_keys or 0),
            }
            error = (
                f"interrupted: the run stopped without finishing (killed, or its store was "
                f"lost); noticed at {noticed_at:%Y-%m-%d %H:%M:%SZ} by the next run. In "
                f"flight: {', '.join(info['in_flight']) or 'nothing yet'}"
                + (
                    f"; {info['push_keys_in_flight']} pushed keys may or may not have reached "
                    "Pendo (the next push resends or skips them, per its in_flight setting)"
                    if info["push_keys_in_flight"]
                    else ""
                )
                + "."
            )
            conn.execute(
                runs.update()
                .where(runs.c.id == run_id, runs.c.status == "running")
                .values(
                    status="interrupted",
                    error=error,
                    summary={"run_id": run_id, "kind": kind, "status": "interrupted", **info},
                )
            )
            found.append(info)
    return found
