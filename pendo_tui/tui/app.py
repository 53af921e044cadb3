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
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, ExitStack
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from rich.markup import escape
from textual import work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen, Screen
from textual.widgets import ContentSwitcher, Footer, Label, ListItem, ListView, Static

from pendo_tui.errors import PendoTuiError
from pendo_tui.tui.panes import INCOMING_MAX, PANE_IDS, PANES
from pendo_tui.tui.screens.base import Pane
from pendo_tui.tui.state import (
    SECRET_INTEGRATION_KEY,
    SECRET_TRACK,
    AppState,
    ConnectionStatus,
    dotted,
)
from pendo_tui.tui.widgets.confirm import ConfirmModal
from pendo_tui.tui.widgets.connection_badge import ConnectionBadge
from pendo_tui.tui.widgets.form_row import show_errors
from pendo_tui.tui.widgets.help import HelpScreen, KeyList

if TYPE_CHECKING:  # the config model and the engine load after the first paint (start-up)
    from pendo_tui.config.model import Config
    from pendo_tui.config.secrets import SecretOrigin, SecretProvider
    from pendo_tui.sync.session import EngineSession, RequestLog

EXIT_AFTER_PAINT = "PENDO_TUI_EXIT_AFTER_FIRST_PAINT"
DEBUG_LOG = "pendo-tui-debug.log"
log = logging.getLogger(__name__)


def _class_bindings(cls: type) -> list[Binding]:
    """The bindings our class declares (its own and its pendo_tui bases'; not Textual's
    scrolling keys), first declaration wins."""
    seen: dict[str, Binding] = {}
    for klass in cls.__mro__:
        if not klass.__module__.startswith("pendo_tui."):
            continue
        for b in klass.__dict__.get("BINDINGS", []):
            if isinstance(b, Binding) and b.key not in seen:
                seen[b.key] = b
    return list(seen.values())


def _pane_bindings(pane: Pane) -> list[Binding]:
    return [b for b in _class_bindings(type(pane)) if b.description]


def _load(config_path: Path | None, config: Any) -> tuple[Config, Any]:
    """(Config, ConfigDocument | None) from what the caller gave."""
    from pendo_tui.config.model import Config

    if isinstance(config, Config):
        return config, None
    if config is not None:  # a ConfigDocument
        return config.config, config
    if config_path is not None and config_path.exists():
        from pendo_tui.config.toml_io import ConfigDocument

        doc = ConfigDocument.load(config_path)
        return doc.config, doc
    return Config(), None


def default_export_dir() -> Path:
    """The user's download folder when there is one, else pendo-tui's data folder."""
    import platformdirs

    downloads = platformdirs.user_downloads_path()
    if downloads.is_dir():
        return downloads
    return platformdirs.user_data_path("pendo-tui") / "exports"


SECRET_WORDS = {SECRET_INTEGRATION_KEY: "integration key", SECRET_TRACK: "track secret"}


def save_message(path: Path, state: AppState) -> str:
    """What a save did: the full config path, and where secrets went only if any did."""
    from pendo_tui.config.secrets import StaticSecrets

    text = f"Saved {path.expanduser().resolve()}"
    done = state.secrets_saved
    if not done:
        return text + " (no secret changed)"
    in_memory = isinstance(state.secrets, StaticSecrets)
    parts = []
    for verb in ("stored", "removed"):
        names = [SECRET_WORDS[n] for n, v in done.items() if v == verb]
        if names:
            place = f"{verb} in the OS keyring"
            if in_memory:
                place = "kept in memory for this session only" if verb == "stored" else "cleared"
            parts.append(f"{' and '.join(names)} {place}")
    return f"{text}; " + "; ".join(parts)


class _Simulator(Protocol):
    @property
    def base_url(self) -> str: ...


class StartContext(Protocol):
    """What a start context yields (the CLI's demo context: its simulator, config and
    temporary store)."""

    @property
    def config(self) -> Config: ...
    @property
    def config_path(self) -> Path | None: ...
    @property
    def secrets(self) -> SecretProvider: ...
    @property
    def demo(self) -> _Simulator | None: ...


class _KeyringSecrets:
    """``config.secrets.Secrets`` (a ``SecretProvider``), imported on first use: the
    keyring import and its backend discovery wait until after the first paint."""

    def __init__(self, profile: str) -> None:
        self._profile = profile
        self._real: SecretProvider | None = None

    def __repr__(self) -> str:
        return f"_KeyringSecrets(profile={self._profile!r})"

    def secrets(self) -> SecretProvider:
        """The real ``Secrets`` (imports the keyring the first time)."""
        if self._real is None:
            from pendo_tui.config.secrets import Secrets

            self._real = Secrets(self._profile)
        return self._real

    @property
    def profile(self) -> str:
        return self._profile

    def integration_key(self) -> str:
        return self.secrets().integration_key()

    def track_secret(self) -> str:
        return self.secrets().track_secret()

    def require(self, name: str) -> str:
        return self.secrets().require(name)

    def get(self, name: str) -> str | None:
        return self.secrets().get(name)

    def store(self, name: str, value: str) -> None:
        self.secrets().store(name, value)

    def delete(self, name: str) -> None:
        self.secrets().delete(name)

    def source(self, name: str) -> SecretOrigin | None:
        return self.secrets().source(name)

    def for_profile(self, profile: str) -> SecretProvider:
        return self.secrets().for_profile(profile)


def _real_secrets(secrets: SecretProvider) -> SecretProvider:
    return secrets.secrets() if isinstance(secrets, _KeyringSecrets) else secrets


HELP_INTRO = (
    "A screen's keys work once the focus is inside it: press its F-key, or pick it in the "
    "menu with Enter. Tab moves between fields. ctrl+p opens the command palette, which "
    "lists every action by name. Esc closes this help."
)
NARROW_BELOW = 110  # columns: under this the sidebar folds away (ctrl+b shows it)


def welcome_text(config_path: Path | None) -> str:
    """The first-run panel: where the config goes, and what to do first."""
    where = str(config_path) if config_path is not None else "the path you choose"
    return (
        "[b]Welcome to pendo-tui.[/] There is no configuration yet; ctrl+s writes it to\n"
        f"  {escape(where)}\n"
        "(the keys go to the OS keyring, never into that file). First: paste your Pendo "
        "integration key below, pick your region and press ctrl+o to check it. Then add "
        "what to pull on Pull mappings (F6), save, and run a sync on Run (F8). "
        "Press ? for help at any time."
    )


class PendoTuiApp(App[int]):
    CSS_PATH = "app.tcss"
    TITLE = "pendo-tui"
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (NARROW_BELOW, "-wide")]
    BINDINGS = [
        Binding("ctrl+s", "save", "Save"),
        Binding("ctrl+o", "check_connection", "Check", tooltip="Check the connection"),
        Binding("question_mark", "help", "Help", key_display="?"),
        Binding("ctrl+b", "toggle_menu", "Menu", tooltip="Show or hide the screen list"),
        Binding("ctrl+q", "quit", "Quit", priority=True, show=False),  # in help and palette
        *[
            Binding(key, f"show_pane('{pane_id}')", title, show=False)
            for pane_id, title, key in PANES
        ],
    ]

    def __init__(
        self,
        config_path: Path | Callable[[], Path] | None = None,
        config: Any = None,
        secrets: SecretProvider | None = None,
        *,
        demo: bool = False,
        sim_url: str | None = None,
        request_log: RequestLog | None = None,
        export_dir: Path | None = None,
        check_on_start: bool = True,
        debug: bool = False,
        context: Callable[[], AbstractContextManager[StartContext]] | None = None,
    ) -> None:
        super().__init__()
        self.first_run = False  # set by _build_state
        self._init_args = (config_path, config, secrets, demo, sim_url)
        self._start_context = context  # e.g. the demo's simulator: entered after the first paint
        self._start_stack = ExitStack()
        self.load_error: PendoTuiError | None = None  # launch.py re-raises it after run()
        # State, request log and engine session: built by _build_state, right after the
        # first paint (the config model, the engine session and the HTTP client it imports
        # are not needed to draw the frame), or at once when the config is given ready-made.
        self.state: AppState = None  # type: ignore[assignment]
        self.session: EngineSession = None  # type: ignore[assignment]
        self.request_log: RequestLog = request_log  # type: ignore[assignment]
        self.log_tracebacks = debug
        if config is not None:  # given ready-made (tests, scripts): nothing slow to do
            self._build_state()
        # HAR exports, saved copies, the --debug log: never the working directory (cron's
        # or wherever the app was started), but the user's Downloads (else data) folder
        self.export_dir = export_dir or default_export_dir()
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

    def _build_state(self) -> None:
        """Load the config (pydantic, the TOML file) or enter the demo context, then build
        the request log and the engine session. Runs after the first paint unless the
        config was given ready-made."""
        config_path, config, secrets, demo, sim_url = self._init_args
        if callable(config_path):  # the platform's default path, found now (start-up)
            config_path = config_path()
        # first run: nothing given and no file yet (the welcome panel says where it goes)
        self.first_run = (
            not demo
            and self._start_context is None
            and config is None
            and config_path is not None
            and not config_path.exists()
        )
        if self._start_context is not None:
            ctx = self._start_stack.enter_context(self._start_context())
            config_path, config, secrets = ctx.config_path, ctx.config, ctx.secrets
            sim_url = ctx.demo.base_url if ctx.demo is not None else None
        cfg, doc = _load(config_path, config)
        if secrets is None:
            secrets = _KeyringSecrets(cfg.profile)
        self.state = AppState(cfg, secrets, config_path, doc, demo=demo, sim_url=sim_url)
        # The engine's door (imports the HTTP client: after the first paint, start-up time)
        from pendo_tui.sync.session import EngineSession, RequestLog

        if self.request_log is None:
            self.request_log = RequestLog()
        # The one door to the engine: clients, one read-only store handle, runs. It is
        # given the saved secrets as they are (nothing is typed yet; the keyring is asked
        # on first use); engine() points it at the settings and secrets on screen.
        self.session = EngineSession(
            cfg, self.state.secrets, request_log=self.request_log, interactive=True
        )

    def close_context(self) -> None:
        """Stop what the context started (the demo's simulator and temporary store)."""
        self._start_stack.close()

    # -- layout --------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        with Horizontal():
            with Vertical(id="sidebar"):
                yield Static("pendo-tui", id="brand")
                yield ListView(
                    *[
                        ListItem(Label(f"{title}  [dim]{key.upper()}[/]"), id=f"nav-{pid}")
                        for pid, title, key in PANES
                    ],
                    id="nav",
                )
                yield Static("", id="dirty")
            with Vertical(id="main"):
                with Horizontal(id="topbar"):
                    yield ConnectionBadge(id="status-badge")
                    yield Static("", id="dirty-inline")
                if self.state is not None:  # config given ready-made: its screen at once
                    yield ContentSwitcher(PANES[0].load()(id=PANES[0].id), id="panes")
                else:  # the config loads right after the first paint (start-up time)
                    yield ContentSwitcher(Static("Loading…", id="loading"), id="panes")
        yield Footer(compact=True)

    @property
    def panes_ready(self) -> bool:
        """True once every pane is mounted (the first one is mounted before the others)."""
        return self._panes_ready

    async def _mount_other_panes(self) -> None:
        """Only the first pane is built before the first paint (start-up time, < 1 s)."""
        panes = []
        for spec in PANES[1:]:  # imports each pane's module now, after the first paint
            pane = spec.load()(id=spec.id)
            pane.display = False
            panes.append(pane)
        await self.query_one("#panes", ContentSwitcher).mount_all(panes)
        self._panes_ready = True
        self.config_changed()
        if self._exit_pending:  # quit was asked for while the panes were mounting
            super().exit(self._pending_exit)
        if self._pending_pane:
            self._switch(self._pending_pane, focus=self._pending_focus)

    def on_mount(self) -> None:
        self._loop_thread = threading.get_ident()
        self.call_after_refresh(self._after_first_paint)

    async def _after_first_paint(self) -> None:
        """Everything but the frame waits until the frame is drawn (start-up time): the
        config and its model, the demo's simulator, the first screen, then the others."""
        first_paint = time.time()
        if self.state is None:
            try:
                self._build_state()
            except PendoTuiError as exc:  # e.g. a broken TOML file: the CLI prints it
                self.load_error = exc
                self._panes_ready = True
                self.exit(exc.exit_code)
                return
        switcher = self.query_one("#panes", ContentSwitcher)
        if self.query("#loading"):
            await switcher.mount(PANES[0].load()(id=PANES[0].id))
            await self.query_one("#loading").remove()
        switcher.current = PANES[0].id
        self._render_status()
        self.config_changed()
        self.refresh_bindings()  # Save, Check, Help: enabled now that the config is in
        if self.first_run:
            self.query_one("#key").focus()  # the first thing to do: paste the key
        self.call_after_refresh(self._after_first_screen, first_paint)

    async def _after_first_screen(self, first_paint: float) -> None:
        """Once the first screen is drawn: the keyring, the request log, the connection
        check, then the other screens (each imports what it needs as it is built)."""
        if os.environ.get(EXIT_AFTER_PAINT):
            self._exit_after_paint(first_paint)
        self.state.secrets = _real_secrets(self.state.secrets)
        self.query_one("#connection", Pane).load_secrets()  # type: ignore[attr-defined]
        if not self.first_run and not self.state.secret(SECRET_INTEGRATION_KEY):
            self.query_one("#key").focus()  # nothing works without the key: ask for it
        self._unsubscribe = self.request_log.subscribe(self.incoming.append)
        if (
            not os.environ.get(EXIT_AFTER_PAINT)
            and self._check_on_start
            and self.state.secret(SECRET_INTEGRATION_KEY)
        ):
            self.action_check_connection()
        await self._mount_other_panes()

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

    def _exit_after_paint(self, first_paint: float) -> None:
        """bench/tui_start.py: the frame's paint time, then the first screen's."""
        Path(os.environ[EXIT_AFTER_PAINT]).write_text(
            f"{first_paint:.6f}\n{time.time():.6f}\n", encoding="utf-8"
        )
        self.exit(0)

    def on_unmount(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
        if self.session is not None:  # None when the config could not be read
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

            self.debug_log.parent.mkdir(parents=True, exist_ok=True)  # the exports folder
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
            if self.screen.has_class("-narrow"):
                self.screen.remove_class("-menu")  # the folded-out menu closes on a pick
            self._switch(event.item.id.removeprefix("nav-"), focus=True)

    def action_toggle_menu(self) -> None:
        """Small terminals: fold the sidebar out (focused, Enter picks) or back in."""
        screen = self.screen
        screen.toggle_class("-menu")
        if screen.has_class("-menu"):
            self.query_one("#nav", ListView).focus()
        else:
            self._switch(self.query_one("#panes", ContentSwitcher).current or "", focus=True)

    def action_show_pane(self, pane_id: str) -> None:
        nav = self.query_one("#nav", ListView)
        nav.index = PANE_IDS.index(pane_id)
        self._switch(pane_id, focus=True)

    def _switch(self, pane_id: str, *, focus: bool = False) -> None:
        if not self._panes_ready:
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
        yield SystemCommand("Help", "This screen's keys and the global ones (?)", self.action_help)
        yield SystemCommand(
            "Menu", "Show or hide the list of screens (ctrl+b)", self.action_toggle_menu
        )
        for pane_id, title, key in PANES:
            yield SystemCommand(
                f"Go to {title}",
                f"Show the {title} screen ({key})",
                lambda p=pane_id: self.action_show_pane(p),
            )
        if not self._panes_ready:
            return
        run: Any = self.query_one("#run", Pane)
        yield SystemCommand("Sync all", "Fetch what is new for every mapping", run.action_sync_all)
        yield SystemCommand(
            "Re-sync all", "Rebuild every metric (asks first)", run.action_resync_all
        )
        dbg: Any = self.query_one("#debugger", Pane)
        yield SystemCommand("Export HAR", "Save the debugger's calls as HAR", dbg.action_export_har)
        named = {"sync_all", "resync_all", "export_har"}  # offered above by their own names
        for spec in PANES:  # every key of every screen, by name
            pane = self.query_one(f"#{spec.id}", Pane)
            for binding in _pane_bindings(pane):
                if binding.action in named:
                    continue
                yield SystemCommand(
                    f"{spec.title}: {binding.description}",
                    f"{self.get_key_display(binding)} on the {spec.title} screen",
                    partial(self._pane_action, spec.id, binding.action),
                )

    async def _pane_action(self, pane_id: str, action: str) -> None:
        """A screen's key, run from the command palette: open the screen, then act."""
        self.action_show_pane(pane_id)
        await self.query_one(f"#{pane_id}", Pane).run_action(action)

    # -- help ----------------------------------------------------------------------------
    def action_help(self) -> None:
        screen = self.screen
        if isinstance(screen, HelpScreen):
            return
        if isinstance(screen, ModalScreen):  # an editor or dialog: its own keys
            titles = screen.query(".modal-title")
            title = str(titles.first(Static).render()) if titles else "this dialog"
            here = self._keys(b for b in _class_bindings(type(screen)))
        else:
            pane_id = self.query_one("#panes", ContentSwitcher).current or PANES[0].id
            pane = self.query_one(f"#{pane_id}", Pane)
            title = pane.TITLE
            here = self._keys(_pane_bindings(pane))
        everywhere = self._keys(b for b in self.BINDINGS if isinstance(b, Binding))
        everywhere.insert(0, ("ctrl+p", "Command palette: every action by name"))
        self.push_screen(HelpScreen(title, here, everywhere, HELP_INTRO))

    def _keys(self, bindings: Iterable[Binding]) -> KeyList:
        """(key, what it does): the long wording (tooltip) where the footer has a short one."""
        return [
            (self.get_key_display(b), b.tooltip or b.description) for b in bindings if b.description
        ]

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if self.state is None and action in ("save", "check_connection", "help", "show_pane"):
            return False  # the config is still loading (a few ms after the first paint)
        if action == "toggle_menu":  # only small terminals fold the sidebar away
            return self.screen.has_class("-narrow") and not isinstance(self.screen, ModalScreen)
        return True

    def on_resize(self) -> None:
        self.call_after_refresh(self.refresh_bindings)  # the Menu key comes and goes

    # -- app-wide state ------------------------------------------------------------------
    def config_changed(self) -> None:
        if self.state is None:
            return
        self.query_one("#dirty", Static).update(
            "[b yellow]● unsaved changes[/]\nctrl+s to save" if self.state.dirty else ""
        )
        inline = self.query_one("#dirty-inline", Static)
        inline.update("[b yellow]● unsaved[/] (ctrl+s)" if self.state.dirty else "")
        inline.set_class(self.state.dirty, "-dirty")
        if self._panes_ready:  # the run pane is built after the first paint
            self.query_one("#run", Pane).update_banner()  # type: ignore[attr-defined]

    def runs_changed(self) -> None:
        if self._panes_ready:
            self.query_one("#debugger", Pane).refresh_view()

    def show_error(self, exc: PendoTuiError) -> None:
        """A user-facing error as a notification with its cause and hint."""
        self.notify(str(exc), title=exc.title, severity="error", timeout=10, markup=False)

    def _render_status(self) -> None:
        if self.state is None:
            return
        for screen in self.screen_stack:
            for badge in screen.query(ConnectionBadge):
                badge.status = self.state.connection

    # -- actions -------------------------------------------------------------------------
    def refuse_if_invalid(self, action: str) -> bool:
        """True (and the user is told which field, and taken there) while a field on
        screen holds a value the config could not take: acting now would use the last
        valid value instead of what the user typed."""
        reason = self.state.refusal(action)
        if reason is None:
            return False
        self.notify(reason, title=f"{action} refused", severity="error", timeout=12, markup=False)
        path, issue = next(iter(self.state.invalid.items()))
        if issue.pane:
            self.action_show_pane(issue.pane)
            self.call_after_refresh(self._reveal_field, issue.pane, path)
        return True

    def _reveal_field(self, pane_id: str, path: str) -> None:
        from pendo_tui.tui.widgets.form_row import FormRow, reveal

        for row in self.query_one(f"#{pane_id}", Pane).query(FormRow):
            if row.path == path:
                reveal(row)
                return

    def action_check_connection(self) -> None:
        if self.refuse_if_invalid("Check"):
            return
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
        if self.refuse_if_invalid("Save"):
            return
        if self.state.config_path is None:  # the demo: explain, offer to save a copy
            from pendo_tui.tui.widgets.save_as import SaveAsModal

            self.push_screen(SaveAsModal(self._save_copy, self.state.sim_url, self.export_dir))
            return
        self._save()

    def _save_copy(self, path: Path) -> str | None:
        """SaveAsModal's writer: the error text to show in the modal, or None when saved."""
        self.state.config_path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            self.state.config_path = None
            return f"Cannot create {path.parent}: {exc.strerror}; try another path"
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
        self.notify(save_message(path, self.state), title="Saved", markup=False)
        self.config_changed()
        return True

    async def action_quit(self) -> None:
        if self.state is None or not self.state.dirty:
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
