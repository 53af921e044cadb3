"""Read endpoints: token check, object lists, reports, segments, schema, visitor/account."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from pendo_tui.sim import schema
from pendo_tui.sim.context import KEY_HEADER, SimContext, text
from pendo_tui.sim.keys import DEFAULT_APP_ID


def _catalogue(objs: list[dict[str, Any]], request: Request) -> list[dict[str, Any]]:
    """Pendo list semantics: default app only unless ?expand=*; ?id=a,b filters."""
    out = objs
    if request.query_params.get("expand") != "*":
        out = [o for o in out if o.get("appId") == DEFAULT_APP_ID]
    ids = request.query_params.get("id")
    if ids:
        wanted = {i for i in ids.split(",") if i}
        out = [o for o in out if o["id"] in wanted]
    return out


def _public_segment(seg: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in seg.items() if k != "visitorIds"}


def routes(ctx: SimContext) -> list[Route]:
    ds = ctx.dataset

    async def verify(request: Request) -> Response:
        write = request.headers.get(KEY_HEADER) == ctx.write_key
        return ctx.shapes.verify_answer(write)

    def lister(objs: list[dict[str, Any]] | Callable[[], list[dict[str, Any]]]) -> Any:
        async def handler(request: Request) -> Response:
            listed = _catalogue(objs() if callable(objs) else objs, request)
            return JSONResponse(ctx.shapes.catalogue(listed))

        return handler

    async def reports(request: Request) -> Response:
        return JSONResponse(ds.reports)

    async def report_results(request: Request) -> Response:
        rid = request.path_params["id"]
        if not any(r["id"] == rid for r in ds.reports):
            return Response(status_code=404)
        return ctx.shapes.report_answer(ds.report_rows(rid))

    async def segments(request: Request) -> Response:
        return JSONResponse([_public_segment(s) for s in ds.segments])

    async def segment(request: Request) -> Response:
        for seg in ds.segments:
            if seg["id"] == request.path_params["id"]:
                return JSONResponse(_public_segment(seg))
        return Response(status_code=404)

    async def schema_get(request: Request) -> Response:
        kind = request.path_params["kind"]
        if kind not in schema.KINDS:
            return text(
                f"unknown metadata kind {kind!r}; use visitor, account or parentAccount", 404
            )
        return JSONResponse(ctx.shapes.schema_doc(ctx.schema(kind)))

    def getter(kind: str) -> Any:
        async def handler(request: Request) -> Response:
            obj = ctx.object_view(kind, request.path_params["id"])
            if obj is None:
                return Response(status_code=404)
            return JSONResponse(ctx.shapes.entity_doc(kind, obj))

        return handler

    g = ctx.guard
    return [
        Route("/api/v1/token/verify", g("verify", "read", verify)),
        Route("/api/v1/page", g("list", "read", lister(ctx.pages))),
        Route("/api/v1/feature", g("list", "read", lister(ds.features))),
        Route("/api/v1/tracktype", g("list", "read", lister(ds.track_types))),
        Route("/api/v1/guide", g("list", "read", lister(ds.guides))),
        Route("/api/v1/report", g("list", "read", reports)),
        Route("/api/v1/report/{id}/results.json", g("report", "read", report_results)),
        Route("/api/v1/segment", g("list", "read", segments)),
        Route("/api/v1/segment/{id}", g("list", "read", segment)),
        Route("/api/v1/metadata/schema/{kind}", g("schema", "read", schema_get)),
        Route("/api/v1/visitor/{id:path}", g("object", "read", getter("visitor"))),
        Route("/api/v1/account/{id:path}", g("object", "read", getter("account"))),
    ]
