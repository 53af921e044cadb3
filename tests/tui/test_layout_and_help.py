"""Small terminals, the first run, help and the command palette (pilot tests)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from textual.containers import VerticalScroll
from textual.widgets import Button, DataTable, Input, ListView, Select, Static

from pendo_tui.config.model import Config
from pendo_tui.config.secrets import StaticSecrets
from pendo_tui.tui.app import PendoTuiApp, _pane_bindings
from pendo_tui.tui.panes import PANES
from pendo_tui.tui.screens.base import Pane
from pendo_tui.tui.widgets.help import HelpScreen

from .helpers import wait_for

pytestmark = pytest.mark.anyio
SMALL = (80, 24)
LARGE = (160, 48)


def _inside(app: PendoTuiApp, widget: object, width: int) -> bool:
    region = widget.region  # type: ignore[attr-defined]
    return region.width > 0 and region.x >= 0 and region.right <= width


async def test_small_terminal_folds_the_sidebar_and_keeps_controls_whole(
    demo_app: PendoTuiApp,
) -> None:
    async with demo_app.run_test(size=SMALL) as pilot:
        assert await wait_for(pilot, lambda: demo_app.panes_ready)
        sidebar = demo_app.query_one("#sidebar")
        assert not sidebar.display or sidebar.region.width == 0
        # every row of controls on every screen: no zero-width input, nothing off screen
        for spec in PANES:
            await pilot.press(spec.key)
            await pilot.pause(0.2)
            pane = demo_app.query_one(f"#{spec.id}", Pane)
            for form in pane.query(".inline-form"):
                for widget in form.children:
                    if widget.display:
                        assert _inside(demo_app, widget, SMALL[0]), (spec.id, widget)
        # the debugger's filters: one line of text each (no letter-by-letter wrapping)
        await pilot.press("f9")
        await pilot.pause(0.2)
        for select in demo_app.query_one("#debugger").query(Select):
            assert select.region.height <= 3 and select.region.width >= 20
        table = demo_app.query_one("#dbg-table", DataTable)
        assert table.region.width >= 70  # status column in view: the table spans the screen
        # Apps: both inputs keep a usable width, Remove is on screen
        await pilot.press("f3")
        await pilot.pause(0.2)
        for wid in ("#app-id", "#app-prefix"):
            assert demo_app.query_one(wid, Input).region.width >= 20
        assert _inside(demo_app, demo_app.query_one("#app-remove", Button), SMALL[0])
        # Run: each per-row Sync now button is whole and on screen
        await pilot.press("f8")
        await pilot.pause(0.3)
        buttons = list(demo_app.query(".mp-sync").results(Button))
        assert buttons
        for b in buttons:
            assert b.region.width >= len("Sync now") and b.region.right <= SMALL[0]


async def test_menu_key_folds_the_sidebar_out_and_back(demo_app: PendoTuiApp) -> None:
    async with demo_app.run_test(size=SMALL) as pilot:
        assert await wait_for(pilot, lambda: demo_app.panes_ready)
        await pilot.press("ctrl+b")
        await pilot.pause(0.2)
        sidebar = demo_app.query_one("#sidebar")
        assert sidebar.display and sidebar.region.width > 0
        assert isinstance(demo_app.focused, ListView)
        await pilot.press("down", "down", "enter")  # Apps
        await pilot.pause(0.3)
        assert demo_app.query_one("#panes").current == "apps"  # type: ignore[attr-defined]
        assert sidebar.region.width == 0 or not sidebar.display  # folded again


async def test_large_terminal_keeps_the_sidebar(demo_app: PendoTuiApp) -> None:
    async with demo_app.run_test(size=LARGE) as pilot:
        assert await wait_for(pilot, lambda: demo_app.panes_ready)
        assert demo_app.query_one("#sidebar").region.width > 0
        await pilot.press("ctrl+b")  # no effect (and not offered) on a wide terminal
        await pilot.pause(0.1)
        assert demo_app.query_one("#sidebar").region.width > 0
        assert not demo_app.check_action("toggle_menu", ())
        shown = {b.binding.action for b in demo_app.screen.active_bindings.values() if b.enabled}
        assert "toggle_menu" not in shown


@pytest.mark.parametrize("size", [SMALL, LARGE], ids=["80x24", "160x48"])
async def test_every_dialog_fits_the_terminal(demo_app: PendoTuiApp, size: tuple[int, int]) -> None:
    async with demo_app.run_test(size=size) as pilot:
        assert await wait_for(pilot, lambda: demo_app.panes_ready)
        for keys, name in (
            (("f6", "n"), "PullEditor"),
            (("f7", "n"), "PushEditor"),
            (("f3", "p"), "PickerModal"),
            (("f6", "question_mark"), "HelpScreen"),
        ):
            await pilot.press(*keys)
            assert await wait_for(pilot, lambda n=name: type(demo_app.screen).__name__ == n)
            await pilot.pause(0.2)
            box = demo_app.screen.query_one(".modal-box")
            assert box.region.right <= size[0] and box.region.bottom <= size[1], name
            assert box.region.x >= 0 and box.region.y >= 0
            if isinstance(box, VerticalScroll) and box.max_scroll_y:
                box.scroll_end(animate=False)  # whatever does not fit can be scrolled to
                await pilot.pause(0.1)
                assert box.scroll_y > 0
            await pilot.press("escape")
            assert await wait_for(pilot, lambda n=name: type(demo_app.screen).__name__ != n)


async def test_footer_keys_are_whole_at_80_columns(demo_app: PendoTuiApp) -> None:
    from textual.widgets import Footer

    async with demo_app.run_test(size=SMALL) as pilot:
        assert await wait_for(pilot, lambda: demo_app.panes_ready)
        for spec in PANES:
            await pilot.press(spec.key)
            await pilot.pause(0.2)
            footer = demo_app.screen.query_one(Footer)
            palette = footer.query_one(".-command-palette")
            keys = [k for k in footer.query("FooterKey") if k.display and k is not palette]
            assert keys
            for key in keys:  # every key shown whole, none cut under the palette key
                assert key.region.right <= palette.region.x, (spec.id, key)


# -- first run ---------------------------------------------------------------------------
async def test_first_run_welcomes_and_focuses_the_key_field(tmp_path: Path) -> None:
    path = tmp_path / "new" / "config.toml"
    app = PendoTuiApp(path, None, StaticSecrets(), export_dir=tmp_path)
    async with app.run_test(size=SMALL) as pilot:
        assert await wait_for(pilot, lambda: app.panes_ready)
        welcome = str(app.query_one("#welcome", Static).render())
        assert str(path) in welcome.replace("\n", "")
        assert "integration key" in welcome
        assert app.focused is app.query_one("#key", Input)
        await pilot.press(*"pasted-key")  # typed (or pasted) straight into the key field
        assert app.state.pending_secrets.get("integration_key") == "pasted-key"
        await pilot.press("tab")  # the next stop is a visible control, not the pane
        assert app.focused is not None and app.focused.id == "reveal"


async def test_no_welcome_when_the_config_exists(
    make_app: Callable[..., PendoTuiApp], demo_cfg: Config
) -> None:
    app = make_app(demo_cfg, StaticSecrets(integration_key="k"), check_on_start=False)
    async with app.run_test(size=SMALL) as pilot:
        assert await wait_for(pilot, lambda: app.panes_ready)
        assert not app.query("#welcome")


async def test_first_tab_from_the_menu_lands_on_the_key_field(
    make_app: Callable[..., PendoTuiApp], demo_cfg: Config
) -> None:
    app = make_app(demo_cfg, StaticSecrets(integration_key="k"), check_on_start=False)
    async with app.run_test(size=LARGE) as pilot:
        assert await wait_for(pilot, lambda: app.panes_ready)
        app.query_one("#nav").focus()
        await pilot.press("tab")
        assert app.focused is app.query_one("#key", Input)


async def test_empty_tables_say_which_key_adds_a_row(make_app: Callable[..., PendoTuiApp]) -> None:
    app = make_app(Config(), StaticSecrets(), check_on_start=False)
    async with app.run_test(size=LARGE) as pilot:
        assert await wait_for(pilot, lambda: app.panes_ready)
        for key, hint_id, words in (
            ("f4", "#seg-table-empty", "press p"),
            ("f6", "#pull-table-empty", "press n"),
            ("f7", "#push-table-empty", "press n"),
        ):
            await pilot.press(key)
            await pilot.pause(0.2)
            hint = app.query_one(hint_id, Static)
            assert hint.display and words in str(hint.render())
        await pilot.press("f6", "n")  # the key the hint names opens the editor
        assert await wait_for(pilot, lambda: type(app.screen).__name__ == "PullEditor")


async def test_hint_hides_once_the_table_has_rows(demo_app: PendoTuiApp) -> None:
    async with demo_app.run_test(size=LARGE) as pilot:
        assert await wait_for(pilot, lambda: demo_app.panes_ready)
        await pilot.press("f6")
        await pilot.pause(0.2)
        hints = demo_app.query("#pull-table-empty")
        assert not hints or not hints.first().display


async def test_sync_all_with_nothing_configured_says_so(
    make_app: Callable[..., PendoTuiApp],
    sim,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    from pendo_tui.sim.keys import DEMO_WRITE_KEY

    config = Config.model_validate(
        {"pendo": {"domain": sim.base_url}, "store": {"url": f"sqlite:///{tmp_path / 's.db'}"}}
    )
    app = make_app(config, StaticSecrets(integration_key=DEMO_WRITE_KEY), check_on_start=False)
    async with app.run_test(size=LARGE) as pilot:
        assert await wait_for(pilot, lambda: app.panes_ready)
        await pilot.press("f8", "s")
        await pilot.pause(0.3)
        status = str(app.query_one("#run-status", Static).render())
        assert "Nothing to sync" in status and "F6" in status
        run = app.query_one("#run")
        assert run.runs_finished == 0 and not run._running  # type: ignore[attr-defined]


# -- help and the command palette ---------------------------------------------------------
async def test_help_lists_this_screens_keys_and_the_global_ones(demo_app: PendoTuiApp) -> None:
    async with demo_app.run_test(size=SMALL) as pilot:
        assert await wait_for(pilot, lambda: demo_app.panes_ready)
        await pilot.press("f6", "question_mark")
        assert await wait_for(pilot, lambda: isinstance(demo_app.screen, HelpScreen))
        here = str(demo_app.screen.query_one("#help-here", Static).render())
        everywhere = str(demo_app.screen.query_one("#help-everywhere", Static).render())
        for words in ("New", "Edit", "Remove", "Enable or disable the mapping"):
            assert words in here
        assert "Scroll" not in here  # Textual's own scrolling keys are not ours to list
        for words in ("Save", "Check the connection", "Quit", "Command palette", "Connection"):
            assert words in everywhere
        await pilot.press("escape")
        assert await wait_for(pilot, lambda: not isinstance(demo_app.screen, HelpScreen))
        # a dialog's help lists the dialog's keys (from the palette's Help: the dialog's
        # focused field takes a typed ?)
        await pilot.press("n")
        assert await wait_for(pilot, lambda: type(demo_app.screen).__name__ == "PullEditor")
        help_cmd = next(
            c for c in demo_app.get_system_commands(demo_app.screen) if c.title == "Help"
        )
        demo_app.call_next(help_cmd.callback)
        assert await wait_for(pilot, lambda: isinstance(demo_app.screen, HelpScreen))
        here = str(demo_app.screen.query_one("#help-here", Static).render())
        assert "Save mapping" in here and "Cancel" in here


async def test_question_mark_in_a_field_is_typed_not_help(demo_app: PendoTuiApp) -> None:
    async with demo_app.run_test(size=SMALL) as pilot:
        assert await wait_for(pilot, lambda: demo_app.panes_ready)
        await pilot.press("f1")
        await pilot.pause(0.2)
        field = demo_app.query_one("#profile", Input)
        field.focus()
        await pilot.press("end", "question_mark")
        assert field.value.endswith("?")
        assert not isinstance(demo_app.screen, HelpScreen)


async def test_every_screen_key_is_in_the_command_palette(demo_app: PendoTuiApp) -> None:
    async with demo_app.run_test(size=LARGE) as pilot:
        assert await wait_for(pilot, lambda: demo_app.panes_ready)
        commands = {c.title: c for c in demo_app.get_system_commands(demo_app.screen)}
        for title in ("Help", "Menu", "Save", "Check connection", "Sync all", "Export HAR"):
            assert title in commands
        named = {"sync_all", "resync_all", "export_har"}
        for spec in PANES:
            pane = demo_app.query_one(f"#{spec.id}", Pane)
            for b in _pane_bindings(pane):
                if b.action not in named:
                    assert f"{spec.title}: {b.description}" in commands, (spec.id, b.action)
        # run one: it opens its screen and acts there
        demo_app.call_next(commands["Push syncs: New"].callback)
        assert await wait_for(pilot, lambda: type(demo_app.screen).__name__ == "PushEditor")


# -- start-up: the frame first, then the config / the demo --------------------------------
async def test_demo_starts_its_simulator_after_the_first_paint_and_stops_it() -> None:
    import socket
    from contextlib import contextmanager
    from urllib.parse import urlparse

    from pendo_tui.cli import _demo_context

    entered: list[object] = []

    @contextmanager
    def context():  # type: ignore[no-untyped-def]
        with _demo_context() as ctx:
            entered.append(ctx)
            yield ctx

    app = PendoTuiApp(demo=True, context=context)
    assert app.state is None and not entered  # nothing slow before the app runs
    try:
        async with app.run_test(size=SMALL) as pilot:
            assert await wait_for(pilot, lambda: app.panes_ready)
            sim_url = entered[0].demo.base_url  # type: ignore[attr-defined]
            assert app.state.sim_url == sim_url and app.state.config_path is None
            assert await wait_for(pilot, lambda: app.state.connection.state == "ok")
    finally:
        app.close_context()
    host = urlparse(sim_url)
    with pytest.raises(OSError), socket.create_connection((host.hostname, host.port), 2):
        pass  # the simulator is gone


async def test_a_broken_config_file_is_reported_not_drawn(tmp_path: Path) -> None:
    from pendo_tui.errors import ConfigError

    path = tmp_path / "config.toml"
    path.write_text("[pendo\ndomain = 1\n", encoding="utf-8")
    app = PendoTuiApp(path, export_dir=tmp_path)
    async with app.run_test(size=SMALL) as pilot:
        assert await wait_for(pilot, lambda: app.load_error is not None)
    assert isinstance(app.load_error, ConfigError)
    assert str(path) in str(app.load_error) or str(path) in (app.load_error.hint or "")
