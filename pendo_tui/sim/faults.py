"""Fault injection: make the next N requests of a kind fail in a chosen way."""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass, field
from typing import Any

KINDS = (
    "verify",
    "list",
    "aggregation",
    "report",
    "metadata",
    "schema",
    "object",
    "track",
    "bulkdelete",
    "*",
)


@dataclass
class Fault:
    kind: str
    status: int | None = None  # answer with this status and no real body
    retry_after: float | None = None  # Retry-After header value (seconds) with `status`
    latency: float = 0.0  # seconds to wait before answering
    truncate: bool = False  # send headers and part of the body, then drop the connection
    malformed: bool = False  # a complete response whose body is not valid JSON
    reject_batch: bool = False  # metadata: reject the whole batch (400) naming a row
    reject_ids: list[str] = field(default_factory=list)  # ...only batches holding these ids
    times: int | None = 1  # None = until cleared
    # aggregation: fire only for calls whose first time series spans at least this many days
    min_days: int | None = None

    @property
    def is_reject(self) -> bool:
        return self.reject_batch or bool(self.reject_ids)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class Faults:
    """Thread-safe queue of faults; the first live fault matching a request kind fires."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._lock = threading.Lock()

    def add(
        self,
        kind: str,
        status: int | None = None,
        retry_after: float | None = None,
        latency: float = 0.0,
        truncate: bool = False,
        malformed: bool = False,
        times: int | None = 1,
        reject_batch: bool = False,
        reject_ids: list[str] | None = None,
        min_days: int | None = None,
    ) -> Fault:
        if kind not in KINDS:
            raise ValueError(f"unknown request kind {kind!r}; use one of {', '.join(KINDS)}")
        fault = Fault(
            kind=kind,
            status=status,
            retry_after=retry_after,
            latency=latency,
            truncate=truncate,
            malformed=malformed,
            reject_batch=reject_batch,
            reject_ids=list(reject_ids or []),
            times=times,
            min_days=min_days,
        )
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def active(self) -> list[Fault]:
        with self._lock:
            return list(self._faults)

    def take(self, kind: str, days: int | None = None) -> Fault | None:
        """Consume one firing of the first transport fault for ``kind`` (a ``min_days``
        fault only when the call's time series spans ``days`` ≥ ``min_days``)."""

        def applies(f: Fault) -> bool:
            if f.is_reject or f.kind not in (kind, "*"):
                return False
            return f.min_days is None or (days is not None and days >= f.min_days)

        return self._take(applies)

    def wants_days(self) -> bool:
        with self._lock:
            return any(f.min_days is not None for f in self._faults)

    def take_reject(self, ids: list[str]) -> tuple[Fault, int] | None:
        """A metadata batch rejection that applies to this batch, and the row it names."""
        hit: dict[str, int] = {}

        def applies(f: Fault) -> bool:
            if not f.is_reject or f.kind not in ("metadata", "*"):
                return False
            if not f.reject_ids:
                hit["row"] = 0
                return True
            wanted = set(f.reject_ids)
            for i, obj_id in enumerate(ids):
                if obj_id in wanted:
                    hit["row"] = i
                    return True
            return False

        fault = self._take(applies)
        return (fault, hit["row"]) if fault else None

    def _take(self, pred: Any) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if pred(fault):
                    if fault.times is not None:
                        fault.times -= 1
                        if fault.times <= 0:
                            self._faults.remove(fault)
                    return fault
        return None
