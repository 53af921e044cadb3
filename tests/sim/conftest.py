"""One simulator over loopback for the sim tests; state and faults reset around each test."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from pendo_tui.sim.dataset import Dataset
from pendo_tui.sim.server import Simulator

KEY = "x-pendo-integration-key"


@pytest.fixture(scope="session")
def sim_server() -> Iterator[Simulator]:
    with Simulator() as s:
        yield s


@pytest.fixture
def sim(sim_server: Simulator) -> Iterator[Simulator]:
    sim_server.reset()
    yield sim_server
    sim_server.reset()


@pytest.fixture
def http(sim: Simulator) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sim.base_url, timeout=20) as client:
        yield client


@pytest.fixture(scope="session")
def ds(sim_server: Simulator) -> Dataset:
    return sim_server.dataset


@pytest.fixture
def read_h(sim: Simulator) -> dict[str, str]:
    return {KEY: sim.keys.read}


@pytest.fixture
def write_h(sim: Simulator) -> dict[str, str]:
    return {KEY: sim.keys.write}


@pytest.fixture
def track_h(sim: Simulator) -> dict[str, str]:
    return {KEY: sim.keys.track}
