"""Pane refreshes read through one read-only store handle: a sync holding SQLite's write
lock neither blocks them nor is blocked by them, and looking never creates the store."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from textual.widgets import DataTable, Select

from pendo_tui.config.model import Config
from pendo_tui.config.secrets import StaticSecrets
from pendo_tui.sim.keys import DEMO_TRACK_SECRET, DEMO_WRITE_KEY
from pendo_tui.sync.runner import run
from pendo_tui.tui.screens.metrics import MetricsPane

from .conftest import SIZE
from .helpers import wait_for

pytestmark = pytest.mark.anyio
SECRETS = StaticSecrets(integration_key=DEMO_WRITE_KEY, track_secret=DEMO_TRACK_SECRET)
# Below the store's 30 s busy timeout: a refresh that waited for the lock would end in
# "stayed locked" after 30 s, never in the rows asserted here.
READ_TIMEOUT = 25


async def test_panes_refresh_while_a_sync_holds_the_write_lock(
    make_app,
    demo_cfg: Config,  # type: ignore[no-untyped-def]
) -> None:
    summary = run(demo_cfg, SECRETS, mappings=[demo_cfg.pull[0].name])
    assert summary.run_id is not None
    path = demo_cfg.store.url.removeprefix("sqlite:///")
    sync = sqlite3.connect(path, isolation_level=None)
    try:
        sync.execute("BEGIN IMMEDIATE")  # what a sync writing its rows holds
        sync.execute("UPDATE runs SET status = 'running'")  # uncommitted: not shown
        app = make_app(demo_cfg, SECRETS, demo=True, check_on_start=False)
        async with app.run_test(size=SIZE) as pilot:
            assert await wait_for(pilot, lambda: app.panes_ready)
            await pilot.press("f8")
            history = app.query_one("#run-history", DataTable)
            assert await wait_for(pilot, lambda: history.row_count == 1, READ_TIMEOUT)
            assert str(history.get_row_at(0)[3]) == summary.status
            await pilot.press("f10")
            metrics = app.query_one(MetricsPane)
            status = metrics.query_one("#m-status")
            assert await wait_for(
                pilot, lambda: "metric" in str(status.render()).lower(), READ_TIMEOUT
            )
            assert "not readable" not in str(status.render())
            await pilot.press("f9")
            source = app.query_one("#dbg-source", Select)
            assert await wait_for(
                pilot,
                lambda: len(source._options) == 2,
                READ_TIMEOUT,  # live + the run
            )
        sync.execute("ROLLBACK")
    finally:
        sync.close()


async def test_looking_does_not_create_the_store(
    make_app,
    demo_cfg: Config,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    path = tmp_path / "nowhere" / "pendo.db"
    cfg = demo_cfg.model_copy(
        update={"store": demo_cfg.store.model_copy(update={"url": f"sqlite:///{path}"})}
    )
    app = make_app(cfg, SECRETS, demo=True, check_on_start=False)
    async with app.run_test(size=SIZE) as pilot:
        assert await wait_for(pilot, lambda: app.panes_ready)
        for key in ("f6", "f8", "f9", "f10"):
            await pilot.press(key)
            await pilot.pause(0.2)
        status = app.query_one(MetricsPane).query_one("#m-status")
        assert await wait_for(pilot, lambda: "No metrics yet" in str(status.render()), 10)
    assert not path.exists() and not path.parent.exists()
