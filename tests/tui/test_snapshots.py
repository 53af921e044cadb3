"""Snapshot tests of every screen and every dialog, at 80×24 and at 160×48
(pytest-textual-snapshot).

Deterministic by construction: the simulator's fixed dataset on a fixed loopback port, a
fresh store (no run history, no clocks), the connection check finished before the
picture is taken, and no time-stamped debugger rows (the live list is cleared; the
request detail shows a recorded call with its clock fields pinned). The integration key
and the track secret are in none of them (asserted on every picture).
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from rich.text import Text
from textual.containers import VerticalScroll
from textual.pilot import Pilot
from textual.widgets import Input, OptionList, Static, TextArea

from pendo_tui.config.secrets import StaticSecrets
from pendo_tui.sim.demo import demo_config
from pendo_tui.sim.keys import DEMO_TRACK_SECRET, DEMO_WRITE_KEY
from pendo_tui.sim.server import Simulator
from pendo_tui.tui.app import PendoTuiApp
from pendo_tui.tui.panes import PANES
from pendo_tui.tui.widgets.save_as import example_config_path

from .helpers import wait_for

pytestmark = pytest.mark.slow  # ~1–3 min together; CI runs them (deselect with -m "not slow")
SNAPSHOT_PORT = 47391  # fixed: the custom URL is on screen
SIZES = {"80x24": (80, 24), "160x48": (160, 48)}
# a config path that never exists: the first-run panel prints it
FIRST_RUN_PATH = Path("/nonexistent-pendo-tui-snapshot/config.toml")

Step = Callable[[Pilot], Awaitable[None]]


@pytest.fixture(scope="module")
def fixed_sim() -> Iterator[Simulator]:
    with Simulator(port=SNAPSHOT_PORT) as s:
        yield s


def _app(sim: Simulator, tmp_path: Path, config_path: Path | None = None) -> PendoTuiApp:
    config = demo_config(sim.base_url, f"sqlite:///{tmp_path / 'store.db'}")
    secrets = StaticSecrets(integration_key=DEMO_WRITE_KEY, track_secret=DEMO_TRACK_SECRET)
    path = tmp_path / "config.toml" if config_path is None else config_path
    return PendoTuiApp(
        None if config_path == Path("-") else path,
        config,
        secrets,
        demo=True,
        export_dir=tmp_path,
    )


async def _freeze(pilot: Pilot) -> None:
    """A blinking cursor would make the picture depend on timing: show it, still."""
    await pilot.pause(0.2)
    for field in pilot.app.screen.query(Input):
        field.cursor_blink = False
    for area in pilot.app.screen.query(TextArea):
        area.cursor_blink = False
    await pilot.pause(0.1)
    # the store's full path (Metrics, Re-sync confirmation) is this test's tmp folder
    # (the export folder too): pinned, so the picture is the same in every run
    # (waits for the panes' loads first, bounded, so the line is there to pin)
    await asyncio.wait_for(pilot.app.workers.wait_for_complete(), 60)
    await pilot.pause(0.1)
    store = str(pilot.app.export_dir / "store.db")  # type: ignore[attr-defined]
    for label in pilot.app.screen.query(Static):
        shown = str(label.render())
        if store in shown:
            label.update(Text(shown.replace(store, "/home/me/.local/share/pendo-tui/store.db")))
    await pilot.pause(0.1)
    svg = pilot.app.export_screenshot()
    assert DEMO_WRITE_KEY not in svg and DEMO_TRACK_SECRET not in svg


async def _ready(pilot: Pilot) -> None:
    app = pilot.app
    assert await wait_for(pilot, lambda: app.state.connection.state == "ok")  # type: ignore[attr-defined]
    assert await wait_for(pilot, lambda: app.panes_ready)  # type: ignore[attr-defined]


def _screen(key: str, then: tuple[str, ...] = ()) -> Step:
    async def run_before(pilot: Pilot) -> None:
        await _ready(pilot)
        await pilot.press(key)
        await pilot.pause(0.3)
        if then:
            await pilot.press(*then)
            await pilot.pause(0.3)
        await _freeze(pilot)

    return run_before


@pytest.mark.parametrize("size", list(SIZES), ids=list(SIZES))
@pytest.mark.parametrize("pane_id", [spec.id for spec in PANES])
def test_screen(
    snap_compare, fixed_sim: Simulator, tmp_path: Path, pane_id: str, size: str
) -> None:  # type: ignore[no-untyped-def]
    spec = next(s for s in PANES if s.id == pane_id)
    # the debugger's live rows carry wall-clock times: cleared (ctrl+l) for the picture
    then = ("ctrl+l",) if pane_id == "debugger" else ()
    app = _app(fixed_sim, tmp_path)
    assert snap_compare(app, terminal_size=SIZES[size], run_before=_screen(spec.key, then))


async def _quit_dialog(pilot: Pilot) -> None:
    await _ready(pilot)
    app = pilot.app
    app.state.dirty = True  # type: ignore[attr-defined]
    app.config_changed()  # type: ignore[attr-defined]
    await pilot.press("ctrl+q")
    await _freeze(pilot)


async def _resync_dialog(pilot: Pilot) -> None:
    await _ready(pilot)
    app = pilot.app
    await pilot.press("f8", "R")
    assert await wait_for(pilot, lambda: type(app.screen).__name__ == "ConfirmModal")
    # the body names the first day kept (today's date minus the window): pinned
    days = app.state.config.pendo.days_to_sync  # type: ignore[attr-defined]
    first = str(date.today() - timedelta(days=days))
    body = app.screen.query_one("#confirm-body", Static)
    body.update(Text(str(body.render()).replace(first, "YYYY-MM-DD")))
    await _freeze(pilot)


async def _picker(pilot: Pilot) -> None:
    await _ready(pilot)
    await pilot.press("f3", "p")
    app = pilot.app
    assert await wait_for(pilot, lambda: type(app.screen).__name__ == "PickerModal")
    options = app.screen.query_one(OptionList)
    assert await wait_for(pilot, lambda: options.option_count > 0)
    await _freeze(pilot)


async def _pull_new(pilot: Pilot) -> None:
    await _ready(pilot)
    await pilot.press("f6", "n")
    assert await wait_for(pilot, lambda: type(pilot.app.screen).__name__ == "PullEditor")
    await _freeze(pilot)


async def _pull_edit_aggregation(pilot: Pilot) -> None:
    await _ready(pilot)
    app = pilot.app
    await pilot.press("f6")
    await pilot.pause(0.2)
    table = app.query_one("#pull-table")
    table.focus()
    table.move_cursor(row=4)  # type: ignore[attr-defined]  # the demo's aggregation mapping
    await pilot.press("e")
    assert await wait_for(pilot, lambda: type(app.screen).__name__ == "PullEditor")
    await _freeze(pilot)


async def _push_new(pilot: Pilot) -> None:
    await _ready(pilot)
    await pilot.press("f7", "n")
    assert await wait_for(pilot, lambda: type(pilot.app.screen).__name__ == "PushEditor")
    await _freeze(pilot)


async def _request_detail(pilot: Pilot) -> None:
    from pendo_tui.tui.screens.debugger import _curl
    from pendo_tui.tui.widgets.request_detail import RequestDetail

    await _ready(pilot)
    app = pilot.app
    log = app.request_log  # type: ignore[attr-defined]
    assert await wait_for(pilot, lambda: bool(log.records()))
    record = dataclasses.replace(  # the real token check, its clock fields pinned
        log.records()[0],
        at=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
        duration_ms=12.0,
        response_headers={
            k: v for k, v in log.records()[0].response_headers.items() if k.lower() != "date"
        },
    )
    await app.push_screen(RequestDetail(record, _curl(record)))
    await _freeze(pilot)


async def _help(pilot: Pilot) -> None:
    await _ready(pilot)
    await pilot.press("f6", "question_mark")
    assert await wait_for(pilot, lambda: type(pilot.app.screen).__name__ == "HelpScreen")
    await _freeze(pilot)


async def _save_as(pilot: Pilot) -> None:
    await _ready(pilot)
    await pilot.press("ctrl+s")
    assert await wait_for(pilot, lambda: type(pilot.app.screen).__name__ == "SaveAsModal")
    pilot.app.screen.query_one("#save-as-path", Input).value = "/home/me/pendo-tui.toml"
    # the example's path is this checkout's: pinned, so the picture is the same in any clone
    body = pilot.app.screen.query_one("#save-as-body", Static)
    example = example_config_path()
    if example is not None:
        text = str(body.content)
        assert str(example) in text
        body.update(text.replace(str(example), "/src/pendo-tui/config.example.toml"))
    await _freeze(pilot)
    # The checkout's own path decided how the text wrapped, and so how far the dialog had
    # scrolled to show the focused field: scroll to the end again with the pinned text.
    box = pilot.app.screen.query_one(VerticalScroll)
    box.scroll_end(animate=False)
    await pilot.pause(0.1)
    box.scroll_end(animate=False)
    await pilot.pause(0.1)


async def _menu(pilot: Pilot) -> None:
    await _ready(pilot)
    await pilot.press("ctrl+b")
    await _freeze(pilot)


DIALOGS: dict[str, Step] = {
    "quit-confirm": _quit_dialog,
    "resync-confirm": _resync_dialog,
    "picker": _picker,
    "pull-editor-new": _pull_new,
    "pull-editor-aggregation": _pull_edit_aggregation,
    "push-editor-new": _push_new,
    "request-detail": _request_detail,
    "help": _help,
    "save-as": _save_as,
    "menu": _menu,
}


@pytest.mark.parametrize("size", list(SIZES), ids=list(SIZES))
@pytest.mark.parametrize("dialog", list(DIALOGS))
def test_dialog(snap_compare, fixed_sim: Simulator, tmp_path: Path, dialog: str, size: str) -> None:  # type: ignore[no-untyped-def]
    # the demo without a file (config_path None) is what offers "save a copy"
    app = _app(fixed_sim, tmp_path, Path("-") if dialog == "save-as" else None)
    assert snap_compare(app, terminal_size=SIZES[size], run_before=DIALOGS[dialog])


@pytest.mark.parametrize("size", list(SIZES), ids=list(SIZES))
def test_first_run(snap_compare, size: str) -> None:  # type: ignore[no-untyped-def]
    app = PendoTuiApp(FIRST_RUN_PATH, None, StaticSecrets(), export_dir=FIRST_RUN_PATH.parent)

    async def run_before(pilot: Pilot) -> None:
        assert await wait_for(pilot, lambda: pilot.app.panes_ready)  # type: ignore[attr-defined]
        await _freeze(pilot)

    assert snap_compare(app, terminal_size=SIZES[size], run_before=run_before)
