"""Read endpoints over loopback: shapes, key checks, Pendo's list and aggregation semantics."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta

import httpx
import pytest

from pendo_tui.sim.dataset import EXPAND_ALL, Dataset
from pendo_tui.sim.keys import DEFAULT_APP_ID
from pendo_tui.sim.server import Simulator

KEY = "x-pendo-integration-key"
GETS = [
    "/api/v1/token/verify",
    "/api/v1/page",
    "/api/v1/feature",
    "/api/v1/tracktype",
    "/api/v1/guide",
    "/api/v1/report",
    "/api/v1/segment",
    "/api/v1/metadata/schema/visitor",
    "/api/v1/visitor/v-0001",
    "/api/v1/account/acme",
]


def test_verify_reports_write_access(http: httpx.Client, sim: Simulator) -> None:
    r = http.get("/api/v1/token/verify", headers={KEY: sim.keys.read})
    assert r.status_code == 200 and r.json() == {"valid": True, "writeAccess": False}
    r = http.get("/api/v1/token/verify", headers={KEY: sim.keys.write})
    assert r.json() == {"valid": True, "writeAccess": True}


@pytest.mark.parametrize("path", GETS)
@pytest.mark.parametrize("key", [None, "00000000-0000-0000-0000-000000000000", "track"])
def test_bad_key_is_403_with_empty_body(
    http: httpx.Client, sim: Simulator, path: str, key: str | None
) -> None:
    headers = {} if key is None else {KEY: sim.keys.track if key == "track" else key}
    r = http.get(path, headers=headers)
    assert r.status_code == 403 and r.content == b""


def test_key_header_name_is_case_insensitive(http: httpx.Client, sim: Simulator) -> None:
    r = http.get("/api/v1/token/verify", headers={"X-Pendo-Integration-Key": sim.keys.read})
    assert r.status_code == 200


@pytest.mark.parametrize(
    ("path", "attr"),
    [("page", "pages"), ("feature", "features"), ("tracktype", "track_types"), ("guide", "guides")],
)
def test_lists_are_bare_arrays_default_app_unless_expanded(
    http: httpx.Client, read_h: dict, ds: Dataset, path: str, attr: str
) -> None:
    everything = getattr(ds, attr)
    default = http.get(f"/api/v1/{path}", headers=read_h).json()
    assert isinstance(default, list)
    assert [o["id"] for o in default] == [o["id"] for o in everything if o["appId"] == -323232]
    expanded = http.get(f"/api/v1/{path}", params={"expand": "*"}, headers=read_h).json()
    assert [o["id"] for o in expanded] == [o["id"] for o in everything]
    assert len(expanded) > len(default)
    two = [o["id"] for o in everything[:2]]
    picked = http.get(
        f"/api/v1/{path}", params={"expand": "*", "id": ",".join(two)}, headers=read_h
    ).json()
    assert [o["id"] for o in picked] == two


def test_page_objects_have_pendo_fields(http: httpx.Client, read_h: dict) -> None:
    page = http.get("/api/v1/page", headers=read_h).json()[0]
    assert {"id", "name", "kind", "appId", "createdAt", "isCoreEvent", "rules", "group"} <= set(
        page
    )
    assert page["kind"] == "Page" and len(page["id"]) == 27


def test_reports_and_results(http: httpx.Client, read_h: dict, ds: Dataset) -> None:
    reports = http.get("/api/v1/report", headers=read_h).json()
    assert [r["id"] for r in reports] == [r["id"] for r in ds.reports]
    for report in reports:
        assert {"aggregation", "definition", "level", "name"} <= set(report)
        r = http.get(f"/api/v1/report/{report['id']}/results.json", headers=read_h)
        assert r.status_code == 200 and r.json() == ds.report_rows(report["id"])
    assert http.get("/api/v1/report/nope/results.json", headers=read_h).status_code == 404


def test_segments_hide_member_lists(http: httpx.Client, read_h: dict, ds: Dataset) -> None:
    segs = http.get("/api/v1/segment", headers=read_h).json()
    assert [s["id"] for s in segs] == [s["id"] for s in ds.segments]
    assert all("visitorIds" not in s for s in segs)
    one = http.get(f"/api/v1/segment/{segs[0]['id']}", headers=read_h).json()
    assert one["name"] == ds.segments[0]["name"]
    assert http.get("/api/v1/segment/missing", headers=read_h).status_code == 404


@pytest.mark.parametrize("kind", ["visitor", "account", "parentAccount"])
def test_schema_mixed_case_descriptors(http: httpx.Client, read_h: dict, kind: str) -> None:
    schema = http.get(f"/api/v1/metadata/schema/{kind}", headers=read_h).json()
    assert {"agent", "custom"} <= set(schema)
    desc = next(iter(schema["agent"].values()))
    assert {"Type", "DisplayName", "ElementType", "Dirty", "isHidden", "isDeleted"} <= set(desc)
    assert http.get("/api/v1/metadata/schema/nope", headers=read_h).status_code == 404


def test_visitor_and_account_objects(http: httpx.Client, read_h: dict, ds: Dataset) -> None:
    v = http.get("/api/v1/visitor/v-0001", headers=read_h).json()
    expected = ds.visitor_object("v-0001")
    assert v["id"] == "v-0001" and v["metadata"] == expected["metadata"]
    assert v["accountIds"] == [ds.visitors[1]["accountId"]]
    anon = next(x["visitorId"] for x in ds.visitors if x["anonymous"])
    assert http.get(f"/api/v1/visitor/{anon}", headers=read_h).status_code == 200
    a = http.get("/api/v1/account/acme", headers=read_h).json()
    assert a["id"] == "acme" and a["metadata"]["agent"]["name"] == "Acme Corp"
    assert http.get("/api/v1/visitor/nobody", headers=read_h).status_code == 404
    assert http.get("/api/v1/account/nobody", headers=read_h).status_code == 404


def _page_pipeline(page_id: str) -> list[dict]:
    return [
        {
            "source": {
                "pageEvents": {"pageId": page_id, "appId": EXPAND_ALL},
                "timeSeries": {"period": "dayRange", "first": "now()", "count": -7},
            }
        },
        {
            "group": {
                "group": ["visitorId", "day"],
                "fields": {"events": {"sum": "numEvents"}},
            }
        },
    ]


def test_aggregation_matches_raw_events(http: httpx.Client, read_h: dict, ds: Dataset) -> None:
    page = ds.find("pages", "Dashboard")["id"]
    body = {"response": {"mimeType": "application/json"}, "request": {"pipeline": []}}
    body["request"]["pipeline"] = _page_pipeline(page)
    r = http.post("/api/v1/aggregation", json=body, headers=read_h)
    assert r.status_code == 200, r.text
    data = r.json()
    assert set(data) == {"startTime", "results"}
    start = ds.day_start_ms(ds.today - timedelta(days=7))
    end = ds.day_start_ms(ds.today)
    assert data["startTime"] == start
    expected: dict[tuple, int] = defaultdict(int)
    for row in ds.events:
        if row.get("pageId") == page and start <= row["day"] < end:
            expected[(row["visitorId"], row["day"])] += row["numEvents"]
    got = {(x["visitorId"], x["day"]): x["events"] for x in data["results"]}
    assert got == expected and got


def test_aggregation_errors(http: httpx.Client, read_h: dict) -> None:
    r = http.post("/api/v1/aggregation", json={"request": {"name": "x"}}, headers=read_h)
    assert r.status_code == 422 and r.json()["fields"] == {"pipeline": "Required"}
    r = http.post(
        "/api/v1/aggregation",
        json={"request": {"pipeline": [{"nosuchstep": {}}]}},
        headers=read_h,
    )
    assert r.status_code == 400 and r.headers["content-type"].startswith("text/plain") and r.text
    r = http.post(
        "/api/v1/aggregation",
        json={"request": {"pipeline": [{"source": {"visitors": None}}, {"filter": "a ==== 1"}]}},
        headers=read_h,
    )
    assert r.status_code == 400 and r.text
    r = http.post("/api/v1/aggregation", content=b"{nope", headers=read_h)
    assert r.status_code == 400


def test_aggregation_write_switch(http: httpx.Client, sim: Simulator) -> None:
    body = {"request": {"pipeline": [{"source": {"accounts": None}}]}}
    assert http.post("/api/v1/aggregation", json=body, headers={KEY: sim.keys.read}).is_success
    sim.aggregation_requires_write = True
    assert (
        http.post("/api/v1/aggregation", json=body, headers={KEY: sim.keys.read}).status_code == 403
    )
    r = http.post("/api/v1/aggregation", json=body, headers={KEY: sim.keys.write})
    assert r.status_code == 200 and len(r.json()["results"]) == len(sim.dataset.accounts)


def test_default_app_only_without_expand_in_aggregation(
    http: httpx.Client, read_h: dict, ds: Dataset
) -> None:
    body = {"request": {"pipeline": [{"source": {"pages": None}}]}}
    rows = http.post("/api/v1/aggregation", json=body, headers=read_h).json()["results"]
    assert rows and {r["appId"] for r in rows} == {DEFAULT_APP_ID}
