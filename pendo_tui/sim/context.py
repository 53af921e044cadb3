"""Shared state of one running simulator: dataset, recorded writes, faults, switches,
and the guard every API endpoint goes through (faults first, then key checks)."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from starlette.requests import Request
from starlette.responses import Response

from pendo_tui.sim import large, schema, streaming
from pendo_tui.sim.dataset import Dataset
from pendo_tui.sim.faults import Fault, Faults
from pendo_tui.sim.keys import DEMO_READ_KEY, DEMO_WRITE_KEY, TRACK_SECRETS
from pendo_tui.sim.shapes import Shapes
from pendo_tui.sim.state import SimState

Access = Literal["read", "write", "track", "aggregation"]
Handler = Callable[[Request], Awaitable[Response]]
KEY_HEADER = "x-pendo-integration-key"
MAX_SCAN_SECONDS = 600.0


@dataclass
class SimContext:
    dataset: Dataset
    state: SimState = field(default_factory=SimState)
    faults: Faults = field(default_factory=Faults)
    read_key: str = DEMO_READ_KEY
    write_key: str = DEMO_WRITE_KEY
    large_aggregation_rows: int = 0  # > 0: pageEvents is a virtual table of this many rows
    large_pages: int = large.DEFAULT_PAGES  # pages of that table (listed by /api/v1/page)
    scan_cost_us: float = 0.0  # simulated server time per source row an aggregation reads
    aggregation_requires_write: bool = False  # sources disagree: docs/pendo-reference.md
    shapes: Shapes = field(default_factory=Shapes)  # unconfirmed answer shapes, on demand
    _large: tuple[tuple[int, int], large.LargeData] | None = field(default=None, repr=False)
    # one pipeline evaluated at a time (sim/aggregate.py, ``evaluate_to_first_row``)
    evaluating: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def reset(self) -> None:
        self.state.reset()
        self.faults.clear()
        self.large_aggregation_rows = 0
        self.large_pages = large.DEFAULT_PAGES
        self.scan_cost_us = 0.0
        self.aggregation_requires_write = False
        self.shapes.reset()

    # ---- what aggregations read ---------------------------------------------------------
    def aggregation_data(self) -> Dataset | large.LargeData:
        """The dataset, or in large mode the dataset with a virtual pageEvents table."""
        if self.large_aggregation_rows <= 0:
            return self.dataset
        key = (self.large_aggregation_rows, self.large_pages)
        if self._large is None or self._large[0] != key:
            self._large = (key, large.large_data(self.dataset, *key))
        return self._large[1]

    def pages(self) -> list[dict[str, Any]]:
        """The page catalogue: the dataset's pages, plus the virtual ones in large mode."""
        data = self.aggregation_data()
        if isinstance(data, large.LargeData):
            return [*self.dataset.pages, *data.events.pages]
        return self.dataset.pages

    def scan_delay(self, rows: int) -> float:
        """Seconds a scan of ``rows`` source rows takes (bounded: one call never waits
        longer than MAX_SCAN_SECONDS)."""
        return min(MAX_SCAN_SECONDS, rows * self.scan_cost_us / 1e6)

    # ---- metadata views ----------------------------------------------------------------
    def schema(self, kind: str) -> dict[str, dict[str, dict[str, Any]]]:
        out = schema.base_schema(kind)
        for (k, group), fields in self.state.fields.items():
            if k == kind:
                out.setdefault(group, {}).update(fields)
        return out

    def field_exists(self, kind: str, group: str, name: str) -> bool:
        if name in schema.BASE_FIELDS[kind].get(group, ()):
            return True
        return name in self.state.fields.get((kind, group), {})

    def base_object(self, kind: str, obj_id: str) -> dict[str, Any] | None:
        ds = self.dataset
        if kind == "visitor":
            return ds.visitor_object(obj_id)
        if kind == "account":
            return ds.account_object(obj_id)
        for p in ds.parent_accounts:
            if p["accountId"] == obj_id:
                return {
                    "accountId": obj_id,
                    "metadata": {g: dict(v) for g, v in p["metadata"].items()},
                }
        return None

    def exists(self, kind: str, obj_id: str) -> bool:
        return (
            obj_id in self.state.created.get(kind, ()) or self.base_object(kind, obj_id) is not None
        )

    def object_view(self, kind: str, obj_id: str) -> dict[str, Any] | None:
        """GET /visitor|account/{id}: dataset object overlaid with recorded writes."""
        base = self.base_object(kind, obj_id)
        if base is None:
            if obj_id not in self.state.created.get(kind, ()):
                return None
            base = {"metadata": {}}
        metadata = base["metadata"]
        for group in schema.WRITABLE_GROUPS:
            written = self.state.metadata.get((kind, group, obj_id))
            if written:
                metadata.setdefault(group, {}).update(written)
        out: dict[str, Any] = {"id": obj_id}
        if kind == "visitor":
            auto = metadata.get("auto", {})
            out["accountIds"] = list(auto.get("accountids", []))
        out["metadata"] = metadata
        return out

    # ---- the guard ---------------------------------------------------------------------
    def key_problem(self, request: Request, access: Access) -> Response | None:
        key = request.headers.get(KEY_HEADER, "")
        if access == "track":
            return None if key in TRACK_SECRETS else Response(status_code=403)
        if key not in (self.read_key, self.write_key):
            return self.shapes.auth_answer()  # Pendo: unknown key -> 403, empty body
        needs_write = access == "write" or (
            access == "aggregation" and self.aggregation_requires_write
        )
        if needs_write and key != self.write_key:
            return Response(
                "This integration key is read-only; this call needs a key with write access.",
                status_code=403,
                media_type="text/plain",
            )
        return None

    def guard(self, kind: str, access: Access, handler: Handler) -> Handler:
        async def endpoint(request: Request) -> Response:
            self.state.requests[kind] += 1
            days = await _series_days(request) if self.faults.wants_days() else None
            fault = self.faults.take(kind, days)
            if fault and fault.latency:
                await asyncio.sleep(fault.latency)
            if fault and fault.status:
                return fault_response(fault)
            problem = self.key_problem(request, access)
            if problem is not None:
                return problem
            resp = await handler(request)
            if fault and fault.truncate:
                return streaming.truncated(resp)
            if fault and fault.malformed:
                return streaming.malformed(resp)
            return resp

        return endpoint


async def _series_days(request: Request) -> int | None:
    """Days the first source's time series of an aggregation spans (None: not one)."""
    try:
        steps = json.loads(await request.body())["request"]["pipeline"]
        count = next(s["source"]["timeSeries"]["count"] for s in steps if "source" in s)
    except (ValueError, KeyError, TypeError, StopIteration):
        return None
    return abs(count) if isinstance(count, int) else None


def fault_response(fault: Fault) -> Response:
    status = fault.status or 500
    headers = {}
    if fault.retry_after is not None:
        ra = fault.retry_after
        headers["Retry-After"] = str(int(ra)) if float(ra).is_integer() else str(ra)
    if status in (401, 403):
        return Response(status_code=status, headers=headers)  # auth failures: empty body
    text = {429: "Too Many Requests", 503: "Service Unavailable"}.get(status, "Server Error")
    return Response(text, status_code=status, headers=headers, media_type="text/plain")


def text(message: str, status: int = 400) -> Response:
    return Response(message, status_code=status, media_type="text/plain")
