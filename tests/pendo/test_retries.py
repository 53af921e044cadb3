"""Retries: only 429/5xx/connection trouble, Retry-After honoured, bounded in count and time."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from pendo_tui.pendo import PendoClient
from pendo_tui.pendo.errormap import parse_retry_after
from pendo_tui.pendo.errors import NetworkError, NotFoundError, RateLimitedError, ServerError
from pendo_tui.sim.server import Simulator

PIPE = [{"source": {"visitors": None}}, {"select": {"visitorId": "visitorId"}}]


def test_retry_after_is_honoured(sim: Simulator, client: PendoClient) -> None:
    sim.faults.add("list", status=429, retry_after=1)
    t0 = time.monotonic()
    pages = client.pages()
    elapsed = time.monotonic() - t0
    assert pages and elapsed >= 1.0  # backoff alone would have waited ~0.01 s
    recs = client.request_log.records()
    assert [(r.status, r.attempt) for r in recs] == [(429, 1), (200, 2)]
    assert recs[0].response_headers["retry-after"] == "1"
    assert (recs[1].at - recs[0].at).total_seconds() >= 1.0


def test_retry_after_on_503_for_a_stream(sim: Simulator, client: PendoClient) -> None:
    sim.faults.add("aggregation", status=503, retry_after=1)
    t0 = time.monotonic()
    rows = list(client.aggregate(PIPE))
    assert rows and time.monotonic() - t0 >= 1.0
    assert [r.status for r in client.request_log.records()] == [503, 200]


def test_retry_after_beyond_budget_gives_up_at_once(sim: Simulator, make_client) -> None:
    c = make_client(max_retry_seconds=5)
    sim.faults.add("verify", status=429, retry_after=60)
    t0 = time.monotonic()
    with pytest.raises(RateLimitedError) as err:
        c.verify()
    assert time.monotonic() - t0 < 2
    assert err.value.retry_after == 60 and "max_retry_seconds" in (err.value.hint or "")
    assert len(c.request_log.records()) == 1


def test_total_time_bound(sim: Simulator, make_client) -> None:
    # Waits of 0.3 s each and a 0.7 s budget: far fewer than the 20 allowed attempts.
    c = make_client(
        max_retries=20,
        max_retry_seconds=0.7,
        backoff_initial=0.3,
        backoff_max=0.3,
        backoff_jitter=0,
    )
    sim.faults.add("list", status=503, times=None)
    t0 = time.monotonic()
    with pytest.raises(ServerError):
        c.reports()
    elapsed = time.monotonic() - t0
    n = len(c.request_log.records())
    assert 2 <= n <= 4 and elapsed < 1.5


def test_attempt_bound_and_recovery(sim: Simulator, make_client) -> None:
    c = make_client(max_retries=3)
    sim.faults.add("list", status=500, times=3)
    assert c.segments()  # the 4th attempt (3rd retry) succeeds
    assert [r.attempt for r in c.request_log.records()] == [1, 2, 3, 4]
    assert c.stats.retries == 3


def test_zero_retries(sim: Simulator, make_client) -> None:
    c = make_client(max_retries=0)
    sim.faults.add("list", status=502)
    with pytest.raises(ServerError):
        c.segments()
    assert len(c.request_log.records()) == 1


@pytest.mark.parametrize("status", [400, 404, 409, 403])
def test_other_4xx_never_retried(sim: Simulator, client: PendoClient, status: int) -> None:
    sim.faults.add("list", status=status, times=None)
    with pytest.raises(Exception) as err:
        client.pages()
    assert getattr(err.value, "status", None) == status
    assert len(client.request_log.records()) == 1


def test_not_found_not_retried(client: PendoClient) -> None:
    with pytest.raises(NotFoundError):
        client.account("no-such-account")
    assert len(client.request_log.records()) == 1


def test_track_is_not_resent_after_a_500(sim: Simulator, client: PendoClient) -> None:
    # Pendo does not deduplicate track events: after a 500 the event may have landed.
    sim.faults.add("track", status=500)
    with pytest.raises(ServerError):
        client.track({"event": "e", "visitorId": "v", "timestamp": 1})
    assert len(client.request_log.records()) == 1 and not sim.state.track_events


def test_track_is_resent_after_429_or_503(sim: Simulator, client: PendoClient) -> None:
    sim.faults.add("track", status=429)
    sim.faults.add("track", status=503)
    client.track({"event": "e", "visitorId": "v", "timestamp": 1})
    assert [r.status for r in client.request_log.records()] == [429, 503, 200]
    assert len(sim.state.track_events) == 1


def test_parse_retry_after_forms() -> None:
    now = time.time()
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after("0.5") == 0.5
    assert parse_retry_after("-4") == 0.0
    later = format_datetime(datetime.fromtimestamp(now, UTC) + timedelta(seconds=30), usegmt=True)
    assert 28 <= parse_retry_after(later, now=now) <= 31
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None


def test_track_is_resent_when_the_connection_never_opened(sim: Simulator, make_client) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]  # closed at once: connections are refused
    c = make_client(track_url=f"http://127.0.0.1:{dead}", max_retries=2)
    with pytest.raises(NetworkError):
        c.track({"event": "e", "visitorId": "v", "timestamp": 1})
    recs = c.request_log.records()
    assert [r.attempt for r in recs] == [1, 2, 3] and all(r.status is None for r in recs)
