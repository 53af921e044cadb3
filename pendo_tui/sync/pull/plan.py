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

from pendo_tui.config.model import DEFAULT_APP_ID, PullMapping
from pendo_tui.errors import PendoTuiError
from pendo_tui.pendo.pipelines import has_time_series
from pendo_tui.sync.pull.pes import COMPONENTS, HISTORY_DAYS
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


def describe(mapping: PullMapping, window: SyncWindow, max_call_days: int) -> dict[str, Any]:
    """What a sync of one mapping would fetch and write (dry run); calls are counted as if
    the mapping were synced alone — page/feature/PES calls are shared with other mappings
    of the same kind and segment in a run."""
    days = len(window)
    first = window.first_day
    if mapping.kind in ("page", "feature"):
        calls = len(list(window.chunks(max_call_days))) if days else 0
        writes = f"activities and daily metric {mapping.metric_name!r} per {mapping.object}"
    elif mapping.kind == "report":
        calls, days, first = (1, 1, window.last_day) if days else (0, 0, first)
        writes = f"metrics {', '.join(mapping.columns.values())} for {window.last_day}"
    elif mapping.kind == "aggregation":
        per_day = has_time_series(mapping.pipeline_steps())
        calls = (days if per_day else 1) if days else 0
        writes = f"metrics {', '.join(mapping.columns.values())} per {mapping.object}"
    else:
        hist = days + HISTORY_DAYS - 1 if days else 0
        calls = 4 * len(list(range(0, hist, max_call_days)))  # at most
        writes = f"PES metrics ({', '.join(COMPONENTS)}) per company"
    return {
        "kind": mapping.kind,
        "first_day": None if window.empty else first.isoformat(),
        "last_day": None if window.empty else window.last_day.isoformat(),
        "days": days,
        "calls": calls,
        "writes": writes if days else "nothing (up to date)",
    }
