"""Run the simulator in a child process for a benchmark, so its CPU and memory are not
counted in the measured process. The child prints its base URL on one line, then serves
until its stdin closes."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def child_simulator(child_code: str, *args: str, cwd: Path | None = None) -> Iterator[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", child_code, *args],
        cwd=cwd,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        url = proc.stdout.readline().strip() if proc.stdout else ""
        if not url.startswith("http://127.0.0.1:"):
            raise RuntimeError(f"simulator did not start (got {url!r})")
        yield url
    finally:
        if proc.stdin:
            proc.stdin.close()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
