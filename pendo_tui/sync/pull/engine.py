"""The pull engine: Pendo usage into the store (docs/pull.md).

One batch = one or more mappings planned together (``plan.py``: coalesced calls), their
calls run with bounded concurrency (``scan.py``) and staged into connection-local tables
on the store thread, then applied (``apply.py``). A fetch that fails at any point leaves
the live tables as they were; a re-read upserts on natural keys, so rerunning a sync
gives the same store.

- ``sync(mapping)``        — Sync now: from the cursor to yesterday; upserts, deletes nothing.
- ``sync_many(mappings)``  — Sync now of several mappings read together; those whose calls
  all succeeded commit in one transaction, a failed one is left out untouched.
- ``resync_all(ms)``       — every mapping rebuilt from ``days_to_sync`` ago, in one
  transaction that also deletes their old rows.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from datetime import date, timedelta
from typing import Any, TypeVar

from sqlalchemy import select

from pendo_tui.config.model import Config, PullMapping
from pendo_tui.errors import ConfigError, PendoTuiError
from pendo_tui.pendo.errors import MalformedResponseError
from pendo_tui.pendo.pipelines import (
    MAX_CALL_DAYS,
    has_time_series,
    substitute_window,
    trial_problems,
    validate_pipeline,
)
from pendo_tui.pendo.requestlog import request_source
from pendo_tui.store import schema
from pendo_tui.sync.ports import PendoApi, StoreApi
from pendo_tui.sync.progress import ProgressCallback, ProgressEvent, emit
from pendo_tui.sync.pull import notices
from pendo_tui.sync.pull import stage as st
from pendo_tui.sync.pull.apply import Applier, read_state
from pendo_tui.sync.pull.companies import company_rows, refresh_companies
from pendo_tui.sync.pull.fingerprint import stale_mappings
from pendo_tui.sync.pull.identity import (
    CREATED,
    MATCHED_EMAIL,
    MATCHED_ID,
    SKIPPED,
    EndUser,
    IdentityIndex,
    visitor_facts,
)
from pendo_tui.sync.pull.placement import place_visitor
from pendo_tui.sync.pull.placer import Placer
from pendo_tui.sync.pull.plan import build_plan, describe_plan, setup_calls
from pendo_tui.sync.pull.reports import report_level
from pendo_tui.sync.pull.result import Job, PullResult, new_job
from pendo_tui.sync.pull.scan import FETCH_ATTEMPTS, MAX_CALL_BYTES, MAX_CALL_ROWS, ScanRunner
from pendo_tui.sync.pull.sources import BatchContext
from pendo_tui.sync.pull.sources.pes import pes_metric_names
from pendo_tui.sync.pull.sources.single import find_report
from pendo_tui.sync.pull.visitors import read_visitors
from pendo_tui.sync.windows import SyncWindow, day_start_ms, today_in, window_for

__all__ = ["PullEngine", "PullResult", "pes_metric_names"]

T = TypeVar("T")
PREVIEW_EXAMPLES = 5
TRIAL_ROWS = 1_000


def retrying(action: Callable[[], T]) -> T:
    """Run a whole read again when its body was cut short (the client cannot: rows were
    already handed out). Callers make ``action`` safe to repeat."""
    for attempt in range(FETCH_ATTEMPTS):
        try:
            return action()
        except MalformedResponseError:
            if attempt == FETCH_ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")


class PullEngine:
    """Runs pull mappings against one client and one store (see module docstring)."""

    def __init__(
        self,
        config: Config,
        client: PendoApi,
        store: StoreApi,
        progress: ProgressCallback | None = None,
        today: date | None = None,
        max_call_days: int = MAX_CALL_DAYS,
        max_concurrent: int | None = None,
        max_call_rows: int = MAX_CALL_ROWS,
        max_call_bytes: int = MAX_CALL_BYTES,
    ) -> None:
        self.config = config
        self.max_call_days = max_call_days  # Pendo advises ≤30 days of events per call
        self.max_concurrent = max_concurrent or config.pendo.max_concurrent_calls
        self.max_call_rows = max_call_rows  # a splittable call past either budget is split
        self.max_call_bytes = max_call_bytes
        self.client = client
        self.store = store
        self.progress = progress
        self.tz = config.pendo.timezone
        self.today = today or today_in(self.tz)
        self._visitor_meta: dict[str, dict[str, Any]] | None = None
        self._companies_done = False
        self._reports: list[dict[str, Any]] | None = None
        self._source_companies: set[str] | None = None

    # -- public API ---------------------------------------------------------------------

    def sync(self, mapping: PullMapping, resync: bool = False) -> PullResult:
        (job,) = self._run_batch([mapping], resync=resync, fail_fast=True)
        return job.result

    def sync_many(self, mappings: Iterable[PullMapping]) -> list[PullResult | PendoTuiError]:
        """Sync now of several mappings, their calls shared (see module docstring): a
        result per mapping, or the error that failed it."""
        jobs = self._run_batch(list(mappings), resync=False, fail_fast=False)
        out: list[PullResult | PendoTuiError] = []
        for job in jobs:
            err = job.error
            out.append(err if isinstance(err, PendoTuiError) else job.result)
        return out

    def resync_all(self, mappings: Iterable[PullMapping]) -> list[PullResult]:
        return [j.result for j in self._run_batch(list(mappings), resync=True, fail_fast=True)]

    def window(self, mapping: PullMapping, resync: bool = False) -> SyncWindow:
        cursor, _ = read_state(self.store, mapping.name)
        return window_for(self.config, cursor, today=self.today, resync=resync)

    def plan(self, mapping: PullMapping, resync: bool = False) -> dict[str, Any]:
        """What a sync of this mapping alone would fetch and write (see ``plan_many``)."""
        items, _ = self.plan_many([mapping], resync)
        return items[0]

    def plan_many(
        self, mappings: Iterable[PullMapping], resync: bool = False
    ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        """Dry run of a batch: the plan a sync of these mappings together would run
        (``plan.describe_plan``) — an item per mapping (window, the calls its data comes
        from and who shares them, what it writes, warnings) and the run's totals. Reads
        cursors and Pendo's lists, writes nothing."""
        jobs = [new_job(m, self.window(m, resync)) for m in mappings]

        def failed(job: Job, exc: PendoTuiError) -> None:
            job.error = exc

        placer = Placer(self.config, self._load_index(), self._visitors())
        with self.store.connect() as conn:  # stage writers are built, never written
            ctx = self._context(conn, placer)
            plan = build_plan(jobs, ctx, failed)
        self._reports = ctx.reports  # read once per engine (the placement preview too)
        items, summary = describe_plan(jobs, plan, setup_calls(self.config))
        for job, item in zip(jobs, items, strict=True):
            warnings = self.preview_warnings(job.mapping) if item["days"] else []
            item.update(resync=resync, warnings=warnings)
        return items, summary

    def _context(self, conn: Any, placer: Placer) -> BatchContext:
        inserter = st.Inserter(conn)  # writes the stage (PostgreSQL: on its own thread)
        ctx = BatchContext(
            config=self.config,
            client=self.client,
            placer=placer,
            inserter=inserter,
            activity=st.StageWriter(inserter, st.stage_activity),
            metric=st.StageWriter(inserter, st.stage_metric),
            max_call_days=self.max_call_days,
            visitors=self._visitors(),
            reports=self._reports,
        )
        return ctx

    def preview_warnings(self, mapping: PullMapping) -> list[str]:
        """Dry run: warnings when most of Pendo's visitors would be dropped by this mapping
        (the placement rule applied to every visitor; reads, writes nothing)."""
        skipped, total = self.preview_placement(mapping)
        return notices.preview_warnings(self.config, mapping, skipped, total)

    def preview_placement(self, mapping: PullMapping) -> tuple[dict[str, int], int]:
        """(visitors that would be dropped by reason, visitors) for one mapping."""
        target, activities, identify = mapping.object, mapping.kind in ("page", "feature"), True
        if mapping.kind == "pes":
            target, identify = "company", False
        elif mapping.kind == "report":
            try:
                account = report_level(self._report(mapping.id or "")) == "account"
            except ConfigError:
                return {}, 0  # an unknown report is the id check's to report
            target = "company" if account else "end_user"
        index = self._preview_index()
        skipped: Counter[str] = Counter()
        visitors = self._visitors()
        for vid, meta in visitors.items():
            account = (meta.get("auto") or {}).get("accountid") or None
            facts = visitor_facts(
                self.config.identity, {"visitorId": vid, "accountId": account}, meta
            )
            decision = index.decide(facts, mapping.auto_create_users) if identify else None
            where = place_visitor(target, facts, decision, index.companies, activities=activities)
            if where.dropped is not None:
                skipped[where.dropped] += 1
        return dict(skipped), len(visitors)

    def _preview_index(self) -> IdentityIndex:
        """The store's end users and companies, plus (before the first run's refresh) the
        companies source's — read once per engine, written nowhere."""
        index = self._load_index()
        if not self._companies_done:
            if self._source_companies is None:
                self._source_companies = {
                    r["external_id"]
                    for r in retrying(lambda: list(company_rows(self.config, self.client)))
                }
            index.companies |= self._source_companies
        return index

    def _report(self, report_id: str) -> dict[str, Any]:
        if self._reports is None:
            self._reports = list(self.client.reports())
        return find_report(self._reports, report_id)

    def check_fingerprints(self, mappings: Iterable[PullMapping]) -> list[str]:
        """Names of mappings whose stored fingerprint no longer matches the config."""
        mappings = list(mappings)
        stored = {m.name: read_state(self.store, m.name)[1] for m in mappings}
        return stale_mappings(self.config, mappings, stored)

    def preview_identity(
        self, sample: int | None = None, mapping: PullMapping | None = None
    ) -> dict[str, Any]:
        """How Pendo's visitors would be matched, created or skipped — writes nothing."""
        index = self._preview_index()  # first run: the source's companies, read not written
        auto = bool(mapping and mapping.auto_create_users)
        counts: Counter[str] = Counter()
        examples: dict[str, list[str]] = {}
        for i, (vid, meta) in enumerate(self._visitors().items()):
            if sample is not None and i >= sample:
                break
            account = (meta.get("auto") or {}).get("accountid") or None
            rec = {"visitorId": vid, "accountId": account}
            decision = index.decide(visitor_facts(self.config.identity, rec, meta), auto)
            key = decision.reason if decision.outcome == SKIPPED else decision.outcome
            bucket = f"skipped:{key}" if decision.outcome == SKIPPED else key
            counts[bucket] += 1
            ex = examples.setdefault(bucket, [])
            if len(ex) < PREVIEW_EXAMPLES:
                ex.append(vid)
        skipped = {k.split(":", 1)[1]: v for k, v in counts.items() if k.startswith("skipped:")}
        total = sum(counts.values())
        return {
            "visitors": total,
            "matched_by_email": counts[MATCHED_EMAIL],
            "matched_by_id": counts[MATCHED_ID],
            "would_create": counts[CREATED],
            "skipped": skipped,  # no end user (placement may still count them: warnings)
            "examples": examples,
            "warnings": notices.identity_preview_warnings(self.config, skipped, total),
        }

    def prepare(self) -> None:
        """Refresh companies and read visitor metadata now (both happen once per run;
        the TUI and benchmarks call this to keep them out of the first mapping's time)."""
        with request_source("pull: companies and visitors"):  # named in the request log
            if not self._companies_done:
                retrying(lambda: refresh_companies(self.config, self.client, self.store))
                self._companies_done = True
            self._visitors()

    def validate_aggregation(self, mapping: PullMapping) -> list[str]:
        """Before saving an aggregation mapping: static checks, then a trial run for
        yesterday (at most ``TRIAL_ROWS`` rows read) proving mapped columns are numeric."""
        steps = mapping.pipeline_steps()
        problems = validate_pipeline(steps, mapping.object, list(mapping.columns))
        if problems:
            return problems
        if has_time_series(steps):
            steps = substitute_window(steps, day_start_ms(self.today - timedelta(1), self.tz))
        rows = []
        for row in self.client.aggregate(steps, name="pendo-tui-trial"):
            rows.append(row)
            if len(rows) >= TRIAL_ROWS:
                break
        return trial_problems(rows, list(mapping.columns))

    # -- batch --------------------------------------------------------------------------

    def _run_batch(self, mappings: list[PullMapping], resync: bool, fail_fast: bool) -> list[Job]:
        self.prepare()
        index = self._load_index()
        placer = Placer(self.config, index, self._visitors())
        jobs = [new_job(m, self.window(m, resync)) for m in mappings]

        def failed(job: Job, exc: PendoTuiError) -> None:
            if fail_fast:
                raise exc
            job.error = exc

        with self.store.connect() as conn:
            st.create_stage(conn)
            ctx = self._context(conn, placer)
            try:
                plan = build_plan(jobs, ctx, failed)
                runner = ScanRunner(
                    self.max_concurrent,
                    self.progress,
                    fail_fast=fail_fast,
                    max_rows=self.max_call_rows,
                    after_each=ctx.flush,
                    max_bytes=self.max_call_bytes,
                )
                runner.run(plan.scans)
                for source in plan.sources:
                    try:  # a source may refuse after reading its rows (report columns)
                        source.finish()
                    except PendoTuiError as exc:
                        failed(source.job, exc)
                ctx.flush(wait=True)
                for job in jobs:
                    _count_skips(job)
                st.index_stage(conn)
                applier = Applier(self.config, self.store, index, self.progress)
                # one transaction for every mapping whose calls all succeeded (Re-sync
                # all: every mapping, or it failed above); a failed one is left out
                done = [job for job in jobs if job.error is None]
                if done:
                    applier.apply(conn, done, resync=resync)
            finally:
                ctx.inserter.close()  # the connection is the store thread's again
                conn.rollback()
                st.release_stage(conn)
                index.created.clear()
        for job in jobs:
            if job.error is None:
                _warn(self.config, job)
                emit(self.progress, ProgressEvent(job.name, "done", job.result.days,
                                                  job.result.days))  # fmt: skip
        return jobs

    # -- store and metadata reads -------------------------------------------------------

    def _load_index(self) -> IdentityIndex:
        u = schema.end_users
        with self.store.connect() as conn:
            users = [
                EndUser(r.id, r.external_id, r.email, r.name, r.surname, r.company_external_id)
                for r in conn.execute(
                    select(u.c.id, u.c.external_id, u.c.email, u.c.name, u.c.surname,
                           u.c.company_external_id)
                )
            ]  # fmt: skip
            companies = conn.execute(select(schema.companies.c.external_id)).scalars().all()
        return IdentityIndex.build(self.config.identity, users, companies)

    def _visitors(self) -> dict[str, dict[str, Any]]:
        """Visitor metadata the identity settings need, one call per run, kept slim."""
        if self._visitor_meta is None:
            self._visitor_meta = retrying(lambda: read_visitors(self.config, self.client))
        return self._visitor_meta


def _count_skips(job: Job) -> None:
    job.result.skipped = {r: len(keys) for r, keys in sorted(job.skipped.items())}
    job.result.skipped_examples = {
        r: sorted(k for k in keys if k)[: notices.EXAMPLES]
        for r, keys in sorted(job.skipped.items())
    }


def _warn(config: Config, job: Job) -> None:
    res = job.result
    res.warnings = notices.run_warnings(
        config,
        job.mapping,
        rows_fetched=res.rows_fetched,
        rows_written=res.rows_written,
        skipped=res.skipped,
        seen=len(job.seen),
        unit=job.unit,
    )
