"""Run the simulator: uvicorn in a background thread on 127.0.0.1.

    with Simulator() as sim:
        client = PendoClient(sim.base_url, sim.keys.read)
        sim.faults.add("aggregation", status=429, retry_after=1)

We bind the socket ourselves so ``port=0`` yields a real free port we know before the
server starts, and never bind anything but loopback.
"""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass
from types import TracebackType

import uvicorn

from pendo_tui.sim import keys, streaming
from pendo_tui.sim.app import build_app
from pendo_tui.sim.context import SimContext
from pendo_tui.sim.dataset import Dataset
from pendo_tui.sim.faults import Faults
from pendo_tui.sim.shapes import Shapes
from pendo_tui.sim.state import SimState

HOST = "127.0.0.1"
_START_TIMEOUT = 10.0


@dataclass(frozen=True)
class SimKeys:
    read: str = keys.DEMO_READ_KEY
    write: str = keys.DEMO_WRITE_KEY
    track: str = keys.DEMO_TRACK_SECRET
    track_mobile: str = keys.DEMO_TRACK_SECRET_MOBILE


class Simulator:
    """A Pendo look-alike over real HTTP. Use as a context manager or start()/stop()."""

    def __init__(
        self,
        dataset: Dataset | None = None,
        *,
        port: int = 0,
        timezone: str = "America/New_York",
        seed: int = 7,
    ) -> None:
        self.dataset = dataset or Dataset(seed=seed, timezone=timezone)
        self.ctx = SimContext(self.dataset)
        self.keys = SimKeys()
        self._port = port
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._sock: socket.socket | None = None
        self.base_url = ""

    # ---- switches and records (proxies to the shared context) -------------------------
    @property
    def state(self) -> SimState:
        return self.ctx.state

    @property
    def faults(self) -> Faults:
        return self.ctx.faults

    @property
    def large_aggregation_rows(self) -> int:
        return self.ctx.large_aggregation_rows

    @large_aggregation_rows.setter
    def large_aggregation_rows(self, n: int) -> None:
        self.ctx.large_aggregation_rows = n

    @property
    def large_pages(self) -> int:
        return self.ctx.large_pages

    @large_pages.setter
    def large_pages(self, n: int) -> None:
        self.ctx.large_pages = n

    @property
    def scan_cost_us(self) -> float:
        return self.ctx.scan_cost_us

    @scan_cost_us.setter
    def scan_cost_us(self, us: float) -> None:
        self.ctx.scan_cost_us = us

    @property
    def aggregation_requires_write(self) -> bool:
        return self.ctx.aggregation_requires_write

    @aggregation_requires_write.setter
    def aggregation_requires_write(self, value: bool) -> None:
        self.ctx.aggregation_requires_write = value

    @property
    def shapes(self) -> Shapes:
        """Answer-shape switches (``sim.shapes.verify = "string_booleans"``)."""
        return self.ctx.shapes

    def reset(self) -> None:
        """Forget recorded writes, faults and switches (the dataset stays)."""
        self.ctx.reset()

    # ---- lifecycle ---------------------------------------------------------------------
    def start(self) -> str:
        if self._server is not None:
            return self.base_url
        streaming.install_log_filter()
        # proto=IPPROTO_TCP matters: asyncio only sets TCP_NODELAY on sockets that say so,
        # and without it every two-write response waits ~40 ms for a delayed ACK.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind((HOST, self._port))
        sock.listen(1024)
        config = uvicorn.Config(
            build_app(self.ctx),
            log_level="warning",
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=2,
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name="pendo-sim", daemon=True
        )
        thread.start()
        deadline = time.monotonic() + _START_TIMEOUT
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                server.should_exit = True
                sock.close()
                raise RuntimeError("the Pendo simulator did not start within 10 s")
            time.sleep(0.01)
        self._server, self._thread, self._sock = server, thread, sock
        self.base_url = f"http://{HOST}:{sock.getsockname()[1]}"
        return self.base_url

    @property
    def port(self) -> int:
        return self._sock.getsockname()[1] if self._sock else 0

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        if self._sock is not None:
            self._sock.close()
        self._server = self._thread = self._sock = None

    def __enter__(self) -> Simulator:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
