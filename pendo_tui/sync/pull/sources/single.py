"""Report and aggregation mappings: the user's own call, one per mapping (per day for a
pipeline with a time series), never shared with another mapping."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pendo_tui.errors import ConfigError
from pendo_tui.pendo.pipelines import has_time_series, substitute_window, validate_pipeline
from pendo_tui.sync.pull.placer import Cache
from pendo_tui.sync.pull.reports import (
    ColumnEvidence,
    column_problems,
    numeric_columns,
    numeric_value,
    report_level,
    window_problem,
)
from pendo_tui.sync.pull.result import Job
from pendo_tui.sync.pull.scan import Rows, Scan
from pendo_tui.sync.pull.sources import BatchContext, is_number
from pendo_tui.sync.windows import SyncWindow, day_start_ms


def find_report(reports: list[dict[str, Any]], report_id: str) -> dict[str, Any]:
    """The shared report with this id, or a ConfigError saying how to pick one."""
    for r in reports:
        if str(r.get("id")) == report_id:
            return r
    raise ConfigError(
        f"report {report_id!r} is not among the subscription's shared reports",
        "Pick a report from the list in the TUI, or check the id (only public/shared "
        "reports are available through the API).",
    )


def report_error(m: Any, report: dict[str, Any], problems: list[str]) -> ConfigError:
    numeric = numeric_columns(report)
    return ConfigError(
        f"pull mapping {m.name!r}: report {report.get('name')!r} {'; '.join(problems)}",
        "Choose a report with a rolling window of at most 180 days and map only numeric "
        "columns" + (f" (numeric: {', '.join(numeric)})." if numeric else "."),
    )


def _discarder(ctx: BatchContext, job: Job) -> Any:
    def discard(w: SyncWindow) -> None:
        ctx.discard([job.name], w.first_day, w.last_day)

    return discard


class AggregationSource:
    """A user's pipeline: run once per day with that day's window substituted, or once
    (values recorded for yesterday) when it reads no time series."""

    def __init__(self, job: Job, ctx: BatchContext) -> None:
        self.job = job
        self.ctx = ctx
        self.cache: Cache = {}

    def scans(self) -> list[Scan]:
        job, m, ctx = self.job, self.job.mapping, self.ctx
        steps = m.pipeline_steps()
        problems = validate_pipeline(steps, m.object, list(m.columns))
        if problems:
            raise ConfigError(
                f"pull mapping {m.name!r}: pipeline is not usable: {'; '.join(problems)}",
                "Fix the pipeline JSON in the config (or in the TUI's aggregation editor).",
            )
        per_day = has_time_series(steps)
        if not per_day:  # a snapshot pipeline: its values are recorded for yesterday
            job.narrow_to(SyncWindow(job.window.last_day, job.window.last_day))

        def open_(w: SyncWindow, name: str) -> Iterator[dict[str, Any]]:
            call = substitute_window(steps, day_start_ms(w.first_day, ctx.tz)) if per_day else steps
            return ctx.client.aggregate(call, name=name)

        def consume(rows: Rows, w: SyncWindow) -> None:
            for row in rows:
                job.result.rows_fetched += 1
                self._row(row, w)

        return [
            Scan(
                f"{m.name} {d}" if per_day else m.name,
                SyncWindow(d, d),
                open_,
                consume,
                _discarder(ctx, job),
                [job],
                reads=m.name,
            )
            for d in job.window.days()
        ]

    def _row(self, row: dict[str, Any], w: SyncWindow) -> None:
        job, m, placer = self.job, self.job.mapping, self.ctx.placer
        object_id = placer.aggregation_object(job, self.cache, row)
        if object_id is None:
            return
        for column, name in m.columns.items():
            value = row.get(column)
            if not is_number(value):
                continue
            metric, series = placer.metric_key(m, name, row.get("appId"))
            self.ctx.metric.add(
                {
                    "mapping": m.name,
                    "metric": metric,
                    "object_type": m.object,
                    "object_id": object_id,
                    "day": w.first_day,
                    "app_id": series,
                    "value": float(value),
                }
            )

    def finish(self) -> None:
        return None


class ReportSource:
    """A shared report's results, recorded for yesterday on the report's level."""

    def __init__(self, job: Job, ctx: BatchContext) -> None:
        self.job = job
        self.ctx = ctx
        self.cache: Cache = {}
        self.report: dict[str, Any] = {}
        self.evidence = ColumnEvidence()  # what the rows say about each column

    def _report(self) -> dict[str, Any]:
        if self.ctx.reports is None:
            self.ctx.reports = list(self.ctx.client.reports())
        return find_report(self.ctx.reports, self.job.mapping.id or "")

    def scans(self) -> list[Scan]:
        job, m, ctx = self.job, self.job.mapping, self.ctx
        report = self.report = self._report()
        reason, _ = window_problem(report)
        problems = column_problems(report, m.columns)  # what the definition alone shows
        if reason or problems:
            raise report_error(m, report, [reason] if reason else problems)
        account = report_level(report) == "account"
        day = job.window.last_day  # the day this sync covers: yesterday
        job.narrow_to(SyncWindow(day, day))

        def open_(_: SyncWindow, __: str) -> Iterator[dict[str, Any]]:
            return ctx.client.report_results(m.id)

        def consume(rows: Rows, w: SyncWindow) -> None:
            for row in rows:
                job.result.rows_fetched += 1
                self.evidence.observe(row)
                self._row(row, account, w)

        def discard(w: SyncWindow) -> None:  # a re-read starts the evidence afresh
            self.evidence = ColumnEvidence()
            _discarder(ctx, job)(w)

        return [Scan(f"report {m.name}", job.window, open_, consume, discard, [job], kind="report")]

    def _row(self, row: dict[str, Any], account: bool, w: SyncWindow) -> None:
        m = self.job.mapping
        placed = self.ctx.placer.report_object(self.job, self.cache, row, account)
        if placed is None:
            return
        object_type, object_id = placed
        for column, metric in m.columns.items():
            value = numeric_value(row.get(column))  # numbers sent as text are numbers
            if value is not None:
                self.ctx.metric.add(
                    {
                        "mapping": m.name,
                        "metric": metric,
                        "object_type": object_type,
                        "object_id": object_id,
                        "day": w.first_day,
                        "app_id": "",
                        "value": value,
                    }
                )

    def finish(self) -> None:
        """After the rows: a mapped column missing from them or holding text fails the
        mapping; what it staged is dropped, so nothing is applied and the cursor stays."""
        if self.job.error is not None or not self.report:
            return
        problems = column_problems(self.report, self.job.mapping.columns, self.evidence)
        if problems:
            _discarder(self.ctx, self.job)(self.job.window)
            raise report_error(self.job.mapping, self.report, problems)
