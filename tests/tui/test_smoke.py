from __future__ import annotations

import pytest

from pendo_tui.tui.app import PANES, PendoTuiApp
from pendo_tui.tui.widgets.connection_badge import ConnectionBadge

from .conftest import SIZE
from .helpers import wait_for

pytestmark = pytest.mark.anyio


async def test_every_pane_shows(demo_app: PendoTuiApp) -> None:
    async with demo_app.run_test(size=SIZE) as pilot:
        for pane_id, _cls, key in PANES:
            await pilot.press(key)
            await pilot.pause()
            assert demo_app.query_one("#panes").current == pane_id
        assert await wait_for(pilot, lambda: demo_app.state.connection.state == "ok")
        badge = demo_app.query_one("#status-badge", ConnectionBadge)
        assert "Connection is active" in str(badge.render())
