"""Bounded waiting for worker results in pilot tests."""

from __future__ import annotations

import time
from collections.abc import Callable

from textual.pilot import Pilot


async def wait_for(pilot: Pilot, cond: Callable[[], bool], timeout: float = 10.0) -> bool:
    """Let the app run until ``cond()`` holds or ``timeout`` seconds pass (bounded)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        await pilot.pause(0.05)
    return cond()
