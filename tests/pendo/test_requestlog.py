"""Request log: redaction everywhere, truncation with sizes kept, ring bound, live delivery,
HAR 1.2 and curl exports."""

from __future__ import annotations

import dataclasses
import json
import shlex
import subprocess
import threading
from datetime import UTC, datetime

import pytest

from pendo_tui.pendo import PendoClient, RequestLog, to_curl, to_har
from pendo_tui.pendo.errors import AuthError, BadRequestError, NotFoundError
from pendo_tui.pendo.requestlog import REDACTED_KEY, RequestRecord
from pendo_tui.sim.server import Simulator

PIPE = [{"source": {"visitors": None}}, {"select": {"visitorId": "visitorId"}}]
# Large mode serves pageEvents: the 120 complete days before today hold all its rows.
LARGE = [
    {
        "source": {
            "pageEvents": {"appId": 'expandAppIds("*")'},
            "timeSeries": {"period": "dayRange", "first": "now()", "count": -120},
        }
    }
]


def _dump(rec: RequestRecord) -> str:
    return json.dumps(dataclasses.asdict(rec), default=str)


def test_no_secret_anywhere(sim: Simulator, make_client, log: RequestLog) -> None:
    """Key and track secret appear in no record, HAR export or curl command — even when a
    caller puts them into a URL or a body, and even when Pendo echoes them back."""
    key, track = sim.keys.write, sim.keys.track
    seen: list[RequestRecord] = []
    log.subscribe(seen.append)
    c = make_client()
    c.verify()
    c.pages()
    list(c.aggregate(PIPE))
    c.track({"event": "e", "visitorId": "v", "timestamp": 1, "properties": {"k": key}})
    c.update_metadata("visitor", "agent", [{"visitorId": track, "values": {"email": key}}])
    with pytest.raises(BadRequestError) as bad_request:  # Pendo's 400 text quotes the filter
        list(c.aggregate([{"source": {"visitors": None}}, {"filter": f'visitorId ==== "{key}"'}]))
    assert key not in str(bad_request.value)
    with pytest.raises(NotFoundError):
        c.visitor(key)  # the key inside a URL path
    bad = make_client(f"{key}-wrong")  # a key containing the real one
    with pytest.raises(AuthError):
        bad.verify()
    records = log.records()
    assert len(records) >= 8 and seen == records
    dumps = [_dump(r) for r in records]
    har = json.dumps(to_har(records))
    curls = "\n".join(to_curl(r) for r in records)
    for blob in [*dumps, har, curls]:
        assert key not in blob and track not in blob
    assert REDACTED_KEY in har and "${PENDO_INTEGRATION_KEY}" in curls
    assert "${PENDO_TRACK_SECRET}" in curls


def test_header_credentials_redacted_even_if_unregistered() -> None:
    log = RequestLog()
    rec = log.record(
        at=datetime.now(UTC),
        method="GET",
        url="https://x/api",
        status=200,
        duration_ms=1.0,
        request_headers=[("X-Pendo-Integration-Key", "some-unknown-value"), ("Accept", "a")],
        response_headers=[("Set-Cookie", "session=1")],
        request_body=b"",
        request_body_size=0,
        response_body=b"{}",
        response_body_size=2,
    )
    assert rec.request_headers == {"x-pendo-integration-key": "<redacted>", "accept": "a"}
    assert rec.response_headers == {"set-cookie": "<redacted>"}


def test_bodies_truncated_with_original_size(sim: Simulator, make_client) -> None:
    small = RequestLog(body_limit=1024)
    c = make_client(request_log=small)
    rows = [
        {"visitorId": f"v-{i:05d}", "values": {"email": f"u{i}@example.com"}} for i in range(200)
    ]
    c.update_metadata("visitor", "agent", rows)
    rec = small.records()[-1]
    assert len(rec.request_body) == 1024 and rec.request_body_size > 5000 and rec.truncated


def test_streamed_body_records_only_a_prefix(sim: Simulator, make_client) -> None:
    small = RequestLog(body_limit=2048)
    c = make_client(request_log=small)
    sim.large_aggregation_rows = 50_000
    n = sum(1 for _ in c.aggregate(LARGE))
    rec = small.records()[-1]
    assert n == 50_000
    assert len(rec.response_body) == 2048 and rec.response_body_size > 3_000_000
    assert rec.response_body.startswith('{"startTime"')


def test_secret_straddling_the_cut_is_still_redacted() -> None:
    log = RequestLog(body_limit=10)
    log.add_secret("SECRETVALUE123", REDACTED_KEY)
    body = b"abcdefgh" + b"SECRETVALUE123" + b"tail"
    rec = log.record(
        at=datetime.now(UTC),
        method="POST",
        url="https://x",
        status=200,
        duration_ms=1,
        request_headers=[],
        response_headers=[],
        request_body=body,
        request_body_size=len(body),
        response_body=b"",
        response_body_size=0,
    )
    assert "SECRET" not in rec.request_body and rec.request_body.startswith("abcdefgh<r")


def test_ring_is_bounded_and_thread_safe() -> None:
    log = RequestLog(max_records=100)
    got: list[int] = []
    lock = threading.Lock()

    def on(rec: RequestRecord) -> None:
        with lock:
            got.append(rec.seq)

    unsubscribe = log.subscribe(on)

    def work() -> None:
        for _ in range(250):
            log.record(
                at=datetime.now(UTC),
                method="GET",
                url="u",
                status=200,
                duration_ms=0,
                request_headers=[],
                response_headers=[],
                request_body=b"",
                request_body_size=0,
                response_body=b"",
                response_body_size=0,
            )

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    assert len(log) == 100 and len(got) == 1000 and sorted(got) == list(range(1, 1001))
    assert [r.seq for r in log.records()] == sorted(r.seq for r in log.records())
    unsubscribe()
    log.record(
        at=datetime.now(UTC),
        method="GET",
        url="u",
        status=200,
        duration_ms=0,
        request_headers=[],
        response_headers=[],
        request_body=b"",
        request_body_size=0,
        response_body=b"",
        response_body_size=0,
    )
    assert len(got) == 1000
    log.clear()
    assert log.records() == []


def test_broken_subscriber_does_not_break_calls(client: PendoClient) -> None:
    def boom(rec: RequestRecord) -> None:
        raise RuntimeError("pane crashed")

    client.request_log.subscribe(boom)
    assert client.verify().valid


def test_har_structure(sim: Simulator, client: PendoClient) -> None:
    sim.faults.add("list", status=429, retry_after=0)
    client.pages()
    list(client.aggregate(PIPE))
    har = to_har(client.request_log.records())
    log = har["log"]
    assert log["version"] == "1.2" and log["creator"]["name"] == "pendo-tui"
    assert len(log["entries"]) == 3
    for e in log["entries"]:
        assert {"startedDateTime", "time", "request", "response", "cache", "timings"} <= e.keys()
        datetime.fromisoformat(e["startedDateTime"])
        req, resp = e["request"], e["response"]
        assert {
            "method",
            "url",
            "httpVersion",
            "headers",
            "queryString",
            "postData",
            "headersSize",
            "bodySize",
            "cookies",
        } <= req.keys()
        assert {
            "status",
            "statusText",
            "httpVersion",
            "headers",
            "content",
            "redirectURL",
            "headersSize",
            "bodySize",
            "cookies",
        } <= resp.keys()
        assert {"size", "mimeType", "text"} <= resp["content"].keys()
        assert all({"name", "value"} == h.keys() for h in req["headers"] + resp["headers"])
        assert e["timings"]["wait"] >= 0 and e["time"] >= 0
    first, _, agg = log["entries"]
    assert (first["response"]["status"], first["_attempt"]) == (429, 1)
    assert first["response"]["statusText"] == "Too Many Requests"
    assert {"name": "expand", "value": "*"} in first["request"]["queryString"]
    assert agg["request"]["method"] == "POST"
    assert json.loads(agg["request"]["postData"]["text"])["request"]["pipeline"] == PIPE
    assert agg["request"]["postData"]["mimeType"] == "application/json"
    json.dumps(har)  # serialisable as is


def test_curl_replays_the_call(sim: Simulator, client: PendoClient, tmp_path) -> None:
    list(client.aggregate(PIPE))
    cmd = to_curl(client.request_log.records()[-1])
    assert "${PENDO_INTEGRATION_KEY}" in cmd and sim.keys.write not in cmd
    argv = shlex.split(cmd)
    assert argv[:3] == ["curl", "-X", "POST"]
    # Run it for real through a shell with the key in the environment: the simulator answers.
    out = subprocess.run(
        ["sh", "-c", cmd + " -s -o " + shlex.quote(str(tmp_path / "out.json"))],
        env={"PENDO_INTEGRATION_KEY": sim.keys.write, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        timeout=30,
        check=False,
    )
    if out.returncode == 127:
        pytest.skip("curl is not installed")
    assert out.returncode == 0, out.stderr
    assert len(json.loads((tmp_path / "out.json").read_text())["results"]) > 0


def test_an_empty_log_is_truthy() -> None:
    log = RequestLog()
    assert len(log) == 0 and (log or None) is log
