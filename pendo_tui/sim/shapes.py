"""Answer-shape switches: the variants of Pendo's answers that are reported but not
confirmed, served on demand so the client is tested against each of them.

Every switch defaults to the shape the simulator always served; ``/_sim/settings`` with
``{"shapes": {"verify": "string_booleans", ...}}`` (or ``Simulator.shapes``) changes them,
``/_sim/reset`` puts them back.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass, fields
from typing import Any

from starlette.responses import JSONResponse, Response

from pendo_tui.sim.streaming import ChunkedJSON, json_chunks

# switch -> its values; the first is the default (the shape served before switches existed)
CHOICES: dict[str, tuple[str, ...]] = {
    # /token/verify: {"valid","writeAccess"} booleans | writeAccess left out | "true"/"false"
    # strings | an empty 200 body
    "verify": ("standard", "no_write_access", "string_booleans", "empty"),
    # an unknown key: 403 empty body | 403 with a text body | 401 empty | 401 with JSON
    "auth_failure": ("403_empty", "403_text", "401_empty", "401_json"),
    # page / feature / track type lists: as documented | no "kind" | appId as a string |
    # only "appIds" (no "appId")
    "objects": ("standard", "no_kind", "app_id_string", "app_ids_only"),
    # metadata schema descriptors: "Type", "DisplayName" … | lower-case keys | "Type": ""
    # everywhere, plus deleted fields still listed (isDeleted true)
    "schema": ("standard", "lower_case", "untyped_and_deleted"),
    # GET /visitor|account/{id}: {"id", "accountIds", "metadata"} | visitorId/accountId
    # instead of id and no accountIds
    "entity": ("standard", "id_keys"),
    # aggregation answer: {"startTime","results"} | no startTime | results before startTime |
    # a bare array of rows (the older "flat" body) | a 200 object without results (not a
    # Pendo shape: what a proxy or a changed API could send; the client must not read 0 rows)
    "aggregation": ("envelope", "no_start_time", "results_first", "flat", "no_results"),
    # report results.json: a bare array (documented) | rows under "results" like aggregations
    "report_rows": ("array", "results"),
    # a pipeline the simulator cannot run: 400 text/plain | 422 {"overall","fields"}
    "pipeline_errors": ("text", "json"),
    # bulk metadata answer: every key | no total/updated | missing null | errors as objects
    # and failed as a list of ids
    "metadata_result": ("full", "counts_missing", "missing_null", "error_objects"),
    # /data/track answer body: empty | "OK" text | a JSON object
    "track_body": ("empty", "text", "json"),
}


@dataclass
class Shapes:
    verify: str = "standard"
    auth_failure: str = "403_empty"
    objects: str = "standard"
    schema: str = "standard"
    entity: str = "standard"
    aggregation: str = "envelope"
    report_rows: str = "array"
    pipeline_errors: str = "text"
    metadata_result: str = "full"
    track_body: str = "empty"

    def reset(self) -> None:
        for f in fields(self):
            setattr(self, f.name, CHOICES[f.name][0])

    def to_json(self) -> dict[str, str]:
        return asdict(self)

    def update(self, body: Any) -> str | None:
        """Apply ``{switch: value}`` (all or nothing); a problem as a sentence, else None."""
        if not isinstance(body, dict):
            return "shapes must be an object of switch: value"
        for name, value in body.items():
            if name not in CHOICES:
                return f"unknown shape switch {name!r}; use one of {', '.join(CHOICES)}"
            if value not in CHOICES[name]:
                return f"shapes.{name} must be one of {', '.join(CHOICES[name])}, not {value!r}"
        for name, value in body.items():
            setattr(self, name, value)
        return None

    # ---- answers -----------------------------------------------------------------------
    def verify_answer(self, write: bool) -> Response:
        if self.verify == "empty":
            return Response(b"", status_code=200, media_type="application/json")
        body: dict[str, Any] = {"valid": True, "writeAccess": write}
        if self.verify == "no_write_access":
            del body["writeAccess"]
        elif self.verify == "string_booleans":
            body = {k: str(v).lower() for k, v in body.items()}
        return JSONResponse(body)

    def auth_answer(self) -> Response:
        status = 401 if self.auth_failure.startswith("401") else 403
        if self.auth_failure == "403_text":
            return Response("Forbidden", status_code=status, media_type="text/plain")
        if self.auth_failure == "401_json":
            return JSONResponse({"message": "invalid integration key"}, status)
        return Response(status_code=status)

    def catalogue(self, objs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if self.objects == "standard":
            return objs
        out = []
        for obj in objs:
            o = dict(obj)
            if self.objects == "no_kind":
                o.pop("kind", None)
            elif self.objects == "app_id_string" and "appId" in o:
                o["appId"] = str(o["appId"])
            elif self.objects == "app_ids_only":
                app = o.pop("appId", None)
                o["appIds"] = o.get("appIds") or ([] if app is None else [app])
            out.append(o)
        return out

    def schema_doc(self, doc: dict[str, dict[str, dict[str, Any]]]) -> dict[str, Any]:
        if self.schema == "lower_case":
            return {
                g: {n: {k[:1].lower() + k[1:]: v for k, v in d.items()} for n, d in members.items()}
                for g, members in doc.items()
            }
        if self.schema == "untyped_and_deleted":
            out = {g: {n: {**d, "Type": ""} for n, d in m.items()} for g, m in doc.items()}
            for group in ("agent", "custom"):
                if group in out:
                    out[group]["retired_field"] = {"Type": "string", "isDeleted": True}
            return out
        return doc

    def entity_doc(self, kind: str, obj: dict[str, Any]) -> dict[str, Any]:
        if self.entity == "standard":
            return obj
        out = {k: v for k, v in obj.items() if k not in ("id", "accountIds")}
        return {f"{kind}Id": obj.get("id"), **out}

    def aggregation_answer(self, start: int | None, rows: Iterable[Any]) -> ChunkedJSON:
        head = b'{"startTime":' + json.dumps(start).encode() + b","
        if self.aggregation == "no_results":
            return ChunkedJSON(iter([head + b'"message":"request accepted"}']))
        if self.aggregation == "flat":
            return ChunkedJSON(json_chunks(b"[", rows, b"]"))
        if self.aggregation == "no_start_time":
            return ChunkedJSON(json_chunks(b'{"results":[', rows, b"]}"))
        if self.aggregation == "results_first":
            tail = b'],"startTime":' + json.dumps(start).encode() + b"}"
            return ChunkedJSON(json_chunks(b'{"results":[', rows, tail))
        return ChunkedJSON(json_chunks(head + b'"results":[', rows, b"]}"))

    def report_answer(self, rows: Iterable[Any]) -> ChunkedJSON:
        if self.report_rows == "results":
            return ChunkedJSON(json_chunks(b'{"results":[', rows, b"]}"))
        return ChunkedJSON(json_chunks(b"[", rows, b"]"))

    def pipeline_error(self, message: str) -> Response:
        if self.pipeline_errors == "json":
            return JSONResponse({"overall": {}, "fields": {"pipeline": message}}, 422)
        return Response(message, status_code=400, media_type="text/plain")

    def metadata_answer(
        self, id_key: str, total: int, updated: int, missing: list[str], errors: list[tuple]
    ) -> JSONResponse:
        """``errors`` holds (row, id, reason); failed counts missing and errored rows."""
        failed = total - updated
        body: dict[str, Any] = {
            "total": total,
            "updated": updated,
            "failed": failed,
            "missing": missing,
            "errors": [f"row {i} ({obj_id}): {reason}" for i, obj_id, reason in errors],
        }
        if self.metadata_result == "counts_missing":
            del body["total"], body["updated"]
        elif self.metadata_result == "missing_null" and not missing:
            body["missing"] = None
        elif self.metadata_result == "error_objects":
            body["errors"] = [{id_key: obj_id, "error": reason} for _i, obj_id, reason in errors]
            body["failed"] = [obj_id for _i, obj_id, _r in errors] + list(missing)
        return JSONResponse(body)

    def track_answer(self) -> Response:
        if self.track_body == "text":
            return Response(b"OK", status_code=200, media_type="text/plain")
        if self.track_body == "json":
            return JSONResponse({"status": "accepted"})
        return Response(b"", status_code=200, media_type="text/plain")
