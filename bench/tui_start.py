"""Time from process start to the first screen drawn, for `pendo-tui` (target < 1 s).

Runs the real command in a pseudo-terminal with PENDO_TUI_EXIT_AFTER_FIRST_PAINT set:
the app writes the wall-clock time of its first paint to a file and exits. The figure is
that time minus the moment just before the process was spawned (so it includes Python
start-up and every import).

    python bench/tui_start.py [--repeat 7] [--demo]
"""

from __future__ import annotations

import argparse
import os
import pty
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TIMEOUT_S = 30


def one_run(demo: bool, tmp: Path) -> tuple[float, float]:
    """(wall seconds to first paint, CPU seconds the whole child used)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    marker = tmp / "first-paint"
    marker.unlink(missing_ok=True)
    config = tmp / "config.toml"
    config.write_text('profile = "bench"\n[pendo]\ndomain = "us"\n', encoding="utf-8")
    cmd = [sys.executable, "-m", "pendo_tui"] + (["--demo"] if demo else ["--config", str(config)])
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
        while proc.poll() is None and time.monotonic() < deadline:
            try:  # drain the terminal so the app never blocks on a full pty buffer
                os.set_blocking(leader, False)
                os.read(leader, 65536)
            except (BlockingIOError, OSError):
                time.sleep(0.005)
        if proc.poll() is None:
            proc.kill()
            raise RuntimeError("the app did not exit after its first paint")
    finally:
        os.close(leader)
        os.close(follower)
    if not marker.exists():
        raise RuntimeError(f"no first-paint marker (exit code {proc.returncode})")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return float(marker.read_text(encoding="utf-8")) - started, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--demo", action="store_true", help="time `pendo-tui --demo` instead")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        one_run(args.demo, Path(tmp))  # warm the OS file cache; not counted
        runs = [one_run(args.demo, Path(tmp)) for _ in range(args.repeat)]
    times = [wall for wall, _cpu in runs]
    cpus = [cpu for _wall, cpu in runs]
    label = "pendo-tui --demo" if args.demo else "pendo-tui --config <file>"
    print(f"{label}: first paint after process start, {args.repeat} runs")
    print(
        f"  best {min(times):.3f} s · median {statistics.median(times):.3f} s · "
        f"worst {max(times):.3f} s  (target < 1 s)"
    )
    print(
        f"  CPU used by the whole process (start → paint → exit): median "
        f"{statistics.median(cpus):.3f} s"
    )
    print(f"  load average now: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
