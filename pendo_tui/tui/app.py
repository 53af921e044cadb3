"""The Textual app: a thin shell that mounts the panes and owns app-wide actions.

Constructor (what cli.py calls)::

    PendoTuiApp(config_path, config=None, secrets=None, *, demo=False, sim_url=None,
                request_log=None, export_dir=None, check_on_start=True, debug=False)

``config`` may be a ``Config`` or a ``ConfigDocument`` (comments kept on save); when it is
None the file at ``config_path`` is loaded, or a fresh config is started if it does not
exist. ``secrets`` defaults to ``Secrets(config.profile)`` (keyring). Set env
``PENDO_TUI_EXIT_AFTER_FIRST_PAINT=<file>`` to write the first-paint time (epoch seconds)
to that file and exit (bench/tui_start.py).

The app reaches the engine only through one ``EngineSession`` (``engine()``). Panes catch
``PendoTuiError`` (shown in place or as a notification); anything else is a bug:
``guard()`` logs it (a traceback file with ``debug``) and shows a bug message.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual import work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import ContentSwitcher, Footer, Label, ListItem, ListView, Static

from pendo_tui.config.model import Config
from pendo_tui.errors import PendoTuiError
from pendo_tui.sync.session import EngineSession, RequestLog
from pendo_tui.tui.screens.apps import AppsPane
from pendo_tui.tui.screens.base import Pane
from pendo_tui.tui.screens.connection import ConnectionPane
from pendo_tui.tui.screens.debugger import INCOMING_MAX, DebuggerPane
from pendo_tui.tui.screens.identity import IdentityPane
from pendo_tui.tui.screens.metrics import MetricsPane
from pendo_tui.tui.screens.pull import PullPane
from pendo_tui.tui.screens.push import PushPane
from pendo_tui.tui.screens.run import RunPane
from pendo_tui.tui.screens.segments import SegmentsPane
from pendo_tui.tui.screens.timezone import TimezonePane
from pendo_tui.tui.state import SECRET_INTEGRATION_KEY, AppState, ConnectionStatus, dotted
from pendo_tui.tui.widgets.confirm import ConfirmModal
from pendo_tui.tui.widgets.connection_badge import ConnectionBadge
from pendo_tui.tui.widgets.form_row import show_errors

if TYPE_CHECKING:
    from pendo_tui.config.secrets import SecretProvider

# (id, pane class, navigation key). Order = sidebar order.
PANES: list[tuple[str, type[Pane], str]] = [
    ("connection", ConnectionPane, "f1"),
    ("identity", IdentityPane, "f2"),
    ("apps", AppsPane, "f3"),
    ("segments", SegmentsPane, "f4"),
    ("timezone", TimezonePane, "f5"),
    ("pull", PullPane, "f6"),
    ("push", PushPane, "f7"),
    ("run", RunPane, "f8"),
    ("debugger", DebuggerPane, "f9"),
    ("metrics", MetricsPane, "f10"),
]
EXIT_AFTER_PAINT = "PENDO_TUI_EXIT_AFTER_FIRST_PAINT"
DEBUG_LOG = "pendo-tui-debug.log"
log = logging.getLogger(__name__)


def _load(config_path: Path | None, config: Any) -> tuple[Config, Any]:
    """(Config, ConfigDocument | None) from what the caller gave."""
    if isinstance(config, Config):
        return config, None
    if config is not None:  # a ConfigDocument
        return config.config, config
    if config_path is not None and config_path.exists():
        from pendo_tui.config.toml_io import ConfigDocument

        doc = ConfigDocument.load(config_path)
        return doc.config, doc
    return Config(), None


class PendoTuiApp(App[int]):
    CSS_PATH = "app.tcss"
    TITLE = "pendo-tui"
    BINDINGS = [
        Binding("ctrl+s", "save", "Save"),
        Binding("ctrl+o", "check_connection", "Check connection"),
        Binding("ctrl+q", "quit", "Quit", priority=True),
        *[
            Binding(key, f"show_pane('{pane_id}')", cls.TITLE, show=False)
            for pane_id, cls, key in PANES
        ],
    ]

    def __init__(
        self,
        config_path: Path | None = None,
        config: Any = None,
        secrets: SecretProvider | None = None,
        *,
        demo: bool = False,
        sim_url: str | None = None,
        request_log: RequestLog | None = None,
        export_dir: Path | None = None,
        check_on_start: bool = True,
        debug: bool = False,
    ) -> None:
        super().__init__()
        cfg, doc = _load(config_path, config)
        if secrets is None:
            from pendo_tui.config.secrets import Secrets

            secrets = Secrets(cfg.profile)
        self.state = AppState(cfg, secrets, config_path, doc, demo=demo, sim_url=sim_url)
        self.request_log = request_log if request_log is not None else RequestLog()
        # The one door to the engine: clients, one read-only store handle, runs.
        self.session = EngineSession(
            cfg, self.state.engine_secrets(), request_log=self.request_log, interactive=True
        )
        self.export_dir = export_dir or Path.cwd()
        self.log_tracebacks = debug
        self.debug_log: Path | None = None
        self._loop_thread = threading.get_ident()
        self._check_on_start = check_on_start
        self._unsubscribe: Any = None
        self._panes_ready = False
        self._pending_pane: str | None = None
        self._pending_focus = False
        self._exit_pending = False
        self._pending_exit: int | None = None
        # RequestLog → debugger: the engine thread only appends here (bounded, thread-safe);
        # the debugger drains it on a timer. See screens/debugger.py.
        self.incoming: deque[Any] = deque(maxlen=INCOMING_MAX)
        if demo:
            self.sub_title = "demo (built-in simulator)"

    # -- layout --------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        with Horizontal():
            with Vertical(id="sidebar"):
                yield Static("pendo-tui", id="brand")
                yield ListView(
                    *[
                        ListItem(Label(f"{cls.TITLE}  [dim]{key.upper()}[/]"), id=f"nav-{pid}")
                        for pid, cls, key in PANES
                    ],
                    id="nav",
                )
                yield Static("", id="dirty")
            with Vertical(id="main"):
                yield ConnectionBadge(id="status-badge")
                with ContentSwitcher(initial="connection", id="panes"):
                    first_id, first_cls, _key = PANES[0]
                    yield first_cls(id=first_id)
        yield Footer()

    @property
    def panes_ready(self) -> bool:
        """True once every pane is mounted (the first one is mounted before the others)."""
        return self._panes_ready

    async def _mount_other_panes(self) -> None:
        """Only the first pane is built before the first paint (start-up time, < 1 s)."""
        panes = []
        for pane_id, cls, _key in PANES[1:]:
            pane = cls(id=pane_id)
            pane.display = False
            panes.append(pane)
        await self.query_one("#panes", ContentSwitcher).mount_all(panes)
        self._panes_ready = True
        if self._exit_pending:  # quit was asked for while the panes were mounting
            super().exit(self._pending_exit)
        if self._pending_pane:
            self._switch(self._pending_pane, focus=self._pending_focus)

    def on_mount(self) -> None:
        self._loop_thread = threading.get_ident()
        self.call_after_refresh(self._mount_other_panes)
        self._unsubscribe = self.request_log.subscribe(self.incoming.append)
        self._render_status()
        self.config_changed()
        if os.environ.get(EXIT_AFTER_PAINT):
            self.call_after_refresh(self._exit_after_paint)
            return
        if self._check_on_start and self.state.secret(SECRET_INTEGRATION_KEY):
            self.action_check_connection()

    def exit(self, result: int | None = None, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        """Exiting while the panes are still mounting crashes inside Textual's Select
        (its overlay is torn down mid-mount): wait the few ms until they are in."""
        if not self._panes_ready:
            self._exit_pending, self._pending_exit = True, result
            return
        super().exit(result, *args, **kwargs)

    async def _shutdown(self) -> None:
        # Same race when a host (the test pilot, ``App.run_test``) shuts the app down
        # directly: let the pane mount finish first (milliseconds; bounded to 2 s).
        # Textual 8 has no public hook that runs before ``_shutdown`` closes the screens
        # (``on_unmount`` comes after); pyproject pins textual to 8.x for this override.
        for _ in range(40):
            if self._panes_ready:
                break
            await asyncio.sleep(0.05)
        await super()._shutdown()

    def _exit_after_paint(self) -> None:
        Path(os.environ[EXIT_AFTER_PAINT]).write_text(f"{time.time():.6f}\n", encoding="utf-8")
        self.exit(0)

    def on_unmount(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
        self.session.close()

    # -- the engine ----------------------------------------------------------------------
    def engine(self) -> EngineSession:
        """The engine session, following the settings and secrets on screen (unsaved
        ones included). Blocking calls: use it from thread workers."""
        self.session.update(self.state.config, self.state.engine_secrets())
        return self.session

    @contextlib.contextmanager
    def guard(self) -> Iterator[None]:
        """Around engine calls in workers: an error that is not a ``PendoTuiError`` is a
        bug. It is logged and shown as a bug message instead of killing the app."""
        try:
            yield
        except PendoTuiError:
            raise
        except Exception as exc:  # the one place the TUI catches what it did not expect
            if threading.get_ident() == self._loop_thread:
                self.report_bug(exc)
            else:
                self.call_from_thread(self.report_bug, exc)

    def report_bug(self, exc: BaseException) -> None:
        log.error("unexpected error", exc_info=exc)
        where = "Restart with --debug to log the traceback, and please report it."
        if self.log_tracebacks:
            self.debug_log = self.debug_log or self.export_dir / DEBUG_LOG
            import traceback

            with self.debug_log.open("a", encoding="utf-8") as fh:
                fh.write(f"--- {time.strftime('%Y-%m-%d %H:%M:%S')}\n")
                traceback.print_exception(exc, file=fh)
            where = f"Traceback written to {self.debug_log}; please report it."
        self.notify(
            f"{type(exc).__name__}: {exc}\nThis is a bug in pendo-tui. {where}",
            title="Unexpected error",
            severity="error",
            timeout=15,
            markup=False,
        )

    # -- navigation ----------------------------------------------------------------------
    def on_list_view_highlighted(self, event: ListView.Highlighted) -> None:
        # Arrow keys in the sidebar preview a pane; focus stays in the sidebar.
        if event.list_view.id == "nav" and event.item is not None and event.item.id:
            self._switch(event.item.id.removeprefix("nav-"))

    def on_list_view_selected(self, event: ListView.Selected) -> None:
        # Enter or a click on a sidebar entry opens the pane: focus moves into it.
        if event.list_view.id == "nav" and event.item is not None and event.item.id:
            self._switch(event.item.id.removeprefix("nav-"), focus=True)

    def action_show_pane(self, pane_id: str) -> None:
        nav = self.query_one("#nav", ListView)
        nav.index = [pid for pid, _c, _k in PANES].index(pane_id)
        self._switch(pane_id, focus=True)

    def _switch(self, pane_id: str, *, focus: bool = False) -> None:
        if not self._panes_ready and pane_id != PANES[0][0]:
            # shown (and focused) as soon as the panes are mounted
            # (the sidebar's Highlighted echo of an F-key must not drop its focus request)
            keep = self._pending_focus and self._pending_pane == pane_id
            self._pending_pane, self._pending_focus = pane_id, focus or keep
            return
        switcher = self.query_one("#panes", ContentSwitcher)
        pane = self.query_one(f"#{pane_id}", Pane)
        if switcher.current != pane_id:
            switcher.current = pane_id
            pane.refresh_view()
        if focus:
            # after the refresh, so widgets the pane (re)builds in refresh_view exist
            self.call_after_refresh(lambda: pane.focus_target().focus(scroll_visible=False))

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield SystemCommand("Save", "Write the TOML and the secrets (ctrl+s)", self.action_save)
        yield SystemCommand(
            "Check connection", "Verify the key (ctrl+o)", self.action_check_connection
        )
        for pane_id, cls, key in PANES:
            yield SystemCommand(
                f"Go to {cls.TITLE}",
                f"Show the {cls.TITLE} screen ({key})",
                lambda p=pane_id: self.action_show_pane(p),
            )
        run = self.query_one(RunPane)
        yield SystemCommand("Sync all", "Fetch what is new for every mapping", run.action_sync_all)
        yield SystemCommand(
            "Re-sync all", "Rebuild every metric (asks first)", run.action_resync_all
        )
        dbg = self.query_one(DebuggerPane)
        yield SystemCommand("Export HAR", "Save the debugger's calls as HAR", dbg.action_export_har)

    # -- app-wide state ------------------------------------------------------------------
    def config_changed(self) -> None:
        self.query_one("#dirty", Static).update(
            "[b yellow]● unsaved changes[/]\nctrl+s to save" if self.state.dirty else ""
        )
        for run in self.query(RunPane):  # absent until its lazy mount
            run.update_banner()

    def runs_changed(self) -> None:
        for dbg in self.query(DebuggerPane):
            dbg.refresh_view()

    def show_error(self, exc: PendoTuiError) -> None:
        """A user-facing error as a notification with its cause and hint."""
        self.notify(str(exc), title=exc.title, severity="error", timeout=10, markup=False)

    def _render_status(self) -> None:
        for screen in self.screen_stack:
            for badge in screen.query(ConnectionBadge):
                badge.status = self.state.connection

    # -- actions -------------------------------------------------------------------------
    def action_check_connection(self) -> None:
        self.state.connection = ConnectionStatus("checking", "Checking connection…")
        self._render_status()
        self._check()

    @work(thread=True, exclusive=True, group="check")
    def _check(self) -> None:
        status = ConnectionStatus("error", "The check failed unexpectedly (see the message)")
        with self.guard():
            report = self.engine().connection_report()
            state = "ok" if report.ok else "error"
            status = ConnectionStatus(state, report.message, report.write_access)
        self.call_from_thread(self._checked, status)

    def _checked(self, status: ConnectionStatus) -> None:
        self.state.connection = status
        self._render_status()

    def action_save(self) -> None:
        if self.state.config_path is None:  # the demo: explain, offer to save a copy
            from pendo_tui.tui.widgets.save_as import SaveAsModal

            self.push_screen(SaveAsModal(self._save_copy, self.state.sim_url))
            return
        self._save()

    def _save_copy(self, path: Path) -> str | None:
        """SaveAsModal's writer: the error text to show in the modal, or None when saved."""
        self.state.config_path = path
        if self._save():
            return None
        self.state.config_path = None
        return f"Could not save to {path} (see the notification); try another path"

    def _save(self) -> bool:
        from pendo_tui.config.validation_errors import ConfigValidationError

        try:
            path = self.state.save()
        except ConfigValidationError as exc:
            for pane in self.query(Pane):
                show_errors(pane, {dotted(k): v for k, v in exc.field_errors.items()})
            self.show_error(exc)
            return False
        except PendoTuiError as exc:
            self.show_error(exc)
            return False
        where = "demo secrets stay in memory" if self.state.demo else "secrets in the keyring"
        self.notify(f"Saved {path} ({where})", title="Saved", markup=False)
        self.config_changed()
        return True

    async def action_quit(self) -> None:
        if not self.state.dirty:
            self.exit(0)
            return

        def answer(discard: bool | None) -> None:
            if discard:
                self.exit(0)

        if self.state.config_path is None:
            modal = ConfirmModal(
                "Quit the demo?",
                "Your changes to the demo config are throw-away. To keep them, "
                "press ctrl+s first to save a copy.",
                "Quit",
            )
        else:
            modal = ConfirmModal(
                "Quit without saving?",
                "You have unsaved changes. Press ctrl+s to save them first.",
                "Discard and quit",
            )
        self.push_screen(modal, answer)
