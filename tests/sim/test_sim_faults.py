"""Fault injection, in-process and over the /_sim/ admin API."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from pendo_tui.sim.server import Simulator
from pendo_tui.sim.shapes import Shapes

VALUES = "/api/v1/metadata/visitor/custom/value"
AGG = {"request": {"pipeline": [{"source": {"accounts": None}}]}}


@pytest.mark.parametrize("status", [401, 403])
def test_auth_faults_have_empty_bodies(
    http: httpx.Client, sim: Simulator, read_h: dict, status: int
) -> None:
    sim.faults.add("verify", status=status)
    r = http.get("/api/v1/token/verify", headers=read_h)
    assert r.status_code == status and r.content == b""
    assert http.get("/api/v1/token/verify", headers=read_h).status_code == 200


def test_429_with_and_without_retry_after(http: httpx.Client, sim: Simulator, read_h: dict) -> None:
    sim.faults.add("list", status=429, retry_after=2)
    sim.faults.add("list", status=429)
    first = http.get("/api/v1/page", headers=read_h)
    assert first.status_code == 429 and first.headers["retry-after"] == "2"
    second = http.get("/api/v1/page", headers=read_h)
    assert second.status_code == 429 and "retry-after" not in second.headers
    assert http.get("/api/v1/page", headers=read_h).status_code == 200


@pytest.mark.parametrize("status", [500, 503])
def test_server_errors_times_n_then_normal(
    http: httpx.Client, sim: Simulator, read_h: dict, status: int
) -> None:
    sim.faults.add("aggregation", status=status, times=3)
    codes = [
        http.post("/api/v1/aggregation", json=AGG, headers=read_h).status_code for _ in range(4)
    ]
    assert codes == [status] * 3 + [200]
    assert sim.state.requests["aggregation"] == 4


def test_faults_only_hit_their_kind_and_star_hits_all(
    http: httpx.Client, sim: Simulator, read_h: dict
) -> None:
    sim.faults.add("report", status=500)
    assert http.get("/api/v1/page", headers=read_h).status_code == 200
    assert sim.faults.active()  # still waiting for a report call
    sim.faults.clear()
    sim.faults.add("*", status=503, times=2)
    assert http.get("/api/v1/page", headers=read_h).status_code == 503
    assert http.get("/api/v1/token/verify", headers=read_h).status_code == 503
    assert http.get("/api/v1/page", headers=read_h).status_code == 200


def test_unlimited_fault_until_cleared(http: httpx.Client, sim: Simulator, read_h: dict) -> None:
    sim.faults.add("list", status=500, times=None)
    assert all(http.get("/api/v1/page", headers=read_h).status_code == 500 for _ in range(5))
    sim.faults.clear()
    assert http.get("/api/v1/page", headers=read_h).status_code == 200


def test_latency(http: httpx.Client, sim: Simulator, read_h: dict) -> None:
    sim.faults.add("verify", latency=0.3)
    t0 = time.monotonic()
    assert http.get("/api/v1/token/verify", headers=read_h).status_code == 200
    assert time.monotonic() - t0 >= 0.3
    with pytest.raises(httpx.ReadTimeout):
        sim.faults.add("verify", latency=0.5)
        http.get("/api/v1/token/verify", headers=read_h, timeout=0.1)


@pytest.mark.parametrize(
    ("method", "path", "kind"),
    [
        ("POST", "/api/v1/aggregation", "aggregation"),
        ("GET", "/api/v1/page", "list"),
        ("GET", "/api/v1/report", "list"),
    ],
)
def test_truncated_body_drops_connection(
    http: httpx.Client, sim: Simulator, read_h: dict, method: str, path: str, kind: str
) -> None:
    sim.faults.add(kind, truncate=True)
    kwargs = {"json": AGG} if method == "POST" else {}
    with pytest.raises(httpx.RemoteProtocolError):
        http.request(method, path, headers=read_h, **kwargs)
    assert http.request(method, path, headers=read_h, **kwargs).status_code == 200


def test_truncated_report_results(http: httpx.Client, sim: Simulator, read_h: dict) -> None:
    rid = sim.dataset.reports[0]["id"]
    sim.faults.add("report", truncate=True)
    with pytest.raises(httpx.RemoteProtocolError):
        http.get(f"/api/v1/report/{rid}/results.json", headers=read_h)


@pytest.mark.parametrize(("kind", "path"), [("aggregation", None), ("list", "/api/v1/page")])
def test_malformed_json(
    http: httpx.Client, sim: Simulator, read_h: dict, kind: str, path: str | None
) -> None:
    sim.faults.add(kind, malformed=True)
    if path:
        r = http.get(path, headers=read_h)
    else:
        r = http.post("/api/v1/aggregation", json=AGG, headers=read_h)
    assert r.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        r.json()


def test_metadata_batch_rejected_whole_by_fault(
    http: httpx.Client, sim: Simulator, write_h: dict
) -> None:
    rows = [{"visitorId": f"v-{i:04d}", "values": {"role": "x"}} for i in range(8)]
    sim.faults.add("metadata", reject_ids=["v-0005"], times=None)
    r = http.post(VALUES, json=rows, headers=write_h)
    assert r.status_code == 400 and "row 5 (v-0005)" in r.text
    assert sim.state.metadata == {}
    # a bisecting client gets the good half through and the bad record isolated
    assert http.post(VALUES, json=rows[:4], headers=write_h).json()["updated"] == 4
    assert http.post(VALUES, json=rows[4:6], headers=write_h).status_code == 400
    assert http.post(VALUES, json=rows[4:5], headers=write_h).json()["updated"] == 1
    assert http.post(VALUES, json=rows[5:6], headers=write_h).status_code == 400
    sim.faults.clear()
    sim.faults.add("metadata", reject_batch=True)
    assert http.post(VALUES, json=rows[6:], headers=write_h).status_code == 400
    assert http.post(VALUES, json=rows[6:], headers=write_h).json()["updated"] == 2


def test_admin_api(http: httpx.Client, sim: Simulator, read_h: dict, track_h: dict) -> None:
    r = http.post(
        "/_sim/faults", json={"kind": "list", "status": 429, "retry_after": 1, "times": 2}
    )
    assert r.status_code == 200 and r.json()["faults"][0]["times"] == 2
    assert http.get("/api/v1/page", headers=read_h).status_code == 429
    assert http.get("/_sim/faults").json()["faults"][0]["times"] == 1
    assert http.post("/_sim/faults", json={"kind": "bogus"}).status_code == 400
    assert http.post("/_sim/faults", json={"kind": "list", "wat": 1}).status_code == 400
    assert http.delete("/_sim/faults").json() == {"faults": []}
    http.post(
        "/data/track",
        json={"type": "track", "event": "E", "visitorId": "v", "timestamp": 1},
        headers=track_h,
    )
    state = http.get("/_sim/state").json()
    assert state["track_event_count"] == 1 and state["track_events"][0]["event"] == "E"
    assert state["requests"]["list"] == 1
    assert http.post("/_sim/settings", json={"aggregation_requires_write": True}).json() == {
        "large_aggregation_rows": 0,
        "large_pages": 10,
        "scan_cost_us": 0.0,
        "aggregation_requires_write": True,
        "shapes": Shapes().to_json(),
    }
    assert http.post("/api/v1/aggregation", json=AGG, headers=read_h).status_code == 403
    assert http.post("/_sim/reset").json() == {"reset": True}
    assert http.get("/_sim/state").json()["track_event_count"] == 0
    assert http.post("/api/v1/aggregation", json=AGG, headers=read_h).status_code == 200


def test_faults_reject_unknown_kind(sim: Simulator) -> None:
    with pytest.raises(ValueError, match="unknown request kind"):
        sim.faults.add("pages", status=500)


def test_slow_request_does_not_block_others(sim: Simulator, read_h: dict) -> None:
    sim.faults.add("aggregation", latency=1.0)
    with (
        httpx.Client(base_url=sim.base_url, timeout=10) as slow,
        httpx.Client(base_url=sim.base_url, timeout=10) as fast,
        ThreadPoolExecutor(1) as pool,
    ):
        pending = pool.submit(slow.post, "/api/v1/aggregation", json=AGG, headers=read_h)
        time.sleep(0.1)
        t0 = time.monotonic()
        assert fast.get("/api/v1/token/verify", headers=read_h).status_code == 200
        assert time.monotonic() - t0 < 0.8
        assert pending.result(timeout=10).status_code == 200


def test_admin_rejects_bad_input(http: httpx.Client) -> None:
    assert http.post("/_sim/settings", json=[1]).status_code == 400
    assert http.get("/_sim/state", params={"limit": "x"}).status_code == 400
    assert http.post("/_sim/faults", content=b"{").status_code == 400
