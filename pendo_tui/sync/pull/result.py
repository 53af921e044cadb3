"""What one pull mapping did in a run (``PullResult``) and its work inside a batch (``Job``)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from pendo_tui.config.model import PullMapping
from pendo_tui.sync.windows import SyncWindow


@dataclass
class PullResult:
    """Per-mapping counts for the run summary."""

    mapping: str
    kind: str
    first_day: str | None = None
    last_day: str | None = None
    days: int = 0
    calls: int = 0  # Pendo calls this mapping's rows came from (a shared call counts once each)
    splits: int = 0  # calls split in half after a timeout, 5xx or row budget (docs/pull.md)
    rows_fetched: int = 0
    rows_written: int = 0
    activities_written: int = 0
    metrics_written: int = 0
    users_created: int = 0
    users_updated: int = 0
    skipped: dict[str, int] = field(default_factory=dict)  # reason → distinct visitors/ids
    skipped_examples: dict[str, list[str]] = field(default_factory=dict)  # reason → ≤3 ids
    warnings: list[str] = field(default_factory=list)  # no silent zeros (notices.py)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Job:
    """One mapping's work inside a batch."""

    mapping: PullMapping
    window: SyncWindow
    result: PullResult
    skipped: dict[str, set[str]] = field(default_factory=dict)
    user_visitor: dict[int, str] = field(default_factory=dict)  # bounded by end users
    seen: set[str] = field(default_factory=set)  # distinct visitors (or accounts) placed or not
    unit: str = "visitors"  # what `seen` counts, for the warnings
    merge: bool = False  # two visitors reached one end user: activity keys may repeat
    error: Exception | None = None  # set when one of its calls failed for good
    # usage kinds: visitor → [end-user id, company, target id, latest day] as its rows were
    # routed (None: dropped). The apply takes last-seen days from it, and from the staged
    # rows instead once a failed call's rows were discarded (``days_exact`` False).
    visitor_days: dict[Any, list[Any] | None] | None = None
    days_exact: bool = True
    scans_total: int = 0
    scans_done: int = 0

    @property
    def name(self) -> str:
        return self.mapping.name

    @property
    def live(self) -> bool:
        return self.error is None and not self.window.empty

    def skip(self, reason: str, key: str | None) -> None:
        self.skipped.setdefault(reason, set()).add(key or "")

    def narrow_to(self, window: SyncWindow) -> None:
        """Kinds that store one day (reports, snapshot pipelines) record just that day."""
        self.window = window
        self.result.first_day = window.first_day.isoformat()
        self.result.days = len(window)


def new_job(mapping: PullMapping, window: SyncWindow) -> Job:
    result = PullResult(
        mapping=mapping.name,
        kind=mapping.kind,
        first_day=None if window.empty else window.first_day.isoformat(),
        last_day=None if window.empty else window.last_day.isoformat(),
        days=len(window),
    )
    return Job(mapping, window, result)
