"""Consistent and current (issue 14 §5): pickers alike, stale views cleared, keys that work,
who made each call, where exports and saves go, why rows were skipped."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, select
from textual.widgets import Button, DataTable, Input, Select

from pendo_tui.config.secrets import Secrets
from pendo_tui.sim.keys import DEMO_WRITE_KEY
from pendo_tui.sim.server import Simulator
from pendo_tui.store.schema import requests, runs
from pendo_tui.tui.app import PendoTuiApp
from pendo_tui.tui.screens.debugger import DebuggerPane
from pendo_tui.tui.screens.run import RunPane, item_notes
from pendo_tui.tui.widgets.confirm import ConfirmModal
from pendo_tui.tui.widgets.mapping_progress import MappingProgress
from pendo_tui.tui.widgets.pull_editor import PullEditor

from .conftest import SIZE
from .helpers import wait_for

pytestmark = pytest.mark.anyio
RUN_TIMEOUT = 90


def _notes(app: PendoTuiApp) -> list[str]:
    return [n.message for n in app._notifications]


def _rows(url: str, query: Any) -> list[Any]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return list(conn.execute(query))
    finally:
        engine.dispose()


async def test_duplicate_app_prefix_is_warned_about(demo_app: PendoTuiApp) -> None:
    async with demo_app.run_test(size=SIZE) as pilot:
        await pilot.press("f3")
        assert await wait_for(pilot, lambda: demo_app.panes_ready)
        taken = next(a for a in demo_app.state.config.apps if a.prefix)
        demo_app.query_one("#app-id", Input).value = "9999"
        demo_app.query_one("#app-prefix", Input).value = taken.prefix
        await pilot.click("#app-add")
        await pilot.pause()
        shown = str(demo_app.query_one("#apps-errors").render())
        assert f"prefix {taken.prefix!r} is also used by app {taken.id}" in shown, shown
        demo_app.query_one("#app-prefix", Input).value = "Unique prefix"
        await pilot.click("#app-add")
        await pilot.pause()
        assert "also used" not in str(demo_app.query_one("#apps-errors").render())
        table = demo_app.query_one("#apps-table", DataTable)
        assert str(table.get_row_at(table.cursor_row)[0]) == "9999"  # on the edited row


async def test_preview_follows_the_edited_row_and_a_failed_dry_run_clears_it(
    demo_app: PendoTuiApp,
) -> None:
    async with demo_app.run_test(size=SIZE) as pilot:
        await pilot.press("f7")
        assert await wait_for(pilot, lambda: demo_app.panes_ready)
        table = demo_app.query_one("#push-table", DataTable)
        summary = demo_app.query_one("#preview-summary")
        preview = demo_app.query_one("#preview-table", DataTable)
        table.focus()
        table.move_cursor(row=1)
        await pilot.press("e")
        assert await wait_for(pilot, lambda: bool(demo_app.screen.query("#ps-save")))
        await pilot.press("ctrl+s")
        assert await wait_for(pilot, lambda: demo_app.screen.query("#push-table"), 3)
        assert table.cursor_row == 1  # the list was redrawn; the cursor stayed
        await pilot.press("p")
        assert await wait_for(pilot, lambda: "nothing was sent" in str(summary.render()), 30)
        assert "'Visitor roles'" in str(summary.render())  # the edited sync, not row 0
        assert preview.row_count > 0
        # the model disappears: the next dry run fails, and the old rows must go
        push = [s.model_dump(exclude_defaults=True) for s in demo_app.state.config.push]
        push[1]["model"] = {"csv": str(Path(push[1]["model"]["csv"]).with_name("gone.csv"))}
        assert demo_app.state.propose({"push": push}) == {}
        await pilot.press("p")
        assert await wait_for(pilot, lambda: "failed" in str(summary.render()), 30)
        assert preview.row_count == 0 and not preview.columns
        assert "'Visitor roles'" in str(summary.render())


async def test_footer_offers_f4_only_where_it_picks(demo_app: PendoTuiApp) -> None:
    async with demo_app.run_test(size=SIZE) as pilot:
        await pilot.press("f6")
        assert await wait_for(pilot, lambda: demo_app.panes_ready)
        demo_app.query_one("#pull").action_new_mapping()  # type: ignore[attr-defined]
        assert await wait_for(pilot, lambda: bool(demo_app.screen.query("#pe-save")))
        editor = demo_app.screen
        assert isinstance(editor, PullEditor)
        await pilot.pause()
        assert "f4" in editor.active_bindings  # a page: F4 lists pages
        editor.query_one("#pe-kind", Select).value = "pes"
        await pilot.pause()
        assert "f4" not in editor.active_bindings  # PES: nothing to pick
        editor.query_one("#pe-kind", Select).value = "report"
        await pilot.pause()
        assert "f4" in editor.active_bindings
        await pilot.press("escape")
        # with no push sync, Edit / Remove / Dry-run are not offered
        assert demo_app.state.propose({"push": []}) == {}
        await pilot.press("f7")
        push_pane = demo_app.query_one("#push")
        push_pane.refresh_view()  # type: ignore[attr-defined]
        await pilot.pause()
        keys = demo_app.screen.active_bindings
        assert "p" not in keys and "e" not in keys and "n" in keys


def test_item_notes_give_reasons_examples_and_warnings() -> None:
    item = {
        "name": "Dashboard views",
        "skipped": {"anonymous": 164, "no_company_id": 2},
        "skipped_examples": {"anonymous": ["_anon_1", "_anon_2", "_anon_3", "_anon_4"]},
        "rejected_reasons": {"bad timestamp": {"count": 3, "examples": ["k1"]}},
        "warnings": ["164 of 286 visitors skipped: auto-create is off — set it"],
    }
    assert item_notes(item) == [
        "Dashboard views: skipped 164 anonymous (e.g. _anon_1, _anon_2, _anon_3); 2 no_company_id",
        "Dashboard views: rejected 3 bad timestamp (e.g. k1)",
        "Dashboard views: ⚠ 164 of 286 visitors skipped: auto-create is off — set it",
    ]


async def _sync_all(pilot: Any, app: PendoTuiApp) -> RunPane:
    """Open the Run pane, press Sync all, and wait for that first run to finish."""
    await pilot.press("f8")
    assert await wait_for(pilot, lambda: app.panes_ready)
    run = app.query_one(RunPane)
    await pilot.click("#run-sync-all")
    assert await wait_for(pilot, lambda: run.runs_finished == 1, RUN_TIMEOUT)
    return run


async def test_run_pane_says_why_rows_were_skipped_and_where_the_store_is(
    demo_app: PendoTuiApp, tmp_path: Path
) -> None:
    url = demo_app.state.config.store.url
    assert url is not None
    async with demo_app.run_test(size=SIZE) as pilot:
        run = await _sync_all(pilot, demo_app)
        notes = str(demo_app.query_one("#run-notes").render())
        status = str(demo_app.query_one("#run-status").render())
        messages = {
            w.mapping_name: str(w.query_one(".mp-message").render())
            for w in run.query(MappingProgress)
        }
        pushes = {w.mapping_name for w in run.query(MappingProgress) if w.is_push}
        # Re-sync all rebuilds pull data: the push rows must not keep this run's numbers
        await pilot.click("#run-resync")
        assert await wait_for(pilot, lambda: isinstance(demo_app.screen, ConfirmModal), 10)
        body = str(demo_app.screen.query_one("#confirm-body").render())
        await pilot.click("#confirm-yes")
        assert await wait_for(pilot, lambda: run.runs_finished == 2, RUN_TIMEOUT)
        after = {
            w.mapping_name: str(w.query_one(".mp-message").render())
            for w in run.query(MappingProgress)
            if w.is_push
        }
    store = f"SQLite file {(tmp_path / 'store.db').resolve()}"
    assert f"Store: {store}" in status and store in body
    (summary,) = [r.summary for r in _rows(url, select(runs.c.summary).where(runs.c.id == 1))]
    skipped = [i for i in summary["items"] if i.get("skipped")]
    assert skipped  # the demo has anonymous visitors and visitors without an account
    for item in skipped:
        for reason, n in item["skipped"].items():
            assert f"{n} {reason}" in notes, notes
            assert reason in messages[item["name"]]
    assert all(messages[n].startswith("ok") for n in pushes), messages
    assert all("not part of Re-sync all" in m for m in after.values()), after


async def test_debugger_names_the_mapping_or_sync_behind_each_call(
    demo_app: PendoTuiApp,
) -> None:
    url = demo_app.state.config.store.url
    assert url is not None
    async with demo_app.run_test(size=SIZE) as pilot:
        await _sync_all(pilot, demo_app)
        await pilot.press("f9")
        table = demo_app.query_one("#dbg-table", DataTable)
        dbg = demo_app.query_one(DebuggerPane)
        assert await wait_for(pilot, lambda: table.row_count > 10, 10)
        shown = {str(table.get_row_at(i)[6]) for i in range(table.row_count)}
        pulls = {m.name for m in demo_app.state.config.pull if m.enabled}
        named: set[str] = set()
        for rec in dbg._shown.values():
            if _aggregation_name(rec.request_body):  # a pull call (the engine names it)
                assert rec.source.startswith("pull "), rec.source
                assert _mappings_in(rec.source, pulls), rec.source  # the mapping(s) it feeds
            named |= _mappings_in(rec.source, pulls)
            if "/data/track" in rec.url:  # sent from the push's worker threads
                assert rec.source == "push Warehouse events", rec.source
        assert named == pulls  # every mapping's calls are attributed to it
        assert {"push Warehouse events", "push Visitor roles"} <= shown
        assert "connection check" in shown
        demo_app.query_one("#dbg-text", Input).value = "visitor roles"
        await pilot.pause()
        assert table.row_count > 0
        makers = {str(table.get_row_at(i)[6]) for i in range(table.row_count)}
        assert all(m.startswith("push Visitor roles") for m in makers), makers
    stored = _rows(url, select(requests.c.source, requests.c.request_body))
    assert stored and all(s for s, _b in stored)  # every stored call of the run names its maker
    for source, body in stored:
        if _aggregation_name(body or ""):
            assert source.startswith("pull ") and _mappings_in(source, pulls), source


def _mappings_in(source: str, names: set[str]) -> set[str]:
    listed = {part.strip() for part in source.removeprefix("pull ").split(", ")}
    return listed & names


def _aggregation_name(body: str) -> str:
    try:
        data = json.loads(body)
    except ValueError:
        return ""
    name = data.get("request", {}).get("name", "") if isinstance(data, dict) else ""
    return name.removeprefix("pendo-tui:") if name.startswith("pendo-tui:") else ""


async def test_exports_go_to_the_download_folder_and_the_toast_names_the_path(
    make_app, demo_cfg, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    from pendo_tui.config.secrets import StaticSecrets

    home = tmp_path / "home"
    (home / "Downloads").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_DOWNLOAD_DIR", str(home / "Downloads"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / ".local" / "share"))
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    app = PendoTuiApp(
        config=demo_cfg,
        secrets=StaticSecrets(integration_key=DEMO_WRITE_KEY),
        demo=True,
        config_path=tmp_path / "config.toml",
    )
    async with app.run_test(size=SIZE) as pilot:
        assert await wait_for(pilot, lambda: app.state.connection.state == "ok", 10)
        await pilot.press("f9")
        assert await wait_for(pilot, lambda: app.panes_ready)
        table = app.query_one("#dbg-table", DataTable)
        assert await wait_for(pilot, lambda: table.row_count > 0, 5)
        table.focus()
        await pilot.press("x")
        dbg = app.query_one(DebuggerPane)
        assert await wait_for(pilot, lambda: hasattr(dbg, "last_export"), 5)
        path: Path = dbg.last_export
        note = _notes(app)[-1]
    assert path.parent == (home / "Downloads").resolve()
    assert str(path) in note and path.is_absolute()
    assert not list(work.iterdir())  # nothing in the working directory
    assert json.loads(path.read_text(encoding="utf-8"))["log"]["entries"][0]["_source"]


async def test_save_names_the_file_and_the_keyring_only_when_used(
    sim: Simulator, tmp_path: Path, keyring_secrets: Secrets
) -> None:
    path = tmp_path / "config.toml"
    path.write_text(f'[pendo]\ndomain = "{sim.base_url}"\n', encoding="utf-8")
    app = PendoTuiApp(path, secrets=keyring_secrets, export_dir=tmp_path, check_on_start=False)
    async with app.run_test(size=SIZE) as pilot:
        assert await wait_for(pilot, lambda: app.panes_ready)
        app.query_one("#tz-days", Input).value = "45"
        await pilot.pause()
        await pilot.press("ctrl+s")
        await pilot.pause()
        first = _notes(app)[-1]
        app.query_one("#key", Input).value = DEMO_WRITE_KEY
        await pilot.pause()
        await pilot.press("ctrl+s")
        await pilot.pause()
        second = _notes(app)[-1]
    assert first.startswith(f"Saved {path.resolve()}") and "keyring" not in first
    assert "no secret changed" in first
    assert second.startswith(f"Saved {path.resolve()}")
    assert "integration key stored in the OS keyring" in second
    assert keyring_secrets.get("integration_key") == DEMO_WRITE_KEY


async def test_apps_and_segments_pickers_fill_the_form_alike(demo_app: PendoTuiApp) -> None:
    from textual.widgets import OptionList

    from pendo_tui.tui.widgets.picker import PickerModal

    async with demo_app.run_test(size=SIZE) as pilot:
        for key, pick, first, second, items in (
            ("f3", "#app-pick", "#app-id", "#app-prefix", lambda: demo_app.state.config.apps),
            ("f4", "#seg-pick", "#seg-id", "#seg-name", lambda: demo_app.state.config.segments),
        ):
            await pilot.press(key)
            assert await wait_for(pilot, lambda: demo_app.panes_ready)
            before = len(items())
            demo_app.query_one(pick, Button).press()
            assert await wait_for(pilot, lambda: isinstance(demo_app.screen, PickerModal))
            options = demo_app.screen.query_one(OptionList)
            assert await wait_for(pilot, lambda o=options: o.option_count > 0, 10)
            await pilot.press("enter")
            assert await wait_for(pilot, lambda: not isinstance(demo_app.screen, PickerModal))
            await pilot.pause()
            # both: the id is filled, the cursor waits in the second field, nothing added yet
            assert demo_app.query_one(first, Input).value
            assert demo_app.focused is demo_app.query_one(second, Input)
            assert len(items()) == before
