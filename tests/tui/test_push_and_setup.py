"""Push syncs (editor, dry-run preview) and the set-up screens: identity, apps, segments, tz."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from textual.widgets import Button, DataTable, Input, OptionList, Select, Switch

from pendo_tui.sim.server import Simulator
from pendo_tui.tui.app import PendoTuiApp
from pendo_tui.tui.widgets.picker import PickerModal
from pendo_tui.tui.widgets.push_editor import PushEditor

from .conftest import SIZE
from .helpers import wait_for

pytestmark = pytest.mark.anyio


async def test_push_dry_run_preview_sends_nothing(demo_app: PendoTuiApp, sim: Simulator) -> None:
    sent_before = len(sim.state.track_events)
    async with demo_app.run_test(size=SIZE) as pilot:
        await pilot.press("f7")
        assert await wait_for(pilot, lambda: demo_app.panes_ready)
        table = demo_app.query_one("#push-table", DataTable)
        assert table.row_count == 2
        table.focus()
        table.move_cursor(row=0)  # "Warehouse events"
        await pilot.press("p")
        summary = demo_app.query_one("#preview-summary")
        assert await wait_for(pilot, lambda: "would send" in str(summary.render()), 20)
        preview = demo_app.query_one("#preview-table", DataTable)
        assert preview.row_count > 0
        columns = [str(c.label) for c in preview.columns.values()]
        assert "event" in columns and "visitorId" in columns
        assert "nothing was sent" in str(summary.render())
    assert len(sim.state.track_events) == sent_before


async def test_add_object_push_sync_reads_model_columns(
    demo_app: PendoTuiApp, tmp_path: Path
) -> None:
    model = tmp_path / "accounts.csv"
    with model.open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows([["account_id", "plan", "mrr"], ["acme", "pro", "1200"]])
    async with demo_app.run_test(size=SIZE) as pilot:
        await pilot.press("f7")
        await pilot.click("#push-new")
        assert await wait_for(pilot, lambda: isinstance(demo_app.screen, PushEditor))
        ed = demo_app.screen
        ed.query_one("#ps-name", Input).value = "Account plans"
        ed.query_one("#ps-kind", Select).value = "account"
        ed.query_one("#ps-source", Select).value = "csv"
        ed.query_one("#ps-csv", Input).value = str(model)
        await pilot.pause()
        await pilot.press("f5")
        assert await wait_for(pilot, lambda: demo_app.panes_ready)
        cols = ed.query_one("#ps-columns")
        assert await wait_for(pilot, lambda: "account_id, plan, mrr" in str(cols.render()), 5)
        # objects need match + fields: the model's own words appear next to the form
        ed.query_one("#ps-primary_key", Input).value = "account_id"
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert isinstance(demo_app.screen, PushEditor)
        # the rule's message sits next to the Match field, in the form's label words
        match_row = ed.query_one("#ps-match", Input).parent
        assert "has-error" in match_row.classes
        assert '"Match: model column holding the Pendo id"' in str(
            match_row.query_one(".form-error").render()
        )
        ed.query_one("#ps-match", Input).value = "account_id"
        ed.query_one("#ps-fields", Input).value = "plan = plan, mrr = mrr"
        ed.query_one("#ps-create_missing_fields", Switch).value = True
        ed.query_one("#ps-on_delete", Select).value = "delete"
        await pilot.press("ctrl+s")
        assert await wait_for(pilot, lambda: not isinstance(demo_app.screen, PushEditor), 3)
    s = demo_app.state.config.push[-1]
    assert (s.name, s.kind, s.match, s.on_delete) == (
        "Account plans",
        "account",
        "account_id",
        "delete",
    )
    assert s.fields == {"plan": "plan", "mrr": "mrr"} and s.create_missing_fields
    assert s.model.csv == str(model)


async def test_default_apps_cannot_be_removed_and_pendo_ids_offered(
    demo_app: PendoTuiApp,
) -> None:
    async with demo_app.run_test(size=SIZE) as pilot:
        await pilot.press("f3")
        table = demo_app.query_one("#apps-table", DataTable)
        ids = [str(table.get_row_at(i)[0]) for i in range(table.row_count)]
        assert "-323232" in ids and "unknown" in ids
        table.focus()
        table.move_cursor(row=ids.index("-323232"))
        await pilot.press("delete")
        await pilot.pause()
        assert "cannot be removed" in str(demo_app.query_one("#apps-errors").render())
        assert any(a.id == "-323232" for a in demo_app.state.config.apps)
        # add an id offered by Pendo
        await pilot.press("p")
        assert await wait_for(pilot, lambda: isinstance(demo_app.screen, PickerModal))
        options = demo_app.screen.query_one(OptionList)
        assert await wait_for(pilot, lambda: options.option_count > 0)
        await pilot.press("enter")
        assert await wait_for(pilot, lambda: not isinstance(demo_app.screen, PickerModal))
        picked = demo_app.query_one("#app-id", Input).value
        assert picked
        demo_app.query_one("#app-prefix", Input).value = "Picked"
        await pilot.click("#app-add")
        await pilot.pause()
        assert any(a.id == picked and a.prefix == "Picked" for a in demo_app.state.config.apps)
        # remove a normal row
        table.move_cursor(
            row=[str(table.get_row_at(i)[0]) for i in range(table.row_count)].index(picked)
        )
        table.focus()
        await pilot.press("delete")
        await pilot.pause()
        assert not any(a.id == picked for a in demo_app.state.config.apps) or picked == "-323232"


async def test_segments_pick_from_pendo(demo_app: PendoTuiApp) -> None:
    async with demo_app.run_test(size=SIZE) as pilot:
        await pilot.press("f4")
        assert await wait_for(pilot, lambda: demo_app.panes_ready)
        before = len(demo_app.state.config.segments)
        await pilot.click("#seg-pick")
        assert await wait_for(pilot, lambda: isinstance(demo_app.screen, PickerModal))
        options = demo_app.screen.query_one(OptionList)
        assert await wait_for(pilot, lambda: options.option_count > 1)
        options.highlighted = options.option_count - 1
        await pilot.press("enter")
        # like Apps, the pick fills the form (id and Pendo's name); Enter adds the row
        assert await wait_for(pilot, lambda: not isinstance(demo_app.screen, PickerModal))
        assert demo_app.query_one("#seg-id", Input).value
        assert len(demo_app.state.config.segments) == before
        await pilot.press("enter")
        assert await wait_for(pilot, lambda: len(demo_app.state.config.segments) == before + 1)


async def test_timezone_search_and_unset(demo_app: PendoTuiApp) -> None:
    async with demo_app.run_test(size=SIZE) as pilot:
        await pilot.press("f5")
        await pilot.click("#tz-unset")
        await pilot.pause()
        assert demo_app.state.config.pendo.timezone is None
        assert "re-reads the last 2 days" in str(demo_app.query_one("#tz-current").render())
        await pilot.click("#tz-filter")
        await pilot.press(*"berlin")
        await pilot.pause()
        tz_list = demo_app.query_one("#tz-list", OptionList)
        assert tz_list.option_count == 1
        tz_list.focus()
        tz_list.highlighted = 0
        await pilot.press("enter")
        await pilot.pause()
        assert demo_app.state.config.pendo.timezone == "Europe/Berlin"


async def test_identity_rules_and_preview(demo_app: PendoTuiApp) -> None:
    async with demo_app.run_test(size=SIZE) as pilot:
        await pilot.press("f2")
        ext = demo_app.query_one("#id-end_user_external_id", Input)
        email = demo_app.query_one("#id-end_user_email", Input)
        email.value = ""
        ext.value = "-"
        await pilot.pause()
        # '-' needs email: said next to the empty email field, in the labels' words
        shown = str(email.parent.query_one(".form-error").render())
        assert '"End user email" is not set' in shown, shown
        email.value = "agent.email"
        await pilot.pause()
        assert demo_app.state.config.identity.end_user_external_id == "-"
        demo_app.query_one("#id-suggest", Button).press()
        status = demo_app.query_one("#id-suggest-status")
        assert await wait_for(pilot, lambda: "agent.email" in str(status.render()), 10)
        assert ext.suggester is not None
        demo_app.query_one("#id-preview", Button).press()
        result = demo_app.query_one("#id-preview-result")
        assert await wait_for(pilot, lambda: "visitors:" in str(result.render()), 20)
        assert "match by email" in str(result.render())
        assert demo_app.query_one(Switch).value is True  # demo: auto-create on


async def test_companies_source_needs_its_fields(demo_app: PendoTuiApp) -> None:
    async with demo_app.run_test(size=SIZE) as pilot:
        await pilot.press("f2")
        assert await wait_for(pilot, lambda: demo_app.panes_ready)
        source = demo_app.query_one("#co-source", Select)
        # the lazily mounted Select must have composed its overlay before its value is set
        assert await wait_for(pilot, lambda: bool(source.query("SelectOverlay")))
        path = demo_app.query_one("#co-path", Input)
        assert not path.parent.display
        demo_app.query_one("#co-source", Select).value = "csv"
        await pilot.pause()
        assert path.parent.display
        assert demo_app.state.config.companies.source == "pendo"  # csv without path refused
        # next to the field to fill, in its label's words
        assert '"CSV path"' in str(path.parent.query_one(".form-error").render())
        path.value = "companies.csv"
        await pilot.pause()
        assert demo_app.state.config.companies.source == "csv"
        assert demo_app.state.config.companies.path == "companies.csv"
