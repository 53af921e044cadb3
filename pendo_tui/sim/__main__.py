"""``python -m pendo_tui.sim``: run the simulator standalone until Ctrl-C."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from types import FrameType

from pendo_tui.sim.dataset import DEFAULT_NOW, Dataset
from pendo_tui.sim.demo import DEMO_TIMEZONE, current_hour
from pendo_tui.sim.server import Simulator

_STOP = threading.Event()


def _stop(signum: int, frame: FrameType | None) -> None:
    # Ctrl-C and SIGTERM (e.g. Popen.terminate) only set a flag: a signal landing while the
    # banner prints or the server starts can then never skip the clean stop below.
    _STOP.set()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m pendo_tui.sim", description="Run the built-in Pendo simulator."
    )
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0 = any free)")
    parser.add_argument("--seed", type=int, default=7, help="dataset seed")
    parser.add_argument("--scale", type=int, default=1, help="multiply the number of visitors")
    parser.add_argument(
        "--fixed-now",
        action="store_true",
        help=f"date the data at the fixed test instant {DEFAULT_NOW.isoformat()} "
        "instead of the current hour",
    )
    args = parser.parse_args(argv)
    now = DEFAULT_NOW if args.fixed_now else current_hour()
    dataset = Dataset(seed=args.seed, now=now, timezone=DEMO_TIMEZONE, scale=args.scale)
    sim = Simulator(dataset, port=args.port)
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    try:
        url = sim.start()
        print(f"Pendo simulator listening on {url}")
        print(f"  read-only integration key : {sim.keys.read}")
        print(f"  read-write integration key: {sim.keys.write}")
        print(f"  track secret (app -323232): {sim.keys.track}")
        print(f"  data: seed {args.seed}, now {now.isoformat()}, timezone {dataset.timezone}")
        print("Admin API: GET /_sim/state, POST /_sim/faults, POST /_sim/reset. Ctrl-C stops.")
        sys.stdout.flush()
        while not _STOP.wait(1.0):
            pass
    finally:
        sim.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
