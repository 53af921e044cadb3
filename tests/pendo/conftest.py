"""Fixtures: one simulator over loopback for the whole module set, clients with tiny waits."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from pendo_tui.pendo import PendoClient, RequestLog
from pendo_tui.sim.server import Simulator

# Backoff small enough that retry tests take milliseconds, not minutes.
FAST = {"backoff_initial": 0.01, "backoff_max": 0.05, "backoff_jitter": 0.01}


@pytest.fixture(scope="session")
def sim() -> Iterator[Simulator]:
    with Simulator() as s:
        yield s


@pytest.fixture(autouse=True)
def _clean_sim(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if "sim" in request.fixturenames:
        request.getfixturevalue("sim").reset()


@pytest.fixture
def log() -> RequestLog:
    return RequestLog()


@pytest.fixture
def make_client(sim: Simulator, log: RequestLog) -> Iterator[Callable[..., PendoClient]]:
    made: list[PendoClient] = []

    def make(key: str | None = None, **kw: Any) -> PendoClient:
        opts: dict[str, Any] = {
            "track_secret": sim.keys.track,
            "request_log": log,
            "max_retries": 3,
            "max_retry_seconds": 30,
            **FAST,
            **kw,
        }
        client = PendoClient(sim.base_url, key or sim.keys.write, **opts)
        made.append(client)
        return client

    yield make
    for c in made:
        c.close()


@pytest.fixture
def client(make_client: Callable[..., PendoClient]) -> PendoClient:
    return make_client()
