"""Aggregators of the evaluator's group and reduce steps (count, sum, avg, ...)."""

from __future__ import annotations

import json
import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from pendo_tui.sim.expr import Compiled, ExprEnv, ExpressionError, compile_expression, truthy
from pendo_tui.sim.pipeline_base import PipelineError, Row


class Agg(Protocol):
    def add(self, row: Row) -> None: ...
    def result(self) -> Any: ...


def hashable(v: Any) -> Any:
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
            self.seen.add(hashable(v))

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


AggFactory = Callable[[], Agg]
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


def compile_fields(spec: Any, env: ExprEnv, step: str) -> list[tuple[str, AggFactory]]:
    if spec is None:
        return []
    if isinstance(spec, dict):
        items = list(spec.items())
    elif isinstance(spec, list) and all(isinstance(x, dict) and len(x) == 1 for x in spec):
        items = [next(iter(x.items())) for x in spec]
    else:
        raise PipelineError(f"{step} fields must be an object or a list of one-key objects")
    return [(out, _compile_agg(out, agg, env)) for out, agg in items]
