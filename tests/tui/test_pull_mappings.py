"""Pull mappings: add each kind through the editor, with live pickers and validation."""

from __future__ import annotations

import pytest
from textual.widgets import DataTable, Input, OptionList, Select, TextArea

from pendo_tui.tui.app import PendoTuiApp
from pendo_tui.tui.widgets.mapping_progress import MappingProgress
from pendo_tui.tui.widgets.picker import PickerModal
from pendo_tui.tui.widgets.pull_editor import PullEditor

from .conftest import SIZE
from .helpers import wait_for

pytestmark = pytest.mark.anyio


async def _open_editor(app: PendoTuiApp, pilot, kind: str) -> PullEditor:  # type: ignore[no-untyped-def]
    await pilot.press("f6")
    # the pane settles first: its table is rebuilt when shown, which can shift the buttons
    assert await wait_for(pilot, lambda: app.panes_ready and app.query_one("#pull").display)
    table = app.query_one("#pull-table", DataTable)
    assert await wait_for(pilot, lambda: table.row_count == len(app.state.config.pull))
    await pilot.pause(0.2)
    await pilot.click("#pull-new")
    assert await wait_for(pilot, lambda: isinstance(app.screen, PullEditor))
    await pilot.pause(0.1)  # composed before its fields are set
    editor = app.screen
    assert isinstance(editor, PullEditor)
    editor.query_one("#pe-kind", Select).value = kind
    await pilot.pause()
    return editor


async def _pick_first(app: PendoTuiApp, pilot, filter_text: str) -> list[str]:  # type: ignore[no-untyped-def]
    await pilot.press("f4")
    assert await wait_for(pilot, lambda: isinstance(app.screen, PickerModal))
    picker = app.screen
    options = picker.query_one(OptionList)
    assert await wait_for(pilot, lambda: options.option_count > 0)
    await pilot.press(*filter_text)
    await pilot.pause()
    shown = [str(options.get_option_at_index(i).prompt) for i in range(options.option_count)]
    await pilot.press("enter")
    assert await wait_for(pilot, lambda: isinstance(app.screen, PullEditor))
    return shown


async def _save(app: PendoTuiApp, pilot) -> None:  # type: ignore[no-untyped-def]
    await pilot.press("ctrl+s")
    assert await wait_for(pilot, lambda: not isinstance(app.screen, PullEditor), 15)


@pytest.mark.parametrize(("kind", "filter_text"), [("page", "Dash"), ("feature", "Export")])
async def test_add_page_or_feature_with_picker(
    demo_app: PendoTuiApp, kind: str, filter_text: str
) -> None:
    async with demo_app.run_test(size=SIZE) as pilot:
        before = len(demo_app.state.config.pull)
        editor = await _open_editor(demo_app, pilot, kind)
        shown = await _pick_first(demo_app, pilot, filter_text)
        assert shown and all(filter_text.lower() in s.lower() for s in shown)
        assert editor.query_one("#pe-id", Input).value
        editor.query_one("#pe-name", Input).value = f"new {kind}"
        editor.query_one("#pe-object", Select).value = "company"
        await _save(demo_app, pilot)
        cfg = demo_app.state.config
        assert len(cfg.pull) == before + 1
        m = cfg.pull[-1]
        assert (m.name, m.kind, m.object) == (f"new {kind}", kind, "company")
        assert m.id and demo_app.state.dirty
        # the Run pane (already built) gains a progress row for it, replacing the old rows
        await pilot.press("f8")

        def rows() -> list[str]:
            return [w.mapping_name for w in demo_app.query(MappingProgress)]

        assert await wait_for(pilot, lambda: f"new {kind}" in rows())
        assert len(rows()) == len(set(rows())) == before + 1 + len(cfg.push)


async def test_add_report_offers_only_compatible_reports(demo_app: PendoTuiApp, sim) -> None:  # type: ignore[no-untyped-def]
    from pendo_tui.sync.pull.reports import ColumnEvidence, report_compatibility

    ds = sim.dataset
    verdicts = {
        r["name"]: report_compatibility(r, ColumnEvidence.of(ds.report_rows(r["id"])))
        for r in ds.reports
    }
    compatible = {name for name, v in verdicts.items() if v[0]}
    incompatible = set(verdicts) - compatible
    assert compatible and incompatible  # the dataset exercises both
    # columns only in the rows, window only in the pipeline: offered, with a warning
    assert "Account usage - last 90 days" in compatible
    async with demo_app.run_test(size=SIZE) as pilot:
        editor = await _open_editor(demo_app, pilot, "report")
        shown = await _pick_first(demo_app, pilot, "")
        names = {s.split("  ")[0] for s in shown}
        assert names == compatible
        assert any("last 90 days" in s and "⚠ covers 90 days" in s for s in shown)
        assert editor.query_one("#pe-columns", Input).value  # numeric columns prefilled
        editor.query_one("#pe-name", Input).value = "report mapping"
        await _save(demo_app, pilot)
        assert demo_app.state.config.pull[-1].kind == "report"
        assert demo_app.state.config.pull[-1].columns


async def test_aggregation_pipeline_validated_in_place(demo_app: PendoTuiApp) -> None:
    async with demo_app.run_test(size=SIZE) as pilot:
        before = len(demo_app.state.config.pull)
        editor = await _open_editor(demo_app, pilot, "aggregation")
        editor.query_one("#pe-name", Input).value = "agg"
        editor.query_one("#pe-columns", Input).value = "minutes = Minutes"
        area = editor.query_one("#pe-pipeline", TextArea)
        area.text = '[{"source": '
        await pilot.pause()
        check = editor.query_one("#pe-pipeline-check")
        assert "not valid JSON" in str(check.render())
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert isinstance(demo_app.screen, PullEditor)  # refused
        editor.query_one("#pe-object", Select).value = "end_user"
        from pendo_tui.tui.widgets.pull_editor import EXAMPLE_PIPELINE

        area.text = EXAMPLE_PIPELINE
        await pilot.pause()
        assert "visitorId" in str(check.render())  # end users need visitorId rows
        editor.query_one("#pe-object", Select).value = "company"
        await pilot.pause()
        assert "valid" in str(check.render())
        await _save(demo_app, pilot)
        m = demo_app.state.config.pull[-1]
        assert len(demo_app.state.config.pull) == before + 1
        assert (m.kind, m.columns) == ("aggregation", {"minutes": "Minutes"})


async def test_add_pes_and_model_errors_show_in_editor(demo_app: PendoTuiApp) -> None:
    async with demo_app.run_test(size=SIZE) as pilot:
        editor = await _open_editor(demo_app, pilot, "pes")
        editor.query_one("#pe-name", Input).value = "Mobile PES"
        editor.query_one("#pe-app", Input).value = "5629499534213120"
        await _save(demo_app, pilot)
        m = demo_app.state.config.pull[-1]
        assert (m.kind, m.app, m.multi_app) == ("pes", "5629499534213120", False)
        # a duplicate name is refused with the model's words, in the editor
        editor = await _open_editor(demo_app, pilot, "pes")
        editor.query_one("#pe-name", Input).value = "Mobile PES"
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert isinstance(demo_app.screen, PullEditor)
        name_row = editor.query_one("#pe-name", Input).parent
        shown = str(name_row.query_one(".form-error").render()) + str(
            editor.query_one("#pe-errors").render()
        )
        assert "unique" in shown


async def _refused(app: PendoTuiApp, pilot, editor: PullEditor, fragment: str) -> str:  # type: ignore[no-untyped-def]
    """Press save; the editor stays open and shows ``fragment`` next to a field or in
    its error box (bounded wait)."""
    errors = editor.query_one("#pe-errors")
    errors.update("")

    def shown() -> str:
        return "\n".join(str(w.render()) for w in [errors, *editor.query(".form-error")])

    await pilot.press("ctrl+s")
    assert await wait_for(pilot, lambda: fragment in shown(), 15)
    assert isinstance(app.screen, PullEditor)
    return shown()


async def test_report_columns_checked_against_pendo_at_save(demo_app: PendoTuiApp, sim) -> None:  # type: ignore[no-untyped-def]
    """Before: `foo, =bar, x=` saved and failed at run time; now each problem is named."""
    report = sim.dataset.find("reports", "Account usage - last 7 days")
    async with demo_app.run_test(size=SIZE) as pilot:
        before = len(demo_app.state.config.pull)
        editor = await _open_editor(demo_app, pilot, "report")
        editor.query_one("#pe-name", Input).value = "weekly"
        editor.query_one("#pe-id", Input).value = report["id"]
        columns = editor.query_one("#pe-columns", Input)
        columns.value = "foo, =bar, x="
        text = await _refused(demo_app, pilot, editor, "missing")
        assert "'=bar'" in text
        columns.value = "foo = Foo"
        await _refused(demo_app, pilot, editor, "'foo' is not a column")
        columns.value = "account_agent_name = Name"
        await _refused(demo_app, pilot, editor, "not numeric")
        editor.query_one("#pe-id", Input).value = sim.dataset.find(
            "reports", "Account health - custom range"
        )["id"]
        columns.value = "numEvents = Events"
        await _refused(demo_app, pilot, editor, "could not be determined")
        assert len(demo_app.state.config.pull) == before  # nothing saved so far
        editor.query_one("#pe-id", Input).value = report["id"]
        await pilot.press("ctrl+s")
        assert await wait_for(pilot, lambda: not isinstance(demo_app.screen, PullEditor), 15)
        m = demo_app.state.config.pull[-1]
        assert (m.name, m.kind, m.columns) == ("weekly", "report", {"numEvents": "Events"})


async def test_pes_app_must_be_an_app_of_the_subscription(demo_app: PendoTuiApp, sim) -> None:  # type: ignore[no-untyped-def]
    from pendo_tui.sim.keys import MOBILE_APP_ID

    apps = {str(o["appId"]) for o in sim.dataset.pages + sim.dataset.features}
    assert str(MOBILE_APP_ID) in apps and "42" not in apps
    async with demo_app.run_test(size=SIZE) as pilot:
        editor = await _open_editor(demo_app, pilot, "pes")
        editor.query_one("#pe-name", Input).value = "mobile pes"
        editor.query_one("#pe-app", Input).value = "42"
        await _refused(demo_app, pilot, editor, "not an app id")
        editor.query_one("#pe-app", Input).value = str(MOBILE_APP_ID)
        await pilot.press("ctrl+s")
        assert await wait_for(pilot, lambda: not isinstance(demo_app.screen, PullEditor), 15)
        m = demo_app.state.config.pull[-1]
        assert (m.name, m.kind, m.app) == ("mobile pes", "pes", str(MOBILE_APP_ID))
