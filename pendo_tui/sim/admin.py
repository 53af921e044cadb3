"""The ``/_sim/`` admin API: faults, recorded state, switches and reset over HTTP,
for tests that drive the simulator from another process. No key: the server only
listens on loopback."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from pendo_tui.sim.context import SimContext, text

_FAULT_ARGS = {
    "kind",
    "min_days",
    "status",
    "retry_after",
    "latency",
    "truncate",
    "malformed",
    "times",
    "reject_batch",
    "reject_ids",
}


def routes(ctx: SimContext) -> list[Route]:
    def fault_list() -> JSONResponse:
        return JSONResponse({"faults": [f.to_json() for f in ctx.faults.active()]})

    async def faults(request: Request) -> Response:
        if request.method == "GET":
            return fault_list()
        if request.method == "DELETE":
            ctx.faults.clear()
            return fault_list()
        try:
            body: Any = json.loads(await request.body())
        except ValueError as exc:
            return text(f"body is not JSON: {exc}")
        for spec in body if isinstance(body, list) else [body]:
            if not isinstance(spec, dict) or set(spec) - _FAULT_ARGS or "kind" not in spec:
                return text(f"a fault is an object with kind and any of {sorted(_FAULT_ARGS)}")
            try:
                ctx.faults.add(**spec)
            except (TypeError, ValueError) as exc:
                return text(str(exc))
        return fault_list()

    async def state(request: Request) -> Response:
        limit = request.query_params.get("limit", "")
        if limit and not limit.isdigit():
            return text("limit must be a non-negative integer")
        with ctx.state.lock:
            body = ctx.state.to_json(int(limit) if limit else None)
        body["settings"] = settings_json()
        return JSONResponse(body)

    def settings_json() -> dict[str, Any]:
        return {
            "large_aggregation_rows": ctx.large_aggregation_rows,
            "large_pages": ctx.large_pages,
            "scan_cost_us": ctx.scan_cost_us,
            "aggregation_requires_write": ctx.aggregation_requires_write,
            "shapes": ctx.shapes.to_json(),
        }

    async def settings(request: Request) -> Response:
        if request.method == "POST":
            try:
                body = json.loads(await request.body())
            except ValueError as exc:
                return text(f"body is not JSON: {exc}")
            if not isinstance(body, dict):
                return text("body must be an object of setting: value")
            problem = ctx.shapes.update(body.get("shapes", {})) or _apply_numbers(ctx, body)
            if problem:
                return text(problem)
            if "aggregation_requires_write" in body:
                ctx.aggregation_requires_write = bool(body["aggregation_requires_write"])
        return JSONResponse(settings_json())

    async def reset(request: Request) -> Response:
        ctx.reset()
        return JSONResponse({"reset": True})

    return [
        Route("/_sim/faults", faults, methods=["GET", "POST", "DELETE"]),
        Route("/_sim/state", state),
        Route("/_sim/settings", settings, methods=["GET", "POST"]),
        Route("/_sim/reset", reset, methods=["POST"]),
    ]


# setting -> (type, minimum, maximum)
_NUMBERS: dict[str, tuple[type, float, float]] = {
    "large_aggregation_rows": (int, 0, 100_000_000),
    "large_pages": (int, 1, 10_000),
    "scan_cost_us": (float, 0, 1_000_000),
}


def _apply_numbers(ctx: SimContext, body: dict[str, Any]) -> str | None:
    """Check every numeric setting in ``body`` first, then apply them all (or none)."""
    values: dict[str, Any] = {}
    for name, (kind, lo, hi) in _NUMBERS.items():
        if name not in body:
            continue
        raw = body[name]
        ok = isinstance(raw, int | float) and not isinstance(raw, bool)
        if not ok or (kind is int and raw != int(raw)) or not lo <= raw <= hi:
            what = "an integer" if kind is int else "a number"
            return f"{name} must be {what} from {lo:g} to {hi:g}, got {raw!r}"
        values[name] = kind(raw)
    for name, value in values.items():
        setattr(ctx, name, value)
    return None
