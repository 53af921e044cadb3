"""First paint of `pendo-tui` and `pendo-tui --demo`, as a ratio to a bare Textual app.

Each run spawns the real command in a pseudo-terminal with
``PENDO_TUI_EXIT_AFTER_FIRST_PAINT=<file>`` set: the app writes the wall-clock times of
its first paint (the frame: sidebar, status bar, footer) and of its first complete screen
(the Connection form, after the config is loaded and, for --demo, the simulator started)
to that file, then exits. Nothing else differs from a normal start. Each figure is that
time minus the moment just before the process was spawned, so it includes Python
start-up and every import.

The bare app (Header, Static, Footer; the same exit-after-first-paint hook) is timed in the
same run, interleaved with the two commands (bare, config, demo, bare, config, demo, …),
so machine load hits all three alike. Reported: the median of each and the ratios of the
medians (target ≤ 2× bare for both).

    python bench/tui_start.py [--repeat 9]
"""

from __future__ import annotations

import argparse
import os
import pty
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TIMEOUT_S = 60
TARGET_RATIO = 2.0

BARE_APP = """
import os, sys, time
from pathlib import Path
from textual.app import App
from textual.widgets import Footer, Header, Static

class Bare(App):
    BINDINGS = [("ctrl+q", "quit", "Quit")]
    def compose(self):
        yield Header()
        yield Static("Hello")
        yield Footer()
    def on_mount(self):
        self.call_after_refresh(self._painted)
    def _painted(self):
        Path(os.environ["PENDO_TUI_EXIT_AFTER_FIRST_PAINT"]).write_text(f"{time.time():.6f}\\n")
        self.exit(0)

Bare().run()
"""


def command(kind: str, tmp: Path) -> list[str]:
    if kind == "bare":
        return [sys.executable, "-c", BARE_APP]
    if kind == "demo":
        return [sys.executable, "-m", "pendo_tui", "--demo"]
    config = tmp / "config.toml"
    config.write_text('profile = "bench"\n[pendo]\ndomain = "us"\n', encoding="utf-8")
    return [sys.executable, "-m", "pendo_tui", "--config", str(config)]


def one_run(kind: str, tmp: Path) -> tuple[float, float]:
    """Wall seconds from just before the spawn to (the first paint, the first screen)."""
    marker = tmp / "first-paint"
    marker.unlink(missing_ok=True)
    cmd = command(kind, tmp)
    env = {
        **os.environ,
        "PENDO_TUI_EXIT_AFTER_FIRST_PAINT": str(marker),
        "PENDO_INTEGRATION_KEY": "",
        "COLUMNS": "140",
        "LINES": "44",
    }
    leader, follower = pty.openpty()
    try:
        started = time.time()
        proc = subprocess.Popen(cmd, stdin=follower, stdout=follower, stderr=follower, env=env)
        deadline = time.monotonic() + TIMEOUT_S
        os.set_blocking(leader, False)
        while proc.poll() is None and time.monotonic() < deadline:
            try:  # drain the terminal so the app never blocks on a full pty buffer
                os.read(leader, 65536)
            except (BlockingIOError, OSError):
                time.sleep(0.005)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
            raise RuntimeError(f"{kind}: the app did not exit after its first paint")
    finally:
        os.close(leader)
        os.close(follower)
    if not marker.exists():
        raise RuntimeError(f"{kind}: no first-paint marker (exit code {proc.returncode})")
    stamps = [float(x) for x in marker.read_text(encoding="utf-8").split()]
    return stamps[0] - started, stamps[-1] - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=9)
    args = parser.parse_args()
    kinds = ["bare", "config", "demo"]
    times: dict[str, list[float]] = {k: [] for k in kinds}
    full: dict[str, list[float]] = {k: [] for k in kinds}
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        for kind in kinds:  # warm the OS file cache; not counted
            one_run(kind, Path(tmp))
        for _ in range(args.repeat):
            for kind in kinds:
                paint, screen = one_run(kind, Path(tmp))
                times[kind].append(paint)
                full[kind].append(screen)
    load_after = os.getloadavg()[0]
    bare = statistics.median(times["bare"])
    labels = {
        "bare": "bare Textual app (Header, Static, Footer)",
        "config": "pendo-tui --config <file>",
        "demo": "pendo-tui --demo",
    }
    print(f"first paint after process start, {args.repeat} interleaved runs each")
    for kind in kinds:
        med = statistics.median(times[kind])
        ratio = "" if kind == "bare" else f"  → {med / bare:.2f}× bare (target ≤ {TARGET_RATIO}×)"
        print(
            f"  {labels[kind]:<43} best {min(times[kind]):.3f} s · median {med:.3f} s · "
            f"worst {max(times[kind]):.3f} s{ratio}"
        )
    print("first complete screen (Connection form filled in) after process start")
    for kind in kinds[1:]:
        med = statistics.median(full[kind])
        print(
            f"  {labels[kind]:<43} best {min(full[kind]):.3f} s · median {med:.3f} s · "
            f"worst {max(full[kind]):.3f} s  → {med / bare:.2f}× bare"
        )
    print(
        f"  load average {load_before:.1f} before, {load_after:.1f} after, "
        f"on {os.cpu_count()} CPUs; Python {sys.version.split()[0]}"
    )


if __name__ == "__main__":
    main()
