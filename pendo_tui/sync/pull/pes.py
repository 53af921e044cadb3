"""Product Engagement Score per company, computed from event data (docs/pes.md).

Pendo publishes no PES endpoint, only the definition: PES = (Adoption + Stickiness +
Growth) / 3, each component 0–100. Pendo's exact normalisation is unpublished, so the
three component formulas below are OUR conventions (documented in docs/pes.md); all work
over a 30-day window W ending on the day scored, per account, over the visitors active
in it (one app per mapping):

- Adoption   = 100 × mean over active visitors of (core events they used in W / core
  events of the app). No core events defined → no adoption value.
- Stickiness = 100 × mean over the days of W of DAU(day) / MAU(W) (Pendo's DAU/MAU option).
- Growth     = 100 × (new + recovered) / (new + recovered + dropped), over visitors:
  new = first visit inside W; recovered = active in W, not in the previous 30 days P,
  first visit before P; dropped = active in P, not in W. No movement at all → 50
  (neither growing nor shrinking).
- PES        = mean of the components that have a value.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta

PES_WINDOW_DAYS = 30
HISTORY_DAYS = 2 * PES_WINDOW_DAYS  # W and the previous window P
COMPONENTS = ("adoption", "stickiness", "growth", "pes")
NO_MOVEMENT_GROWTH = 50.0


@dataclass
class AccountActivity:
    """Per account: active days per visitor and core events used per visitor and day."""

    days: dict[str, set[date]] = field(default_factory=dict)
    core: dict[str, dict[date, set[str]]] = field(default_factory=dict)


@dataclass
class PesInputs:
    accounts: dict[str, AccountActivity] = field(default_factory=dict)
    first_visit: dict[str, date] = field(default_factory=dict)  # visitor → first visit day
    core_ids: set[str] = field(default_factory=set)

    def add_activity(self, account: str, visitor: str, day: date) -> None:
        acc = self.accounts.setdefault(account, AccountActivity())
        acc.days.setdefault(visitor, set()).add(day)

    def add_core(self, account: str, visitor: str, day: date, object_id: str) -> None:
        acc = self.accounts.setdefault(account, AccountActivity())
        acc.core.setdefault(visitor, {}).setdefault(day, set()).add(object_id)


def _in(days: Iterable[date], first: date, last: date) -> bool:
    return any(first <= d <= last for d in days)


def score_account(inputs: PesInputs, acc: AccountActivity, day: date) -> dict[str, float]:
    """Component values for one account on one day (missing key = no value)."""
    w_first = day - timedelta(days=PES_WINDOW_DAYS - 1)
    p_last = w_first - timedelta(days=1)
    p_first = p_last - timedelta(days=PES_WINDOW_DAYS - 1)
    active = {v for v, ds in acc.days.items() if _in(ds, w_first, day)}
    out: dict[str, float] = {}
    if not active:
        return out
    if inputs.core_ids:
        shares = []
        for v in active:
            used: set[str] = set()
            for d, ids in acc.core.get(v, {}).items():
                if w_first <= d <= day:
                    used |= ids & inputs.core_ids
            shares.append(len(used) / len(inputs.core_ids))
        # fsum: exact, so the value does not depend on the order of a set (hash seed)
        out["adoption"] = 100.0 * math.fsum(shares) / len(shares)
    dau = [
        sum(1 for v in active if w_first + timedelta(days=i) in acc.days[v])
        for i in range(PES_WINDOW_DAYS)
    ]
    out["stickiness"] = 100.0 * (sum(dau) / PES_WINDOW_DAYS) / len(active)
    prev = {v for v, ds in acc.days.items() if _in(ds, p_first, p_last)}
    new = recovered = 0
    for v in active - prev:
        first = inputs.first_visit.get(v)
        if first is not None and first >= w_first:
            new += 1
        elif first is not None and first < p_first:
            recovered += 1
    dropped = len(prev - active)
    moved = new + recovered + dropped
    out["growth"] = 100.0 * (new + recovered) / moved if moved else NO_MOVEMENT_GROWTH
    parts = [out[k] for k in ("adoption", "stickiness", "growth") if k in out]
    out["pes"] = sum(parts) / len(parts)
    return out


def score(inputs: PesInputs, days: Iterable[date]) -> Iterable[tuple[str, date, str, float]]:
    """(account, day, component, value) for every account and day asked for."""
    for day in days:
        for account, acc in inputs.accounts.items():
            for component, value in score_account(inputs, acc, day).items():
                yield account, day, component, value
