"""Fixtures for the TUI tests: a simulator on loopback, the demo config, an in-memory keyring."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import keyring.backend
import pytest

from pendo_tui.config.model import Config
from pendo_tui.config.secrets import Secrets, StaticSecrets
from pendo_tui.sim.demo import demo_config
from pendo_tui.sim.keys import DEMO_TRACK_SECRET, DEMO_WRITE_KEY
from pendo_tui.sim.server import Simulator
from pendo_tui.tui.app import PendoTuiApp

SIZE = (140, 44)


class MemoryKeyring(keyring.backend.KeyringBackend):
    """A real keyring backend that keeps entries in a dict (per test)."""

    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.entries: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.entries.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.entries[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self.entries.pop((service, username), None)


@pytest.fixture(scope="session")
def sim() -> Iterator[Simulator]:
    with Simulator() as s:
        yield s


@pytest.fixture
def memory_keyring() -> MemoryKeyring:
    return MemoryKeyring()


@pytest.fixture
def demo_cfg(sim: Simulator, tmp_path: Path) -> Config:
    return demo_config(sim.base_url, f"sqlite:///{tmp_path / 'store.db'}")


@pytest.fixture
def make_app(tmp_path: Path) -> Callable[..., PendoTuiApp]:
    def make(config: Any = None, secrets: Any = None, **kw: Any) -> PendoTuiApp:
        kw.setdefault("export_dir", tmp_path)
        kw.setdefault("config_path", tmp_path / "config.toml")
        return PendoTuiApp(config=config, secrets=secrets, **kw)

    return make


@pytest.fixture
def demo_app(make_app: Callable[..., PendoTuiApp], demo_cfg: Config) -> PendoTuiApp:
    secrets = StaticSecrets(integration_key=DEMO_WRITE_KEY, track_secret=DEMO_TRACK_SECRET)
    return make_app(demo_cfg, secrets, demo=True)


@pytest.fixture
def keyring_secrets(memory_keyring: MemoryKeyring) -> Secrets:
    return Secrets("default", env={}, backend=memory_keyring)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
