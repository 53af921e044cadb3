"""The one seam between the TUI and the engine (client, runner, store).

Every function here blocks (network, disk) and is called from a thread worker, never
from the event loop. Engine modules are imported lazily so the first screen draws fast.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any

from pendo_tui.config.model import Config, ModelSource, PushSync
from pendo_tui.tui.state import SECRET_INTEGRATION_KEY, SECRET_TRACK, AppState, ConnectionStatus


def _require_key(state: AppState) -> str:
    from pendo_tui.errors import SecretError

    key = state.secret(SECRET_INTEGRATION_KEY)
    if not key:
        raise SecretError(
            "No integration key entered",
            "Paste it on the Connection screen, or set PENDO_INTEGRATION_KEY.",
        )
    return key


@contextmanager
def client_for(state: AppState, request_log: Any = None, retries: int = 2) -> Iterator[Any]:
    """A PendoClient for the settings on screen (unsaved key included).

    Interactive calls retry little: a person is waiting and wants the reason, fast."""
    from pendo_tui.pendo.client import PendoClient
    from pendo_tui.pendo.regions import resolve

    cfg = state.config.pendo
    endpoints = resolve(cfg)  # the same hosts and region label the headless CLI uses
    client = PendoClient(
        endpoints.base_url,
        _require_key(state),
        track_secret=state.secret(SECRET_TRACK),
        track_url=endpoints.track_url,
        request_timeout=cfg.request_timeout,
        aggregation_timeout=cfg.aggregation_timeout,
        max_retries=min(cfg.max_retries, retries),
        max_retry_seconds=min(cfg.max_retry_seconds, 20),
        request_log=request_log,
        region_label=endpoints.label,
    )
    try:
        yield client
    finally:
        client.close()


def check_connection(state: AppState, request_log: Any = None) -> ConnectionStatus:
    """One verify call → what the key can do, or the exact reason it cannot."""
    from pendo_tui.errors import PendoTuiError

    try:
        with client_for(state, request_log, retries=0) as client:
            info = client.verify()
    except PendoTuiError as exc:
        return ConnectionStatus("error", str(exc))
    if not info.valid:
        return ConnectionStatus(
            "error", f"Pendo says the key is not valid for {state.config.pendo.base_url}"
        )
    if info.write_access:
        return ConnectionStatus("ok", "Connection is active — read & write", True)
    pushes = [p.name for p in state.config.push if p.enabled]
    if pushes:
        return ConnectionStatus(
            "ok",
            "Connection is active — read only: enough for pull, but push syncs "
            f"({', '.join(pushes)}) need a key with write access",
        )
    return ConnectionStatus("ok", "Connection is active — read only (enough for pull)")


# -- catalogues for pickers -------------------------------------------------------------
def load_catalog(state: AppState, kind: str, request_log: Any = None) -> list[dict[str, Any]]:
    """Rows for a picker: [{"id", "name", "note", "disabled"}]."""
    with client_for(state, request_log) as client:
        if kind == "page":
            items = client.pages()
        elif kind == "feature":
            items = client.features()
        elif kind == "segment":
            items = client.segments()
        elif kind == "report":
            return _reports(client, client.reports())
        elif kind == "app":
            return [{"id": str(a), "name": str(a), "note": ""} for a in client.apps()]
        else:
            raise ValueError(kind)
    return [
        {"id": str(i.get("id")), "name": str(i.get("name") or i.get("id")), "note": ""}
        for i in items
    ]


def _reports(client: Any, reports: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Compatible reports only; windows over 30 days carry a warning. A report that does
    not declare its columns is judged from its first rows (one call for each such report)."""
    from pendo_tui.errors import PendoTuiError
    from pendo_tui.sync.pull.reports import (
        needs_rows,
        numeric_columns,
        report_compatibility,
        sample_rows,
        window_problem,
    )

    out = []
    for r in reports:
        evidence = None
        if window_problem(r)[0] is None and needs_rows(r):
            try:
                evidence = sample_rows(client, str(r.get("id")))
            except PendoTuiError:  # rows unreadable: its columns stay unknown, not offered
                evidence = None
        ok, _reason, warning = report_compatibility(r, evidence)
        if ok:
            out.append(
                {
                    "id": str(r.get("id")),
                    "name": str(r.get("name") or r.get("id")),
                    "note": warning or "",
                    "columns": list(numeric_columns(r, evidence)),
                }
            )
    return out


def pull_mapping_problems(state: AppState, data: dict[str, Any]) -> dict[str, str]:
    """What Pendo says about a report or PES mapping before it is saved: {field: message}.

    Report: the id is a shared report, its window can sync daily, every mapped column
    exists and is numeric (rows are sampled when the definition does not settle it).
    PES: the app id is an app of the subscription. Raises when Pendo cannot be asked."""
    from pendo_tui.config.model import DEFAULT_APP_ID
    from pendo_tui.sync.pull.ids import Catalog
    from pendo_tui.sync.pull.reports import (
        column_problems,
        needs_rows,
        numeric_columns,
        sample_rows,
        window_problem,
    )

    kind = data.get("kind")
    if kind not in ("report", "pes"):
        return {}
    with client_for(state) as client:
        catalog = Catalog(client)
        if kind == "pes":
            app = str(data.get("app") or DEFAULT_APP_ID)
            apps = catalog.apps()
            if apps and app not in apps:
                return {"app": f"{app!r} is not an app id of this subscription "
                        f"(apps: {', '.join(sorted(apps))})"}  # fmt: skip
            return {}
        report_id = str(data.get("id") or "")
        report = catalog.report(report_id)
        if report is None:
            return {"id": f"report {report_id!r} is not among the subscription's shared "
                    "reports; pick one with F4"}  # fmt: skip
        reason, _ = window_problem(report)
        if reason:
            return {"id": f"report {report.get('name')!r} {reason}"}
        columns = list(data.get("columns") or {})
        evidence = sample_rows(client, report_id) if needs_rows(report, columns) else None
        problems = column_problems(report, columns, evidence)
        if problems:
            numeric = ", ".join(numeric_columns(report, evidence)) or "none"
            return {"columns": "; ".join(problems) + f" (numeric columns: {numeric})"}
    return {}


def metadata_fields(state: AppState) -> list[str]:
    """Visitor and account metadata paths (``agent.email``) for identity suggestions."""
    fields: list[str] = []
    with client_for(state) as client:
        for kind in ("visitor", "account"):
            schema = client.metadata_schema(kind)
            for group, members in sorted(schema.items()):
                if isinstance(members, dict):
                    fields.extend(f"{group}.{name}" for name in sorted(members))
    return sorted(set(fields))


def validate_pipeline(text: str, object_type: str, columns: list[str] | None = None) -> list[str]:
    """Problems with an aggregation pipeline as sentences (empty list = fine)."""
    from pendo_tui.pendo.pipelines import validate_pipeline as validate

    return list(validate(text, object_type, columns))


# -- runs -------------------------------------------------------------------------------
def run_sync(
    state: AppState,
    *,
    kind: str,
    mappings: list[str] | None,
    progress: Callable[[Any], None],
    request_log: Any,
) -> Any:
    from pendo_tui.config.secrets import StaticSecrets
    from pendo_tui.sync import runner

    secrets = StaticSecrets(
        integration_key=_require_key(state), track_secret=state.secret(SECRET_TRACK)
    )
    return runner.run(
        state.config,
        secrets,
        kind=kind,
        mappings=mappings,
        progress=progress,
        request_log=request_log,
    )


def push_preview(state: AppState, sync: PushSync, request_log: Any = None) -> Any:
    """What a push sync would send (dry run): PushEngine.plan."""
    from pendo_tui.store.db import open_store
    from pendo_tui.sync.push.engine import PushEngine

    store = open_store(state.config.store.url)
    try:
        with client_for(state, request_log) as client:
            engine = PushEngine(state.config, client, store, lambda _e: None)
            return engine.plan(sync)
    finally:
        store.close()


def model_columns(model: ModelSource) -> list[str]:
    """Column names of a push model, read without loading its rows."""
    if model.csv:
        with open(model.csv, newline="", encoding="utf-8") as fh:
            return next(csv.reader(fh), [])
    from sqlalchemy import create_engine, text

    engine = create_engine(str(model.url))
    try:
        with engine.connect() as conn:
            result = conn.execute(text(f"SELECT * FROM ({model.query}) AS m LIMIT 0"))
            return list(result.keys())
    finally:
        engine.dispose()


# -- store reads ------------------------------------------------------------------------
@contextmanager
def _store(config: Config) -> Iterator[Any]:
    from pendo_tui.store.db import open_store

    store = open_store(config.store.url)
    try:
        yield store
    finally:
        store.close()


def run_history(config: Config, limit: int = 50) -> list[dict[str, Any]]:
    from sqlalchemy import select

    from pendo_tui.store.schema import runs

    with _store(config) as store, store.engine.connect() as conn:
        rows = conn.execute(select(runs).order_by(runs.c.id.desc()).limit(limit))
        return [dict(r._mapping) for r in rows]


def run_requests(config: Config, run_id: int, limit: int = 5000) -> list[dict[str, Any]]:
    from sqlalchemy import select

    from pendo_tui.store.schema import requests

    with _store(config) as store, store.engine.connect() as conn:
        q = select(requests).where(requests.c.run_id == run_id).order_by(requests.c.seq)
        return [dict(r._mapping) for r in conn.execute(q.limit(limit))]


def pull_cursors(config: Config) -> dict[str, date | None]:
    from sqlalchemy import select

    from pendo_tui.store.schema import pull_state

    with _store(config) as store, store.engine.connect() as conn:
        rows = conn.execute(select(pull_state.c.mapping, pull_state.c.cursor_day))
        return {r.mapping: r.cursor_day for r in rows}


def metric_names(config: Config) -> list[tuple[str, str]]:
    """Distinct (metric, object_type)."""
    from sqlalchemy import select

    from pendo_tui.store.schema import metrics

    with _store(config) as store, store.engine.connect() as conn:
        q = select(metrics.c.metric, metrics.c.object_type).distinct().order_by(metrics.c.metric)
        return [(r.metric, r.object_type) for r in conn.execute(q)]


def metric_objects(config: Config, metric: str, object_type: str, limit: int = 500) -> list[str]:
    from sqlalchemy import func, select

    from pendo_tui.store.schema import metrics

    with _store(config) as store, store.engine.connect() as conn:
        q = (
            select(metrics.c.object_id, func.sum(metrics.c.value).label("total"))
            .where(metrics.c.metric == metric, metrics.c.object_type == object_type)
            .group_by(metrics.c.object_id)
            .order_by(func.sum(metrics.c.value).desc(), metrics.c.object_id)
            .limit(limit)
        )
        return [r.object_id for r in conn.execute(q)]


def metric_series(
    config: Config, metric: str, object_type: str, object_id: str
) -> list[tuple[date, float]]:
    """Daily values (summed over app series) for one object."""
    from sqlalchemy import func, select

    from pendo_tui.store.schema import metrics

    with _store(config) as store, store.engine.connect() as conn:
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


def resync_impact(config: Config) -> dict[str, int]:
    """How many stored rows fall outside the Re-sync window (they will be deleted)."""
    from datetime import timedelta

    from sqlalchemy import func, select

    from pendo_tui.store.schema import activities, metrics

    first = date.today() - timedelta(days=config.pendo.days_to_sync)
    with _store(config) as store, store.engine.connect() as conn:
        old_metrics = conn.execute(
            select(func.count()).select_from(metrics).where(metrics.c.day < first)
        ).scalar_one()
        all_metrics = conn.execute(select(func.count()).select_from(metrics)).scalar_one()
        old_acts = conn.execute(
            select(func.count()).select_from(activities).where(activities.c.day < first)
        ).scalar_one()
    return {"old_metrics": old_metrics, "all_metrics": all_metrics, "old_activities": old_acts}


def identity_preview(state: AppState) -> dict[str, Any]:
    """How Pendo's visitors would match end users with the identity settings on screen."""
    from pendo_tui.sync.pull.engine import PullEngine

    with _store(state.config) as store, client_for(state) as client:
        return PullEngine(state.config, client, store).preview_identity()


def stale_mappings(config: Config) -> list[str]:
    """Mappings whose stored data was built with other settings (Re-sync all needed)."""
    from pendo_tui.sync.pull.engine import PullEngine

    with _store(config) as store:
        return PullEngine(config, None, store).check_fingerprints(config.pull)
