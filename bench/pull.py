"""Benchmark: N page mappings pulled over 120 days vs one bare streamed aggregation.

    python bench/pull.py                     # N = 10 and 50, SQLite and PostgreSQL, 1M rows
    python bench/pull.py --quick             # smoke run: 100k rows, N = 10 only
    python bench/pull.py --mappings 10 --stores sqlite --rows 300000 --scan-us 5

The simulator runs in a child process (bench/simproc.py) in large mode: ``--rows``
page-event rows (default 1,000,000) over the ``--days`` complete days before today
(default 120), on N pages of two apps (a third of the rows in the second app), 8,000
visitors, 997 accounts. Every aggregation is charged ``--scan-us`` µs per source row it
reads (all pages of its window, whatever it filters on, on every call), so each scan of
the same data costs again, as on Pendo.

Per N and store, the script times, each in its own child process:

- **bare**: one aggregation of every page-event row of the window (httpx + ijson,
  streamed, rows counted and dropped) — the floor any client pays;
- **engine**: ``python -m pendo_tui --config <file> --sync --json`` with N page mappings
  (one per page, default settings, ``days_to_sync`` = days) into a fresh SQLite file or
  PostgreSQL database (``--pg-url`` / PENDO_TUI_TEST_PG_URL): the same call cron makes.

It prints wall time (spawn to exit), the ratio to bare, requests (all, aggregations, and
pageEvents aggregations against the target ⌈days/30⌉ per (kind, segment)), rows fetched
and stored, source rows the simulator read, client CPU (user + system of the child, from
``wait4``) and its peak RSS. Targets (issue 13): wall ≤ 2× bare at N = 10 and ≤ 2.5× at
N = 50; pageEvents calls ≤ ⌈days/30⌉; peak RSS ≤ 150 MB; PostgreSQL ≥ 50 % of SQLite's
row rate.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

import httpx
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # measure this checkout, even if another is pip-installed

from simproc import child_simulator  # noqa: E402

from pendo_tui.config.model import Config  # noqa: E402
from pendo_tui.config.toml_io import ConfigDocument  # noqa: E402
from pendo_tui.sim.demo import DEMO_TIMEZONE  # noqa: E402
from pendo_tui.sim.keys import DEMO_READ_KEY  # noqa: E402

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:55432/postgres"
TARGET_RATIO = {10: 2.0, 50: 2.5}
TARGET_RSS_MB = 150

# The simulator: live-dated data (the engine computes its window from the wall clock).
# Its garbage collector runs rarely: it stands in for Pendo's servers, and its own
# bookkeeping should take as little of this machine's CPU from the client as it can.
_CHILD = """
import gc, sys
from pendo_tui.sim.dataset import Dataset
from pendo_tui.sim.demo import DEMO_TIMEZONE, current_hour
from pendo_tui.sim.server import Simulator
sim = Simulator(Dataset(now=current_hour(), timezone=DEMO_TIMEZONE, days=int(sys.argv[1])))
gc.freeze()
gc.set_threshold(200_000, 50, 50)
print(sim.start(), flush=True)
sys.stdin.read()  # serve until the parent closes stdin
sim.stop()
"""

# One streamed aggregation of every page-event row, parsed with ijson and dropped.
_BARE = """
import sys, httpx, ijson
url, key, days = sys.argv[1], sys.argv[2], int(sys.argv[3])
source = {"pageEvents": {"appId": 'expandAppIds("*")'},
          "timeSeries": {"period": "dayRange", "first": "now()", "count": -days}}
body = {"response": {"mimeType": "application/json"},
        "request": {"name": "bare", "pipeline": [{"source": source}]}}

class Reader:
    def __init__(self, chunks):
        self.chunks, self.buf = chunks, b""
    def read(self, n):
        if not self.buf:
            self.buf = next(self.chunks, b"")
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

n = 0
with httpx.Client(timeout=httpx.Timeout(30, read=900)) as http, http.stream(
    "POST", url + "/api/v1/aggregation", json=body, headers={"x-pendo-integration-key": key}
) as resp:
    resp.raise_for_status()
    for _ in ijson.items(Reader(resp.iter_bytes(1 << 20)), "results.item", use_float=True):
        n += 1
print(n)
"""


@dataclass
class Run:
    wall: float
    cpu: float
    rss_mb: float
    stdout: str
    code: int


@dataclass
class Case:
    n: int
    store: str
    bare: Run
    engine: Run
    bare_rows: int
    fetched: int
    stored: int
    requests: int
    aggregations: int
    sources: dict[str, int]
    scanned: int
    bare_scanned: int


def run_child(args: list[str], env: dict[str, str] | None = None) -> Run:
    """Run a child to completion; wall from spawn to exit, CPU and peak RSS from wait4."""
    with tempfile.TemporaryFile("w+") as out:
        t0 = time.perf_counter()
        proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        except BaseException:  # Ctrl-C or SIGTERM: take the child down too
            proc.kill()
            proc.wait()
            raise
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        return Run(
            wall=wall,
            cpu=usage.ru_utime + usage.ru_stime,
            rss_mb=usage.ru_maxrss / 1024,  # Linux: KiB
            stdout=out.read(),
            code=proc.returncode,
        )


def sim_settings(http: httpx.Client, rows: int, pages: int, scan_us: float) -> None:
    http.post("/_sim/reset").raise_for_status()
    settings = {"large_aggregation_rows": rows, "large_pages": pages, "scan_cost_us": scan_us}
    http.post("/_sim/settings", json=settings).raise_for_status()


def sim_state(http: httpx.Client) -> dict[str, Any]:
    return http.get("/_sim/state", params={"limit": 0}).json()


def write_config(work: Path, sim_url: str, store_url: str, page_ids: list[str], days: int) -> Path:
    companies = work / "companies.csv"
    with companies.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["external_id", "name"])
        w.writerows([f"acct-{i:03d}", f"Account {i}"] for i in range(997))
    config = Config.model_validate(
        {
            "profile": "bench",
            "pendo": {"domain": sim_url, "timezone": DEMO_TIMEZONE, "days_to_sync": days},
            "store": {"url": store_url},
            "identity": {"auto_create_end_users": True},
            "companies": {"source": "csv", "path": str(companies)},
            "pull": [
                {"name": f"Page {k:03d}", "kind": "page", "id": pid}
                for k, pid in enumerate(page_ids)
            ],
        }
    )
    path = work / f"bench-{uuid.uuid4().hex[:6]}.toml"
    ConfigDocument.new(config, path).save(path)
    return path


def _name(page: dict[str, Any]) -> str:
    return str(page["name"])


def large_page_ids(http: httpx.Client) -> list[str]:
    pages = http.get(
        "/api/v1/page", params={"expand": "*"}, headers={"x-pendo-integration-key": DEMO_READ_KEY}
    ).json()
    large = sorted((p for p in pages if p["name"].startswith("Large page")), key=_name)
    return [p["id"] for p in large]


def fresh_pg(url: str) -> tuple[str, str]:
    name = f"pendo_bench_{uuid.uuid4().hex[:8]}"
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return make_url(url).set(database=name).render_as_string(hide_password=False), name


def drop_pg(url: str, name: str) -> None:
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


def stored_rows(url: str) -> int:
    engine = create_engine(url)
    with engine.connect() as conn:
        n = conn.execute(text("select count(*) from activities")).scalar_one()
    engine.dispose()
    return int(n)


def fetched_rows(summary: str) -> int:
    """The run's ``totals.rows_fetched`` from the ``--json`` summary (0 if absent)."""
    start = summary.find("{")
    try:
        data = json.loads(summary[start:]) if start >= 0 else {}
    except ValueError:
        return 0
    return int((data.get("totals") or {}).get("rows_fetched") or 0)


def bench_case(
    http: httpx.Client, sim_url: str, n: int, store: str, args: argparse.Namespace, work: Path
) -> Case:
    sim_settings(http, args.rows, n, args.scan_us)
    bare = run_child([sys.executable, "-c", _BARE, sim_url, DEMO_READ_KEY, str(args.days)])
    if bare.code != 0:
        raise SystemExit(f"bare aggregation failed:\n{bare.stdout}")
    bare_scanned = sim_state(http)["scans"]["rows"]
    page_ids = large_page_ids(http)
    assert len(page_ids) == n, f"simulator lists {len(page_ids)} large pages, want {n}"
    pg_name = None
    if store == "sqlite":
        url = f"sqlite:///{work / f'bench-{uuid.uuid4().hex[:6]}.db'}"
    else:
        url, pg_name = fresh_pg(args.pg_url)
    try:
        cfg = write_config(work, sim_url, url, page_ids, args.days)
        sim_settings(http, args.rows, n, args.scan_us)  # counters from zero
        env = {**os.environ, "PENDO_INTEGRATION_KEY": DEMO_READ_KEY, "PYTHONPATH": str(ROOT)}
        cmd = [sys.executable, "-m", "pendo_tui", "--config", str(cfg), "--sync", "--json"]
        engine = run_child(cmd, env)
        state = sim_state(http)
        if engine.code != 0:
            print(f"engine exited {engine.code}:\n{engine.stdout[-3000:]}", flush=True)
        stored = stored_rows(url)
    finally:
        if pg_name:
            drop_pg(args.pg_url, pg_name)
    return Case(
        n=n,
        store=store,
        bare=bare,
        engine=engine,
        bare_rows=int(bare.stdout.strip().splitlines()[-1]),
        fetched=fetched_rows(engine.stdout),
        stored=stored,
        requests=sum(state["requests"].values()),
        aggregations=state["requests"].get("aggregation", 0),
        sources=state["scans"]["sources"],
        scanned=state["scans"]["rows"],
        bare_scanned=bare_scanned,
    )


def report(c: Case, days: int) -> str:
    ratio = c.engine.wall / c.bare.wall
    calls = c.sources.get("pageEvents", 0)
    cap = math.ceil(days / 30)  # one (kind, segment): page mappings, no segment
    rate = c.stored / c.engine.wall
    ok = lambda good: "ok" if good else "MISSED"  # noqa: E731
    return "\n".join(
        [
            f"N={c.n:<3d} {c.store:<10s} exit {c.engine.code}",
            f"  wall      engine {c.engine.wall:7.1f} s   bare {c.bare.wall:6.1f} s   "
            f"ratio {ratio:5.2f}x  (target <= {TARGET_RATIO.get(c.n, 2.5)}x: "
            f"{ok(ratio <= TARGET_RATIO.get(c.n, 2.5))})",
            f"  requests  {c.requests} in all, {c.aggregations} aggregations "
            f"({', '.join(f'{k} {v}' for k, v in sorted(c.sources.items()))}); "
            f"pageEvents calls {calls} (target <= {cap}: {ok(calls <= cap)})",
            f"  rows      bare {c.bare_rows:,}; engine fetched {c.fetched:,}, stored "
            f"{c.stored:,} ({rate:,.0f} rows/s); source rows read by the simulator: engine "
            f"{c.scanned:,}, bare {c.bare_scanned:,}",
            f"  client    CPU engine {c.engine.cpu:.1f} s, bare {c.bare.cpu:.1f} s; peak RSS "
            f"engine {c.engine.rss_mb:.0f} MB (target <= {TARGET_RSS_MB}: "
            f"{ok(c.engine.rss_mb <= TARGET_RSS_MB)}), bare {c.bare.rss_mb:.0f} MB",
        ]
    )


def header(args: argparse.Namespace) -> str:
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return (
        f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python "
        f"{platform.python_version()} ({platform.system()}); "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC; load average {load}\n"
        f"data: {args.rows:,} page-event rows over {args.days} days, two apps; "
        f"scan cost {args.scan_us:g} us per source row read"
    )


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt  # SIGTERM cleans up like Ctrl-C: children, temp files, databases


def main() -> int:
    signal.signal(signal.SIGTERM, _interrupt)
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--days", type=int, default=120)
    ap.add_argument("--mappings", type=int, nargs="+", default=[10, 50])
    ap.add_argument("--stores", nargs="+", choices=["sqlite", "postgresql"])
    ap.add_argument("--scan-us", type=float, default=5.0, help="simulated µs per row read")
    ap.add_argument("--pg-url", default=os.environ.get("PENDO_TUI_TEST_PG_URL", DEFAULT_PG))
    ap.add_argument("--quick", action="store_true", help="smoke run: 100k rows, N = 10")
    args = ap.parse_args()
    if args.quick:
        args.rows, args.mappings = 100_000, [10]
    stores = args.stores or ["sqlite", "postgresql"]
    print(header(args), flush=True)
    cases: list[Case] = []
    with (
        child_simulator(_CHILD, str(args.days), cwd=ROOT) as sim_url,
        httpx.Client(base_url=sim_url, timeout=60) as http,
        tempfile.TemporaryDirectory() as tmp,
    ):
        for n in args.mappings:
            for store in stores:
                case = bench_case(http, sim_url, n, store, args, Path(tmp))
                cases.append(case)
                print(report(case, args.days), flush=True)
    for n in args.mappings:
        by = {c.store: c for c in cases if c.n == n}
        if {"sqlite", "postgresql"} <= set(by):
            s, p = (by[k].stored / by[k].engine.wall for k in ("sqlite", "postgresql"))
            share = p / s if s else 0.0
            print(
                f"N={n}: PostgreSQL row rate {p:,.0f}/s = {share:.0%} of SQLite's {s:,.0f}/s "
                f"(target >= 50 %: {'ok' if share >= 0.5 else 'MISSED'})"
            )
    print(f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0 if all(c.engine.code == 0 for c in cases) else 1


if __name__ == "__main__":
    raise SystemExit(main())
