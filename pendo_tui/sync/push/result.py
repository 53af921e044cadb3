"""What one push sync did: counts, rejects and warnings, ready for the run summary."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

# The run summary lists rejected rows one by one, but a model with a systemic problem can
# reject millions: keep the first ones as examples and count the rest.
MAX_LISTED_REJECTS = 1_000
EXAMPLES_PER_REASON = 3


@dataclass(frozen=True)
class Reject:
    """One row that was not delivered: its primary key, why (a short reason code) and detail
    (Pendo's error text, or the local validation message)."""

    key: str
    reason: str
    error: str


@dataclass
class PushResult:
    sync: str
    kind: str
    rows_read: int = 0
    sent: int = 0  # rows handed to Pendo (events: track calls; objects: records in batches)
    delivered: int = 0  # rows Pendo accepted (objects: updated; events: 200 answers)
    unchanged: int = 0  # not sent: already delivered with the same values
    missing: int = 0  # objects whose record does not exist in Pendo
    old_events: int = 0  # events older than 7 days (sent or skipped, see warnings)
    in_flight_found: int = 0  # keys left "in flight" by an interrupted earlier run
    in_flight_keys: list[str] = field(default_factory=list)
    cleared: int = 0  # on_delete = "delete": records whose fields were cleared
    vanished: int = 0  # keys delivered earlier that are no longer in the model
    fields_created: list[str] = field(default_factory=list)
    requests: int = 0  # HTTP calls made by this sync (retries not included)
    retries: int = 0
    skipped: Counter[str] = field(default_factory=Counter)  # reason -> rows
    rejected: Counter[str] = field(default_factory=Counter)  # reason -> rows
    rejects: list[Reject] = field(default_factory=list)  # first MAX_LISTED_REJECTS
    warnings: list[str] = field(default_factory=list)
    duration_s: float = 0.0
    # reason -> first EXAMPLES_PER_REASON keys (not in to_dict: see rejected_reasons)
    reject_examples: dict[str, list[str]] = field(default_factory=dict)

    def reject(self, key: str, reason: str, error: str) -> None:
        self.rejected[reason] += 1
        examples = self.reject_examples.setdefault(reason, [])
        if len(examples) < EXAMPLES_PER_REASON and key not in examples:
            examples.append(key)
        if len(self.rejects) < MAX_LISTED_REJECTS:
            self.rejects.append(Reject(key, reason, error))

    def rejected_reasons(self) -> dict[str, dict[str, Any]]:
        """reason -> {"count": rows, "examples": [up to 3 keys]}, most frequent first."""
        return {
            reason: {"count": n, "examples": list(self.reject_examples.get(reason, []))}
            for reason, n in self.rejected.most_common()
        }

    def warn(self, message: str) -> None:
        if message not in self.warnings:
            self.warnings.append(message)

    @property
    def skipped_total(self) -> int:
        return sum(self.skipped.values())

    @property
    def rejected_total(self) -> int:
        return sum(self.rejected.values())

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["skipped"] = dict(self.skipped)
        out["rejected"] = dict(self.rejected)
        out["rejected_reasons"] = self.rejected_reasons()
        del out["reject_examples"]
        out["skipped_total"] = self.skipped_total
        out["rejected_total"] = self.rejected_total
        return out
