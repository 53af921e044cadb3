"""Benchmark: pull 1,000,000 activity rows from the simulator into SQLite and PostgreSQL.

    python bench/pull.py [--rows N] [--pg-url URL] [--skip-pg]

The simulator runs in a child process (so its memory is not counted) in "large" mode:
every aggregation streams N generated rows shaped like per-visitor/day page usage.
Companies and visitor metadata are read first (normal mode), then ONE page mapping is
synced and timed: fetch + parse (ijson) + identity + staging + apply. It prints rows/s
(activity rows written per second) and this process's peak RSS. Targets (issue 5):
≥100k rows/s into SQLite, ≥50k rows/s into PostgreSQL, peak RSS ≤200 MB.
"""

from __future__ import annotations

import argparse
import csv
import os
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from pendo_tui.config.model import Config
from pendo_tui.pendo.client import PendoClient
from pendo_tui.sim.dataset import DEFAULT_NOW, Dataset
from pendo_tui.sim.demo import DEMO_TIMEZONE
from pendo_tui.sim.keys import DEMO_READ_KEY
from pendo_tui.store.db import open_store
from pendo_tui.sync.progress import ProgressEvent
from pendo_tui.sync.pull.engine import PullEngine

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:55432/postgres"


def start_sim() -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "pendo_tui.sim", "--fixed-now"],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if "listening on" in line:
            return proc, line.rsplit(" ", 1)[1].strip()
    proc.kill()
    raise SystemExit("simulator did not start")


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def bench_store(url: str, sim_url: str, rows: int, workdir: Path) -> dict[str, float]:
    ds = Dataset(now=DEFAULT_NOW, timezone=DEMO_TIMEZONE)  # same facts as the child's
    companies = workdir / "companies.csv"
    with companies.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["external_id", "name"])
        w.writerows([f"acct-{i:03d}", f"Account {i}"] for i in range(997))
    config = Config.model_validate(
        {
            "pendo": {
                "domain": sim_url,
                "timezone": ds.timezone,
                "days_to_sync": len(ds.day_starts()),
            },
            "identity": {"auto_create_end_users": True},
            "companies": {"source": "csv", "path": str(companies)},
            "pull": [{"name": "bench", "kind": "page", "id": ds.pages[0]["id"]}],
        }
    )
    admin = httpx.Client(base_url=sim_url, timeout=30)
    admin.post("/_sim/settings", json={"large_aggregation_rows": 0})
    store = open_store(url)
    with PendoClient(sim_url, DEMO_READ_KEY, aggregation_timeout=600) as client:
        # One call for the whole window (the simulator's large mode ignores windows).
        marks: dict[str, float] = {}

        def progress(event: ProgressEvent) -> None:
            marks.setdefault(event.phase, time.perf_counter())

        engine = PullEngine(
            config, client, store, progress=progress, today=ds.today, max_call_days=366
        )
        engine.prepare()
        admin.post("/_sim/settings", json={"large_aggregation_rows": rows})
        t0 = time.perf_counter()
        result = engine.sync(config.pull[0])
        elapsed = time.perf_counter() - t0
    admin.post("/_sim/settings", json={"large_aggregation_rows": 0})
    with store.connect() as conn:
        stored = conn.execute(text("select count(*) from activities")).scalar_one()
    store.close()
    return {
        "rows_fetched": result.rows_fetched,
        "activities": stored,
        "metrics": result.metrics_written,
        "users_created": result.users_created,
        "seconds": elapsed,
        "fetch_s": marks.get("write", t0) - t0,  # fetch + parse + identity + staging
        "apply_s": marks.get("done", t0) - marks.get("write", t0),  # one transaction
        "rows_per_s": stored / elapsed,
    }


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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--pg-url", default=os.environ.get("PENDO_TUI_TEST_PG_URL", DEFAULT_PG))
    parser.add_argument("--skip-pg", action="store_true")
    parser.add_argument("--only", choices=["sqlite", "postgresql"])
    args = parser.parse_args()
    proc, sim_url = start_sim()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp)
            targets = []
            if args.only != "postgresql":
                targets.append(("sqlite", f"sqlite:///{work / 'bench.db'}", None))
            if not args.skip_pg and args.only != "sqlite":
                pg, name = fresh_pg(args.pg_url)
                targets.append(("postgresql", pg, name))
            for label, url, pg_name in targets:
                try:
                    r = bench_store(url, sim_url, args.rows, work)
                finally:
                    if pg_name:
                        drop_pg(args.pg_url, pg_name)
                print(
                    f"{label:10s} rows={r['activities']:,} fetched={r['rows_fetched']:,} "
                    f"metrics={r['metrics']:,} users={r['users_created']:,} "
                    f"time={r['seconds']:.1f}s "
                    f"(fetch {r['fetch_s']:.1f}s, apply {r['apply_s']:.1f}s) "
                    f"rate={r['rows_per_s']:,.0f} rows/s "
                    f"peak_rss={peak_rss_mb():.0f} MB",
                    flush=True,
                )
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
