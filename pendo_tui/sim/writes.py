"""Write endpoints: bulk metadata values, field creation, track events, bulk delete."""

from __future__ import annotations

import json
import time
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from pendo_tui.sim import schema
from pendo_tui.sim.context import KEY_HEADER, SimContext, text
from pendo_tui.sim.keys import TRACK_SECRETS

BULK_DELETE_MAX = 500
TRACK_MAX_AGE_MS = 7 * 86_400_000
_ID_KEYS = {"visitor": ("visitorId",), "account": ("accountId",)}
_ID_KEYS["parentAccount"] = ("accountId", "parentAccountId")  # key name unconfirmed: take both
_SCALARS = (str, int, float, bool, type(None))


async def _json(request: Request) -> Any:
    raw = await request.body()
    return json.loads(raw)


def _row_problem(kind: str, i: int, row: Any) -> tuple[str, str | None]:
    """(id, problem) of one bulk metadata row; a problem rejects the whole batch."""
    if not isinstance(row, dict):
        return "", f"row {i}: expected an object with {_ID_KEYS[kind][0]} and values"
    obj_id = next((row[k] for k in _ID_KEYS[kind] if k in row), None)
    if isinstance(obj_id, int) and not isinstance(obj_id, bool):
        obj_id = str(obj_id)
    if not isinstance(obj_id, str) or not obj_id.strip():
        return "", f"row {i}: {_ID_KEYS[kind][0]} is missing or empty"
    values = row.get("values")
    if not isinstance(values, dict):
        return obj_id, f"row {i} ({obj_id}): values must be an object of field: value"
    for name, value in values.items():
        if not schema.FIELD_NAME.match(str(name)):
            return obj_id, f"row {i} ({obj_id}): invalid field name {name!r}"
        if not isinstance(value, _SCALARS):
            kind_name = "an object" if isinstance(value, dict) else "a list"
            return obj_id, (
                f"row {i} ({obj_id}): value of field {name!r} is {kind_name}; "
                "metadata values must be strings, numbers, booleans or null"
            )
    return obj_id, None


def routes(ctx: SimContext) -> list[Route]:
    state = ctx.state

    async def metadata_values(request: Request) -> Response:
        kind, group = request.path_params["kind"], request.path_params["group"]
        if kind not in schema.KINDS:
            return text(f"unknown metadata kind {kind!r}", 404)
        if group not in schema.WRITABLE_GROUPS:
            return text(f"metadata group {group!r} is not writable; use agent or custom")
        try:
            rows = await _json(request)
        except ValueError as exc:
            return text(f"request body is not JSON: {exc}")
        if not isinstance(rows, list):
            return text("request body must be a JSON array of rows")
        ids: list[str] = []
        for i, row in enumerate(rows):
            obj_id, problem = _row_problem(kind, i, row)
            if problem:
                return text(f"batch rejected: {problem}")
            ids.append(obj_id)
        rejected = ctx.faults.take_reject(ids)
        if rejected:
            i = rejected[1]
            return text(f"batch rejected: row {i} ({ids[i] if ids else ''}): invalid record")
        create = request.query_params.get("create") == "true"
        updated, missing, errors = 0, [], []  # errors: (row, id, reason)
        with state.lock:
            for i, (obj_id, row) in enumerate(zip(ids, rows, strict=True)):
                values = {str(k).lower(): v for k, v in row["values"].items()}
                unknown = [
                    f for f in values if group == "custom" and not ctx.field_exists(kind, group, f)
                ]
                if unknown:
                    reason = (
                        f"custom field {unknown[0]!r} does not exist for {kind}; create it first"
                    )
                    errors.append((i, obj_id, reason))
                    continue
                if not ctx.exists(kind, obj_id):
                    if not create:
                        missing.append(obj_id)
                        continue
                    state.created.setdefault(kind, set()).add(obj_id)
                state.set_values(kind, group, obj_id, values)
                updated += 1
        return ctx.shapes.metadata_answer(_ID_KEYS[kind][0], len(rows), updated, missing, errors)

    async def schema_post(request: Request) -> Response:
        kind, group = request.path_params["kind"], request.path_params["group"]
        if kind not in schema.KINDS:
            return text(f"unknown metadata kind {kind!r}", 404)
        if group not in schema.WRITABLE_GROUPS:
            return text(f"cannot create fields in group {group!r}; use agent or custom")
        try:
            fields = await _json(request)
        except ValueError as exc:
            return text(f"request body is not JSON: {exc}")
        if isinstance(fields, dict):
            fields = [fields]
        if not isinstance(fields, list) or not fields:
            return text("request body must be a JSON array of {name, displayname, type}")
        made: dict[str, dict[str, Any]] = {}
        for i, f in enumerate(fields):
            name = f.get("name") if isinstance(f, dict) else None
            ftype = (f.get("type") or "string") if isinstance(f, dict) else None
            if not isinstance(name, str) or not schema.FIELD_NAME.match(name):
                return text(
                    f"field {i}: invalid name {name!r}: letters, digits and _ only, "
                    "not starting with a digit"
                )
            if ftype not in schema.FIELD_TYPES:
                return text(f"field {name}: unknown type {ftype!r}")
            made[name.lower()] = schema.descriptor(ftype, f.get("displayname") or name)
        with state.lock:
            state.fields.setdefault((kind, group), {}).update(made)
        return JSONResponse(made)

    async def track(request: Request) -> Response:
        try:
            event = await _json(request)
        except ValueError:
            return text("request body is not JSON")
        problem = _track_problem(event)
        if problem:
            return text(problem)
        app_id = TRACK_SECRETS[request.headers.get(KEY_HEADER, "")]
        now = int(time.time() * 1000)
        event["appId"] = app_id
        event["receivedAt"] = now
        # Pendo answers 200 either way but never processes events older than 7 days.
        event["processed"] = event["timestamp"] >= now - TRACK_MAX_AGE_MS
        state.add_track_event(event)
        return ctx.shapes.track_answer()

    async def bulk_delete(request: Request) -> Response:
        kind = request.path_params["kind"]
        key = {"visitor": "visitors", "account": "accounts"}.get(kind)
        if key is None:
            return text(f"unknown bulk delete kind {kind!r}; use visitor or account", 404)
        try:
            body = await _json(request)
        except ValueError:
            return text("request body is not JSON")
        ids = body.get(key) if isinstance(body, dict) else None
        if not isinstance(ids, list) or not ids or not all(isinstance(i, str) for i in ids):
            return text(f'body must be {{"{key}": [ids]}} with at least one id')
        if len(ids) > BULK_DELETE_MAX:
            return text(f"too many ids: {len(ids)} (at most {BULK_DELETE_MAX} per request)")
        with state.lock:
            job_id = f"bulkdelete-{len(state.bulk_deletes) + 1:05d}"
            state.bulk_deletes.append(
                {
                    "id": job_id,
                    "kind": kind,
                    "ids": list(ids),
                    "status": "queued",
                    "createdAt": int(time.time() * 1000),
                }
            )
        return JSONResponse({"id": job_id})

    async def bulk_delete_jobs(request: Request) -> Response:
        jobs = [
            {k: v for k, v in j.items() if k != "ids"} | {"count": len(j["ids"])}
            for j in state.bulk_deletes
        ]
        job_id = request.path_params.get("id")
        if job_id is None:
            return JSONResponse(jobs)
        for job in jobs:
            if job["id"] == job_id:
                return JSONResponse(job)
        return Response(status_code=404)

    g = ctx.guard
    return [
        Route(
            "/api/v1/metadata/{kind}/{group}/value",
            g("metadata", "write", metadata_values),
            methods=["POST"],
        ),
        Route(
            "/api/v1/metadata/schema/{kind}/{group}",
            g("schema", "write", schema_post),
            methods=["POST"],
        ),
        Route("/data/track", g("track", "track", track), methods=["POST"]),
        Route("/api/v1/bulkdelete/{kind}", g("bulkdelete", "write", bulk_delete), methods=["POST"]),
        Route("/api/v1/bulkdelete", g("bulkdelete", "read", bulk_delete_jobs)),
        Route("/api/v1/bulkdelete/{id}", g("bulkdelete", "read", bulk_delete_jobs)),
    ]


def _track_problem(event: Any) -> str | None:
    if not isinstance(event, dict):
        return "track body must be a JSON object"
    if event.get("type") != "track":
        return 'field "type" must be "track"'
    for name in ("event", "visitorId"):
        value = event.get(name)
        if not isinstance(value, str) or not value.strip():
            return f"field {name!r} is required and must be a non-empty string"
    ts = event.get("timestamp")
    if not isinstance(ts, int) or isinstance(ts, bool) or ts <= 0:
        return 'field "timestamp" is required and must be epoch milliseconds (integer)'
    props = event.get("properties")
    if props is not None and not isinstance(props, dict):
        return 'field "properties" must be an object'
    return None
