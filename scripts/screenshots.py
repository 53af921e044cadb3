"""Generate screenshots/ from the demo: simulator + demo config + a temp SQLite store.

Drives the real app with Textual's pilot, runs one sync so the run, debugger and metrics
screens have data, and saves one SVG per main screen (PNG too when a converter exists).

    python scripts/screenshots.py [--out screenshots]
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from pendo_tui.config.secrets import StaticSecrets
from pendo_tui.sim.demo import demo_config, demo_simulator
from pendo_tui.sim.keys import DEMO_TRACK_SECRET, DEMO_WRITE_KEY
from pendo_tui.tui.app import PendoTuiApp
from pendo_tui.tui.panes import PANES

SIZE = (140, 44)
RUN_TIMEOUT_S = 120


async def _until(pilot: object, cond: object, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():  # type: ignore[operator]
            return True
        await pilot.pause(0.1)  # type: ignore[attr-defined]
    return False


async def shoot(out: Path) -> list[Path]:
    saved: list[Path] = []
    with demo_simulator() as sim, tempfile.TemporaryDirectory() as tmp:
        config = demo_config(sim.base_url, f"sqlite:///{Path(tmp) / 'demo.db'}")
        secrets = StaticSecrets(integration_key=DEMO_WRITE_KEY, track_secret=DEMO_TRACK_SECRET)
        app = PendoTuiApp(
            Path(tmp) / "config.toml",
            config,
            secrets,
            demo=True,
            sim_url=sim.base_url,
            export_dir=Path(tmp),
        )
        async with app.run_test(size=SIZE) as pilot:
            await _until(pilot, lambda: app.state.connection.state == "ok" and app.panes_ready, 10)
            run = app.query_one("#run")
            await pilot.press("f8", "s")  # as a user would: F8 focuses the Run pane, s syncs
            await _until(pilot, lambda: run.runs_finished == 1, RUN_TIMEOUT_S)  # type: ignore[attr-defined]
            await _until(pilot, lambda: not run._running, RUN_TIMEOUT_S)  # type: ignore[attr-defined]
            for index, (pane_id, _title, key) in enumerate(PANES, start=1):
                await pilot.press(key)
                await pilot.pause(0.5)
                if pane_id == "metrics":
                    await _select_first_metric(app, pilot)
                name = f"{index:02d}-{pane_id}.svg"
                app.save_screenshot(filename=name, path=str(out))
                saved.append(out / name)
    return saved


async def _select_first_metric(app: PendoTuiApp, pilot: object) -> None:
    from textual.widgets import Select

    metric = app.query_one("#m-metric", Select)
    await _until(pilot, lambda: len(metric._options) > 1, 10)
    values = [v for _label, v in metric._options if isinstance(v, str)]
    if values:  # a daily page-event metric shows a real series; else the first one
        metric.value = next((v for v in values if v.startswith("Dashboard views")), values[0])
        obj = app.query_one("#m-object", Select)
        await _until(pilot, lambda: isinstance(obj.value, str), 10)
        await pilot.pause(0.5)  # type: ignore[attr-defined]


def to_png(svgs: list[Path]) -> int:
    """PNG copies when a converter exists (cairosvg or rsvg-convert); SVG renders on GitHub."""
    try:
        import cairosvg  # type: ignore[import-not-found]
    except ImportError:
        cairosvg = None
    tool = shutil.which("rsvg-convert")
    if cairosvg is None and not tool:
        return 0
    for svg in svgs:
        png = svg.with_suffix(".png")
        if cairosvg is not None:
            cairosvg.svg2png(url=str(svg), write_to=str(png))
        else:
            subprocess.run([str(tool), str(svg), "-o", str(png)], check=True)
    return len(svgs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("screenshots"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    svgs = asyncio.run(shoot(args.out))
    pngs = to_png(svgs)
    print(
        f"saved {len(svgs)} SVG screenshots to {args.out}" + (f" and {pngs} PNGs" if pngs else "")
    )


if __name__ == "__main__":
    main()
