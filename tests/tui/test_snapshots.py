"""Snapshot tests of the main screens (pytest-textual-snapshot).

Deterministic by construction: the simulator's fixed dataset on a fixed loopback port, a
fresh store (no run history, no clocks), and the connection check finished before the
picture is taken. The integration key is masked in every one of them (asserted below).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets import Input

from pendo_tui.config.secrets import StaticSecrets
from pendo_tui.sim.demo import demo_config
from pendo_tui.sim.keys import DEMO_TRACK_SECRET, DEMO_WRITE_KEY
from pendo_tui.sim.server import Simulator
from pendo_tui.tui.app import PendoTuiApp

from .conftest import SIZE
from .helpers import wait_for

pytestmark = pytest.mark.slow  # ~20 s together; CI runs them (deselect with -m "not slow")
SNAPSHOT_PORT = 47391  # fixed: the custom URL is on screen


@pytest.fixture(scope="module")
def fixed_sim() -> Iterator[Simulator]:
    with Simulator(port=SNAPSHOT_PORT) as s:
        yield s


def _app(sim: Simulator, tmp_path: Path) -> PendoTuiApp:
    config = demo_config(sim.base_url, f"sqlite:///{tmp_path / 'store.db'}")
    secrets = StaticSecrets(integration_key=DEMO_WRITE_KEY, track_secret=DEMO_TRACK_SECRET)
    return PendoTuiApp(tmp_path / "config.toml", config, secrets, demo=True, export_dir=tmp_path)


def _before(key: str):  # type: ignore[no-untyped-def]
    async def run_before(pilot: Pilot) -> None:
        app = pilot.app
        assert await wait_for(pilot, lambda: app.state.connection.state == "ok")  # type: ignore[attr-defined]
        await pilot.press(key)
        await pilot.pause(0.3)
        # the F-key focuses the pane's first field: a blinking cursor would make the
        # picture depend on timing, so freeze it (shown, not blinking)
        for field in app.query(Input):
            field.cursor_blink = False
        await pilot.pause(0.1)
        svg = app.export_screenshot()
        assert DEMO_WRITE_KEY not in svg and DEMO_TRACK_SECRET not in svg

    return run_before


@pytest.mark.parametrize(
    "key",
    ["f1", "f2", "f3", "f4", "f6", "f7", "f8"],
    ids=["connection", "identity", "apps", "segments", "pull", "push", "run"],
)
def test_main_screens(snap_compare, fixed_sim: Simulator, tmp_path: Path, key: str) -> None:  # type: ignore[no-untyped-def]
    app = _app(fixed_sim, tmp_path)
    assert snap_compare(app, terminal_size=SIZE, run_before=_before(key))


def test_pull_editor_aggregation(snap_compare, fixed_sim: Simulator, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    app = _app(fixed_sim, tmp_path)

    async def run_before(pilot: Pilot) -> None:
        await _before("f6")(pilot)
        table = app.query_one("#pull-table")
        table.focus()
        table.move_cursor(row=4)  # the demo's aggregation mapping
        await pilot.press("e")
        await pilot.pause(0.3)
        for field in app.screen.query(Input):  # the editor's own cursor: shown, not blinking
            field.cursor_blink = False
        await pilot.pause(0.1)

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)
