from __future__ import annotations

import pytest

from pendo_tui.tui.app import PendoTuiApp
from pendo_tui.tui.panes import PANES
from pendo_tui.tui.widgets.connection_badge import ConnectionBadge

from .conftest import SIZE
from .helpers import wait_for

pytestmark = pytest.mark.anyio


async def test_every_pane_shows(demo_app: PendoTuiApp) -> None:
    async with demo_app.run_test(size=SIZE) as pilot:
        for pane_id, _title, key in PANES:
            await pilot.press(key)
            await pilot.pause()
            assert demo_app.query_one("#panes").current == pane_id
        assert await wait_for(pilot, lambda: demo_app.state.connection.state == "ok")
        badge = demo_app.query_one("#status-badge", ConnectionBadge)
        assert "Connection is active" in str(badge.render())


async def test_actions_are_in_the_command_palette_and_footer(demo_app: PendoTuiApp) -> None:
    from textual.binding import Binding

    from pendo_tui.tui.screens.base import Pane

    async with demo_app.run_test(size=SIZE) as pilot:
        assert await wait_for(pilot, lambda: demo_app.panes_ready)
        titles = {c.title for c in demo_app.get_system_commands(demo_app.screen)}
        for expected in ("Save", "Check connection", "Sync all", "Re-sync all", "Export HAR"):
            assert expected in titles
        assert {f"Go to {title}" for _p, title, _k in PANES} <= titles
        for pane in demo_app.query(Pane):
            for b in type(pane).__dict__.get("BINDINGS", []):
                assert isinstance(b, Binding) and b.description and b.show
        await pilot.press("f6")
        demo_app.query_one("#pull-table").focus()
        await pilot.pause()
        footer_keys = {b.binding.description for b in demo_app.screen.active_bindings.values()}
        assert {"New", "Edit", "Remove", "Save"} <= footer_keys
