"""The evaluator's steps that need no source or dataset: filter, select, eval, identified,
group, reduce, count, sort, limit, unwind. Each compiles its argument once into a Stage."""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Callable, Iterator
from operator import itemgetter
from typing import Any

from pendo_tui.sim.aggregators import Agg, compile_fields, hashable
from pendo_tui.sim.expr import ANONYMOUS_PREFIX, Compiled, ExprEnv, field_getter, truthy
from pendo_tui.sim.expr_funcs import CONSTANTS
from pendo_tui.sim.expr_values import NUM_TYPES
from pendo_tui.sim.pipeline_base import PipelineError, Row, Stage, step_expr


def _filter(arg: Any, env: ExprEnv) -> Stage:
    pred = step_expr(arg, "filter", env)
    return lambda rows: (r for r in rows if truthy(pred(r)))


def _named_exprs(arg: Any, step: str, env: ExprEnv) -> list[tuple[str, Compiled]]:
    if not isinstance(arg, dict) or not arg:
        raise PipelineError(f"{step} needs an object of field: expression")
    return [(k, step_expr(v, step, env)) for k, v in arg.items()]


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
    aggs = compile_fields(arg.get("fields"), env, "group")
    simple = _simple_fields(arg.get("fields"))
    if simple is not None and all(_PLAIN.fullmatch(k) for k in keys):
        return _simple_group(keys, simple)
    key_of = _group_key(keys)
    getters = [field_getter(k) for k in keys]

    def run(rows: Iterator[Row]) -> Iterator[Row]:
        groups: dict[tuple[Any, ...], tuple[Row, list[Agg]]] = {}
        for r in rows:
            k = key_of(r)
            try:
                entry = groups.get(k)
            except TypeError:  # a list or object among the key values
                k = tuple(hashable(v) for v in k)
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


_PLAIN = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*")
_SIMPLE = ("sum", "first", "count")


def _simple_fields(spec: Any) -> list[tuple[str, str, str | None]] | None:
    """(output, aggregator, field) when every field is a sum or first of a plain field or
    a count of rows — the shape of usage pipelines — else None. Call after compile_fields
    has checked the spec."""
    items = (
        list(spec.items())
        if isinstance(spec, dict)
        else [next(iter(x.items())) for x in spec or []]
    )
    out: list[tuple[str, str, str | None]] = []
    for name, agg in items:
        ((kind, field),) = agg.items()
        if kind == "count" and field is None:
            out.append((name, kind, None))
        elif kind in _SIMPLE[:2] and isinstance(field, str) and _PLAIN.fullmatch(field):
            if field in CONSTANTS:
                return None
            out.append((name, kind, field))
        else:
            return None
    return out


def _simple_group(keys: list[str], fields: list[tuple[str, str, str | None]]) -> Stage:
    """The group step for plain keys and sum/first/count fields: same rows as the general
    one, one list per group instead of an aggregator object per field.

    It stands in for Pendo's servers but runs on the benchmark's machine, beside the client
    it serves: every µs a row here is taken from the client (bench/RESULTS.md, "Rows cut
    and parsed by orjson"). Hence the key read with one ``itemgetter`` call."""
    n = len(keys)  # a group's list: its key values, then one slot per field
    sums = [(n + i, f) for i, (_, kind, f) in enumerate(fields) if kind == "sum"]
    firsts = [(n + i, f) for i, (_, kind, f) in enumerate(fields) if kind == "first"]
    counts = [n + i for i, (_, kind, _) in enumerate(fields) if kind == "count"]
    names = (*keys, *(name for name, _, _ in fields))
    empty = [0] * len(fields)
    whole_key = itemgetter(*keys) if n > 1 else lambda r: (r[keys[0]],)
    if not firsts and not counts and len(sums) == 2:
        return _two_sums(keys, whole_key, names, sums[0][1], sums[1][1])

    def run(rows: Iterator[Row]) -> Iterator[Row]:
        groups: dict[tuple[Any, ...], list[Any]] = {}
        for k, raw, r in _keyed(rows, whole_key, keys):
            acc = groups.get(k)
            if acc is None:
                acc = groups[k] = [*raw, *empty]
                for i, f in firsts:
                    acc[i] = r.get(f)
            for i, f in sums:
                if type(v := r.get(f)) in NUM_TYPES:
                    acc[i] += v
            for i in counts:
                acc[i] += 1
        for acc in groups.values():
            yield dict(zip(names, acc, strict=True))

    return run


def _keyed(
    rows: Iterator[Row], whole_key: Callable[[Row], Any], keys: list[str]
) -> Iterator[tuple[tuple[Any, ...], tuple[Any, ...], Row]]:
    """(group key, key values, row) per row, for both simple group paths: a missing key
    field groups as null, and a list or object among the values is made hashable."""
    for r in rows:
        try:
            raw = whole_key(r)
        except KeyError:
            raw = tuple(map(r.get, keys))
        try:
            hash(raw)
        except TypeError:
            yield tuple(hashable(v) for v in raw), raw, r
            continue
        yield raw, raw, r


def _two_sums(
    keys: list[str], whole_key: Callable[[Row], Any], names: tuple[str, ...], a: Any, b: Any
) -> Stage:
    """``_simple_group`` for exactly two sums and nothing else — every usage pipeline
    (events and minutes): the two fields are read and added without a loop over fields,
    less CPU than the general simple group (250k rows grouped, min of 5: 0.61-0.63 s →
    0.47-0.57 s with the key read inline, 0.57 s through ``_keyed``, which both paths
    share; bench/RESULTS.md "The simulator's charge covers its evaluation")."""
    num = NUM_TYPES

    def run(rows: Iterator[Row]) -> Iterator[Row]:
        groups: dict[tuple[Any, ...], list[Any]] = {}
        get = groups.get
        for k, raw, r in _keyed(rows, whole_key, keys):
            acc = get(k)
            x = r.get(a)
            y = r.get(b)
            if acc is None:
                groups[k] = [raw, x if type(x) in num else 0, y if type(y) in num else 0]
            else:
                if type(x) in num:
                    acc[1] += x
                if type(y) in num:
                    acc[2] += y
        for raw, x, y in groups.values():
            yield dict(zip(names, (*raw, x, y), strict=True))

    return run


def _reduce(arg: Any, env: ExprEnv) -> Stage:
    aggs = compile_fields(arg, env, "reduce")

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


STEPS: dict[str, Callable[[Any, ExprEnv], Stage]] = {
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
}
