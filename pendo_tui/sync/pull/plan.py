"""The plan step: a batch's mappings → the Pendo calls (``Scan``s) that feed them.

Page and feature mappings sharing a segment are coalesced (``sources/usage.py``), PES
reads core usage from those same scans and shares its activity scan per app
(``sources/pes.py``); report and aggregation mappings keep one call each
(``sources/single.py``). Aggregation calls per backfill are therefore
O(windows × distinct (kind, segment)), whatever the number of mappings.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pendo_tui.config.model import DEFAULT_APP_ID, Config, PullMapping
from pendo_tui.errors import PendoTuiError
from pendo_tui.sync.pull.pes import COMPONENTS
from pendo_tui.sync.pull.result import Job
from pendo_tui.sync.pull.scan import Scan
from pendo_tui.sync.pull.sources import BatchContext, Source
from pendo_tui.sync.pull.sources.pes import PesSource, activity_scans, core_ids
from pendo_tui.sync.pull.sources.single import AggregationSource, ReportSource
from pendo_tui.sync.pull.sources.usage import usage_groups
from pendo_tui.sync.windows import SyncWindow

OnError = Callable[[Job, PendoTuiError], None]


@dataclass
class Plan:
    scans: list[Scan] = field(default_factory=list)
    sources: list[Source] = field(default_factory=list)


def build_plan(jobs: list[Job], ctx: BatchContext, on_error: OnError) -> Plan:
    """Scans in a fixed order (usage groups, then reports and aggregations, then PES
    activity): the store thread consumes them in this order, so a run is repeatable."""
    plan = Plan()
    groups = usage_groups(jobs, ctx)
    pes: list[PesSource] = []
    single: list[Scan] = []
    for job in jobs:
        if not job.live or job.mapping.kind in ("page", "feature"):
            continue
        try:
            if job.mapping.kind == "pes":
                app = job.mapping.app or DEFAULT_APP_ID
                if app not in ctx.core_ids_by_app:
                    ctx.core_ids_by_app[app] = core_ids(ctx.client, app)
                source = PesSource(job, ctx, ctx.core_ids_by_app[app])
                source.register(groups)
                pes.append(source)
                plan.sources.append(source)
                continue
            kind_source: Any = (
                ReportSource(job, ctx)
                if job.mapping.kind == "report"
                else AggregationSource(job, ctx)
            )
            single.extend(kind_source.scans())
            plan.sources.append(kind_source)
        except PendoTuiError as exc:
            on_error(job, exc)
    for group in groups.values():
        plan.scans.extend(group.scans())
    plan.scans.extend(single)
    plan.scans.extend(activity_scans(pes, ctx))
    return plan


def setup_calls(config: Config) -> int:
    """Aggregations every pull run makes once before its mappings' calls: visitor
    metadata, and Pendo's accounts when companies come from Pendo."""
    return 1 + int(config.companies.source == "pendo")


def describe_plan(
    jobs: list[Job], plan: Plan, setup: int
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The dry run of a batch: per mapping what it reads and writes, and for the run the
    calls the whole plan sends, each once (``plan``). Splits are not foreseen: a real run
    sends one more call per split."""
    items = [_describe_job(job, plan.scans) for job in jobs]
    reads: dict[str, dict[str, Any]] = {}
    for scan in plan.scans:
        what = scan.reads or scan.label
        entry = reads.setdefault(
            what,
            {"read": what, "kind": scan.kind, "calls": 0, "first_day": scan.window.first_day,
             "last_day": scan.window.last_day, "mappings": []},
        )  # fmt: skip
        entry["calls"] += 1
        entry["first_day"] = min(entry["first_day"], scan.window.first_day)
        entry["last_day"] = max(entry["last_day"], scan.window.last_day)
        entry["mappings"] += [j.name for j in scan.jobs if j.name not in entry["mappings"]]
    for entry in reads.values():
        entry["first_day"] = entry["first_day"].isoformat()
        entry["last_day"] = entry["last_day"].isoformat()
    aggregations = setup + sum(1 for s in plan.scans if s.kind == "aggregation")
    summary = {
        "calls": setup + len(plan.scans),  # every call, each once (shared or not)
        "aggregations": aggregations,  # of which aggregations, set-up reads included
        "setup": setup,  # visitor metadata (and Pendo accounts): once per run
        "mappings": sum(1 for i in items if i["calls"]),
        "reads": list(reads.values()),  # the calls by what they read, with their mappings
    }
    return items, summary


def _describe_job(job: Job, scans: list[Scan]) -> dict[str, Any]:
    window, mapping = job.window, job.mapping
    mine = [s for s in scans if any(j is job for j in s.jobs)]
    shared: list[str] = []
    for s in mine:
        shared += [j.name for j in s.jobs if j is not job and j.name not in shared]
    out: dict[str, Any] = {
        "kind": mapping.kind,
        "first_day": None if window.empty else window.first_day.isoformat(),
        "last_day": None if window.empty else window.last_day.isoformat(),
        "days": len(window),
        "calls": len(mine),  # the calls its data comes from, shared ones included
        "shared_with": shared,  # mappings that read some of those calls too
        "writes": _writes(mapping, window) if len(window) else "nothing (up to date)",
    }
    if job.error is not None:
        out["error"] = str(job.error)
        out["writes"] = "nothing (the mapping would fail)"
    return out


def _writes(mapping: PullMapping, window: SyncWindow) -> str:
    if mapping.kind in ("page", "feature"):
        return f"activities and daily metric {mapping.metric_name!r} per {mapping.object}"
    if mapping.kind == "report":
        return f"metrics {', '.join(mapping.columns.values())} for {window.last_day}"
    if mapping.kind == "aggregation":
        return f"metrics {', '.join(mapping.columns.values())} per {mapping.object}"
    return f"PES metrics ({', '.join(COMPONENTS)}) per company"
