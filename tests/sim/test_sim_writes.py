"""Write endpoints over loopback: bulk metadata, field creation, track events, bulk delete."""

from __future__ import annotations

import time

import httpx
import pytest

from pendo_tui.sim.keys import MOBILE_APP_ID
from pendo_tui.sim.server import Simulator

KEY = "x-pendo-integration-key"
VALUES = "/api/v1/metadata/visitor/custom/value"


def _event(**kw: object) -> dict:
    return {
        "type": "track",
        "event": "Report Exported",
        "visitorId": "v-0001",
        "accountId": "acme",
        "timestamp": int(time.time() * 1000),
        "properties": {"plan": "pro"},
        "context": {},
    } | kw


def test_bulk_metadata_updates_and_lists_missing(
    http: httpx.Client, sim: Simulator, write_h: dict
) -> None:
    rows = [
        {"visitorId": "v-0001", "values": {"role": "admin", "seats_used": 3}},
        {"visitorId": "v-0002", "values": {"role": "viewer"}},
        {"visitorId": "ghost-1", "values": {"role": "viewer"}},
    ]
    r = http.post(VALUES, json=rows, headers=write_h)
    assert r.status_code == 200
    assert r.json() == {"total": 3, "updated": 2, "failed": 1, "missing": ["ghost-1"], "errors": []}
    assert sim.state.metadata[("visitor", "custom", "v-0001")] == {"role": "admin", "seats_used": 3}
    assert ("visitor", "custom", "ghost-1") not in sim.state.metadata
    got = http.get("/api/v1/visitor/v-0001", headers=write_h).json()
    assert got["metadata"]["custom"]["role"] == "admin"  # reads see the write


def test_create_true_makes_missing_records(
    http: httpx.Client, sim: Simulator, write_h: dict
) -> None:
    rows = [{"accountId": "newco", "values": {"name": "New Co"}}]
    r = http.post("/api/v1/metadata/account/agent/value?create=true", json=rows, headers=write_h)
    assert r.json()["updated"] == 1 and r.json()["missing"] == []
    a = http.get("/api/v1/account/newco", headers=write_h)
    assert a.status_code == 200 and a.json()["metadata"]["agent"]["name"] == "New Co"
    assert "newco" in sim.state.created["account"]


def test_parent_account_metadata(http: httpx.Client, sim: Simulator, write_h: dict) -> None:
    rows = [{"accountId": "parent-north", "values": {"region": "EMEA"}}]
    r = http.post("/api/v1/metadata/parentAccount/custom/value", json=rows, headers=write_h)
    assert r.json()["updated"] == 1
    assert sim.state.metadata[("parentAccount", "custom", "parent-north")] == {"region": "EMEA"}


def test_unknown_custom_field_fails_row_until_created(
    http: httpx.Client, sim: Simulator, write_h: dict
) -> None:
    rows = [{"visitorId": "v-0001", "values": {"favourite_colour": "teal"}}]
    body = http.post(VALUES, json=rows, headers=write_h).json()
    assert body["updated"] == 0 and body["failed"] == 1
    assert "favourite_colour" in body["errors"][0]
    created = http.post(
        "/api/v1/metadata/schema/visitor/custom",
        json=[{"name": "favourite_colour", "displayname": "Colour", "type": "string"}],
        headers=write_h,
    )
    assert created.status_code == 200
    schema = http.get("/api/v1/metadata/schema/visitor", headers=write_h).json()
    assert schema["custom"]["favourite_colour"]["Type"] == "string"
    assert http.post(VALUES, json=rows, headers=write_h).json()["updated"] == 1


@pytest.mark.parametrize(
    "field",
    [
        {"name": "300", "type": "string"},
        {"name": "ok_name", "type": "colour"},
        {"displayname": "no name"},
    ],
)
def test_field_creation_validates(http: httpx.Client, write_h: dict, field: dict) -> None:
    r = http.post("/api/v1/metadata/schema/visitor/custom", json=[field], headers=write_h)
    assert r.status_code == 400 and r.text


@pytest.mark.parametrize(
    ("bad", "says"),
    [
        ({"visitorId": "v-0003", "values": {"role": {"nested": 1}}}, "row 1 (v-0003)"),
        ({"visitorId": "v-0003", "values": {"role": ["a"]}}, "a list"),
        ({"visitorId": "", "values": {"role": "x"}}, "row 1: visitorId"),
        ({"values": {"role": "x"}}, "missing or empty"),
        ({"visitorId": "v-0003", "values": "x"}, "values must be an object"),
    ],
)
def test_one_invalid_row_rejects_whole_batch(
    http: httpx.Client, sim: Simulator, write_h: dict, bad: dict, says: str
) -> None:
    rows = [{"visitorId": "v-0001", "values": {"role": "a"}}, bad]
    r = http.post(VALUES, json=rows, headers=write_h)
    assert r.status_code == 400 and says in r.text
    assert sim.state.metadata == {}  # nothing of the batch applied


def test_writes_need_write_key(http: httpx.Client, sim: Simulator, read_h: dict) -> None:
    rows = [{"visitorId": "v-0001", "values": {"role": "a"}}]
    assert http.post(VALUES, json=rows, headers=read_h).status_code == 403
    r = http.post("/api/v1/metadata/schema/visitor/custom", json=[{"name": "x"}], headers=read_h)
    assert r.status_code == 403
    r = http.post("/api/v1/bulkdelete/visitor", json={"visitors": ["v-0001"]}, headers=read_h)
    assert r.status_code == 403
    r = http.post(VALUES, json=rows, headers={KEY: sim.keys.track})
    assert r.status_code == 403 and r.content == b""
    assert sim.state.metadata == {} and sim.state.bulk_deletes == []


def test_group_must_be_writable(http: httpx.Client, write_h: dict) -> None:
    rows = [{"visitorId": "v-0001", "values": {"lastvisit": 1}}]
    assert (
        http.post("/api/v1/metadata/visitor/auto/value", json=rows, headers=write_h).status_code
        == 400
    )


def test_track_accepts_only_the_track_secret(
    http: httpx.Client, sim: Simulator, read_h: dict, write_h: dict, track_h: dict
) -> None:
    before = int(time.time() * 1000)
    r = http.post("/data/track", json=_event(), headers=track_h)
    assert r.status_code == 200 and r.content == b""
    assert r.headers["content-type"].startswith("text/plain")
    for headers in (read_h, write_h, {}):
        r = http.post("/data/track", json=_event(), headers=headers)
        assert r.status_code == 403 and r.content == b""
    assert len(sim.state.track_events) == 1
    ev = sim.state.track_events[0]
    assert ev["event"] == "Report Exported" and ev["properties"] == {"plan": "pro"}
    assert ev["appId"] == -323232 and ev["receivedAt"] >= before


def test_old_track_events_accepted_but_marked_unprocessed(
    http: httpx.Client, sim: Simulator, track_h: dict
) -> None:
    old = int(time.time() * 1000) - 8 * 86_400_000
    assert http.post("/data/track", json=_event(timestamp=old), headers=track_h).status_code == 200
    assert http.post("/data/track", json=_event(), headers=track_h).status_code == 200
    assert [e["processed"] for e in sim.state.track_events] == [False, True]


def test_track_secret_picks_the_app(http: httpx.Client, sim: Simulator) -> None:
    http.post("/data/track", json=_event(), headers={KEY: sim.keys.track_mobile})
    assert sim.state.track_events[-1]["appId"] == MOBILE_APP_ID


@pytest.mark.parametrize(
    "change",
    [
        {"type": "identify"},
        {"event": ""},
        {"visitorId": None},
        {"timestamp": "2026-03-01"},
        {"timestamp": True},
        {"properties": ["x"]},
    ],
)
def test_track_validation(http: httpx.Client, sim: Simulator, track_h: dict, change: dict) -> None:
    r = http.post("/data/track", json=_event(**change), headers=track_h)
    assert r.status_code == 400 and r.text
    assert sim.state.track_events == []


def test_bulk_delete(http: httpx.Client, sim: Simulator, write_h: dict) -> None:
    r = http.post(
        "/api/v1/bulkdelete/visitor", json={"visitors": ["v-0001", "v-0002"]}, headers=write_h
    )
    assert r.status_code == 200
    job = r.json()["id"]
    too_many = {"accounts": [f"a{i}" for i in range(501)]}
    assert (
        http.post("/api/v1/bulkdelete/account", json=too_many, headers=write_h).status_code == 400
    )
    at_limit = {"accounts": [f"a{i}" for i in range(500)]}
    assert (
        http.post("/api/v1/bulkdelete/account", json=at_limit, headers=write_h).status_code == 200
    )
    assert (
        http.post("/api/v1/bulkdelete/visitor", json={"visitors": []}, headers=write_h).status_code
        == 400
    )
    jobs = http.get("/api/v1/bulkdelete", headers=write_h).json()
    assert [(j["id"], j["kind"], j["count"]) for j in jobs[:1]] == [(job, "visitor", 2)]
    assert http.get(f"/api/v1/bulkdelete/{job}", headers=write_h).json()["status"] == "queued"
    assert sim.state.bulk_deletes[0]["ids"] == ["v-0001", "v-0002"]


def test_track_throughput_sanity(http: httpx.Client, sim: Simulator, track_h: dict) -> None:
    """500 sequential events are all recorded, in order (the push benchmark sends 100k)."""
    for i in range(500):
        http.post("/data/track", json=_event(event=f"e{i}"), headers=track_h)
    assert [e["event"] for e in sim.state.track_events] == [f"e{i}" for i in range(500)]
