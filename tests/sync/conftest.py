"""Fixtures for the pull engine tests: one simulator per module, a client against it,
and config builders. Expected answers are computed from ``sim.dataset`` raw facts."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from pendo_tui.pendo.client import PendoClient
from pendo_tui.sim.server import Simulator


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    with Simulator() as s:
        yield s


@pytest.fixture
def client(sim: Simulator) -> Iterator[PendoClient]:
    sim.reset()
    with PendoClient(
        sim.base_url,
        sim.keys.read,
        max_retries=4,
        backoff_initial=0.01,
        backoff_max=0.05,
        backoff_jitter=0.0,
    ) as c:
        yield c
