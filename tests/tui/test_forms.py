"""Forms never save what the user did not type; errors sit next to their field (issue 14).

Each input kind: numbers (days to sync), URLs (custom base URL), ids (identity fields),
JSON (aggregation pipeline), lists (columns, properties). A value that does not validate
is never replaced by the last valid one behind the user's back: Save and Check refuse,
naming the field, until it is fixed.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from textual.widgets import DataTable, Input, Select, TextArea

from pendo_tui.config.secrets import Secrets
from pendo_tui.sim.keys import DEMO_WRITE_KEY
from pendo_tui.sim.server import Simulator
from pendo_tui.tui.app import PendoTuiApp
from pendo_tui.tui.widgets.pull_editor import EXAMPLE_PIPELINE, PullEditor
from pendo_tui.tui.widgets.push_editor import PushEditor

from .conftest import SIZE
from .helpers import wait_for

pytestmark = pytest.mark.anyio

CONFIG = """\
profile = "default"

[pendo]
domain = "{url}"
days_to_sync = 90
"""


def _notes(app: PendoTuiApp) -> list[str]:
    return [n.message for n in app._notifications]


def _ready(app: PendoTuiApp, screen_type: type, last: str) -> bool:
    """The modal is on screen and composed (its last widget exists)."""
    return isinstance(app.screen, screen_type) and bool(app.screen.query(last))


def _error_of(field: Input | TextArea | Select) -> str:  # type: ignore[type-arg]
    row = field.parent
    assert row is not None
    return str(row.query_one(".form-error").render())


@pytest.fixture
def file_app(sim: Simulator, tmp_path: Path, keyring_secrets: Secrets) -> PendoTuiApp:
    path = tmp_path / "config.toml"
    path.write_text(CONFIG.format(url=sim.base_url), encoding="utf-8")
    keyring_secrets.store("integration_key", DEMO_WRITE_KEY)
    return PendoTuiApp(path, secrets=keyring_secrets, export_dir=tmp_path, check_on_start=False)


@pytest.mark.parametrize("typed", ["400", "999"])
async def test_typed_out_of_range_number_is_never_saved_as_a_prefix(
    file_app: PendoTuiApp, typed: str, tmp_path: Path
) -> None:
    """Typing 4-0-0 passes through the valid 40: Save must not write 40."""
    path = tmp_path / "config.toml"  # file_app's config (its state is built at start)
    before = path.read_text(encoding="utf-8")
    async with file_app.run_test(size=SIZE) as pilot:
        await pilot.press("f5")
        assert await wait_for(pilot, lambda: file_app.panes_ready)
        days = file_app.query_one("#tz-days", Input)
        days.focus()
        days.value = ""
        await pilot.press(*typed)
        await pilot.pause()
        assert days.value == typed
        assert "between 1 and 365" in _error_of(days)
        file_app.query_one("#tz-filter", Input).focus()  # the cursor elsewhere
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert path.read_text(encoding="utf-8") == before  # nothing written
        refused = [m for m in _notes(file_app) if "Save refused" in m]
        assert refused and "Days to sync (1–365)" in refused[-1], _notes(file_app)
        assert file_app.focused is days  # taken to the field
        # Check connection is refused the same way: it would use the old value
        await pilot.press("ctrl+o")
        await pilot.pause()
        assert file_app.state.connection.state == "unknown"
        assert any("Check refused" in m for m in _notes(file_app))
        days.value = "365"
        await pilot.pause()
        assert "has-error" not in days.parent.classes  # type: ignore[union-attr]
        await pilot.press("ctrl+s")
        await pilot.pause()
    assert tomllib.loads(path.read_text(encoding="utf-8"))["pendo"]["days_to_sync"] == 365


async def test_garbage_url_refuses_check_instead_of_testing_the_old_one(
    file_app: PendoTuiApp, sim: Simulator
) -> None:
    async with file_app.run_test(size=SIZE) as pilot:
        assert await wait_for(pilot, lambda: file_app.panes_ready)
        log = file_app.request_log  # built with the state, after the first paint
        region = file_app.query_one("#region", Select)
        assert region.value == "custom"  # the simulator's URL
        url = file_app.query_one("#custom-url", Input)
        url.focus()
        url.value = ""
        await pilot.press(*"htp:/garbage url")
        await pilot.pause()
        assert url.value == "htp:/garbage url"
        assert _error_of(url)
        assert file_app.state.config.pendo.domain == sim.base_url  # the last valid value
        calls = len(log)
        await pilot.press("ctrl+o")
        await pilot.pause(0.3)
        assert len(log) == calls  # no call went to the old URL
        assert file_app.state.connection.state == "unknown"
        refused = [m for m in _notes(file_app) if "Check refused" in m]
        assert refused and "Custom base URL" in refused[-1]
        url.value = sim.base_url
        await pilot.pause()
        await pilot.press("ctrl+o")
        assert await wait_for(pilot, lambda: file_app.state.connection.state == "ok", 10)
        assert len(log) > calls


async def test_identity_id_rule_blocks_save_and_names_the_field(
    file_app: PendoTuiApp, tmp_path: Path
) -> None:
    path = tmp_path / "config.toml"  # file_app's config (its state is built at start)
    before = path.read_text(encoding="utf-8")
    async with file_app.run_test(size=SIZE) as pilot:
        await pilot.press("f2")
        assert await wait_for(pilot, lambda: file_app.panes_ready)
        ext = file_app.query_one("#id-end_user_external_id", Input)
        ext.value = "-"  # match by email only, but no email field given
        await pilot.pause()
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert path.read_text(encoding="utf-8") == before
        refused = [m for m in _notes(file_app) if "Save refused" in m][-1]
        assert "End user email" in refused and "end_user_email" not in refused
        file_app.query_one("#id-end_user_email", Input).value = "agent.email"
        await pilot.pause()
        assert not file_app.state.invalid
        await pilot.press("ctrl+s")
        await pilot.pause()
    saved = tomllib.loads(path.read_text(encoding="utf-8"))["identity"]
    assert saved["end_user_external_id"] == "-" and saved["end_user_email"] == "agent.email"


async def _pull_editor(app: PendoTuiApp, pilot, kind: str) -> PullEditor:  # type: ignore[no-untyped-def]
    await pilot.press("f6")
    assert await wait_for(pilot, lambda: app.panes_ready)
    app.query_one("#pull").action_new_mapping()  # type: ignore[attr-defined]
    assert await wait_for(pilot, lambda: _ready(app, PullEditor, "#pe-save"))
    editor = app.screen
    assert isinstance(editor, PullEditor)
    editor.query_one("#pe-kind", Select).value = kind
    await pilot.pause()
    return editor


async def test_bad_json_pipeline_error_sits_at_the_field_and_clears_when_fixed(
    demo_app: PendoTuiApp,
) -> None:
    async with demo_app.run_test(size=SIZE) as pilot:
        before = len(demo_app.state.config.pull)
        editor = await _pull_editor(demo_app, pilot, "aggregation")
        editor.query_one("#pe-name", Input).value = "agg"
        editor.query_one("#pe-columns", Input).value = "minutes = Minutes"
        area = editor.query_one("#pe-pipeline", TextArea)
        area.text = '[{"source": '
        await pilot.pause()
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert isinstance(demo_app.screen, PullEditor)
        assert "JSON" in _error_of(area)
        assert len(demo_app.state.config.pull) == before
        area.text = EXAMPLE_PIPELINE
        await pilot.pause()
        assert _error_of(area) == ""  # fixed: the message went at once
        assert str(editor.query_one("#pe-errors").render()) == ""


async def test_lists_are_saved_as_typed_or_refused(demo_app: PendoTuiApp, sim: Simulator) -> None:
    """A half-typed "column =" or a name listed twice is refused, never dropped."""
    # a shared report whose numeric columns include both (Pendo is asked at save)
    report = sim.dataset.find("reports", "Account usage - last 7 days")
    async with demo_app.run_test(size=SIZE) as pilot:
        before = len(demo_app.state.config.pull)
        editor = await _pull_editor(demo_app, pilot, "report")
        editor.query_one("#pe-name", Input).value = "Report"
        editor.query_one("#pe-id", Input).value = report["id"]
        columns = editor.query_one("#pe-columns", Input)
        columns.value = "numEvents = Events, numMinutes ="
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert isinstance(demo_app.screen, PullEditor)
        assert "'numMinutes' has '=' but no metric name" in _error_of(columns)
        columns.value = "numEvents = Events, numEvents = Again"
        await pilot.pause()
        assert "listed twice" in _error_of(columns)
        columns.value = "numEvents = Events, numMinutes = Minutes"
        await pilot.pause()
        assert _error_of(columns) == ""
        await pilot.press("ctrl+s")
        assert await wait_for(pilot, lambda: not isinstance(demo_app.screen, PullEditor), 15)
        assert len(demo_app.state.config.pull) == before + 1
        assert demo_app.state.config.pull[-1].columns == {
            "numEvents": "Events",
            "numMinutes": "Minutes",
        }
        # push properties: "property = column" is kept as a table, a name twice refused
        await pilot.press("f7")
        demo_app.query_one("#push").action_edit_sync()  # type: ignore[attr-defined]
        assert await wait_for(pilot, lambda: _ready(demo_app, PushEditor, "#ps-save"))
        push = demo_app.screen
        props = push.query_one("#ps-properties", Input)
        props.value = "plan, plan"
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert isinstance(demo_app.screen, PushEditor)
        assert "'plan' is listed twice" in _error_of(props)
        props.value = "tier = plan, origin = source"
        await pilot.press("ctrl+s")
        assert await wait_for(pilot, lambda: not isinstance(demo_app.screen, PushEditor), 3)
    assert demo_app.state.config.push[0].properties == {"tier": "plan", "origin": "source"}


async def test_push_save_error_scrolls_to_the_field_in_label_words(demo_app: PendoTuiApp) -> None:
    """Ctrl+S at the top of the long push form: the error is shown at the field, in view."""
    async with demo_app.run_test(size=SIZE) as pilot:
        await pilot.press("f7")
        assert await wait_for(pilot, lambda: demo_app.panes_ready)
        demo_app.query_one("#push").action_new_sync()  # type: ignore[attr-defined]
        assert await wait_for(pilot, lambda: _ready(demo_app, PushEditor, "#ps-save"))
        ed = demo_app.screen
        ed.query_one("#ps-name", Input).value = "New events"
        ed.query_one("#ps-source", Select).value = "csv"
        ed.query_one("#ps-csv", Input).value = "events.csv"
        ed.query_one("#ps-primary_key", Input).value = "id"
        ed.query_one("#ps-visitor_id", Input).value = "visitor"
        await pilot.pause()
        scroller = ed.query_one(".editor")
        assert scroller.scroll_y == 0  # at the top of the form
        await pilot.press("ctrl+s")
        await pilot.pause(0.3)
        event = ed.query_one("#ps-event", Input)
        message = _error_of(event)
        assert '"Static event name"' in message and "Event name column" in message, message
        assert "push." not in message and "event_column" not in message
        assert demo_app.focused is event
        row = event.parent
        assert row is not None
        assert scroller.scroll_y > 0  # scrolled down to it
        visible = scroller.content_region
        assert visible.y <= row.region.y and row.region.bottom <= visible.bottom
        # fixing it clears the message before the next save
        event.value = "Imported"
        await pilot.pause()
        assert _error_of(event) == ""
        await pilot.press("ctrl+s")
        assert await wait_for(pilot, lambda: not isinstance(demo_app.screen, PushEditor), 3)
    assert demo_app.state.config.push[-1].event == "Imported"


async def test_editor_save_says_it_is_not_written_yet_and_names_the_file(
    demo_app: PendoTuiApp, tmp_path: Path
) -> None:
    async with demo_app.run_test(size=SIZE) as pilot:
        await pilot.press("f7")
        assert await wait_for(pilot, lambda: demo_app.panes_ready)
        table = demo_app.query_one("#push-table", DataTable)
        table.focus()
        table.move_cursor(row=1)
        demo_app.query_one("#push").action_edit_sync()  # type: ignore[attr-defined]
        assert await wait_for(pilot, lambda: _ready(demo_app, PushEditor, "#ps-save"))
        await pilot.press("ctrl+s")
        assert await wait_for(pilot, lambda: not isinstance(demo_app.screen, PushEditor), 3)
        note = _notes(demo_app)[-1]
        assert "Visitor roles" in note and str((tmp_path / "config.toml").resolve()) in note
        assert table.cursor_row == 1  # still on the edited row
