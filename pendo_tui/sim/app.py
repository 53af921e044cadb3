"""The simulator's ASGI application: every route of the Pendo dialect plus /_sim/."""

from __future__ import annotations

from starlette.applications import Starlette

from pendo_tui.sim import admin, aggregate, reads, writes
from pendo_tui.sim.context import SimContext


def build_app(ctx: SimContext) -> Starlette:
    routes = [
        *reads.routes(ctx),
        *aggregate.routes(ctx),
        *writes.routes(ctx),
        *admin.routes(ctx),
    ]
    return Starlette(routes=routes)
