"""Every error kind, provoked on the simulator over loopback, is typed and actionable."""

from __future__ import annotations

import socket
import threading
import time

import pytest

from pendo_tui.errors import ExitCode
from pendo_tui.pendo import PendoClient
from pendo_tui.pendo.errors import (
    AuthError,
    BadRequestError,
    MalformedResponseError,
    NetworkError,
    NotFoundError,
    RateLimitedError,
    ReadOnlyKeyError,
    ServerError,
)
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


def test_wrong_key_names_region_and_exits_3(sim: Simulator, make_client) -> None:
    c = make_client("00000000-0000-0000-0000-000000000000", region_label="EU (app.eu.pendo.io)")
    with pytest.raises(AuthError) as err:
        c.verify()
    e = err.value
    assert e.exit_code == ExitCode.AUTH and e.status == 403
    assert "127.0.0.1" in e.message and "EU (app.eu.pendo.io)" in e.message
    assert "own Pendo region" in (e.hint or "")
    assert len(c.request_log.records()) == 1  # 403 is never retried


def test_write_with_read_only_key(sim: Simulator, make_client) -> None:
    c = make_client(sim.keys.read)
    rows = [{"visitorId": "v", "values": {"email": "e"}}]
    with pytest.raises(AuthError) as before:  # access unknown yet: say it may be the cause
        c.update_metadata("visitor", "agent", rows)
    assert not isinstance(before.value, ReadOnlyKeyError)
    assert "may lack write access" in before.value.message
    assert c.verify().write_access is False
    with pytest.raises(ReadOnlyKeyError) as after:
        c.update_metadata("visitor", "agent", rows)
    assert after.value.exit_code == ExitCode.AUTH and "read-only" in after.value.message
    assert "Allow Write Access" in (after.value.hint or "")


def test_aggregation_403_suggests_write_access(sim: Simulator, make_client) -> None:
    sim.aggregation_requires_write = True
    c = make_client(sim.keys.read)
    with pytest.raises(AuthError, match="may need write access"):
        list(c.aggregate(PIPE))


def test_bad_track_secret(sim: Simulator, make_client) -> None:
    c = make_client(track_secret="not-the-secret")
    with pytest.raises(AuthError, match="track secret") as err:
        c.track({"event": "e", "visitorId": "v", "timestamp": 1})
    assert "Track Event shared secret" in (err.value.hint or "")


def test_401_is_auth_error(sim: Simulator, client: PendoClient) -> None:
    sim.faults.add("list", status=401)
    with pytest.raises(AuthError):
        client.pages()


def test_not_found(client: PendoClient) -> None:
    with pytest.raises(NotFoundError) as err:
        list(client.report_results("no-such-report"))
    assert err.value.status == 404 and err.value.exit_code == ExitCode.REMOTE


def test_bad_pipeline_carries_pendos_message(client: PendoClient) -> None:
    bad = [{"source": {"visitors": None}}, {"filter": "visitorId ==== 1"}]
    with pytest.raises(BadRequestError) as err:
        list(client.aggregate(bad))
    assert err.value.status == 400 and err.value.server_message
    assert err.value.server_message in err.value.message
    # A 400 is never retried: exactly one attempt got it, and nothing followed. (An attempt
    # before it may have met a keep-alive connection the server had just closed.)
    statuses = [r.status for r in client.request_log.records()]
    assert statuses.count(400) == 1 and statuses[-1] == 400, statuses


def test_metadata_batch_rejected_whole(sim: Simulator, client: PendoClient) -> None:
    sim.faults.add("metadata", reject_ids=["v-bad"])
    rows = [
        {"visitorId": "v-ok", "values": {"email": "a"}},
        {"visitorId": "v-bad", "values": {"email": "b"}},
    ]
    with pytest.raises(BadRequestError, match="batch rejected"):
        client.update_metadata("visitor", "agent", rows)


def test_rate_limited_after_bound(sim: Simulator, make_client) -> None:
    c = make_client(max_retries=2)
    sim.faults.add("list", status=429, times=None)
    with pytest.raises(RateLimitedError) as err:
        c.segments()
    assert "Gave up after 3 attempts" in err.value.message
    assert [r.attempt for r in c.request_log.records()] == [1, 2, 3]
    assert c.stats.retries == 2


def test_server_error_after_bound(sim: Simulator, make_client) -> None:
    c = make_client(max_retries=1)
    sim.faults.add("schema", status=500, times=None)
    with pytest.raises(ServerError) as err:
        c.metadata_schema("visitor")
    assert err.value.status == 500 and len(c.request_log.records()) == 2


def _dead_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again: nothing listens there


def test_network_error_names_host() -> None:
    port = _dead_port()
    with (
        PendoClient(
            f"http://127.0.0.1:{port}",
            "k-1234567890",
            max_retries=1,
            backoff_initial=0.01,
            backoff_max=0.01,
            backoff_jitter=0,
        ) as c,
        pytest.raises(NetworkError) as err,
    ):
        c.verify()
    assert f"127.0.0.1:{port}" in err.value.message
    assert len(c.request_log.records()) == 2 and c.request_log.records()[0].status is None
    assert "ConnectError" in (c.request_log.records()[0].error or "")


def test_read_timeout_is_network_error(sim: Simulator, make_client) -> None:
    c = make_client(request_timeout=0.2, max_retries=0)
    sim.faults.add("verify", latency=1.0)
    with pytest.raises(NetworkError, match="timed out") as err:
        c.verify()
    assert "request_timeout" in (err.value.hint or "")


def test_malformed_json_object_call(sim: Simulator, client: PendoClient) -> None:
    sim.faults.add("list", malformed=True)
    with pytest.raises(MalformedResponseError):
        client.pages()
    assert len(client.request_log.records()) == 1  # a bad document is not retried


def test_malformed_aggregation_raises_mid_stream(sim: Simulator, client: PendoClient) -> None:
    sim.faults.add("aggregation", malformed=True)  # half the body, then garbage
    kept: list[dict] = []
    with pytest.raises(MalformedResponseError, match="none may be kept"):
        for row in client.aggregate(PIPE):
            kept.append(row)
    assert kept  # some rows had arrived: the error tells the caller to drop them
    rec = client.request_log.records()[-1]
    assert rec.status == 200 and rec.error and "not valid JSON" in rec.error
    assert len(client.request_log.records()) == 1  # a bad document is not retried


def test_truncated_aggregation_after_rows_is_not_retried(
    sim: Simulator, client: PendoClient
) -> None:
    sim.faults.add("aggregation", truncate=True)
    kept: list[dict] = []
    with pytest.raises(MalformedResponseError, match="discarded"):
        for row in client.aggregate(PIPE):
            kept.append(row)
    assert kept and len(client.request_log.records()) == 1


def test_truncated_object_call_is_typed(sim: Simulator, make_client) -> None:
    c = make_client(max_retries=1)
    sim.faults.add("list", truncate=True, times=None)
    with pytest.raises(MalformedResponseError, match="cut off"):
        c.features()
    assert len(c.request_log.records()) == 2  # a cut transfer is retried, then reported


COUNT = [{"source": {"visitors": None}}, {"count": None}]  # one tiny row: a cut lands before it


def test_truncated_before_first_row_is_retried(sim: Simulator, client: PendoClient) -> None:
    sim.faults.add("aggregation", truncate=True)
    rows = list(client.aggregate(COUNT))
    assert rows == [{"count": len(sim.dataset.visitors)}]
    assert [r.attempt for r in client.request_log.records()] == [1, 2]
    assert "cut off" in (client.request_log.records()[0].error or "")


def test_malformed_before_first_row_is_not_retried(sim: Simulator, client: PendoClient) -> None:
    sim.faults.add("aggregation", malformed=True)
    with pytest.raises(MalformedResponseError, match="nothing kept"):
        list(client.aggregate(COUNT))
    assert len(client.request_log.records()) == 1


def test_large_stream_cut_midway(sim: Simulator, client: PendoClient) -> None:
    sim.large_aggregation_rows = 50_000
    sim.faults.add("aggregation", truncate=True)
    n = 0
    with pytest.raises(MalformedResponseError, match="discarded"):
        for _ in client.aggregate(LARGE):
            n += 1
    assert 0 < n < 50_000 and len(client.request_log.records()) == 1


def test_abandoned_stream_is_logged_and_client_still_works(
    sim: Simulator, client: PendoClient
) -> None:
    sim.large_aggregation_rows = 200_000
    it = client.aggregate(LARGE)
    assert next(it)
    it.close()  # the caller stops early (a cancelled run)
    rec = client.request_log.records()[-1]
    assert rec.error and "abandoned" in rec.error and rec.status == 200
    sim.large_aggregation_rows = 0
    assert client.verify().valid
    deadline = time.monotonic() + 5  # the prefetch thread notices and ends promptly
    while any(t.name == "pendo-prefetch" for t in threading.enumerate()):
        assert time.monotonic() < deadline, "prefetch thread still running"
        time.sleep(0.02)


@pytest.mark.parametrize("fault", ["truncate", "malformed"])
def test_stream_errors_without_prefetch(sim: Simulator, make_client, fault: str) -> None:
    c = make_client(prefetch_chunks=0)
    sim.faults.add("aggregation", **{fault: True})
    with pytest.raises(MalformedResponseError):
        list(c.aggregate(PIPE))
    assert list(c.aggregate(PIPE)) == list(make_client().aggregate(PIPE))
