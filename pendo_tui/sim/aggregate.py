"""POST /api/v1/aggregation: envelope checks, the evaluator bridge, streamed answers.

The evaluator itself lives in ``sim/pipeline.py``; this file adapts it to HTTP: 400
text/plain for a PipelineError, 422 for a body without pipeline. Every call is charged
for the source rows it reads (``SimContext.scan_cost_us`` per row, recorded in
``SimState.scans``), so a second read of the same data costs again, as on Pendo.
"""

from __future__ import annotations

import ast
import asyncio
import json
import operator
import threading
from collections.abc import Iterator
from datetime import timedelta
from itertools import chain
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from pendo_tui.sim.context import SimContext, text
from pendo_tui.sim.dataset import Dataset
from pendo_tui.sim.pipeline import PipelineError, compile_pipeline

_END = object()
_OPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul}


def _arith(node: ast.AST) -> int:
    if isinstance(node, ast.Constant) and isinstance(node.value, int):
        return node.value
    if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
        return _OPS[type(node.op)](_arith(node.left), _arith(node.right))
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return -_arith(node.operand)
    raise ValueError("unsupported expression")


def resolve_instant(value: Any, now_ms: int) -> int:
    """A timeSeries ``first``: ms int, numeric string, or ``now()`` with + - * arithmetic."""
    if isinstance(value, bool):
        raise ValueError("boolean is not a time")
    if isinstance(value, int | float):
        return int(value)
    if isinstance(value, str):
        expr = value.replace("now()", str(now_ms)).strip()
        return _arith(ast.parse(expr, mode="eval").body)
    raise ValueError(f"cannot resolve time {value!r}")


def start_time(steps: list[Any], ds: Dataset) -> int | None:
    """Best-effort start of the first source's time series (Pendo's ``startTime``)."""
    for step in steps:
        if not isinstance(step, dict) or not isinstance(step.get("source"), dict):
            continue
        series = step["source"].get("timeSeries")
        if not isinstance(series, dict):
            return None
        try:
            first = resolve_instant(series.get("first", "now()"), ds.now_ms)
        except (ValueError, SyntaxError):
            return None
        count = series.get("count")
        back = count if isinstance(count, int) and count < 0 else 0
        if series.get("period") == "hourRange":
            return first - first % 3_600_000 + back * 3_600_000
        return ds.day_start_ms(ds.day_of_ms(first) + timedelta(days=back))
    return None


def evaluate_to_first_row(
    rows: Iterator[Any], evaluating: threading.Lock
) -> tuple[Iterator[Any], Any]:
    """Work a pipeline out up to its first row (a group step: all of it), one pipeline at
    a time. Pendo answers each call on its own servers; the simulator has one
    interpreter, where evaluations run side by side only share its CPU and every call
    but the last is answered later than it would be alone. Taking them in turn answers
    each as soon as its own evaluation and the ones before it allow; what comes after
    the first row (streaming) still runs side by side."""
    it = iter(rows)
    with evaluating:
        return it, next(it, _END)


async def _sleep_rest(charge: float, spent: float) -> None:
    if charge > spent:
        await asyncio.sleep(charge - spent)


def routes(ctx: SimContext) -> list[Route]:
    ds = ctx.dataset

    async def aggregation(request: Request) -> Response:
        try:
            body = json.loads(await request.body())
        except ValueError as exc:
            return text(f"request body is not JSON: {exc}")
        req = body.get("request") if isinstance(body, dict) else None
        if not isinstance(req, dict) or "pipeline" not in req:
            return JSONResponse({"overall": {}, "fields": {"pipeline": "Required"}}, 422)
        steps = req["pipeline"]
        if not isinstance(steps, list):
            return text("pipeline must be a JSON array of steps")
        start = start_time(steps, ds)
        try:
            compiled = compile_pipeline(steps, ctx.aggregation_data(), ds.now_ms)
        except PipelineError as exc:
            return ctx.shapes.pipeline_error(str(exc) or "Cannot parse pipeline")
        # Pendo reads every row of each source's window, then filters: charge for that
        # read on every call (no cache), before the first byte of the answer. The charge
        # is the server's time to its first byte, and working the pipeline out up to its
        # first row (a group step: all of it) is part of that time, as grouping is part
        # of Pendo's scan: only what the evaluation leaves of the charge is slept.
        scanned = compiled.scan_size()
        delay = ctx.scan_delay(scanned)
        ctx.state.record_scan(scanned, delay, compiled.source_names())
        loop = asyncio.get_running_loop()
        started = loop.time()
        try:
            it, first = await run_in_threadpool(
                evaluate_to_first_row, compiled.rows(), ctx.evaluating
            )
        except PipelineError as exc:
            await _sleep_rest(delay, loop.time() - started)
            return ctx.shapes.pipeline_error(str(exc) or "Cannot parse pipeline")
        await _sleep_rest(delay, loop.time() - started)
        rows = iter(()) if first is _END else chain([first], it)
        return ctx.shapes.aggregation_answer(start, rows)

    return [
        Route(
            "/api/v1/aggregation",
            ctx.guard("aggregation", "aggregation", aggregation),
            methods=["POST"],
        )
    ]
