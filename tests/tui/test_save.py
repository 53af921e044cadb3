"""Save: TOML written with comments kept, secrets in the keyring only; guard on quit."""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from pathlib import Path

import pytest
from textual.widgets import Input

from pendo_tui.config.secrets import Secrets
from pendo_tui.sim.keys import DEMO_TRACK_SECRET, DEMO_WRITE_KEY
from pendo_tui.sim.server import Simulator
from pendo_tui.tui.app import PendoTuiApp
from pendo_tui.tui.widgets.confirm import ConfirmModal

from .conftest import SIZE, MemoryKeyring
from .helpers import wait_for

pytestmark = pytest.mark.anyio

COMMENTED = """\
# Team Pendo sync — edited by hand too.
profile = "default"

[pendo]
domain = "{url}"  # the local simulator
days_to_sync = 90
"""


async def test_save_writes_toml_and_keyring_not_the_key(
    sim: Simulator, tmp_path: Path, memory_keyring: MemoryKeyring, keyring_secrets: Secrets
) -> None:
    path = tmp_path / "config.toml"
    path.write_text(COMMENTED.format(url=sim.base_url), encoding="utf-8")
    app = PendoTuiApp(path, secrets=keyring_secrets, export_dir=tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        assert await wait_for(pilot, lambda: app.panes_ready)  # config read after paint
        app.query_one("#key", Input).value = DEMO_WRITE_KEY
        app.query_one("#track", Input).value = DEMO_TRACK_SECRET
        await pilot.press("f5")
        days = app.query_one("#tz-days", Input)
        days.value = "45"
        await pilot.pause()
        assert app.state.dirty
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert not app.state.dirty
    text = path.read_text(encoding="utf-8")
    assert "# Team Pendo sync — edited by hand too." in text
    assert "# the local simulator" in text
    assert tomllib.loads(text)["pendo"]["days_to_sync"] == 45
    assert DEMO_WRITE_KEY not in text and DEMO_TRACK_SECRET not in text
    assert memory_keyring.entries == {
        ("pendo-tui", "default:integration_key"): DEMO_WRITE_KEY,
        ("pendo-tui", "default:track_secret"): DEMO_TRACK_SECRET,
    }


async def test_new_file_is_created_on_save(
    sim: Simulator, tmp_path: Path, memory_keyring: MemoryKeyring, keyring_secrets: Secrets
) -> None:
    path = tmp_path / "sub" / "new.toml"
    path.parent.mkdir()
    app = PendoTuiApp(path, secrets=keyring_secrets, export_dir=tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        assert await wait_for(pilot, lambda: app.panes_ready)  # config read after paint
        app.query_one("#profile", Input).value = "team"
        app.query_one("#key", Input).value = DEMO_WRITE_KEY
        await pilot.pause()
        await pilot.press("ctrl+s")
        await pilot.pause()
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    assert data["profile"] == "team"
    assert DEMO_WRITE_KEY not in path.read_text(encoding="utf-8")
    assert memory_keyring.entries[("pendo-tui", "team:integration_key")] == DEMO_WRITE_KEY


async def test_out_of_range_days_shown_next_to_field(demo_app: PendoTuiApp) -> None:
    async with demo_app.run_test(size=SIZE) as pilot:
        await pilot.press("f5")
        days = demo_app.query_one("#tz-days", Input)
        days.value = "400"
        await pilot.pause()
        row = days.parent
        assert "has-error" in row.classes
        assert "365" in str(row.query_one(".form-error").render())
        assert demo_app.state.config.pendo.days_to_sync == 30  # unchanged
        days.value = "60"
        await pilot.pause()
        assert "has-error" not in row.classes
        assert demo_app.state.config.pendo.days_to_sync == 60


async def test_quit_with_unsaved_changes_asks_first(
    make_app: Callable[..., PendoTuiApp], demo_app: PendoTuiApp
) -> None:
    async with demo_app.run_test(size=SIZE) as pilot:
        demo_app.query_one("#profile", Input).value = "changed"
        await pilot.pause()
        await pilot.press("ctrl+q")
        await pilot.pause()
        assert isinstance(demo_app.screen, ConfirmModal)
        await pilot.press("escape")
        await pilot.pause()
        assert demo_app.is_running and not isinstance(demo_app.screen, ConfirmModal)
        await pilot.press("ctrl+q")
        await pilot.pause()
        await pilot.click("#confirm-yes")
        await pilot.pause()
    assert demo_app.return_code == 0


async def test_quit_without_changes_exits_at_once(demo_app: PendoTuiApp) -> None:
    async with demo_app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+q")
        await pilot.pause()
        assert not demo_app.is_running


async def test_no_keyring_backend_is_an_error_not_a_crash(sim: Simulator, tmp_path: Path) -> None:
    from keyring.backends import fail

    path = tmp_path / "config.toml"
    path.write_text(COMMENTED.format(url=sim.base_url), encoding="utf-8")
    secrets = Secrets("default", env={}, backend=fail.Keyring())
    app = PendoTuiApp(path, secrets=secrets, export_dir=tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        assert await wait_for(pilot, lambda: app.panes_ready)  # config read after paint
        app.query_one("#key", Input).value = DEMO_WRITE_KEY
        await pilot.pause()
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert app.state.dirty  # the key was not stored anywhere
        notes = [n.message for n in app._notifications]
        assert any("keyring" in m for m in notes)
    assert DEMO_WRITE_KEY not in path.read_text(encoding="utf-8")
