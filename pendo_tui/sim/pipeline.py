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
import json
import statistics
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

# Sources whose rows are bucketed in time: Pendo requires a timeSeries for them.
from pendo_tui.pendo.pipelines import EVENT_SOURCES
from pendo_tui.sim.expr import (
    ANONYMOUS_PREFIX,
    Compiled,
    ExprEnv,
    ExpressionError,
    compile_expression,
    field_getter,
    hour_floor,
    local_datetime,
    truthy,
)

Row = dict[str, Any]
Stage = Callable[[Iterator[Row]], Iterator[Row]]

DAY_RANGE = "dayRange"
HOUR_RANGE = "hourRange"
HOUR_MS = 3_600_000
MAX_BUCKETS = 100_000

# Real Pendo steps this simulator does not implement: say so rather than "unknown".
UNSUPPORTED_STEPS = frozenset(
    {"join", "merge", "cat", "switch", "unmarshal", "treeify", "sessionReplays"}
)


class PipelineError(Exception):
    """A pipeline Pendo would reject; str() is the one-line reason the server answers 400 with."""

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(message.split()))


class DataSource(Protocol):
    """What the evaluator needs from the simulator's Dataset."""

    timezone: str

    def source_rows(
        self, source: str, params: dict[str, Any], start_ms: int | None, end_ms: int | None
    ) -> Iterable[dict[str, Any]]: ...

    def segment_visitors(self, segment_id: str) -> set[str] | None: ...

    def visitor_object(self, visitor_id: str) -> dict[str, Any] | None: ...

    def account_object(self, account_id: str) -> dict[str, Any] | None: ...


# ---------------------------------------------------------------------------- time series


def _time_value(raw: Any, name: str, env: ExprEnv) -> int:
    if isinstance(raw, bool) or raw is None:
        raise PipelineError(f"timeSeries {name} must be a time in ms or an expression")
    if isinstance(raw, int | float):
        return int(raw)
    if not isinstance(raw, str):
        raise PipelineError(f"timeSeries {name} must be a time in ms or an expression")
    text = raw.strip()
    try:
        return int(text)
    except ValueError:
        pass
    try:
        value = compile_expression(text, env)({})
    except ExpressionError as err:
        raise PipelineError(f"Cannot parse timeSeries {name} {raw!r}: {err}") from None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise PipelineError(f"timeSeries {name} {raw!r} does not evaluate to a time")
    return int(value)


def _zone(tz: str) -> ZoneInfo:
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError) as err:
        raise PipelineError(f"unknown subscription time zone {tz!r}") from err


def day_start(day: date, zone: ZoneInfo) -> int:
    """Epoch ms of the first instant of a local calendar day.

    Local midnight, or the end of the DST gap where a zone skips midnight; never a fixed
    86 400 000 ms step from a neighbour.
    """
    naive = datetime(day.year, day.month, day.day)
    # fold=0 maps a skipped midnight with the pre-transition offset: the transition instant.
    return int(naive.replace(tzinfo=zone).timestamp()) * 1000


def resolve_time_series(ts: dict[str, Any], tz: str, now_ms: int) -> tuple[int, int, list[int]]:
    """Resolve a timeSeries into (start_ms, end_ms exclusive, bucket starts)."""
    if not isinstance(ts, dict):
        raise PipelineError("timeSeries must be an object with period, first and count or last")
    zone = _zone(tz)
    env = ExprEnv(now_ms=now_ms, tz=tz)
    period = ts.get("period")
    if period not in (DAY_RANGE, HOUR_RANGE):
        raise PipelineError(f"unsupported timeSeries period {period!r} (use dayRange or hourRange)")
    if "first" not in ts:
        raise PipelineError("timeSeries needs 'first'")
    first = _time_value(ts["first"], "first", env)
    has_count, has_last = ts.get("count") is not None, ts.get("last") is not None
    if has_count == has_last:
        raise PipelineError("timeSeries needs exactly one of 'count' or 'last'")
    count: int | None = None
    last: int | None = None
    if has_count:
        raw = ts["count"]
        if isinstance(raw, bool) or not isinstance(raw, int | str):
            raise PipelineError(f"timeSeries count must be an integer, got {raw!r}")
        try:
            count = int(raw)
        except ValueError:
            raise PipelineError(f"timeSeries count must be an integer, got {raw!r}") from None
        if count == 0:
            raise PipelineError("timeSeries count must not be 0")
        if abs(count) > MAX_BUCKETS:
            raise PipelineError(f"timeSeries count {count} exceeds {MAX_BUCKETS} buckets")
    else:
        last = _time_value(ts["last"], "last", env)
        if last < first:
            raise PipelineError("timeSeries last is before first")

    if period == DAY_RANGE:
        buckets = _day_buckets(first, count, last, zone)
        end = day_start(_local_date(buckets[-1], zone) + timedelta(days=1), zone)
    else:
        buckets = _hour_buckets(first, count, last, zone)
        end = buckets[-1] + HOUR_MS
    return buckets[0], end, buckets


def _local_date(ms: int, zone: ZoneInfo) -> date:
    return local_datetime(ms, zone).date()


def _span(first_index: int, count: int | None, last_index: int | None) -> range:
    """Bucket indexes relative to first's bucket (count < 0: the buckets before it)."""
    if count is not None:
        return range(first_index, first_index + count) if count > 0 else range(count, 0)
    assert last_index is not None
    n = last_index - first_index + 1
    if n > MAX_BUCKETS:
        raise PipelineError(f"timeSeries spans {n} buckets, more than {MAX_BUCKETS}")
    return range(first_index, last_index + 1)


def _day_buckets(first: int, count: int | None, last: int | None, zone: ZoneInfo) -> list[int]:
    d0 = _local_date(first, zone)
    last_index = (_local_date(last, zone) - d0).days if last is not None else None
    try:
        starts = [day_start(d0 + timedelta(days=i), zone) for i in _span(0, count, last_index)]
    except OverflowError:
        raise PipelineError("timeSeries reaches outside the supported calendar") from None
    # A zone that skips a whole calendar day (Pacific/Apia, 2011-12-30) maps it onto the
    # next day's start: keep one bucket per distinct instant.
    return sorted(set(starts))


def _hour_buckets(first: int, count: int | None, last: int | None, zone: ZoneInfo) -> list[int]:
    # Hours are absolute: a 25-hour local day simply has 25 hour buckets.
    h0 = hour_floor(first, zone)
    last_index = (hour_floor(last, zone) - h0) // HOUR_MS if last is not None else None
    return [h0 + i * HOUR_MS for i in _span(0, count, last_index)]


# ---------------------------------------------------------------------------- aggregators


class _Agg(Protocol):
    def add(self, row: Row) -> None: ...
    def result(self) -> Any: ...


def _hashable(v: Any) -> Any:
    return json.dumps(v, sort_keys=True, default=str) if isinstance(v, list | dict) else v


def _num(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


@dataclass
class _Count:
    get: Compiled | None
    n: int = 0
    seen: set[Any] = field(default_factory=set)

    def add(self, row: Row) -> None:
        if self.get is None:
            self.n += 1
        elif (v := self.get(row)) is not None:
            self.seen.add(_hashable(v))

    def result(self) -> int:
        return self.n if self.get is None else len(self.seen)


@dataclass
class _CountIf:
    pred: Compiled
    n: int = 0

    def add(self, row: Row) -> None:
        if truthy(self.pred(row)):
            self.n += 1

    def result(self) -> int:
        return self.n


@dataclass
class _Sum:
    get: Compiled
    total: int | float = 0

    def add(self, row: Row) -> None:
        if _num(v := self.get(row)):
            self.total += v

    def result(self) -> int | float:
        return self.total


@dataclass
class _Avg:
    get: Compiled
    total: float = 0
    n: int = 0

    def add(self, row: Row) -> None:
        if _num(v := self.get(row)):
            self.total += v
            self.n += 1

    def result(self) -> float | None:
        return self.total / self.n if self.n else None


@dataclass
class _Extreme:
    get: Compiled
    want_max: bool
    best: Any = None

    def add(self, row: Row) -> None:
        v = self.get(row)
        if v is None:
            return
        if self.best is None:
            self.best = v
            return
        try:
            if (v > self.best) if self.want_max else (v < self.best):
                self.best = v
        except TypeError:  # mixed types: keep the first comparable value
            pass

    def result(self) -> Any:
        return self.best


@dataclass
class _Collect:
    """list, median, first, last: the values in row order."""

    get: Compiled
    kind: str
    values: list[Any] = field(default_factory=list)
    started: bool = False

    def add(self, row: Row) -> None:
        v = self.get(row)
        if self.kind == "first":
            if not self.started:
                self.values, self.started = [v], True
        elif self.kind == "last":
            self.values = [v]
        elif v is not None:
            self.values.append(v)

    def result(self) -> Any:
        if self.kind in ("first", "last"):
            return self.values[0] if self.values else None
        if self.kind == "median":
            nums = [v for v in self.values if _num(v)]
            return statistics.median(nums) if nums else None
        return list(self.values)


AggFactory = Callable[[], _Agg]
_FIELD_AGGS = ("sum", "avg", "mean", "min", "max", "median", "first", "last", "list")


def _compile_agg(out: str, spec: Any, env: ExprEnv) -> AggFactory:
    if not isinstance(spec, dict) or len(spec) != 1:
        raise PipelineError(f'field {out!r} needs one aggregator, e.g. {{"sum": "numEvents"}}')
    ((name, arg),) = spec.items()
    if name == "count":
        if arg is None:
            return lambda: _Count(None)
        get = _arg_expr(out, name, arg, env)
        return lambda: _Count(get)
    if name == "countIf":
        pred = _arg_expr(out, name, arg, env)
        return lambda: _CountIf(pred)
    if name not in _FIELD_AGGS:
        raise PipelineError(f"unknown aggregator {name!r} for field {out!r}")
    get = _arg_expr(out, name, arg, env)
    if name == "sum":
        return lambda: _Sum(get)
    if name in ("avg", "mean"):
        return lambda: _Avg(get)
    if name in ("min", "max"):
        return lambda: _Extreme(get, name == "max")
    return lambda: _Collect(get, name)


def _arg_expr(out: str, agg: str, arg: Any, env: ExprEnv) -> Compiled:
    if not isinstance(arg, str):
        raise PipelineError(f"aggregator {agg!r} of field {out!r} needs a field name")
    try:
        return compile_expression(arg, env)
    except ExpressionError as err:
        raise PipelineError(f"Cannot parse expression {arg!r} in field {out!r}: {err}") from None


def _compile_fields(spec: Any, env: ExprEnv, step: str) -> list[tuple[str, AggFactory]]:
    if spec is None:
        return []
    if isinstance(spec, dict):
        items = list(spec.items())
    elif isinstance(spec, list) and all(isinstance(x, dict) and len(x) == 1 for x in spec):
        items = [next(iter(x.items())) for x in spec]
    else:
        raise PipelineError(f"{step} fields must be an object or a list of one-key objects")
    return [(out, _compile_agg(out, agg, env)) for out, agg in items]


# ---------------------------------------------------------------------------- steps


def _expr(text: Any, what: str, env: ExprEnv) -> Compiled:
    try:
        return compile_expression(text, env)
    except ExpressionError as err:
        raise PipelineError(f"Cannot parse {what} expression: {text!r}: {err}") from None


def _filter(arg: Any, env: ExprEnv) -> Stage:
    pred = _expr(arg, "filter", env)
    return lambda rows: (r for r in rows if truthy(pred(r)))


def _named_exprs(arg: Any, step: str, env: ExprEnv) -> list[tuple[str, Compiled]]:
    if not isinstance(arg, dict) or not arg:
        raise PipelineError(f"{step} needs an object of field: expression")
    return [(k, _expr(v, step, env)) for k, v in arg.items()]


def _select(arg: Any, env: ExprEnv) -> Stage:
    exprs = _named_exprs(arg, "select", env)
    return lambda rows: ({k: f(r) for k, f in exprs} for r in rows)


def _eval(arg: Any, env: ExprEnv) -> Stage:
    exprs = _named_exprs(arg, "eval", env)

    def run(rows: Iterator[Row]) -> Iterator[Row]:
        for r in rows:
            out = dict(r)  # never mutate the dataset's rows
            out.update({k: f(r) for k, f in exprs})  # every expression sees the input row
            yield out

    return run


def _identified(arg: Any, env: ExprEnv) -> Stage:
    if not isinstance(arg, str) or arg in ("", "!"):
        raise PipelineError('identified needs a field name, e.g. "visitorId" or "!visitorId"')
    keep_anonymous = arg.startswith("!")
    get = field_getter(arg.lstrip("!"))

    def anonymous(r: Row) -> bool:
        v = get(r)
        return not isinstance(v, str) or v == "" or v.startswith(ANONYMOUS_PREFIX)

    return lambda rows: (r for r in rows if anonymous(r) == keep_anonymous)


def _group_key(keys: list[str]) -> Callable[[Row], tuple[Any, ...]]:
    """Raw key values; lists/dicts (unhashable) are made hashable only when met."""
    if all("." not in k for k in keys):
        return lambda r: tuple(map(r.get, keys))
    getters = [field_getter(k) for k in keys]
    return lambda r: tuple(g(r) for g in getters)


def _group(arg: Any, env: ExprEnv) -> Stage:
    if not isinstance(arg, dict):
        raise PipelineError('group needs {"group": [keys], "fields": {...}}')
    keys = arg.get("group") or []
    if isinstance(keys, str):
        keys = [keys]
    if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
        raise PipelineError("group keys must be a list of field names")
    aggs = _compile_fields(arg.get("fields"), env, "group")
    key_of = _group_key(keys)
    getters = [field_getter(k) for k in keys]

    def run(rows: Iterator[Row]) -> Iterator[Row]:
        groups: dict[tuple[Any, ...], tuple[Row, list[_Agg]]] = {}
        for r in rows:
            k = key_of(r)
            try:
                entry = groups.get(k)
            except TypeError:  # a list or object among the key values
                k = tuple(_hashable(v) for v in k)
                entry = groups.get(k)
            if entry is None:
                head = {name: g(r) for name, g in zip(keys, getters, strict=True)}
                entry = groups[k] = (head, [make() for _, make in aggs])
            for acc in entry[1]:
                acc.add(r)
        for head, accs in groups.values():
            out = dict(head)
            out.update({name: acc.result() for (name, _), acc in zip(aggs, accs, strict=True)})
            yield out

    return run


def _reduce(arg: Any, env: ExprEnv) -> Stage:
    aggs = _compile_fields(arg, env, "reduce")

    def run(rows: Iterator[Row]) -> Iterator[Row]:
        accs = [make() for _, make in aggs]
        for r in rows:
            for acc in accs:
                acc.add(r)
        yield {name: acc.result() for (name, _), acc in zip(aggs, accs, strict=True)}

    return run


def _count(arg: Any, env: ExprEnv) -> Stage:
    if arg is not None:
        raise PipelineError('count takes null, e.g. {"count": null}')
    return lambda rows: iter([{"count": sum(1 for _ in rows)}])


def _sort_value(v: Any) -> tuple[int, Any]:
    # null < booleans < numbers < strings < anything else; null sorts first ascending.
    if v is None:
        return (0, 0)
    if isinstance(v, bool):
        return (1, v)
    if isinstance(v, int | float):
        return (2, v)
    if isinstance(v, str):
        return (3, v)
    return (4, json.dumps(v, sort_keys=True, default=str))


def _sort(arg: Any, env: ExprEnv) -> Stage:
    keys = [arg] if isinstance(arg, str) else arg
    if not isinstance(keys, list) or not keys or not all(isinstance(k, str) and k for k in keys):
        raise PipelineError('sort needs a list of field names, e.g. ["day", "-events"]')
    plan = [(field_getter(k.lstrip("-")), k.startswith("-")) for k in keys]

    def run(rows: Iterator[Row]) -> Iterator[Row]:
        data = list(rows)
        # Stable multi-key sort: sort by the least significant key first.
        for get, desc in reversed(plan):
            data.sort(key=lambda r, g=get: _sort_value(g(r)), reverse=desc)  # type: ignore[misc]
        return iter(data)

    return run


def _limit(arg: Any, env: ExprEnv) -> Stage:
    if isinstance(arg, bool) or not isinstance(arg, int) or arg < 0:
        raise PipelineError(f"limit must be a non-negative integer, got {arg!r}")
    return lambda rows: itertools.islice(rows, arg)


def _unwind(arg: Any, env: ExprEnv) -> Stage:
    if not isinstance(arg, dict) or not isinstance(arg.get("field"), str):
        raise PipelineError('unwind needs {"field": "<list field>"}')
    name: str = arg["field"]
    index = arg.get("index")
    if index is not None and not isinstance(index, str):
        raise PipelineError("unwind index must be a field name")
    keep_empty = bool(arg.get("keepEmpty", False))
    get = field_getter(name)

    def run(rows: Iterator[Row]) -> Iterator[Row]:
        for r in rows:
            value = get(r)
            items = value if isinstance(value, list) else ([] if value is None else [value])
            if not items:
                if keep_empty:
                    out = dict(r)
                    out[name] = None
                    if index:
                        out[index] = None
                    yield out
                continue
            for i, item in enumerate(items):
                out = dict(r)
                out[name] = item
                if index:
                    out[index] = i
                yield out

    return run


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
        _zone(tz)
        self.env = ExprEnv(now_ms=now_ms, tz=tz)
        self.steps: dict[str, Callable[[Any, ExprEnv], Stage]] = {
            "filter": _filter,
            "select": _select,
            "eval": _eval,
            "identified": _identified,
            "group": _group,
            "reduce": _reduce,
            "count": _count,
            "sort": _sort,
            "limit": _limit,
            "unwind": _unwind,
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
