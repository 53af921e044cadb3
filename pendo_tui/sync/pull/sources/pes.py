"""PES mappings: active visitors per account and day, plus core-event usage, then scores.

Activity is one scan of the ``events`` source per app and window (PES mappings of the
same app share it). Core-event usage is not read by calls of its own: PES registers
readers on the usage scans of pages, features and track types without a segment
(``sources/usage.py``), which page and feature mappings may share. PesInputs holds sets,
so rows read twice (a re-read or a split call) add nothing twice.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

from pendo_tui.config.model import DEFAULT_APP_ID, PullMapping
from pendo_tui.pendo.pipelines import activity_pipeline
from pendo_tui.sync.ports import PendoApi
from pendo_tui.sync.pull.pes import COMPONENTS, HISTORY_DAYS, PesInputs, score
from pendo_tui.sync.pull.placer import Cache
from pendo_tui.sync.pull.result import Job
from pendo_tui.sync.pull.scan import Rows, Scan
from pendo_tui.sync.pull.sources import BatchContext, is_number
from pendo_tui.sync.pull.sources.usage import CoreRoute, UsageGroup
from pendo_tui.sync.windows import SyncWindow, day_of_ms, day_start_ms

CORE_KINDS = (("pages", "page"), ("features", "feature"), ("track_types", "trackType"))


def core_ids(client: PendoApi, app: str) -> dict[str, set[str]]:
    """Core page / feature / track type ids of one app, by usage kind."""
    out: dict[str, set[str]] = {}
    for fetch, kind in CORE_KINDS:
        getter = getattr(client, fetch, None)
        objs = getter() if getter is not None else []
        out[kind] = {
            str(o["id"]) for o in objs if o.get("isCoreEvent") and str(o.get("appId")) == app
        }
    return out


class PesSource:
    """One PES mapping: inputs gathered from shared scans, scored in ``finish``."""

    def __init__(self, job: Job, ctx: BatchContext, core: dict[str, set[str]]) -> None:
        self.job = job
        self.ctx = ctx
        self.app = job.mapping.app or DEFAULT_APP_ID
        self.inputs = PesInputs(core_ids=set().union(*core.values()) if core else set())
        self.core = core
        self.cache: Cache = {}  # visitor → placement, for this PES mapping
        for vid, meta in ctx.visitors.items():
            first = (meta.get("auto") or {}).get("firstvisit")
            if is_number(first):
                self.inputs.first_visit[vid] = day_of_ms(first, ctx.tz)
        w = job.window
        self.history = SyncWindow(w.first_day - timedelta(days=HISTORY_DAYS - 1), w.last_day)

    def key(self, row: dict[str, Any]) -> tuple[str, str] | None:
        """(company, visitor) when the placement rule lets PES count the row."""
        return self.ctx.placer.pes_key(self.job, self.cache, row)

    def read_activity(self, row: dict[str, Any], day: date) -> None:
        if day not in self.history:
            return
        key = self.key(row)
        if key is not None:
            self.job.result.rows_fetched += 1
            self.inputs.add_activity(*key, day)

    def read_core(self, id_field: str) -> Any:
        def read(row: dict[str, Any], day: date) -> None:
            if str(row.get("appId")) != self.app:
                return
            key = self.key(row)
            if key is not None:
                self.job.result.rows_fetched += 1
                self.inputs.add_core(*key, day, str(row[id_field]))

        return read

    def register(self, groups: dict[tuple[str, str | None], UsageGroup]) -> None:
        """Read core usage from the (kind, no segment) usage scans."""
        from pendo_tui.pendo.pipelines import USAGE_SOURCES

        for kind, ids in self.core.items():
            if not ids:
                continue
            key = (kind, None)
            if key not in groups:
                groups[key] = UsageGroup(kind, None, self.ctx)
            route = CoreRoute(self.job, ids, self.history, self.read_core(USAGE_SOURCES[kind][1]))
            groups[key].add_core(route)

    def scans(self) -> list[Scan]:
        return []  # activity scans are per app: see ``activity_scans``

    def finish(self) -> None:
        if self.job.error is not None:
            return
        names = pes_metric_names(self.job.mapping)
        writer = self.ctx.metric
        for account, day, component, value in score(self.inputs, self.job.window.days()):
            writer.add(
                {
                    "mapping": self.job.name,
                    "metric": names[component],
                    "object_type": "company",
                    "object_id": account,
                    "day": day,
                    "app_id": "",
                    "value": value,
                }
            )
        writer.flush()


def activity_scans(sources: list[PesSource], ctx: BatchContext) -> list[Scan]:
    """One ``events`` scan per app and window, shared by that app's PES mappings."""
    by_app: dict[str, list[PesSource]] = {}
    for s in sources:
        by_app.setdefault(s.app, []).append(s)
    out = []
    for app_text, readers in by_app.items():
        app: Any = int(app_text) if app_text.lstrip("-").isdigit() else app_text
        window = SyncWindow(
            min(r.history.first_day for r in readers), max(r.history.last_day for r in readers)
        )
        for sub in window.chunks(ctx.max_call_days):
            out.append(_activity_scan(app, app_text, sub, readers, ctx))
    return out


def _activity_scan(
    app: Any, app_text: str, window: SyncWindow, readers: list[PesSource], ctx: BatchContext
) -> Scan:
    tz = ctx.tz

    def open_(w: SyncWindow, name: str) -> Iterator[dict[str, Any]]:
        steps = activity_pipeline(app, day_start_ms(w.first_day, tz), len(w))
        return ctx.client.aggregate(steps, name=name)

    def consume(rows: Rows, w: SyncWindow) -> None:
        for row in rows:
            day = day_of_ms(row.get("day") or 0, tz)
            if day not in w:
                continue
            for r in readers:
                if r.job.error is None:
                    r.read_activity(row, day)

    def discard(_: SyncWindow) -> None:  # sets: nothing to take back
        return None

    jobs = [r.job for r in readers]
    return Scan(f"pes activity app {app_text}", window, open_, consume, discard, jobs,
                splittable=True)  # fmt: skip


def pes_metric_names(mapping: PullMapping) -> dict[str, str]:
    """PES → the mapping's metric name; components → "<name> <component>" unless renamed
    in ``columns`` (component = metric name)."""
    base = mapping.metric_name
    names = {c: f"{base} {c}" for c in COMPONENTS}
    names["pes"] = base
    names.update({k: v for k, v in mapping.columns.items() if k in names})
    return names
