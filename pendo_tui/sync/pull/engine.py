"""The pull engine: Pendo usage into the store (spec §2–§5).

One batch = one or more mappings fetched into connection-local staging tables, then
applied in ONE transaction together with new end users, filled-in names, last-seen dates
and the cursors. A fetch that fails at any point leaves the live tables as they were;
a re-read upserts on natural keys, so rerunning a sync gives the same store.

- ``sync(mapping)``  — Sync now: from the cursor to yesterday; upserts, deletes nothing.
- ``resync_all(ms)`` — every mapping rebuilt from ``days_to_sync`` ago; old rows of those
  mappings are deleted in the same transaction that writes the new ones.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, TypeVar

from sqlalchemy import Connection, bindparam, case, select, update

from pendo_tui.config.model import DEFAULT_APP_ID, Config, PullMapping, multi_app_metric_name
from pendo_tui.errors import ConfigError
from pendo_tui.pendo.errors import MalformedResponseError
from pendo_tui.store import schema
from pendo_tui.sync.progress import ProgressCallback, ProgressEvent, emit
from pendo_tui.sync.pull import notices
from pendo_tui.sync.pull import pipelines as pp
from pendo_tui.sync.pull import stage as st
from pendo_tui.sync.pull.companies import company_rows, refresh_companies
from pendo_tui.sync.pull.fingerprint import mapping_fingerprint
from pendo_tui.sync.pull.identity import (
    CREATED,
    MATCHED_EMAIL,
    MATCHED_ID,
    SKIPPED,
    Decision,
    EndUser,
    IdentityIndex,
    VisitorFacts,
    visitor_facts,
)
from pendo_tui.sync.pull.pes import COMPONENTS, HISTORY_DAYS, PesInputs, score
from pendo_tui.sync.pull.placement import Placement, place_account, place_visitor
from pendo_tui.sync.pull.reports import numeric_columns, report_compatibility, report_level
from pendo_tui.sync.windows import SyncWindow, day_of_ms, day_start_ms, today_in, window_for

T = TypeVar("T")
PES_CORE_SOURCES = (
    ("pageEvents", "pageId"),
    ("featureEvents", "featureId"),
    ("trackEvents", "trackTypeId"),
)
FETCH_ATTEMPTS = 3  # a body cut mid-stream cannot be retried by the client: re-read the chunk
PREVIEW_EXAMPLES = 5
TRIAL_ROWS = 1_000


@dataclass
class PullResult:
    """Per-mapping counts for the run summary."""

    mapping: str
    kind: str
    first_day: str | None = None
    last_day: str | None = None
    days: int = 0
    calls: int = 0
    rows_fetched: int = 0
    rows_written: int = 0
    activities_written: int = 0
    metrics_written: int = 0
    users_created: int = 0
    users_updated: int = 0
    skipped: dict[str, int] = field(default_factory=dict)  # reason → distinct visitors/ids
    skipped_examples: dict[str, list[str]] = field(default_factory=dict)  # reason → ≤3 ids
    warnings: list[str] = field(default_factory=list)  # no silent zeros (notices.py)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class _Job:
    """One mapping's work inside a batch."""

    mapping: PullMapping
    window: SyncWindow
    result: PullResult
    skipped: dict[str, set[str]] = field(default_factory=dict)
    user_visitor: dict[int, str] = field(default_factory=dict)  # bounded by end users
    seen: set[str] = field(default_factory=set)  # distinct visitors (or accounts) placed or not
    unit: str = "visitors"  # what `seen` counts, for the warnings
    merge: bool = False  # two visitors reached one end user: activity keys may repeat

    def skip(self, reason: str, key: str | None) -> None:
        self.skipped.setdefault(reason, set()).add(key or "")


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


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


class PullEngine:
    """Runs pull mappings against one client and one store (see module docstring)."""

    def __init__(
        self,
        config: Config,
        client: Any,
        store: Any,
        progress: ProgressCallback | None = None,
        today: date | None = None,
        max_call_days: int = pp.MAX_CALL_DAYS,
    ) -> None:
        self.config = config
        self.max_call_days = max_call_days  # Pendo advises ≤30 days of events per call
        self.client = client
        self.store = store
        self.progress = progress
        self.tz = config.pendo.timezone
        self.today = today or today_in(self.tz)
        self._visitor_meta: dict[str, dict[str, Any]] | None = None
        self._companies_done = False
        self._reports: list[dict[str, Any]] | None = None
        self._source_companies: set[str] | None = None
        self._created_by: dict[int, str] = {}

    # -- public API ---------------------------------------------------------------------

    def sync(
        self,
        mapping: PullMapping,
        resync: bool = False,
        counters: dict[str, int] | None = None,
    ) -> PullResult:
        (result,) = self._run_batch([mapping], resync=resync)
        if counters is not None:
            for key in ("rows_fetched", "rows_written", "calls"):
                counters[key] = counters.get(key, 0) + getattr(result, key)
        return result

    def resync_all(self, mappings: Iterable[PullMapping]) -> list[PullResult]:
        return self._run_batch(list(mappings), resync=True)

    def window(self, mapping: PullMapping, resync: bool = False) -> SyncWindow:
        cursor, _ = self._state(mapping.name)
        return window_for(self.config, cursor, today=self.today, resync=resync)

    def plan(self, mapping: PullMapping, resync: bool = False) -> dict[str, Any]:
        """What a sync would fetch and write; reads the store's cursor, writes nothing."""
        w = self.window(mapping, resync)
        days = len(w)
        first = w.first_day
        if mapping.kind in ("page", "feature"):
            calls = len(list(w.chunks(self.max_call_days))) if days else 0
            writes = f"activities and daily metric {mapping.metric_name!r} per {mapping.object}"
        elif mapping.kind == "report":
            calls, days, first = (1, 1, w.last_day) if days else (0, 0, first)
            names = ", ".join(mapping.columns.values())
            writes = f"metrics {names} for {w.last_day}"
        elif mapping.kind == "aggregation":
            per_day = pp.has_time_series(mapping.pipeline_steps())
            calls = (days if per_day else 1) if days else 0
            writes = f"metrics {', '.join(mapping.columns.values())} per {mapping.object}"
        else:
            hist = days + HISTORY_DAYS - 1 if days else 0
            calls = 4 * len(list(range(0, hist, self.max_call_days)))  # at most
            writes = f"PES metrics ({', '.join(COMPONENTS)}) per company"
        return {
            "kind": mapping.kind,
            "first_day": None if w.empty else first.isoformat(),
            "last_day": None if w.empty else w.last_day.isoformat(),
            "days": days,
            "calls": calls,
            "writes": writes if days else "nothing (up to date)",
            "resync": resync,
            "warnings": self.preview_warnings(mapping) if days else [],
        }

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

    def check_fingerprints(self, mappings: Iterable[PullMapping]) -> list[str]:
        """Names of mappings whose stored fingerprint no longer matches the config."""
        changed = []
        for m in mappings:
            _, stored = self._state(m.name)
            if stored and stored != mapping_fingerprint(self.config, m):
                changed.append(m.name)
        return changed

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
        if not self._companies_done:
            retrying(lambda: refresh_companies(self.config, self.client, self.store))
            self._companies_done = True
        self._visitors()

    def validate_aggregation(self, mapping: PullMapping) -> list[str]:
        """Before saving an aggregation mapping: static checks, then a trial run for
        yesterday (at most ``TRIAL_ROWS`` rows read) proving mapped columns are numeric."""
        steps = mapping.pipeline_steps()
        problems = pp.validate_aggregation(steps, mapping.object, list(mapping.columns))
        if problems:
            return problems
        if pp.has_time_series(steps):
            steps = pp.substitute_window(steps, day_start_ms(self.today - timedelta(1), self.tz))
        rows = []
        for row in self.client.aggregate(steps, name="pendo-tui-trial"):
            rows.append(row)
            if len(rows) >= TRIAL_ROWS:
                break
        return pp.trial_problems(rows, list(mapping.columns))

    # -- batch --------------------------------------------------------------------------

    def _run_batch(self, mappings: list[PullMapping], resync: bool) -> list[PullResult]:
        self.prepare()
        index = self._load_index()
        jobs = []
        for m in mappings:
            w = self.window(m, resync)
            res = PullResult(
                mapping=m.name,
                kind=m.kind,
                first_day=None if w.empty else w.first_day.isoformat(),
                last_day=None if w.empty else w.last_day.isoformat(),
                days=len(w),
            )
            jobs.append(_Job(m, w, res))
        with self.store.connect() as conn:
            st.create_stage(conn)
            try:
                for job in jobs:
                    self._fetch(conn, job, index)
                self._apply(conn, jobs, index, resync)
            finally:
                conn.rollback()
                st.drop_stage(conn)
        for job in jobs:
            self._warn(job)
            emit(
                self.progress,
                ProgressEvent(job.mapping.name, "done", job.result.days, job.result.days),
            )
        return [j.result for j in jobs]

    def _fetch(self, conn: Connection, job: _Job, index: IdentityIndex) -> None:
        if job.window.empty:
            return
        fetchers: dict[str, Callable[[Connection, _Job, IdentityIndex], None]] = {
            "page": self._fetch_usage,
            "feature": self._fetch_usage,
            "report": self._fetch_report,
            "aggregation": self._fetch_aggregation,
            "pes": self._fetch_pes,
        }
        fetchers[job.mapping.kind](conn, job, index)
        job.result.skipped = {r: len(keys) for r, keys in sorted(job.skipped.items())}
        job.result.skipped_examples = {
            r: sorted(k for k in keys if k)[: notices.EXAMPLES]
            for r, keys in sorted(job.skipped.items())
        }

    def _warn(self, job: _Job) -> None:
        res = job.result
        res.warnings = notices.run_warnings(
            self.config,
            job.mapping,
            rows_fetched=res.rows_fetched,
            rows_written=res.rows_written,
            skipped=res.skipped,
            seen=len(job.seen),
            unit=job.unit,
        )

    def _stream(self, job: _Job, steps: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        job.result.calls += 1
        for row in self.client.aggregate(steps, name=f"pendo-tui:{job.mapping.name}"):
            job.result.rows_fetched += 1
            yield row

    def _chunked(
        self,
        conn: Connection,
        job: _Job,
        writer: st.StageWriter,
        windows: list[SyncWindow],
        fetch_one: Callable[[SyncWindow], None],
    ) -> None:
        """Fetch each sub-window, re-reading it (after discarding its rows) if cut short."""
        for i, sub in enumerate(windows):
            emit(self.progress, ProgressEvent(job.mapping.name, "fetch", i, len(windows)))
            for attempt in range(FETCH_ATTEMPTS):
                try:
                    fetch_one(sub)
                    writer.flush()
                    break
                except MalformedResponseError:
                    if attempt == FETCH_ATTEMPTS - 1:
                        raise
                    writer.discard_days(job.mapping.name, sub.first_day, sub.last_day)

    # -- identity -----------------------------------------------------------------------

    def _place(
        self,
        job: _Job,
        index: IdentityIndex,
        cache: dict[str, tuple[Placement, VisitorFacts]],
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
            facts = visitor_facts(self.config.identity, row, self._visitors().get(key))
            decision = self._decide(job, index, facts, key) if identify else None
            where = place_visitor(
                target or job.mapping.object, facts, decision, index.companies,
                activities=activities,
            )  # fmt: skip
            hit = cache[key] = (where, facts)
            job.seen.add(key)
        if hit[0].dropped is not None:
            job.skip(hit[0].dropped, key)
        return hit

    def _decide(self, job: _Job, index: IdentityIndex, facts: VisitorFacts, key: str) -> Decision:
        """The end-user part: match, create (auto-create) or none."""
        decision = index.decide(facts, job.mapping.auto_create_users)
        if decision.outcome == CREATED and decision.end_user is not None:
            self._created_by[decision.end_user.id] = job.mapping.name
        if decision.updates:
            job.result.users_updated += 1
        user = decision.end_user
        if user is not None and job.user_visitor.setdefault(user.id, key) != key:
            job.merge = True
        return decision

    def _metric_key(self, mapping: PullMapping, name: str, app: Any) -> tuple[str, str]:
        if not mapping.multi_app or app is None:
            return name, ""
        prefix = self.config.prefix_for_app(app)
        return multi_app_metric_name(prefix, name), self.config.app_series_key(app)

    # -- page / feature -----------------------------------------------------------------

    def _fetch_usage(self, conn: Connection, job: _Job, index: IdentityIndex) -> None:
        m = job.mapping
        writer = st.StageWriter(conn, st.stage_activity)
        cache: dict[str, tuple[Placement, VisitorFacts]] = {}

        days: dict[Any, tuple[date, Any]] = {}  # bucket ms → (day, staged value): few keys
        app_keys: dict[Any, tuple[str, str, str]] = {}  # appId → (app_id, metric, series)

        def fetch_one(sub: SyncWindow) -> None:
            first_ms = day_start_ms(sub.first_day, self.tz)
            steps = pp.usage_pipeline(m.kind, m.id or "", first_ms, len(sub), m.segment)
            for row in self._stream(job, steps):
                ms = row.get("day") or 0
                hit = days.get(ms)
                if hit is None:
                    d = day_of_ms(ms, self.tz)
                    hit = days[ms] = (d, writer.day_value(d))
                if hit[0] not in sub:
                    continue
                where, facts = self._place(job, index, cache, row, activities=True)
                if where.dropped is not None:
                    continue
                user = where.end_user
                app = row.get("appId")
                keys = app_keys.get(app)
                if keys is None:
                    keys = app_keys[app] = (
                        str(app if app is not None else DEFAULT_APP_ID),
                        *self._metric_key(m, m.metric_name, app),
                    )
                # raw rollup rows (no group step) name them numEvents/numMinutes
                events = row.get("events", row.get("numEvents"))
                minutes = row.get("minutes", row.get("numMinutes"))
                writer.add_values(
                    (
                        m.name,
                        user.id if user is not None else None,  # None: metric only
                        keys[0],
                        hit[1],
                        facts.company_id or (user.company_external_id if user else None),
                        int(events or 0),
                        int(minutes or 0),
                        where.object_id,
                        keys[1],
                        keys[2],
                    )
                )

        self._chunked(conn, job, writer, list(job.window.chunks(self.max_call_days)), fetch_one)

    # -- report -------------------------------------------------------------------------

    def _report(self, report_id: str) -> dict[str, Any]:
        if self._reports is None:
            self._reports = list(self.client.reports())
        for r in self._reports:
            if str(r.get("id")) == report_id:
                return r
        raise ConfigError(
            f"report {report_id!r} is not among the subscription's shared reports",
            "Pick a report from the list in the TUI, or check the id (only public/shared "
            "reports are available through the API).",
        )

    def _fetch_report(self, conn: Connection, job: _Job, index: IdentityIndex) -> None:
        m = job.mapping
        report = self._report(m.id or "")
        ok, reason, _ = report_compatibility(report)
        if not ok:
            raise ConfigError(
                f"pull mapping {m.name!r}: report {report.get('name')!r} {reason}",
                "Choose a report with a rolling window of at most 180 days.",
            )
        numeric = set(numeric_columns(report))
        bad = [c for c in m.columns if c not in numeric]
        if bad:
            raise ConfigError(
                f"pull mapping {m.name!r}: column(s) {', '.join(bad)} of report "
                f"{report.get('name')!r} are not numeric",
                f"Numeric columns: {', '.join(sorted(numeric))}.",
            )
        account = report_level(report) == "account"
        day = job.window.last_day  # the day this sync covers: yesterday
        job.window = SyncWindow(day, day)
        job.result.first_day, job.result.days = day.isoformat(), 1
        writer = st.StageWriter(conn, st.stage_metric)
        cache: dict[str, tuple[Placement, VisitorFacts]] = {}

        def read(_: SyncWindow) -> None:
            job.result.calls += 1
            for row in self.client.report_results(m.id):
                job.result.rows_fetched += 1
                self._report_row(job, index, cache, writer, row, account, day)

        self._chunked(conn, job, writer, [job.window], read)

    def _report_row(
        self,
        job: _Job,
        index: IdentityIndex,
        cache: dict[str, tuple[Placement, VisitorFacts]],
        writer: st.StageWriter,
        row: dict[str, Any],
        account: bool,
        day: date,
    ) -> None:
        m = job.mapping
        if account:
            where = self._place_account(job, index, row.get("accountId"))
        else:
            where, _ = self._place(job, index, cache, row, target="end_user")
        object_id = where.object_id
        if object_id is None:
            return
        for column, metric in m.columns.items():
            value = row.get(column)
            if is_number(value):
                writer.add(
                    {
                        "mapping": m.name,
                        "metric": metric,
                        "object_type": "company" if account else "end_user",
                        "object_id": str(object_id),
                        "day": day,
                        "app_id": "",
                        "value": float(value),
                    }
                )

    # -- aggregation --------------------------------------------------------------------

    def _fetch_aggregation(self, conn: Connection, job: _Job, index: IdentityIndex) -> None:
        m = job.mapping
        steps = m.pipeline_steps()
        problems = pp.validate_aggregation(steps, m.object, list(m.columns))
        if problems:
            raise ConfigError(
                f"pull mapping {m.name!r}: pipeline is not usable: {'; '.join(problems)}",
                "Fix the pipeline JSON in the config (or in the TUI's aggregation editor).",
            )
        writer = st.StageWriter(conn, st.stage_metric)
        cache: dict[str, tuple[Placement, VisitorFacts]] = {}
        per_day = pp.has_time_series(steps)
        if not per_day:  # a snapshot pipeline: its values are recorded for yesterday
            job.window = SyncWindow(job.window.last_day, job.window.last_day)
            job.result.first_day, job.result.days = job.window.first_day.isoformat(), 1

        def fetch_one(sub: SyncWindow) -> None:
            day = sub.first_day
            call = pp.substitute_window(steps, day_start_ms(day, self.tz)) if per_day else steps
            for row in self._stream(job, call):
                object_id = self._aggregation_object(job, index, cache, row)
                if object_id is None:
                    continue
                for column, name in m.columns.items():
                    value = row.get(column)
                    if not is_number(value):
                        continue
                    metric, series = self._metric_key(m, name, row.get("appId"))
                    writer.add(
                        {
                            "mapping": m.name,
                            "metric": metric,
                            "object_type": m.object,
                            "object_id": object_id,
                            "day": day,
                            "app_id": series,
                            "value": float(value),
                        }
                    )

        days = [SyncWindow(d, d) for d in job.window.days()]
        self._chunked(conn, job, writer, days, fetch_one)

    def _aggregation_object(
        self,
        job: _Job,
        index: IdentityIndex,
        cache: dict[str, tuple[Placement, VisitorFacts]],
        row: dict[str, Any],
    ) -> str | None:
        if job.mapping.object == "company" and "visitorId" not in row:
            return self._place_account(job, index, row.get("accountId")).object_id
        return self._place(job, index, cache, row)[0].object_id

    def _place_account(self, job: _Job, index: IdentityIndex, account: Any) -> Placement:
        """A row naming an account but no visitor (account report / aggregation rows)."""
        where = place_account(account, index.companies)
        key = str(account) if account not in (None, "") else ""
        job.seen.add(key)
        job.unit = "accounts"
        if where.dropped is not None:
            job.skip(where.dropped, key)
        return where

    # -- PES ----------------------------------------------------------------------------

    def _fetch_pes(self, conn: Connection, job: _Job, index: IdentityIndex) -> None:
        m = job.mapping
        app_text = m.app or DEFAULT_APP_ID
        app: Any = int(app_text) if app_text.lstrip("-").isdigit() else app_text
        inputs = PesInputs(core_ids=self._core_ids(app_text))
        for vid, meta in self._visitors().items():
            first = (meta.get("auto") or {}).get("firstvisit")
            if is_number(first):
                inputs.first_visit[vid] = day_of_ms(first, self.tz)
        history = SyncWindow(
            job.window.first_day - timedelta(days=HISTORY_DAYS - 1), job.window.last_day
        )
        chunks = list(history.chunks(self.max_call_days))
        cache: dict[str, tuple[Placement, VisitorFacts]] = {}
        read = functools.partial(self._pes_read, job, index, cache, inputs)
        for i, sub in enumerate(chunks):
            emit(self.progress, ProgressEvent(m.name, "fetch", i, len(chunks)))
            first_ms = day_start_ms(sub.first_day, self.tz)
            # PesInputs holds sets: re-reading a cut-off call adds nothing twice.
            steps = pp.activity_pipeline(app, first_ms, len(sub))
            retrying(lambda s=steps, w=sub: read(s, w, None))
            if not inputs.core_ids:
                continue
            for source, id_field in PES_CORE_SOURCES:
                steps = pp.core_usage_pipeline(source, id_field, app, first_ms, len(sub))
                retrying(lambda s=steps, w=sub, f=id_field: read(s, w, f))
        writer = st.StageWriter(conn, st.stage_metric)
        names = pes_metric_names(m)
        for account, day, component, value in score(inputs, job.window.days()):
            writer.add(
                {
                    "mapping": m.name,
                    "metric": names[component],
                    "object_type": "company",
                    "object_id": account,
                    "day": day,
                    "app_id": "",
                    "value": value,
                }
            )
        writer.flush()

    def _pes_read(
        self,
        job: _Job,
        index: IdentityIndex,
        cache: dict[str, tuple[Placement, VisitorFacts]],
        inputs: PesInputs,
        steps: list[dict[str, Any]],
        sub: SyncWindow,
        id_field: str | None,
    ) -> None:
        for row in self._stream(job, steps):
            key = self._pes_key(job, index, cache, row, sub)
            if key is None:
                continue
            if id_field is None:
                inputs.add_activity(*key)
            elif row.get(id_field) in inputs.core_ids:
                inputs.add_core(*key, str(row[id_field]))

    def _pes_key(
        self,
        job: _Job,
        index: IdentityIndex,
        cache: dict[str, tuple[Placement, VisitorFacts]],
        row: dict[str, Any],
        sub: SyncWindow,
    ) -> tuple[str, str, date] | None:
        """(company, visitor, day) of a row PES may count: the company rule, no end user
        looked up (PES writes company metrics only and never creates end users)."""
        where, facts = self._place(job, index, cache, row, target="company", identify=False)
        if where.object_id is None or facts.visitor_id is None:
            return None
        day = day_of_ms(row.get("day") or 0, self.tz)
        return (where.object_id, facts.visitor_id, day) if day in sub else None

    def _core_ids(self, app: str) -> set[str]:
        objs: list[dict[str, Any]] = []
        for fetch in ("pages", "features", "track_types"):
            getter = getattr(self.client, fetch, None)
            if getter is not None:
                objs.extend(getter())
        return {str(o["id"]) for o in objs if o.get("isCoreEvent") and str(o.get("appId")) == app}

    # -- apply --------------------------------------------------------------------------

    def _apply(
        self, conn: Connection, jobs: list[_Job], index: IdentityIndex, resync: bool
    ) -> None:
        conn.commit()
        with conn.begin():
            real = self._create_users(conn, index)
            st.reassign_users(conn, real)
            st.analyze(conn)
            for job in jobs:
                job.result.users_created = sum(
                    1 for p in real if self._created_by.get(p) == job.mapping.name
                )
            self._fill_empty(conn, index)
            if resync:
                st.delete_mapping_data(conn, [j.mapping.name for j in jobs])
            for job in jobs:
                emit(self.progress, ProgressEvent(job.mapping.name, "write", 0, 1))
                self._apply_job(conn, job)
        index.created.clear()
        index.updated.clear()

    def _apply_job(self, conn: Connection, job: _Job) -> None:
        m, res = job.mapping, job.result
        if not job.window.empty:
            if m.kind in ("page", "feature"):
                acts, mets = st.apply_activities(conn, m.name, m.object, m.passive, job.merge)
                res.activities_written, res.metrics_written = acts, mets
                if not m.passive:
                    self._touch_last_seen(conn, m.name)
            res.metrics_written += st.apply_metrics(conn, m.name)
            res.rows_written = res.activities_written + res.metrics_written
        state = {
            "mapping": m.name,
            "cursor_day": None if job.window.empty else job.window.last_day,
            "fingerprint": mapping_fingerprint(self.config, m),
            "updated_at": datetime.now(UTC),
        }
        if job.window.empty:
            cursor, _ = self._state(m.name, conn)
            state["cursor_day"] = cursor
        self.store.upsert(conn, schema.pull_state, [state], ["mapping"])

    def _create_users(self, conn: Connection, index: IdentityIndex) -> dict[int, int]:
        if not index.created:
            return {}
        rows = [
            {
                "external_id": u.external_id,
                "email": u.email,
                "name": u.name,
                "surname": u.surname,
                "company_external_id": u.company_external_id,
                "created_by": f"pendo-tui:{self._created_by.get(u.id, '')}"[:64],
            }
            for u in index.created
        ]
        t = schema.end_users
        ids = conn.execute(t.insert().returning(t.c.id, sort_by_parameter_order=True), rows)
        real = {u.id: row[0] for u, row in zip(index.created, ids, strict=True)}
        for u in index.created:
            u.id = real[u.id]
        return real

    def _fill_empty(self, conn: Connection, index: IdentityIndex) -> None:
        t = schema.end_users
        for column in ("name", "surname", "email"):
            rows = [
                {"uid": uid, "v": values[column]}
                for uid, values in index.updated.items()
                if column in values
            ]
            if rows:
                col = t.c[column]
                stmt = (
                    update(t)
                    .where(t.c.id == bindparam("uid"), (col.is_(None)) | (col == ""))
                    .values({column: bindparam("v")})
                )
                conn.execute(stmt, rows)

    def _touch_last_seen(self, conn: Connection, mapping: str) -> None:
        """Non-passive activity moves last_seen/last_active forward, never back."""
        users, companies = st.last_days(conn, mapping)
        for table, key, values in (
            (schema.end_users, "id", users),
            (schema.companies, "external_id", companies),
        ):
            if not values:
                continue
            ts = bindparam("ts", type_=table.c.last_seen.type)
            stmt = (
                update(table)
                .where(table.c[key] == bindparam("k"))
                .values(
                    last_seen=case(
                        ((table.c.last_seen.is_(None)) | (table.c.last_seen < ts), ts),
                        else_=table.c.last_seen,
                    ),
                    last_active=case(
                        ((table.c.last_active.is_(None)) | (table.c.last_active < ts), ts),
                        else_=table.c.last_active,
                    ),
                )
            )
            conn.execute(stmt, [{"k": k, "ts": self._day_ts(d)} for k, d in values.items()])

    def _day_ts(self, day: date | str) -> datetime:
        if isinstance(day, str):
            day = date.fromisoformat(day)
        return datetime.combine(day, time(0), UTC)

    # -- store reads --------------------------------------------------------------------

    def _state(self, name: str, conn: Connection | None = None) -> tuple[date | None, str | None]:
        t = schema.pull_state
        stmt = select(t.c.cursor_day, t.c.fingerprint).where(t.c.mapping == name)
        if conn is not None:
            row = conn.execute(stmt).first()
        else:
            with self.store.connect() as c:
                row = c.execute(stmt).first()
        return (row[0], row[1]) if row else (None, None)

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
            paths = _metadata_paths(self.config)

            def read() -> dict[str, dict[str, Any]]:
                out: dict[str, dict[str, Any]] = {}
                steps = pp.visitors_pipeline()
                for rec in self.client.aggregate(steps, name="pendo-tui-visitors"):
                    vid = rec.get("visitorId")
                    if vid is not None:
                        out[str(vid)] = _slim(rec.get("metadata") or {}, paths)
                return out

            self._visitor_meta = retrying(read)
        return self._visitor_meta


def pes_metric_names(mapping: PullMapping) -> dict[str, str]:
    """PES → the mapping's metric name; components → "<name> <component>" unless renamed
    in ``columns`` (component = metric name)."""
    base = mapping.metric_name
    names = {c: f"{base} {c}" for c in COMPONENTS}
    names["pes"] = base
    names.update({k: v for k, v in mapping.columns.items() if k in names})
    return names


def _metadata_paths(config: Config) -> list[list[str]]:
    ident = config.identity
    fields = [
        ident.end_user_email,
        ident.end_user_name,
        ident.end_user_surname,
        ident.asset_id,
        ident.project_id,
        ident.company_external_id,
        ident.end_user_external_id,
        "pendo.donotprocess",
        "auto.firstvisit",
        "auto.accountid",
    ]
    out = []
    for f in fields:
        if f and f not in ("visitorId", "accountId", "-"):
            parts = f.split(".")
            out.append(parts[1:] if parts[0] == "metadata" else parts)
    return out


def _slim(metadata: dict[str, Any], paths: list[list[str]]) -> dict[str, Any]:
    """Keep only the metadata paths identity and PES read: memory is per visitor."""
    out: dict[str, Any] = {}
    for parts in paths:
        node: Any = metadata
        for p in parts:
            node = node.get(p) if isinstance(node, dict) else None
        if node is None:
            continue
        target = out
        for p in parts[:-1]:
            target = target.setdefault(p, {})
        target[parts[-1]] = node
    return out
