"""Every answer shape Pendo is reported to send, served by the simulator, read by the client.

Each test switches one shape on (``sim.shapes``), reads the raw answer over plain HTTP to
know what was sent, and checks the client's reading of that same answer.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from pendo_tui.errors import ExitCode
from pendo_tui.pendo import PendoClient
from pendo_tui.pendo.errors import AuthError, BadRequestError, MalformedResponseError
from pendo_tui.sim.server import Simulator

KEY = "x-pendo-integration-key"
EVENTS_7_DAYS = [
    {
        "source": {
            "events": {"appId": 'expandAppIds("*")'},
            "timeSeries": {"period": "dayRange", "first": "now()", "count": -7},
        }
    },
    {"group": {"group": ["visitorId", "day"], "fields": {"n": {"sum": "numEvents"}}}},
    {"sort": ["visitorId", "day"]},
]


def raw(sim: Simulator, method: str, path: str, key: str | None = None, **kw: Any):
    headers = {KEY: key or sim.keys.write}
    with httpx.Client(base_url=sim.base_url, timeout=60) as http:
        return http.request(method, path, headers=headers, **kw)


def envelope(pipeline: list[dict]) -> dict:
    return {"response": {"mimeType": "application/json"}, "request": {"pipeline": pipeline}}


# ---- /token/verify ------------------------------------------------------------------------
@pytest.mark.parametrize("shape", ["standard", "no_write_access", "string_booleans", "empty"])
def test_verify_bodies(sim: Simulator, make_client, shape: str) -> None:
    sim.shapes.verify = shape
    for key in (sim.keys.read, sim.keys.write):
        answer = raw(sim, "GET", "/api/v1/token/verify", key)
        body = answer.json() if answer.content else {}
        said = body.get("writeAccess")
        expected = None if said is None else said in (True, "true")
        client = make_client(key)
        info = client.verify()
        assert info.valid is True
        assert info.write_access is expected
        assert client.write_access is expected
    if shape == "string_booleans":  # "false" must not read as true
        assert make_client(sim.keys.read).verify().write_access is False


# ---- refused keys ---------------------------------------------------------------------------
@pytest.mark.parametrize("shape", ["403_empty", "403_text", "401_empty", "401_json"])
def test_refused_key_bodies(sim: Simulator, make_client, shape: str) -> None:
    sim.shapes.auth_failure = shape
    answer = raw(sim, "GET", "/api/v1/page", "not-a-key")
    client = make_client("not-a-key")
    with pytest.raises(AuthError) as err:
        client.pages()
    assert err.value.status == answer.status_code
    assert err.value.exit_code == ExitCode.AUTH
    said = answer.json()["message"] if shape == "401_json" else answer.text
    if said:
        assert f"Pendo said: {said}" in err.value.message
    else:
        assert "Pendo said" not in err.value.message


# ---- object lists ---------------------------------------------------------------------------
@pytest.mark.parametrize("shape", ["standard", "no_kind", "app_id_string", "app_ids_only"])
def test_list_objects(sim: Simulator, client: PendoClient, shape: str) -> None:
    sim.shapes.objects = shape
    sent = raw(sim, "GET", "/api/v1/feature", params={"expand": "*"}).json()
    got = client.features()
    assert [o["id"] for o in got] == [o["id"] for o in sent]
    for mine, theirs in zip(got, sent, strict=True):
        app = theirs["appId"] if "appId" in theirs else theirs["appIds"][0]
        assert mine["appId"] == int(app) and isinstance(mine["appId"], int)
        assert mine["kind"] == theirs.get("kind", "Feature")
    expected_apps = {
        str(o.get("appId", (o.get("appIds") or [None])[0]))
        for path in ("/api/v1/page", "/api/v1/feature")
        for o in raw(sim, "GET", path, params={"expand": "*"}).json()
    }
    assert set(client.apps()) == expected_apps


# ---- metadata schema ------------------------------------------------------------------------
@pytest.mark.parametrize("shape", ["standard", "lower_case", "untyped_and_deleted"])
def test_schema_descriptors(sim: Simulator, client: PendoClient, shape: str) -> None:
    sim.shapes.schema = shape
    sent = raw(sim, "GET", "/api/v1/metadata/schema/visitor").json()
    got = client.metadata_schema("visitor")
    for group, members in sent.items():
        live = {n: d for n, d in members.items() if not d.get("isDeleted")}
        assert set(got[group]) == set(live)
        for name, desc in live.items():
            assert got[group][name]["Type"] == desc.get("Type", desc.get("type"))
            assert got[group][name]["DisplayName"]
    if shape == "untyped_and_deleted":
        assert "retired_field" in sent["custom"] and "retired_field" not in got["custom"]


# ---- visitor / account objects --------------------------------------------------------------
@pytest.mark.parametrize("shape", ["standard", "id_keys"])
def test_visitor_and_account_objects(sim: Simulator, client: PendoClient, shape: str) -> None:
    sim.shapes.entity = shape
    visitor = sim.dataset.visitors[0]["visitorId"]
    account = sim.dataset.accounts[0]["accountId"]
    sent_v = raw(sim, "GET", f"/api/v1/visitor/{visitor}").json()
    sent_a = raw(sim, "GET", f"/api/v1/account/{account}").json()
    got_v, got_a = client.visitor(visitor), client.account(account)
    assert got_v["id"] == sent_v.get("id", sent_v.get("visitorId")) == visitor
    assert got_a["id"] == sent_a.get("id", sent_a.get("accountId")) == account
    assert got_v["accountIds"] == sent_v.get("accountIds", sent_v["metadata"]["auto"]["accountids"])
    assert got_v["metadata"] == sent_v["metadata"]


# ---- aggregation answers --------------------------------------------------------------------
@pytest.mark.parametrize("shape", ["envelope", "no_start_time", "results_first", "flat"])
def test_aggregation_bodies(sim: Simulator, client: PendoClient, shape: str) -> None:
    sim.shapes.aggregation = shape
    sent = raw(sim, "POST", "/api/v1/aggregation", json=envelope(EVENTS_7_DAYS)).json()
    rows = sent if isinstance(sent, list) else sent["results"]
    assert rows, "the dataset has events in the last 7 days"
    assert list(client.aggregate(EVENTS_7_DAYS)) == rows


def test_aggregation_object_without_results_is_an_error(
    sim: Simulator, client: PendoClient
) -> None:
    sim.shapes.aggregation = "no_results"
    sent = raw(sim, "POST", "/api/v1/aggregation", json=envelope(EVENTS_7_DAYS)).json()
    assert "results" not in sent
    with pytest.raises(MalformedResponseError) as err:
        list(client.aggregate(EVENTS_7_DAYS))
    for key in sent:
        assert key in err.value.message  # the keys it did send are named


@pytest.mark.parametrize("shape", ["array", "results"])
def test_report_rows(sim: Simulator, client: PendoClient, shape: str) -> None:
    sim.shapes.report_rows = shape
    report = sim.dataset.reports[0]["id"]
    sent = raw(sim, "GET", f"/api/v1/report/{report}/results.json").json()
    rows = sent if isinstance(sent, list) else sent["results"]
    assert rows
    assert list(client.report_results(report)) == rows


@pytest.mark.parametrize("shape", ["text", "json"])
def test_pipeline_errors(sim: Simulator, client: PendoClient, shape: str) -> None:
    sim.shapes.pipeline_errors = shape
    bad = [{"source": {"events": None}}, {"filter": "numEvents >"}]
    answer = raw(sim, "POST", "/api/v1/aggregation", json=envelope(bad))
    reason = answer.json()["fields"]["pipeline"] if shape == "json" else answer.text
    with pytest.raises(BadRequestError) as err:
        list(client.aggregate(bad))
    assert err.value.status == answer.status_code
    expected = f"pipeline: {reason}" if shape == "json" else reason
    assert err.value.server_message == expected
    assert expected in err.value.message


# ---- bulk metadata answers ------------------------------------------------------------------
@pytest.mark.parametrize("shape", ["full", "counts_missing", "missing_null", "error_objects"])
def test_bulk_metadata_answers(sim: Simulator, client: PendoClient, shape: str) -> None:
    sim.shapes.metadata_result = shape
    known = sim.dataset.visitors[0]["visitorId"]
    rows = [
        {"visitorId": known, "values": {"role": "admin"}},
        {"visitorId": "v-nobody", "values": {"role": "admin"}},
        {"visitorId": known, "values": {"no_such_field": 1}},
    ]
    sent = raw(sim, "POST", "/api/v1/metadata/visitor/custom/value", json=rows).json()
    got = client.update_metadata("visitor", "custom", rows)
    missing = sent.get("missing") or []
    errors = sent.get("errors") or []
    assert got.total == len(rows)
    assert got.missing == [str(m) for m in missing]
    assert got.updated == len(rows) - len(missing) - len(errors) == 1
    assert len(got.errors) == len(errors) == 1
    assert known in got.errors[0] and "no_such_field" in got.errors[0]


def test_bulk_metadata_missing_null(sim: Simulator, client: PendoClient) -> None:
    sim.shapes.metadata_result = "missing_null"
    rows = [{"visitorId": sim.dataset.visitors[0]["visitorId"], "values": {"role": "x"}}]
    sent = raw(sim, "POST", "/api/v1/metadata/visitor/custom/value", json=rows).json()
    assert sent["missing"] is None
    got = client.update_metadata("visitor", "custom", rows)
    assert (got.total, got.updated, got.missing, got.errors) == (1, 1, [], [])


# ---- track ----------------------------------------------------------------------------------
@pytest.mark.parametrize("shape", ["empty", "text", "json"])
def test_track_answer_body_is_never_parsed(sim: Simulator, client: PendoClient, shape: str) -> None:
    sim.shapes.track_body = shape
    before = len(sim.state.track_events)
    client.track({"event": "Shaped", "visitorId": "v-0001", "timestamp": sim.dataset.now_ms})
    assert len(sim.state.track_events) == before + 1
    assert sim.state.track_events[-1]["event"] == "Shaped"


def test_track_host_apart_from_api_host(sim: Simulator, log) -> None:
    """``/data/track`` on its own host (data.* in most regions): events go there only."""
    with Simulator() as track_host:
        client = PendoClient(
            sim.base_url,
            sim.keys.write,
            track_secret=sim.keys.track,
            track_url=track_host.base_url,
            request_log=log,
        )
        with client:
            api_before = len(sim.state.track_events)
            client.track({"event": "Apart", "visitorId": "v-0001", "timestamp": 1})
            client.pages()
        assert [e["event"] for e in track_host.state.track_events] == ["Apart"]
        assert len(sim.state.track_events) == api_before
        hosts = {r.kind: httpx.URL(r.url).port for r in log.records()}
        assert hosts == {"track": track_host.port, "list": sim.port}
