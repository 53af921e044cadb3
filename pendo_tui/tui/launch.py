"""Entry points cli.py calls to open the UI (kept here so the CLI never imports Textual
unless the UI is actually opened)."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pendo_tui.config.model import Config
    from pendo_tui.config.secrets import SecretProvider
    from pendo_tui.tui.app import PendoTuiApp, StartContext


def launch(
    config: Config,
    config_path: Path | None,
    secrets: SecretProvider,
    *,
    demo: bool = False,
    sim_url: str | None = None,
    debug: bool = False,
) -> int:
    """Open the app on a prepared config and secrets (the demo: ``sim_url`` is the
    running simulator's address, shown when saving a copy)."""
    from pendo_tui.tui.app import PendoTuiApp

    app = PendoTuiApp(config_path, config, secrets, demo=demo, sim_url=sim_url, debug=debug)
    return app.run() or 0


def launch_demo(
    context: Callable[[], AbstractContextManager[StartContext]], debug: bool = False
) -> int:
    """Open the app at once and enter ``context`` (the demo's simulator, config and
    temporary store) right after the first paint; it is closed when the app exits."""
    from pendo_tui.tui.app import PendoTuiApp

    return _run(PendoTuiApp(demo=True, context=context, debug=debug))


def launch_path(path: Path | None, debug: bool = False) -> int:
    """Open the app on a config file (read right after the first paint; None: the
    platform's default path); a missing file starts a fresh config saved there. A file
    that cannot be read is raised as its PendoTuiError once the app has closed, for the
    CLI to print."""
    from pendo_tui.tui.app import PendoTuiApp

    return _run(PendoTuiApp(path if path is not None else _default_path, debug=debug))


def _default_path() -> Path:
    from pendo_tui.config.toml_io import default_config_path

    return default_config_path()


def _run(app: PendoTuiApp) -> int:
    try:
        code = app.run()
    finally:
        app.close_context()
    if app.load_error is not None:
        raise app.load_error
    return int(code or 0)
