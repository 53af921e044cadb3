"""Progress reporting from the engines to whichever front end is listening.

The engines call a plain callback so the core never depends on a UI toolkit: the TUI
queues events onto its message loop, the headless CLI prints a bar, tests collect them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class ProgressEvent:
    """One step of a mapping or push sync.

    ``phase`` is a short verb ("fetch", "write", "done", ...); ``done``/``total`` count
    whatever unit the phase works in (days, calls, rows) and ``total`` is None when unknown.
    """

    mapping: str
    phase: str
    done: int = 0
    total: int | None = None
    message: str = ""
    run_id: int | None = None


ProgressCallback = Callable[[ProgressEvent], None]


def emit(callback: ProgressCallback | None, event: ProgressEvent) -> None:
    """Call ``callback`` if one is set; a listener's failure must never break a sync."""
    if callback is None:
        return
    with contextlib.suppress(Exception):  # progress is best-effort by design
        callback(event)
