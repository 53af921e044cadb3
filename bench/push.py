"""Push 100,000 track events and 100,000 visitor metadata rows into the simulator.

    python bench/push.py [--events 100000] [--rows 100000] [--concurrency 32] [--batch 1000]

The simulator runs in a child process (real Pendo is another machine, and its dataset of
100k visitors would otherwise weigh on this process's RSS). This process builds a SQLite
model, runs ``PushEngine.sync`` for an events sync and a visitor metadata sync against a
fresh SQLite store, then runs both again with no model change. It prints events/s, rows/s,
requests sent, CPU time per event / row of the pushing process, peak RSS, and the writes of
the no-change rerun (must be 0). The push syncs run with every row check on (the default).

Targets (issue 6): ≥ 1,000 events/s, ≥ 20,000 metadata rows/s, peak RSS ≤ 150 MB.
"""

from __future__ import annotations

import argparse
import platform
import resource
import sqlite3
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from pathlib import Path

# Measure this checkout, even when another one is pip-installed in editable mode.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from simproc import child_simulator

from pendo_tui.config.model import Config, PushSync
from pendo_tui.pendo.client import PendoClient
from pendo_tui.sim.keys import DEMO_TRACK_SECRET, DEMO_WRITE_KEY
from pendo_tui.store.db import open_store
from pendo_tui.sync.push.engine import PushEngine

_CHILD = """
import sys
from pendo_tui.sim.dataset import Dataset
from pendo_tui.sim.server import Simulator
visitors = int(sys.argv[1])
with Simulator(Dataset(scale=max(1, visitors // 40), days=1)) as sim:
    print(sim.base_url, flush=True)
    sys.stdin.read()  # run until the parent closes stdin
"""


def cpu_s() -> float:
    """CPU seconds of this process so far, all threads (user + system)."""
    use = resource.getrusage(resource.RUSAGE_SELF)
    return use.ru_utime + use.ru_stime


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def simulator(visitors: int) -> AbstractContextManager[str]:
    return child_simulator(_CHILD, str(visitors), cwd=Path(__file__).resolve().parents[1])


def bare_track_rate(client: PendoClient, n: int, concurrency: int) -> float:
    """Track calls/s of the bare client (no model, no state): the ceiling for the engine."""
    event = {"event": "Ceiling", "visitorId": "v-0000", "timestamp": int(time.time() * 1000)}
    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        list(pool.map(lambda _: client.track(event), range(n)))
    return n / (time.perf_counter() - t0)


def build_model(path: Path, events: int, rows: int) -> str:
    now = int(time.time())
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE ev (id TEXT, vid TEXT, acc TEXT, name TEXT, ts INTEGER, plan TEXT)")
    con.executemany(
        "INSERT INTO ev VALUES (?, ?, ?, ?, ?, ?)",
        (
            (f"e{i}", f"v-{i % 1000:04d}", "acme", "Report Exported", now - i % 86400, "pro")
            for i in range(events)
        ),
    )
    con.execute("CREATE TABLE vt (vid TEXT, role TEXT, seats INTEGER)")
    con.executemany(
        "INSERT INTO vt VALUES (?, ?, ?)",
        ((f"v-{i:04d}", "admin" if i % 7 == 0 else "member", i % 50) for i in range(rows)),
    )
    con.commit()
    con.close()
    return f"sqlite:///{path}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=100_000)
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--ceiling", type=int, default=5000, help="bare track calls to time (0: skip)")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp, simulator(args.rows) as url:
        model = build_model(Path(tmp) / "model.db", args.events, args.rows)
        store = open_store(f"sqlite:///{Path(tmp) / 'store.db'}")
        events = PushSync(
            name="bench-events",
            kind="events",
            model={"url": model, "query": "SELECT * FROM ev"},
            primary_key="id",
            event_column="name",
            timestamp="ts",
            visitor_id="vid",
            account_id="acc",
            properties=["plan"],
            concurrency=args.concurrency,
        )
        visitors = PushSync(
            name="bench-visitors",
            kind="visitor",
            model={"url": model, "query": "SELECT * FROM vt"},
            primary_key="vid",
            match="vid",
            fields={"role": "role", "seats_used": "seats"},
            batch_size=args.batch,
            concurrency=min(args.concurrency, 8),
        )
        baseline = peak_rss_mb()
        with PendoClient(url, DEMO_WRITE_KEY, track_secret=DEMO_TRACK_SECRET) as client:
            engine = PushEngine(Config(), client, store, run_id=1)
            c0 = cpu_s()
            ev = engine.sync(events)
            c1 = cpu_s()
            md = engine.sync(visitors)
            c2 = cpu_s()
            # Counted by the HTTP client (every attempt), independently of the engine.
            calls_before = client.stats.calls
            ev2 = engine.sync(events)
            md2 = engine.sync(visitors)
            rerun_calls = client.stats.calls - calls_before
            ceiling = bare_track_rate(client, args.ceiling, args.concurrency) if args.ceiling else 0
        store.close()

    ev_rate = ev.delivered / ev.duration_s
    print(f"machine: {platform.machine()} {platform.processor() or ''} "
          f"python {platform.python_version()} ({platform.system()})")  # fmt: skip
    print(f"events:   {ev.delivered:,} delivered in {ev.duration_s:.1f} s = "
          f"{ev_rate:,.0f} events/s, {ev.requests:,} requests, "
          f"concurrency {args.concurrency}")  # fmt: skip
    if ceiling:
        print(f"          bare client on the same simulator: {ceiling:,.0f} track calls/s "
              f"({args.ceiling:,} calls); engine/bare = {ev_rate / ceiling:.0%}")  # fmt: skip
    print(f"metadata: {md.sent:,} rows sent ({md.delivered:,} updated, {md.missing:,} missing) "
          f"in {md.duration_s:.1f} s = {md.sent / md.duration_s:,.0f} rows/s, "
          f"{md.requests:,} requests, batch {args.batch}")  # fmt: skip
    print(f"rerun:    events sent {ev2.sent}, metadata sent {md2.sent}, "
          f"HTTP calls {rerun_calls}, {ev2.duration_s + md2.duration_s:.1f} s")  # fmt: skip
    print(f"cpu:      {(c1 - c0) / max(ev.delivered, 1) * 1e6:,.0f} µs per event, "
          f"{(c2 - c1) / max(md.sent, 1) * 1e6:,.1f} µs per metadata row "
          "(this process, all threads; less sensitive to other load than rates)")  # fmt: skip
    print(f"peak RSS: {peak_rss_mb():.0f} MB (after imports: {baseline:.0f} MB)")
    return 0 if rerun_calls == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
