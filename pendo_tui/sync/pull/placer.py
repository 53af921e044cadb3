"""Fetched rows → their place: the identity decision for the row's visitor and the one
placement rule (``placement.py``), cached per mapping and visitor.

Every source kind (page/feature usage, report, aggregation, PES) places rows through this
one class, so the kinds cannot drift apart. It runs on the store thread only: decisions
create provisional end users in the run's ``IdentityIndex``.
"""

from __future__ import annotations

from typing import Any

from pendo_tui.config.model import Config, PullMapping, multi_app_metric_name
from pendo_tui.sync.pull.identity import Decision, IdentityIndex, VisitorFacts, visitor_facts
from pendo_tui.sync.pull.placement import Placement, place_account, place_visitor
from pendo_tui.sync.pull.result import Job

Cache = dict[str, tuple[Placement, VisitorFacts]]


class Placer:
    """Placements (cached per mapping and visitor) and metric keys."""

    def __init__(
        self, config: Config, index: IdentityIndex, visitors: dict[str, dict[str, Any]]
    ) -> None:
        self.config = config
        self.index = index
        self.visitors = visitors

    def place(
        self,
        job: Job,
        cache: Cache,
        row: dict[str, Any],
        target: str | None = None,
        activities: bool = False,
        identify: bool = True,
    ) -> tuple[Placement, VisitorFacts]:
        """The visitor's placement for this mapping (``placement.place_visitor``), decided
        once per visitor; a dropped visitor is counted once per reason."""
        vid = row.get("visitorId")
        key = str(vid) if vid is not None else ""
        hit = cache.get(key)
        if hit is None:
            facts = visitor_facts(self.config.identity, row, self.visitors.get(key))
            decision = self._decide(job, facts, key) if identify else None
            where = place_visitor(
                target or job.mapping.object, facts, decision, self.index.companies,
                activities=activities,
            )  # fmt: skip
            hit = cache[key] = (where, facts)
            job.seen.add(key)
        if hit[0].dropped is not None:
            job.skip(hit[0].dropped, key)
        return hit

    def _decide(self, job: Job, facts: VisitorFacts, key: str) -> Decision:
        """The end-user part: match, create (auto-create) or none."""
        decision = self.index.decide(facts, job.mapping.auto_create_users)
        if decision.updates:
            job.result.users_updated += 1
        user = decision.end_user
        if user is not None and job.user_visitor.setdefault(user.id, key) != key:
            job.merge = True
        return decision

    def place_account(self, job: Job, account: Any) -> Placement:
        """A row naming an account but no visitor (account report / aggregation rows)."""
        where = place_account(account, self.index.companies)
        key = str(account) if account not in (None, "") else ""
        job.seen.add(key)
        job.unit = "accounts"
        if where.dropped is not None:
            job.skip(where.dropped, key)
        return where

    def metric_key(self, mapping: PullMapping, name: str, app: Any) -> tuple[str, str]:
        if not mapping.multi_app or app is None:
            return name, ""
        prefix = self.config.prefix_for_app(app)
        return multi_app_metric_name(prefix, name), self.config.app_series_key(app)

    def aggregation_object(self, job: Job, cache: Cache, row: dict[str, Any]) -> str | None:
        """The object an aggregation row's values belong to (None: dropped and counted)."""
        if job.mapping.object == "company" and "visitorId" not in row:
            return self.place_account(job, row.get("accountId")).object_id
        return self.place(job, cache, row)[0].object_id

    def report_object(
        self, job: Job, cache: Cache, row: dict[str, Any], account: bool
    ) -> tuple[str, str] | None:
        """(object type, object id) of a report row: its account's company for an
        account-level report, else the visitor's end user."""
        if account:
            object_id = self.place_account(job, row.get("accountId")).object_id
        else:
            object_id = self.place(job, cache, row, target="end_user")[0].object_id
        if object_id is None:
            return None
        return ("company" if account else "end_user"), object_id

    def pes_key(self, job: Job, cache: Cache, row: dict[str, Any]) -> tuple[str, str] | None:
        """(company, visitor) of a row PES may count: the company rule, no end user looked
        up (PES writes company metrics only and never creates end users)."""
        where, facts = self.place(job, cache, row, target="company", identify=False)
        if where.object_id is None or facts.visitor_id is None:
            return None
        return where.object_id, facts.visitor_id
