"""Stream a 1,000,000-row aggregation through PendoClient and compare with a bare ijson loop.

    python bench/stream_aggregation.py [--rows 1000000] [--mode thread|process]

The simulator runs in a child process by default, so its JSON generation does not compete
with the client for this process's GIL (real Pendo is another machine, too). The script:

1. measures this process's peak RSS (ru_maxrss) as the baseline, after all imports;
2. streams the aggregation through ``PendoClient.aggregate`` and counts rows → rows/s, and
   peak RSS above the baseline;
3. downloads the same response once to a temp file and runs a bare
   ``ijson.items(f, "results.item", use_float=True)`` loop (yajl2_c) over it → rows/s;
4. prints both, their ratio, and the raw transfer rate (httpx bytes only, no parsing), which
   bounds what any client could reach over this loopback server.

Targets (issue 4): client ≥ 50 % of the bare loop; peak RSS ≤ 150 MB above baseline.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import ijson
from simproc import child_simulator

from pendo_tui.pendo import PendoClient
from pendo_tui.pendo.streaming import BACKEND
from pendo_tui.sim.keys import DEMO_READ_KEY

PIPE = [
    {
        "source": {
            "pageEvents": {"appId": 'expandAppIds("*")'},
            "timeSeries": {"period": "dayRange", "first": "now()", "count": -120},
        }
    },
    {"identified": "visitorId"},
]
ENVELOPE = {
    "response": {"mimeType": "application/json"},
    "request": {"name": "bench", "pipeline": PIPE},
}

_CHILD = """
import sys, time
from pendo_tui.sim.server import Simulator
sim = Simulator()
sim.large_aggregation_rows = int(sys.argv[1])
print(sim.start(), flush=True)
sys.stdin.read()  # run until the parent closes our stdin
sim.stop()
"""


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


@contextmanager
def simulator(rows: int, mode: str) -> Iterator[str]:
    if mode == "thread":
        from pendo_tui.sim.server import Simulator

        with Simulator() as sim:
            sim.large_aggregation_rows = rows
            yield sim.base_url
        return
    with child_simulator(_CHILD, str(rows)) as url:
        yield url


def bench_client(url: str, prefetch: int = 16) -> tuple[int, float]:
    with PendoClient(
        url, DEMO_READ_KEY, aggregation_timeout=600, max_retries=0, prefetch_chunks=prefetch
    ) as client:
        t0 = time.perf_counter()
        n = 0
        for _row in client.aggregate(PIPE, name="bench"):
            n += 1
        return n, time.perf_counter() - t0


def download(url: str, path: str) -> tuple[int, float]:
    """Same request, raw bytes to a file; returns (bytes, seconds) = the transfer alone."""
    size = 0
    t0 = time.perf_counter()
    with (
        httpx.Client(timeout=httpx.Timeout(30, read=600)) as http,
        open(path, "wb") as f,
        http.stream(
            "POST",
            f"{url}/api/v1/aggregation",
            json=ENVELOPE,
            headers={"x-pendo-integration-key": DEMO_READ_KEY},
        ) as resp,
    ):
        resp.raise_for_status()
        for chunk in resp.iter_bytes():
            f.write(chunk)
            size += len(chunk)
    return size, time.perf_counter() - t0


def bench_bare(path: str) -> tuple[int, float]:
    with open(path, "rb") as f:
        t0 = time.perf_counter()
        n = 0
        for _row in BACKEND.items(f, "results.item", use_float=True):
            n += 1
        return n, time.perf_counter() - t0


def _fmt(runs: list[float]) -> str:
    return ", ".join(f"{t:.2f}" for t in runs)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--mode", choices=("process", "thread"), default="process")
    ap.add_argument("--repeat", type=int, default=3, help="runs of each; the best is reported")
    ap.add_argument(
        "--prefetch", type=int, default=16, help="client prefetch queue depth (0 = no thread)"
    )
    args = ap.parse_args()

    baseline = peak_rss_mb()
    client_runs: list[float] = []
    bare_runs: list[float] = []
    with simulator(args.rows, args.mode) as url, tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "agg.json")
        size, t_dl = download(url, path)
        for _ in range(args.repeat):  # interleaved, so load changes hit both alike
            n_client, t_client = bench_client(url, args.prefetch)
            client_peak = peak_rss_mb() - baseline
            n_bare, t_bare = bench_bare(path)
            if n_client != args.rows or n_bare != args.rows:
                print(f"row count mismatch: client {n_client}, bare {n_bare}, want {args.rows}")
                return 1
            client_runs.append(t_client)
            bare_runs.append(t_bare)
    t_client, t_bare = min(client_runs), min(bare_runs)
    rate_c, rate_b = args.rows / t_client, args.rows / t_bare
    backend = getattr(BACKEND, "backend_name", BACKEND)
    print(f"ijson backend        : {backend} (ijson {ijson.__version__})")
    print(f"simulator            : {args.mode}; client prefetch depth {args.prefetch}")
    print(f"rows                 : {args.rows:,}  ({size / 1e6:.1f} MB of JSON)")
    mbps, rows_dl = size / t_dl / 1e6, args.rows / t_dl
    print(f"raw transfer         : {mbps:.1f} MB/s, {rows_dl:,.0f} rows/s (no parsing)")
    print(f"client (PendoClient) : {rate_c:,.0f} rows/s  ({t_client:.2f} s)")
    print(f"bare ijson over file : {rate_b:,.0f} rows/s  ({t_bare:.2f} s)")
    print(f"ratio client / bare  : {rate_c / rate_b:.0%}  (target ≥ 50 %)")
    print(f"peak RSS above base  : {client_peak:.1f} MB after the client streams (target ≤ 150 MB)")
    print(f"baseline peak RSS    : {baseline:.1f} MB")
    print(f"runs (s), best used  : client {_fmt(client_runs)}; bare {_fmt(bare_runs)}")
    paired = sorted(b / c for b, c in zip(bare_runs, client_runs, strict=True))
    median = paired[len(paired) // 2]
    print(f"median paired ratio  : {median:.0%} (each client run vs the bare run after it)")
    print(f"load average         : {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
