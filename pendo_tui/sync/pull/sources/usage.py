"""Page, feature and track-type usage: one coalesced scan per (kind, segment) and window.

Every page mapping with the same segment is read by the same calls — one aggregation per
window over all their ids (an ``||`` filter, split past ``MAX_FILTER_CHARS``), grouped
server-side by id, visitor, app and day — and each row is routed to the mappings (and PES
core-usage readers) that want its id. A mapping therefore gets exactly the rows a call of
its own would return, whatever else shares the call.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from pendo_tui.config.model import DEFAULT_APP_ID
from pendo_tui.pendo.pipelines import USAGE_SOURCES, chunk_ids, usage_pipeline
from pendo_tui.sync.pull.placer import Cache
from pendo_tui.sync.pull.result import Job
from pendo_tui.sync.pull.scan import Rows, Scan
from pendo_tui.sync.pull.sources import BatchContext
from pendo_tui.sync.windows import SyncWindow, day_of_ms, day_start_ms

# (row, day) → None: a reader of another kind (PES core usage) sharing the scan
CoreReader = Callable[[dict[str, Any], date], None]


class MappingRoute:
    """One page/feature mapping's share of a usage scan: rows → staged activities.

    ``take`` runs once per fetched row (a million for a large backfill), so what is the
    same for every row of a visitor (its placement, end user, company) or of an app (its
    metric key) is worked out once and kept; the row adds only its day and counts.
    """

    def __init__(self, job: Job, ctx: BatchContext) -> None:
        self.job = job
        self.ctx = ctx
        self.cache: Cache = {}  # placer's cache: visitor → (placement, facts)
        # visitorId as fetched → [end-user id, company, target object id, latest day];
        # None = dropped. The latest day is the apply's last-seen source (``Job``).
        self.visitor_parts: dict[Any, list[Any] | None] = {}
        job.visitor_days = self.visitor_parts
        self.app_keys: dict[Any, tuple[str, str, str]] = {}  # appId → (app_id, metric, series)
        self.staged = ctx.activity.buffer

    def take(self, rows: list[tuple[dict[str, Any], tuple[date, Any]]]) -> None:
        """Stage ``rows`` — (row, (day, staged day value)) pairs of this mapping's id, in
        fetched order. One call per id per fetched batch, with everything the loop reads
        held in locals: a call and a dozen attribute reads per row were a tenth of the
        routing (250k rows: 0.46-0.50 s → 0.39-0.45 s, bench/RESULTS.md "The simulator's
        charge covers its evaluation")."""
        job = self.job
        if job.error is not None:
            return
        lo, hi = job.window.first_day, job.window.last_day
        parts_of = self.visitor_parts
        get_parts = parts_of.get
        keys_of = self.app_keys
        append = self.staged.append  # the stage writer's buffer: flushed by ``consume``
        name = job.mapping.name
        fetched = 0
        for row, (day, day_value) in rows:
            if not lo <= day <= hi:
                continue
            fetched += 1
            vid = row.get("visitorId")
            parts = get_parts(vid, _UNSEEN)
            if parts is _UNSEEN:
                parts = parts_of[vid] = self._visitor(row)
            if parts is None:  # dropped: counted once per visitor and reason by the placer
                continue
            if day > parts[3]:
                parts[3] = day
            app = row.get("appId")
            keys = keys_of.get(app)
            if keys is None:
                keys = self._app_keys(app)
            # raw rollup rows (no group step) name them numEvents/numMinutes
            events = row.get("events")
            if events is None:
                events = row.get("numEvents")
            minutes = row.get("minutes")
            if minutes is None:
                minutes = row.get("numMinutes")
            append(
                (
                    name,
                    parts[0],  # None: metric only, no activity
                    keys[0],
                    day_value,
                    parts[1],
                    events if type(events) is int else int(events or 0),
                    minutes if type(minutes) is int else int(minutes or 0),
                    parts[2],
                    keys[1],
                    keys[2],
                )
            )
        job.result.rows_fetched += fetched

    def _app_keys(self, app: Any) -> tuple[str, str, str]:
        """(app id as stored, metric name, series key) of an app, worked out once."""
        m = self.job.mapping
        keys = self.app_keys[app] = (
            str(app if app is not None else DEFAULT_APP_ID),
            *self.ctx.placer.metric_key(m, m.metric_name, app),
        )
        return keys

    def _visitor(self, row: dict[str, Any]) -> list[Any] | None:
        """The placer's decision for this row's visitor, as the parts every one of its rows
        stages, and the latest day seen so far (None: the visitor is dropped)."""
        where, facts = self.ctx.placer.place(self.job, self.cache, row, activities=True)
        if where.dropped is not None:
            return None
        user = where.end_user
        company = facts.company_id or (user.company_external_id if user else None)
        return [(user.id if user is not None else None), company, where.object_id, date.min]


_UNSEEN: Any = object()


@dataclass
class CoreRoute:
    """A PES reader of a usage scan: gets rows of ``ids`` seen in ``window``."""

    job: Job
    ids: set[str]
    window: SyncWindow
    read: CoreReader


@dataclass
class UsageGroup:
    """Everything read from one (kind, segment): mappings and PES readers by id."""

    kind: str  # page | feature | trackType
    segment: str | None
    ctx: BatchContext
    routes: dict[str, list[MappingRoute]] = field(default_factory=dict)
    core: list[CoreRoute] = field(default_factory=list)

    def add_mapping(self, job: Job) -> None:
        self.routes.setdefault(job.mapping.id or "", []).append(MappingRoute(job, self.ctx))

    def add_core(self, route: CoreRoute) -> None:
        if route.ids:
            self.core.append(route)

    @property
    def label(self) -> str:
        return f"{self.kind} usage" + (f" segment {self.segment}" if self.segment else "")

    def ids(self, window: SyncWindow) -> list[str]:
        """Ids some mapping or reader wants on at least one day of ``window`` (mappings
        first, in mapping order; then PES core ids)."""
        out = [
            i for i, rs in self.routes.items() if any(_overlap(r.job.window, window) for r in rs)
        ]
        seen = set(out)
        for c in self.core:
            if _overlap(c.window, window):
                out.extend(sorted(c.ids - seen))
                seen |= c.ids
        return out

    def window(self) -> SyncWindow | None:
        windows = [r.job.window for rs in self.routes.values() for r in rs]
        windows += [c.window for c in self.core]
        windows = [w for w in windows if not w.empty]
        if not windows:
            return None
        return SyncWindow(min(w.first_day for w in windows), max(w.last_day for w in windows))

    def scans(self) -> list[Scan]:
        window = self.window()
        if window is None:
            return []
        _, id_field = USAGE_SOURCES[self.kind]
        out = []
        for sub in window.chunks(self.ctx.max_call_days):
            chunks = chunk_ids(id_field, self.ids(sub))
            for n, ids in enumerate(chunks):
                label = self.label + (f" ids {n + 1}/{len(chunks)}" if len(chunks) > 1 else "")
                out.append(self._scan(label, ids, sub))
        return out

    def _scan(self, label: str, ids: list[str], window: SyncWindow) -> Scan:
        wanted = set(ids)
        jobs = []
        for i in ids:
            jobs += [r.job for r in self.routes.get(i, []) if _overlap(r.job.window, window)]
        jobs += [
            c.job
            for c in self.core
            if c.ids & wanted and _overlap(c.window, window) and c.job not in jobs
        ]
        _, id_field = USAGE_SOURCES[self.kind]
        tz, ctx = self.ctx.tz, self.ctx
        days: dict[Any, tuple[date, Any]] = {}  # bucket ms → (day, staged value): few keys
        only = ids[0] if len(ids) == 1 else ""

        def open_(w: SyncWindow, name: str) -> Iterator[dict[str, Any]]:
            steps = usage_pipeline(self.kind, ids, day_start_ms(w.first_day, tz), len(w),
                                   self.segment)  # fmt: skip
            return ctx.client.aggregate(steps, name=name)

        def consume(rows: Rows, w: SyncWindow) -> None:
            first, last = w.first_day, w.last_day
            routes, core = self.routes, self.core
            by_id: dict[str, list[tuple[dict[str, Any], tuple[date, Any]]]] = {}
            for row in rows:
                ms = row.get("day") or 0
                hit = days.get(ms)
                if hit is None:
                    d = day_of_ms(ms, tz)
                    hit = days[ms] = (d, ctx.activity.day_value(d))
                day = hit[0]
                if not first <= day <= last:
                    continue
                oid = row.get(id_field)
                # a one-id call asked for that id only: a row without the field is its
                key = oid if type(oid) is str else (str(oid) if oid is not None else only)
                same = by_id.get(key)
                if same is None:
                    by_id[key] = [(row, hit)]
                else:
                    same.append((row, hit))
            for key, pairs in by_id.items():  # per id, its rows in fetched order
                for route in routes.get(key, ()):
                    route.take(pairs)
                for c in core:
                    if key in c.ids:
                        for row, (day, _) in pairs:
                            if day in c.window and c.job.error is None:
                                c.read(row, day)
            ctx.activity.flush_if_full()

        def discard(w: SyncWindow) -> None:
            for job in jobs:  # latest days may come from the discarded rows: ask the stage
                job.days_exact = False
            names = [j.name for j in jobs if j.mapping.kind != "pes"]
            ctx.discard(names, w.first_day, w.last_day)

        return Scan(label, window, open_, consume, discard, jobs, splittable=True,
                    reads=self.label)  # fmt: skip


def _overlap(a: SyncWindow, b: SyncWindow) -> bool:
    return not a.empty and a.first_day <= b.last_day and b.first_day <= a.last_day


def usage_groups(jobs: list[Job], ctx: BatchContext) -> dict[tuple[str, str | None], UsageGroup]:
    """Page and feature mappings grouped by (kind, segment), in mapping order."""
    groups: dict[tuple[str, str | None], UsageGroup] = {}
    for job in jobs:
        if job.mapping.kind in ("page", "feature") and job.live:
            key = (job.mapping.kind, job.mapping.segment or None)
            if key not in groups:
                groups[key] = UsageGroup(key[0], key[1], ctx)
            groups[key].add_mapping(job)
    return groups
