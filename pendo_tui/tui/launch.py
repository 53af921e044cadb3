"""Entry points cli.py calls to open the UI (kept here so the CLI never imports Textual
unless the UI is actually opened)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pendo_tui.config.model import Config
    from pendo_tui.config.secrets import SecretProvider


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


def launch_path(path: Path, debug: bool = False) -> int:
    """Open the app on a config file; a missing file starts a fresh config saved there."""
    from pendo_tui.tui.app import PendoTuiApp

    return PendoTuiApp(path, debug=debug).run() or 0
