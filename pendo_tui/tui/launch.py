"""Entry points cli.py calls to open the UI (kept here so the CLI never imports Textual
unless the UI is actually opened)."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def launch(ctx: Any, demo: bool = False, debug: bool = False) -> int:
    """Open the app on a prepared context (config, secrets, optional demo simulator)."""
    from pendo_tui.tui.app import PendoTuiApp

    sim = getattr(ctx, "demo", None)
    app = PendoTuiApp(
        ctx.config_path,
        ctx.config,
        ctx.secrets,
        demo=demo,
        sim_url=getattr(sim, "base_url", None),
        debug=debug,
    )
    return app.run() or 0


def launch_path(path: Path, debug: bool = False) -> int:
    """Open the app on a config file; a missing file starts a fresh config saved there."""
    from pendo_tui.tui.app import PendoTuiApp

    return PendoTuiApp(path, debug=debug).run() or 0
