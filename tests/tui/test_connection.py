"""Connection screen: enter a key, Check against the simulator, see the exact outcome."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from textual.widgets import Input, Switch

from pendo_tui.config.model import Config
from pendo_tui.config.secrets import Secrets
from pendo_tui.sim.keys import DEMO_READ_KEY, DEMO_WRITE_KEY
from pendo_tui.sim.server import Simulator
from pendo_tui.tui.app import PendoTuiApp
from pendo_tui.tui.widgets.connection_badge import ConnectionBadge

from .conftest import SIZE
from .helpers import wait_for

pytestmark = pytest.mark.anyio


def _sim_config(sim: Simulator, tmp_path: Path) -> Config:
    return Config.model_validate(
        {"pendo": {"domain": sim.base_url}, "store": {"url": f"sqlite:///{tmp_path / 's.db'}"}}
    )


async def _enter_key_and_check(app: PendoTuiApp, key: str) -> tuple[str, set[str]]:
    async with app.run_test(size=SIZE) as pilot:
        assert app.state.connection.state == "unknown"  # no key: no check on start
        await pilot.click("#key")
        await pilot.press(*key[:4])  # typed for real; the rest pasted to keep the test fast
        app.query_one("#key", Input).insert_text_at_cursor(key[4:])
        await pilot.pause()
        assert app.state.secret("integration_key") == key
        await pilot.press("ctrl+o")
        assert await wait_for(pilot, lambda: app.state.connection.state in ("ok", "error"))
        badge = app.query_one("#status-badge", ConnectionBadge)
        text = str(badge.render())
        assert app.query_one("#check-result", ConnectionBadge).render() == badge.render()
        return text, set(badge.classes)


async def test_write_key_is_active_and_can_write(
    make_app: Callable[..., PendoTuiApp], sim: Simulator, tmp_path: Path, keyring_secrets: Secrets
) -> None:
    app = make_app(_sim_config(sim, tmp_path), keyring_secrets)
    text, classes = await _enter_key_and_check(app, DEMO_WRITE_KEY)
    assert "Connection is active" in text and "read & write" in text
    assert app.state.connection.write_access
    assert "badge-ok" in classes


async def test_read_key_says_read_only(
    make_app: Callable[..., PendoTuiApp], sim: Simulator, tmp_path: Path, keyring_secrets: Secrets
) -> None:
    app = make_app(_sim_config(sim, tmp_path), keyring_secrets)
    text, _ = await _enter_key_and_check(app, DEMO_READ_KEY)
    assert "Connection is active" in text and "read only" in text
    assert not app.state.connection.write_access


async def test_bad_key_shows_the_reason_in_red(
    make_app: Callable[..., PendoTuiApp], sim: Simulator, tmp_path: Path, keyring_secrets: Secrets
) -> None:
    app = make_app(_sim_config(sim, tmp_path), keyring_secrets)
    text, classes = await _enter_key_and_check(app, "00000000-0000-0000-0000-000000000000")
    assert app.state.connection.state == "error"
    assert "Connection is active" not in text
    assert "403" in text or "key" in text.lower()
    assert "badge-error" in classes


async def test_unreachable_host_says_network(
    make_app: Callable[..., PendoTuiApp], tmp_path: Path, keyring_secrets: Secrets
) -> None:
    config = Config.model_validate({"pendo": {"domain": "http://127.0.0.1:9"}})
    app = make_app(config, keyring_secrets)
    text, _ = await _enter_key_and_check(app, DEMO_WRITE_KEY)
    assert app.state.connection.state == "error"
    assert "127.0.0.1" in text


async def test_demo_opens_with_connection_active(demo_app: PendoTuiApp) -> None:
    async with demo_app.run_test(size=SIZE) as pilot:
        assert await wait_for(pilot, lambda: demo_app.state.connection.state == "ok")
        assert "Connection is active" in str(demo_app.query_one("#status-badge").render())


async def test_key_is_masked_until_revealed(demo_app: PendoTuiApp) -> None:
    async with demo_app.run_test(size=SIZE) as pilot:
        key = demo_app.query_one("#key", Input)
        assert key.password
        assert DEMO_WRITE_KEY not in str(key.render_line(0))
        demo_app.query_one("#reveal", Switch).value = True
        await pilot.pause()
        assert not key.password


async def test_custom_url_validation_shows_next_to_field(
    make_app: Callable[..., PendoTuiApp], sim: Simulator, tmp_path: Path, keyring_secrets: Secrets
) -> None:
    app = make_app(_sim_config(sim, tmp_path), keyring_secrets)
    async with app.run_test(size=SIZE) as pilot:
        url = app.query_one("#custom-url", Input)
        url.value = "http://pendo.example.com"
        await pilot.pause()
        row = url.parent
        assert "has-error" in row.classes
        assert "loopback" in str(row.query_one(".form-error").render())
        assert app.state.config.pendo.domain == sim.base_url  # invalid value not applied


async def test_read_key_with_push_syncs_names_them(
    make_app: Callable[..., PendoTuiApp], demo_cfg: Config
) -> None:
    from pendo_tui.config.secrets import StaticSecrets

    app = make_app(demo_cfg, StaticSecrets(integration_key=DEMO_READ_KEY))
    async with app.run_test(size=SIZE) as pilot:
        assert await wait_for(pilot, lambda: app.state.connection.state == "ok")
        text = str(app.query_one("#status-badge").render())
        assert "read only" in text and "Warehouse events" in text and "write access" in text, text
