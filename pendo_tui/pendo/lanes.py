"""Single-connection HTTP transports lent to concurrent track callers (see ``Lanes``)."""

from __future__ import annotations

import threading
import urllib.request
from typing import Any

import httpx


class Lanes:
    """One-connection HTTP transports lent to track callers, one per concurrent caller.

    Track calls come from up to ``concurrency`` threads at once, one small POST per event.
    Through httpx.Client's shared pool each request takes the pool's one lock and scans
    every pooled connection (a poll() syscall each): at 32 threads that cost more CPU than
    the request itself. A LIFO stack of single-connection transports makes the hand-out
    O(1) and keeps each connection warm. At most ``limit`` exist; callers beyond wait.
    Disabled (the shared client is used) when a proxy is configured in the environment,
    which only httpx.Client knows how to route; an injected transport is shared by all.
    """

    def __init__(self, shared: httpx.BaseTransport | None, limit: int) -> None:
        self._shared = shared
        proxies = urllib.request.getproxies()
        self.enabled = shared is not None or not any(k in proxies for k in ("http", "https", "all"))
        self._free: list[httpx.BaseTransport] = []
        self._made: list[httpx.BaseTransport] = []
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(max(1, limit))
        self._ssl: Any = None

    def take(self) -> httpx.BaseTransport:
        if self._shared is not None:
            return self._shared
        self._slots.acquire()
        with self._lock:
            if self._free:
                return self._free.pop()
            if self._ssl is None:  # one CA bundle load, shared by every lane
                self._ssl = httpx.create_ssl_context()
            lane = httpx.HTTPTransport(
                verify=self._ssl,
                limits=httpx.Limits(max_connections=1, max_keepalive_connections=1),
            )
            self._made.append(lane)
            return lane

    def give(self, lane: httpx.BaseTransport) -> None:
        if lane is self._shared:
            return
        with self._lock:
            self._free.append(lane)
        self._slots.release()

    def close(self) -> None:
        with self._lock:
            made, self._made, self._free = self._made, [], []
        for lane in made:
            lane.close()
