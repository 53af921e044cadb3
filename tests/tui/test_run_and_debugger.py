"""Run panel and debugger: sync, live calls, re-sync behind a confirmation, HAR, 200 calls/s."""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select
from sqlalchemy.engine import make_url
from textual.widgets import Button, ContentSwitcher, DataTable, Input, Select

from pendo_tui.pendo.requestlog import RequestLog, RequestRecord
from pendo_tui.sim.keys import DEMO_WRITE_KEY
from pendo_tui.store.schema import metrics, requests, runs
from pendo_tui.tui.app import PendoTuiApp
from pendo_tui.tui.screens.debugger import SHOWN_MAX, DebuggerPane
from pendo_tui.tui.screens.run import RunPane
from pendo_tui.tui.widgets.confirm import ConfirmModal
from pendo_tui.tui.widgets.mapping_progress import MappingProgress
from pendo_tui.tui.widgets.request_detail import RequestDetail

from .conftest import SIZE
from .helpers import wait_for

pytestmark = pytest.mark.anyio
RUN_TIMEOUT = 60


def _count(url: str, table, where=None) -> int:  # type: ignore[no-untyped-def]
    path = make_url(url).database
    if path and not Path(path).exists():  # looking never creates the store: nothing ran
        return 0
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            q = select(func.count()).select_from(table)
            return conn.execute(q.where(where) if where is not None else q).scalar_one()
    finally:
        engine.dispose()


async def test_sync_all_fills_store_and_debugger_live(demo_app: PendoTuiApp) -> None:
    url = demo_app.state.config.store.url
    async with demo_app.run_test(size=SIZE) as pilot:
        await pilot.press("f8")
        assert await wait_for(pilot, lambda: demo_app.panes_ready)
        run = demo_app.query_one(RunPane)
        dbg_table = demo_app.query_one("#dbg-table", DataTable)
        start_rows = dbg_table.row_count
        await pilot.click("#run-sync-all")
        assert await wait_for(pilot, lambda: run.runs_finished == 1, RUN_TIMEOUT)
        status = str(demo_app.query_one("#run-status").render())
        assert "ok" in status, status
        history = demo_app.query_one("#run-history", DataTable)
        assert await wait_for(pilot, lambda: history.row_count == 1, 5)
        # debugger: every call of the run arrived in the live table, newest last
        await pilot.press("f9")
        assert await wait_for(pilot, lambda: dbg_table.row_count > start_rows + 5, 5)
        cells = [str(dbg_table.get_row_at(i)[2]) for i in range(dbg_table.row_count)]
        assert any("/api/v1/aggregation" in c for c in cells)
        assert all(DEMO_WRITE_KEY not in json.dumps(str(r)) for r in demo_app.request_log.records())
        # detail view: pretty JSON, redacted headers, curl without the key
        dbg_table.focus()
        dbg_table.move_cursor(row=dbg_table.row_count - 1)
        await pilot.press("enter")
        assert await wait_for(pilot, lambda: isinstance(demo_app.screen, RequestDetail))
        curl = str(demo_app.screen.query_one("#curl-text").text)  # type: ignore[attr-defined]
        assert "${PENDO_INTEGRATION_KEY}" in curl and DEMO_WRITE_KEY not in curl
        await pilot.press("escape")
        # filter by status and text
        demo_app.query_one("#dbg-status", Select).value = "4"
        await pilot.pause()
        assert dbg_table.row_count == 0
        demo_app.query_one("#dbg-status", Select).value = "all"
        demo_app.query_one("#dbg-text", Input).value = "token/verify"
        await pilot.pause()
        assert dbg_table.row_count >= 1
        assert all(
            "token/verify" in str(dbg_table.get_row_at(i)[2]) for i in range(dbg_table.row_count)
        )
    assert _count(url, runs, runs.c.status == "ok") == 1
    assert _count(url, metrics) > 0


def _focus_in(app: PendoTuiApp, pane_type: type) -> bool:
    node = app.focused
    while node is not None and not isinstance(node, pane_type):
        node = node.parent
    return node is not None


async def test_keys_only_f8_then_s_syncs(demo_app: PendoTuiApp) -> None:
    """As a new user: F8 moves focus into the Run pane, so `s` (shown in the footer) runs."""
    async with demo_app.run_test(size=SIZE) as pilot:
        await pilot.press("f8")
        assert await wait_for(pilot, lambda: _focus_in(demo_app, RunPane))
        bindings = demo_app.screen.active_bindings
        assert "s" in bindings and bindings["s"].binding.action == "sync_all"
        run = demo_app.query_one(RunPane)
        await pilot.press("s")
        assert await wait_for(pilot, lambda: run.runs_finished == 1, RUN_TIMEOUT)
        history = demo_app.query_one("#run-history", DataTable)
        assert await wait_for(pilot, lambda: history.row_count == 1, 5)
        await pilot.press("f9")
        assert await wait_for(pilot, lambda: _focus_in(demo_app, DebuggerPane))
        table = demo_app.query_one("#dbg-table", DataTable)
        assert await wait_for(pilot, lambda: table.row_count > 5, 5)


async def test_sidebar_enter_focuses_the_pane(demo_app: PendoTuiApp) -> None:
    """Arrows in the sidebar preview a pane (focus stays); Enter moves focus into it."""
    async with demo_app.run_test(size=SIZE) as pilot:
        assert await wait_for(pilot, lambda: demo_app.panes_ready)
        demo_app.query_one("#nav").focus()
        await pilot.pause()
        await pilot.press(*["down"] * 7)  # Connection → … → Run
        await pilot.pause()
        assert demo_app.query_one("#panes").current == "run"
        assert demo_app.focused is demo_app.query_one("#nav")
        await pilot.press("enter")
        assert await wait_for(pilot, lambda: _focus_in(demo_app, RunPane))
        assert "s" in demo_app.screen.active_bindings


async def test_past_run_in_debugger_and_har_export(demo_app: PendoTuiApp, tmp_path: Path) -> None:
    async with demo_app.run_test(size=SIZE) as pilot:
        assert await wait_for(pilot, lambda: demo_app.panes_ready)
        run = demo_app.query_one(RunPane)
        assert await wait_for(pilot, lambda: demo_app.state.connection.state == "ok")
        await pilot.press("f8")
        row = next(w for w in run.query(MappingProgress) if w.mapping_name == "Weekly usage report")
        row.query_one(Button).press()  # that mapping's own "Sync now"
        assert await wait_for(pilot, lambda: run.runs_finished == 1, RUN_TIMEOUT)
        message = str(row.query_one(".mp-message").render())
        assert message.startswith("ok") and "fetched" in message
        others = [w for w in run.query(MappingProgress) if w is not row]
        assert all(str(w.query_one(".mp-message").render()) == "not run yet" for w in others)
        await pilot.press("f9")
        source = demo_app.query_one("#dbg-source", Select)

        def run_values() -> list[str]:
            return [v for _label, v in source._options if isinstance(v, str) and v != "live"]

        assert await wait_for(pilot, lambda: bool(run_values()), 5)
        run_value = run_values()[0]
        source.value = run_value
        table = demo_app.query_one("#dbg-table", DataTable)
        dbg = demo_app.query_one(DebuggerPane)
        assert await wait_for(pilot, lambda: dbg._source == run_value and bool(dbg._past), 5)
        await pilot.pause()
        stored = _count(
            demo_app.state.config.store.url, requests, requests.c.run_id == int(run_value)
        )
        rows = [str(table.get_row_at(i)) for i in range(table.row_count)]
        assert table.row_count == stored, rows  # exactly this run's stored calls
        table.focus()
        await pilot.press("x")
        ok = await wait_for(pilot, lambda: hasattr(dbg, "last_export"), 5)
        assert ok, [n.message for n in demo_app._notifications]
        har_path = dbg.last_export
    har = json.loads(har_path.read_text(encoding="utf-8"))
    assert har_path.parent == tmp_path
    entries = har["log"]["entries"]
    assert len(entries) == table.row_count
    assert DEMO_WRITE_KEY not in har_path.read_text(encoding="utf-8")


async def test_resync_all_asks_and_states_what_is_deleted(demo_app: PendoTuiApp) -> None:
    url = demo_app.state.config.store.url
    async with demo_app.run_test(size=SIZE) as pilot:
        assert await wait_for(pilot, lambda: demo_app.panes_ready)
        run = demo_app.query_one(RunPane)
        await pilot.press("f8")
        await pilot.click("#run-resync")
        assert await wait_for(pilot, lambda: isinstance(demo_app.screen, ConfirmModal))
        body = str(demo_app.screen.query_one("#confirm-body").render())
        assert "Deleted" in body and "30 days" in body and "metric rows" in body
        await pilot.press("escape")  # cancel: nothing runs
        await pilot.pause()
        assert not run._running
        assert _count(url, runs) == 0
        await pilot.click("#run-resync")
        assert await wait_for(pilot, lambda: isinstance(demo_app.screen, ConfirmModal))
        await pilot.click("#confirm-yes")
        assert await wait_for(pilot, lambda: run.runs_finished == 1, RUN_TIMEOUT)
    assert _count(url, runs, runs.c.kind == "resync_all") == 1
    assert _count(url, metrics) > 0


async def test_config_change_shows_resync_banner(demo_app: PendoTuiApp) -> None:
    async with demo_app.run_test(size=SIZE) as pilot:
        assert await wait_for(pilot, lambda: demo_app.panes_ready)
        banner = demo_app.query_one("#resync-banner")
        assert not banner.display
        await pilot.press("f3")
        demo_app.query_one("#app-id", Input).value = "42"
        demo_app.query_one("#app-prefix", Input).value = "Admin"
        await pilot.click("#app-add")
        await pilot.press("f8")
        await pilot.pause()
        assert banner.display


def _record(seq: int) -> RequestRecord:
    return RequestRecord(
        seq=seq,
        at=datetime.now(UTC),
        method="GET",
        url=f"http://127.0.0.1/api/v1/page?n={seq}",
        status=200 if seq % 10 else 500,
        duration_ms=1.0,
        request_size=10,
        response_size=10,
        request_headers={},
        response_headers={},
        request_body="",
        response_body="[]",
        request_body_size=0,
        response_body_size=2,
    )


@pytest.mark.slow
async def test_debugger_keeps_up_with_a_flood_of_calls(make_app, demo_cfg, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """3,000 calls at well over 200/s from an engine thread: every one reaches the view
    (bounded to its newest SHOWN_MAX), and a key pressed mid-flood is handled."""
    log = RequestLog()
    app = make_app(demo_cfg, None, request_log=log, check_on_start=False)
    total, half = 3_000, 1_500
    sent = [0]
    halfway, key_handled = threading.Event(), threading.Event()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f9")
        assert await wait_for(pilot, lambda: app.panes_ready and app.query_one("#debugger").display)
        table = app.query_one("#dbg-table", DataTable)

        def feed() -> None:
            for i in range(1, total + 1):
                log.append(_record(i))
                sent[0] = i
                if i == half:
                    halfway.set()
                if i == total - 100:  # the last burst waits until the key was handled
                    key_handled.wait(120)
                if i % 100 == 0:
                    time.sleep(0.05)  # ~2,000 calls/s, in bursts

        thread = threading.Thread(target=feed, daemon=True)
        thread.start()
        try:
            # mid-flood: a key switches screens while calls keep arriving
            assert await wait_for(pilot, halfway.is_set, 60)
            await pilot.press("f1")
            switcher = app.query_one("#panes", ContentSwitcher)
            assert await wait_for(pilot, lambda: switcher.current == "connection", 60)
            assert sent[0] < total  # handled before the flood was over
        finally:
            key_handled.set()
        assert await wait_for(pilot, lambda: not thread.is_alive(), 120)
        await pilot.press("f9")

        def shown() -> list[str]:  # the path column
            return [str(table.get_row_at(i)[2]) for i in range(table.row_count)]

        # every call reached the view: the newest SHOWN_MAX, in order, none lost on the way
        expected = [f"/api/v1/page?n={n}" for n in range(total - SHOWN_MAX + 1, total + 1)]
        assert await wait_for(pilot, lambda: shown() == expected, 120), shown()[-3:]
        assert not app.incoming
        app.query_one("#dbg-status", Select).value = "5"
        await pilot.pause()
        assert table.row_count == SHOWN_MAX // 10
