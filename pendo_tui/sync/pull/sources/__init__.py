"""One source class per mapping kind, behind one interface (``Source``).

A source turns its mappings into ``Scan``s (the Pendo calls), places the rows those calls
return into the staging tables on the store thread, and may stage more once every call
is done (``finish``: PES scores). Sources share one ``BatchContext``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from pendo_tui.config.model import Config
from pendo_tui.sync.ports import PendoApi
from pendo_tui.sync.pull import stage as st
from pendo_tui.sync.pull.placer import Placer
from pendo_tui.sync.pull.scan import Scan


@dataclass
class BatchContext:
    """What every source of a batch reads or writes through."""

    config: Config
    client: PendoApi
    placer: Placer
    inserter: st.Inserter  # writes the batches of both stage writers below
    activity: st.StageWriter
    metric: st.StageWriter
    max_call_days: int
    visitors: dict[str, dict[str, Any]]
    reports: list[dict[str, Any]] | None = None
    core_ids_by_app: dict[str, dict[str, set[str]]] = field(default_factory=dict)

    @property
    def tz(self) -> str | None:
        return self.config.pendo.timezone

    def flush(self, wait: bool = False) -> None:
        """Hand every buffered row to the inserter; ``wait``: until they are written."""
        self.activity.flush()
        self.metric.flush()
        if wait:
            self.inserter.wait()

    def discard(self, mappings: list[str], first: Any, last: Any) -> None:
        """Forget what a failed call staged for these mappings and days."""
        for name in mappings:
            self.activity.discard_days(name, first, last)
            self.metric.discard_days(name, first, last)


class Source(Protocol):
    def scans(self) -> list[Scan]: ...

    def finish(self) -> None: ...


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
