"""The simulator's aggregation evaluator: runs a Pendo pipeline over a Dataset.

A pipeline is compiled once (expressions parsed into closures, steps checked) and then run
as a chain of generators. Row-wise steps (filter, select, eval, identified, segment,
unwind, limit, bulkExpand) stay lazy, so a large source never materialises; group, reduce,
sort and fork necessarily hold their input (bounded by the dataset). `spawn` (a first step
holding whole pipelines, each with its own source) concatenates its branches' rows.

Documented limitation: the dataset stores daily rollups only. Under `hourRange` the rows of
a day are reported in that day's first hour bucket (`hour` = local midnight): per-day sums
are right, the distribution over hours is not.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

# Sources whose rows are bucketed in time: Pendo requires a timeSeries for them.
from pendo_tui.pendo.pipelines import EVENT_SOURCES
from pendo_tui.sim.expr import Compiled, ExprEnv, field_getter
from pendo_tui.sim.pipeline_base import PipelineError, Row, Stage
from pendo_tui.sim.steps import STEPS
from pendo_tui.sim.timeseries import HOUR_RANGE, day_start, resolve_time_series, zone_of

__all__ = [
    "CompiledPipeline",
    "DataSource",
    "PipelineError",
    "compile_pipeline",
    "day_start",
    "evaluate",
    "resolve_time_series",
]

# Real Pendo steps this simulator does not implement: say so rather than "unknown".
UNSUPPORTED_STEPS = frozenset(
    {"join", "merge", "cat", "switch", "unmarshal", "treeify", "sessionReplays"}
)


class DataSource(Protocol):
    """What the evaluator needs from the simulator's Dataset."""

    timezone: str

    def source_rows(
        self, source: str, params: dict[str, Any], start_ms: int | None, end_ms: int | None
    ) -> Iterable[dict[str, Any]]: ...

    def scan_rows(
        self, source: str, params: dict[str, Any], start_ms: int | None, end_ms: int | None
    ) -> int: ...

    def segment_visitors(self, segment_id: str) -> set[str] | None: ...

    def visitor_object(self, visitor_id: str) -> dict[str, Any] | None: ...

    def account_object(self, account_id: str) -> dict[str, Any] | None: ...


# ---------------------------------------------------------------------------- pipeline


@dataclass
class CompiledPipeline:
    """A checked pipeline: the source's resolved window plus its stages."""

    source: str | None
    params: dict[str, Any]
    start_ms: int | None
    end_ms: int | None
    buckets: list[int]
    hourly: bool
    stages: list[Stage]
    data: DataSource
    branches: list[CompiledPipeline] = field(default_factory=list)  # spawn: own sources

    def rows(self, upstream: Iterator[Row] | None = None) -> Iterator[Row]:
        if upstream is None and self.branches:
            upstream = itertools.chain.from_iterable([b.rows() for b in self.branches])
        it: Iterator[Row] = iter(upstream if upstream is not None else self._source_rows())
        for stage in self.stages:
            it = stage(it)
        return it

    def scan_size(self) -> int:
        """Source rows a Pendo-like server reads to answer this pipeline: the whole window
        of every source (all object ids of the selected apps), before any filtering."""
        if self.branches:
            return sum(b.scan_size() for b in self.branches)
        if self.source is None:
            return 0
        return self.data.scan_rows(self.source, self.params, self.start_ms, self.end_ms)

    def source_names(self) -> list[str]:
        """The sources this pipeline reads (one per spawn branch)."""
        if self.branches:
            return [name for b in self.branches for name in b.source_names()]
        return [self.source] if self.source else []

    def _source_rows(self) -> Iterator[Row]:
        if self.source is None:
            raise PipelineError("pipeline has no source step")
        try:
            rows = self.data.source_rows(self.source, self.params, self.start_ms, self.end_ms)
        except (ValueError, KeyError, TypeError) as err:  # the dataset's verdict on a source
            raise PipelineError(f"source {self.source!r}: {err}") from None
        if not self.hourly:
            return iter(rows)
        return (_as_hourly(r) for r in rows)


def _as_hourly(row: Row) -> Row:
    out = dict(row)
    if "day" in out:
        out["hour"] = out.pop("day")
    return out


# name, params, start_ms, end_ms, bucket starts, hourly
_SourceSpec = tuple[str, dict[str, Any], int | None, int | None, list[int], bool]


class _Compiler:
    def __init__(self, data: DataSource, now_ms: int) -> None:
        self.data = data
        self.now_ms = now_ms
        tz = getattr(data, "timezone", None) or "UTC"
        zone_of(tz)
        self.env = ExprEnv(now_ms=now_ms, tz=tz)
        self.steps: dict[str, Callable[[Any, ExprEnv], Stage]] = {
            **STEPS,
            "segment": self._segment,
            "bulkExpand": self._bulk_expand,
            "fork": self._fork,
        }

    def compile(self, steps: Any, *, nested: bool = False) -> CompiledPipeline:
        if not isinstance(steps, list):
            raise PipelineError("pipeline must be a list of steps")
        if not steps and not nested:
            raise PipelineError("pipeline is empty: it needs a source step")
        source: str | None = None
        params: dict[str, Any] = {}
        start = end = None
        buckets: list[int] = []
        hourly = False
        stages: list[Stage] = []
        branches: list[CompiledPipeline] = []
        for i, step in enumerate(steps):
            if not isinstance(step, dict) or len(step) != 1:
                raise PipelineError(f"pipeline step {i} must be an object with exactly one key")
            ((op, arg),) = step.items()
            if op in ("source", "spawn") and (i != 0 or nested):
                raise PipelineError(f"{op} must be the first step of the pipeline")
            if op == "source":
                source, params, start, end, buckets, hourly = self._source(arg)
                continue
            if op == "spawn":
                branches = self._spawn(arg)
                start, end, buckets = branches[0].start_ms, branches[0].end_ms, branches[0].buckets
                continue
            if i == 0 and not nested:
                raise PipelineError(f"pipeline must start with a source step, not {op!r}")
            if op in UNSUPPORTED_STEPS:
                raise PipelineError(f"pipeline step {op!r} is not supported by the simulator")
            make = self.steps.get(op)
            if make is None:
                raise PipelineError(f"unknown pipeline step {op!r}")
            stages.append(make(arg, self.env))
        return CompiledPipeline(
            source, params, start, end, buckets, hourly, stages, self.data, branches
        )

    def _spawn(self, arg: Any) -> list[CompiledPipeline]:
        if not isinstance(arg, list) or not arg:
            raise PipelineError("spawn needs a list of pipelines, each starting with a source")
        return [self.compile(p) for p in arg]

    def _source(self, arg: Any) -> _SourceSpec:
        if not isinstance(arg, dict):
            raise PipelineError("source must be an object holding one source key")
        keys = [k for k in arg if k != "timeSeries"]
        if len(keys) != 1:
            raise PipelineError(f"source must hold exactly one source key, got {keys}")
        name = keys[0]
        params = arg[name]
        if params is None:
            params = {}
        if not isinstance(params, dict):
            raise PipelineError(f"source {name!r} parameters must be an object or null")
        ts = arg.get("timeSeries")
        if ts is None:
            if name in EVENT_SOURCES:
                raise PipelineError(f"source {name!r} requires a timeSeries")
            return name, params, None, None, [], False
        start, end, buckets = resolve_time_series(ts, self.env.tz, self.now_ms)
        return name, params, start, end, buckets, ts.get("period") == HOUR_RANGE

    def _segment(self, arg: Any, env: ExprEnv) -> Stage:
        seg_id = arg.get("id") if isinstance(arg, dict) else None
        if not isinstance(seg_id, str) or not seg_id:
            raise PipelineError('segment needs {"id": "<segmentId>"}')
        members = self.data.segment_visitors(seg_id)
        if members is None:
            raise PipelineError(f"unknown segment {seg_id!r}")
        return lambda rows: (r for r in rows if r.get("visitorId") in members)

    def _bulk_expand(self, arg: Any, env: ExprEnv) -> Stage:
        lookups = {"account": self.data.account_object, "visitor": self.data.visitor_object}
        if not isinstance(arg, dict) or not arg:
            raise PipelineError('bulkExpand needs {"account": {"account": "accountId"}}')
        plan: list[tuple[str, Callable[[str], Any], Compiled]] = []
        for out, spec in arg.items():
            if not isinstance(spec, dict) or len(spec) != 1:
                raise PipelineError(
                    f'bulkExpand {out!r} needs one of {{"account"|"visitor": field}}'
                )
            ((kind, id_field),) = spec.items()
            if kind not in lookups or not isinstance(id_field, str):
                raise PipelineError(f"bulkExpand {out!r}: unsupported object kind {kind!r}")
            plan.append((out, lookups[kind], field_getter(id_field)))

        def run(rows: Iterator[Row]) -> Iterator[Row]:
            for r in rows:
                out_row = dict(r)
                for out, lookup, get in plan:
                    ident = get(r)
                    out_row[out] = lookup(str(ident)) if ident is not None else None
                yield out_row

        return run

    def _fork(self, arg: Any, env: ExprEnv) -> Stage:
        if not isinstance(arg, list) or not arg:
            raise PipelineError("fork needs a list of sub-pipelines")
        subs = [self.compile(p, nested=True) for p in arg]

        def run(rows: Iterator[Row]) -> Iterator[Row]:
            data = list(rows)  # every branch sees the same input
            for sub in subs:
                yield from sub.rows(iter(data))

        return run


def compile_pipeline(
    steps: list[dict[str, Any]], data: DataSource, now_ms: int
) -> CompiledPipeline:
    """Check a pipeline and resolve its time window. Raises PipelineError at once."""
    return _Compiler(data, now_ms).compile(steps)


def evaluate(
    steps: list[dict[str, Any]], data: DataSource, now_ms: int
) -> Iterator[dict[str, Any]]:
    """Run a pipeline over `data`, yielding result rows lazily.

    Static problems (unknown step, unparseable expression, bad timeSeries, unknown segment)
    raise PipelineError when this is called, before any row is produced.
    """
    return compile_pipeline(steps, data, now_ms).rows()
