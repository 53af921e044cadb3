"""Where a fetched row lands: the identity decision for its visitor and the target object.

Every source kind (page/feature usage, report, aggregation) places rows through this one
class, so the kinds cannot drift apart. It runs on the store thread only: decisions
create provisional end users in the run's ``IdentityIndex``.
"""

from __future__ import annotations

from typing import Any

from pendo_tui.config.model import Config, PullMapping, multi_app_metric_name
from pendo_tui.sync.pull.identity import (
    SKIP_COMPANY_NOT_FOUND,
    SKIP_NULL_KEY,
    SKIPPED,
    Decision,
    IdentityIndex,
    VisitorFacts,
    visitor_facts,
)
from pendo_tui.sync.pull.result import Job

Cache = dict[str, tuple[Decision, VisitorFacts]]


class Placer:
    """Identity decisions (cached per mapping and visitor) and target-object ids."""

    def __init__(
        self, config: Config, index: IdentityIndex, visitors: dict[str, dict[str, Any]]
    ) -> None:
        self.config = config
        self.index = index
        self.visitors = visitors

    def decide(self, job: Job, cache: Cache, row: dict[str, Any]) -> tuple[Decision, VisitorFacts]:
        vid = row.get("visitorId")
        key = str(vid) if vid is not None else ""
        hit = cache.get(key)
        if hit is None:
            meta = self.visitors.get(key)
            facts = visitor_facts(self.config.identity, row, meta)
            decision = self.index.decide(facts, job.mapping.auto_create_users)
            if decision.updates:
                job.result.users_updated += 1
            hit = cache[key] = (decision, facts)
            user = decision.end_user
            if user is not None and job.user_visitor.setdefault(user.id, key) != key:
                job.merge = True
        if hit[0].outcome == SKIPPED:
            job.skip(hit[0].reason or "unknown", key)
        return hit

    def object_id(self, job: Job, decision: Decision, facts: VisitorFacts) -> str | None:
        obj = job.mapping.object
        if obj == "company":
            return facts.company_id
        if obj == "end_user":
            return decision.end_user.object_id if decision.end_user else None
        return facts.asset_id if obj == "asset" else facts.project_id

    def metric_key(self, mapping: PullMapping, name: str, app: Any) -> tuple[str, str]:
        if not mapping.multi_app or app is None:
            return name, ""
        prefix = self.config.prefix_for_app(app)
        return multi_app_metric_name(prefix, name), self.config.app_series_key(app)

    def aggregation_object(self, job: Job, cache: Cache, row: dict[str, Any]) -> str | None:
        """The object an aggregation row's values belong to (None: skipped and counted)."""
        if job.mapping.object == "company" and "visitorId" not in row:
            account = row.get("accountId")
            if not account:
                job.skip(SKIP_NULL_KEY, None)
                return None
            return str(account)
        decision, facts = self.decide(job, cache, row)
        if decision.end_user is None:
            return None
        return self.object_id(job, decision, facts)

    def report_object(
        self, job: Job, cache: Cache, row: dict[str, Any], account: bool
    ) -> tuple[str, str] | None:
        """(object type, object id) of a report row: its account's company for an
        account-level report, else the visitor's end user."""
        if account:
            object_id = row.get("accountId")
            if not object_id:
                job.skip(SKIP_NULL_KEY, None)
                return None
            if object_id not in self.index.companies:
                job.skip(SKIP_COMPANY_NOT_FOUND, str(object_id))
                return None
            return "company", str(object_id)
        decision, _ = self.decide(job, cache, row)
        if decision.end_user is None:
            return None
        return "end_user", str(decision.end_user.object_id)
