"""Pendo's C-like expression language, compiled once into a tree of closures.

Used by the simulator's pipeline evaluator for `filter`, `select`, `eval`, aggregator
arguments and timeSeries `first`/`last`. Grammar (loosest binding first)::

    or      := and ("||" and)*
    and     := eq ("&&" eq)*
    eq      := rel (("==" | "!=") rel)*
    rel     := add (("<" | "<=" | ">" | ">=") add)*
    add     := mul (("+" | "-") mul)*
    mul     := unary (("*" | "/" | "%") unary)*
    unary   := ("!" | "-" | "+") unary | primary
    primary := number | string | true | false | null | nil | path | call | "(" or ")"

Paths are dotted field names (`metadata.agent.email`); a missing field is null. There is
no `in [...]` operator, as in Pendo (users chain `||`).

Runtime semantics are deliberately lenient, because one odd row must not fail a whole
aggregation: arithmetic on null or mismatched types yields null, ordering comparisons
between mismatched types are false, division by zero yields null.
"""

from __future__ import annotations

import calendar
import math
import operator
import re
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

Row = Mapping[str, Any]
Compiled = Callable[[Row], Any]

ANONYMOUS_PREFIX = "_PENDO_T_"
_MAX_EXPR_LEN = 100_000
# Parsing and evaluation recurse: bound nesting and operator chains well inside Python's
# stack. && and || chains (Pendo's substitute for `in [...]`) are n-ary, so unbounded.
_MAX_DEPTH = 40
_MAX_CHAIN = 200


class ExpressionError(Exception):
    """An expression that does not parse (or calls an unknown function)."""

    def __init__(self, reason: str, text: str, pos: int | None = None) -> None:
        self.reason = reason
        self.text = text
        self.pos = pos
        where = f" at position {pos}" if pos is not None else ""
        super().__init__(f"{reason}{where}")


@dataclass(frozen=True)
class ExprEnv:
    """What time-dependent functions need: the request's "now" and the subscription zone."""

    now_ms: int
    tz: str = "UTC"

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.tz)


# ---------------------------------------------------------------------------- tokenizer

_TOKEN_RE = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<num>(?:\d+\.\d*|\.\d+|\d+)(?:[eE][+-]?\d+)?)
  | (?P<str>"(?:[^"\\]|\\.)*"|`(?:[^`\\]|\\.)*`)
  | (?P<name>[A-Za-z_$][A-Za-z0-9_$]*(?:\.[A-Za-z0-9_$]+)*)
  | (?P<op>&&|\|\||==|!=|<=|>=|[-+*/%<>!(),])
    """,
    re.VERBOSE | re.DOTALL,
)
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", "0": "\0"}


@dataclass(frozen=True)
class _Tok:
    kind: str  # num, str, name, op, end
    value: Any
    pos: int


def _unescape(body: str, text: str, pos: int) -> str:
    out: list[str] = []
    i = 0
    while i < len(body):
        ch = body[i]
        if ch != "\\":
            out.append(ch)
            i += 1
            continue
        nxt = body[i + 1]  # the regex guarantees a character follows a backslash
        if nxt == "u":
            digits = body[i + 2 : i + 6]
            if not re.fullmatch(r"[0-9a-fA-F]{4}", digits):
                raise ExpressionError("bad \\u escape in string", text, pos + i + 1)
            out.append(chr(int(digits, 16)))
            i += 6
            continue
        out.append(_ESCAPES.get(nxt, nxt))  # \" \\ \` and unknown escapes keep the char
        i += 2
    return "".join(out)


def _tokenize(text: str) -> list[_Tok]:
    toks: list[_Tok] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN_RE.match(text, pos)
        if m is None:
            if text[pos] in '"`':
                raise ExpressionError("unterminated string", text, pos)
            if text[pos] == "[":
                msg = "lists are not supported (no `in [...]`; chain || comparisons instead)"
                raise ExpressionError(msg, text, pos)
            if text[pos] in "=&|":
                msg = f"unexpected '{text[pos]}' (use ==, &&, ||)"
                raise ExpressionError(msg, text, pos)
            raise ExpressionError(f"unexpected character {text[pos]!r}", text, pos)
        kind = m.lastgroup or ""
        raw = m.group()
        if kind == "num":
            value: Any = float(raw) if any(c in raw for c in ".eE") else int(raw)
            toks.append(_Tok("num", value, pos))
        elif kind == "str":
            toks.append(_Tok("str", _unescape(raw[1:-1], text, pos + 1), pos))
        elif kind in ("name", "op"):
            toks.append(_Tok(kind, raw, pos))
        pos = m.end()
    toks.append(_Tok("end", None, len(text)))
    return toks


# ---------------------------------------------------------------------------- values


def truthy(value: Any) -> bool:
    """Filter truth: null, false, 0, "" and empty lists are false, everything else true."""
    return bool(value)


def _is_num(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def get_path(row: Any, parts: tuple[str, ...]) -> Any:
    cur = row
    for part in parts:
        if not isinstance(cur, Mapping):
            return None
        cur = cur.get(part)
    return cur


def field_getter(path: str) -> Compiled:
    """A fast accessor for a dotted field path (a missing step yields null)."""
    if "." not in path:
        return lambda row: row.get(path)
    parts = tuple(path.split("."))

    def get(row: Row) -> Any:
        if path in row:  # a literal dotted key wins (e.g. written by select)
            return row[path]
        return get_path(row, parts)

    return get


def _eq(a: Any, b: Any) -> bool:
    if _is_num(a) and _is_num(b):
        return a == b
    if type(a) is not type(b):
        return False
    return bool(a == b)


_NUM_TYPES = (int, float)
_ORDER_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


def _order(op: str) -> Callable[[Any, Any], bool]:
    cmp = _ORDER_OPS[op]

    def compare(a: Any, b: Any) -> bool:
        if (_is_num(a) and _is_num(b)) or (isinstance(a, str) and isinstance(b, str)):
            return bool(cmp(a, b))
        return False

    return compare


def _num_result(v: float) -> int | float:
    return int(v) if isinstance(v, float) and v.is_integer() and abs(v) < 2**53 else v


def _add(a: Any, b: Any) -> Any:
    if _is_num(a) and _is_num(b):
        return a + b
    if isinstance(a, str) and isinstance(b, str):
        return a + b
    return None


def _sub(a: Any, b: Any) -> Any:
    return a - b if _is_num(a) and _is_num(b) else None


def _mul(a: Any, b: Any) -> Any:
    return a * b if _is_num(a) and _is_num(b) else None


def _div(a: Any, b: Any) -> Any:
    if not (_is_num(a) and _is_num(b)) or b == 0:
        return None
    return _num_result(a / b)


def _mod(a: Any, b: Any) -> Any:
    if not (_is_num(a) and _is_num(b)) or b == 0:
        return None
    if isinstance(a, int) and isinstance(b, int):
        rest = abs(a) % abs(b)  # C semantics: the sign follows the dividend
        return rest if a >= 0 else -rest
    return math.fmod(a, b)


_BINARY: dict[str, Callable[[Any, Any], Any]] = {
    "==": _eq,
    "!=": lambda a, b: not _eq(a, b),
    "<": _order("<"),
    "<=": _order("<="),
    ">": _order(">"),
    ">=": _order(">="),
    "+": _add,
    "-": _sub,
    "*": _mul,
    "/": _div,
    "%": _mod,
}


# ---------------------------------------------------------------------------- time helpers


def local_datetime(ms: int, zone: ZoneInfo) -> datetime:
    return datetime.fromtimestamp(ms // 1000, zone).replace(microsecond=(ms % 1000) * 1000)


def to_ms(dt: datetime) -> int:
    """Epoch ms of an aware datetime; wall times in a DST gap resolve to the later side."""
    return int(dt.replace(microsecond=0).timestamp()) * 1000 + dt.microsecond // 1000


def _add_months(dt: datetime, months: int) -> datetime:
    total = dt.year * 12 + (dt.month - 1) + months
    year, month = divmod(total, 12)
    day = min(dt.day, calendar.monthrange(year, month + 1)[1])
    return dt.replace(year=year, month=month + 1, day=day)


def hour_floor(ms: int, zone: ZoneInfo) -> int:
    """Start of the local hour holding `ms` (the zone's offset at that instant counts)."""
    offset = local_datetime(ms, zone).utcoffset()
    offset_ms = int(offset.total_seconds() * 1000) if offset else 0
    return ms - (ms + offset_ms) % 3_600_000


_UNITS_FIXED = {"hours": 3_600_000, "minutes": 60_000, "seconds": 1000, "milliseconds": 1}


def date_add(ms: int, amount: int, unit: str, zone: ZoneInfo) -> int:
    """Calendar-aware addition: "days" keeps the wall-clock time across DST changes."""
    u = unit.lower().rstrip("s") + "s"
    if u in _UNITS_FIXED:
        return ms + amount * _UNITS_FIXED[u]
    local = local_datetime(ms, zone).replace(tzinfo=None)
    if u == "days":
        local += timedelta(days=amount)
    elif u == "weeks":
        local += timedelta(weeks=amount)
    elif u == "months":
        local = _add_months(local, amount)
    elif u == "years":
        local = _add_months(local, 12 * amount)
    else:
        raise ValueError(f"unknown dateAdd unit {unit!r}")
    return to_ms(local.replace(tzinfo=zone))


def start_of_period(period: str, ms: int, zone: ZoneInfo) -> int:
    p = period.lower()
    if p in ("hourly", "hour"):
        return hour_floor(ms, zone)
    local = local_datetime(ms, zone).replace(tzinfo=None)
    day = local.replace(hour=0, minute=0, second=0, microsecond=0)
    if p in ("weekly", "week"):
        day -= timedelta(days=(day.weekday() + 1) % 7)  # Pendo weeks start on Sunday
    elif p in ("monthly", "month"):
        day = day.replace(day=1)
    elif p in ("quarterly", "quarter"):
        day = day.replace(day=1, month=3 * ((day.month - 1) // 3) + 1)
    elif p in ("yearly", "year"):
        day = day.replace(day=1, month=1)
    elif p not in ("daily", "day"):
        raise ValueError(f"unknown period {period!r}")
    return to_ms(day.replace(tzinfo=zone))


# ---------------------------------------------------------------------------- functions


def _fn_hash(v: Any) -> int:
    return zlib.crc32(str(v).encode()) if v is not None else 0


def _fn_len(v: Any) -> Any:
    if v is None:
        return 0
    return len(v) if isinstance(v, str | list | dict | tuple) else None


def _fn_contains(hay: Any, needle: Any) -> bool:
    if isinstance(hay, str):
        return isinstance(needle, str) and needle in hay
    if isinstance(hay, list):
        return any(_eq(x, needle) for x in hay)
    return False


def _fn_starts(s: Any, prefix: Any) -> bool:
    return isinstance(s, str) and isinstance(prefix, str) and s.startswith(prefix)


def _fn_identified(v: Any) -> bool:
    return isinstance(v, str) and v != "" and not v.startswith(ANONYMOUS_PREFIX)


def _guard_time(fn: Callable[..., int]) -> Callable[..., Any]:
    def call(*args: Any) -> Any:
        try:
            return fn(*args)
        except (TypeError, ValueError, OverflowError, OSError):
            return None

    return call


# name -> (min args, max args, factory(env) -> python function over evaluated args)
_FUNCS: dict[str, tuple[int, int, Callable[[ExprEnv], Callable[..., Any]]]] = {
    "isNull": (1, 1, lambda env: lambda v: v is None),
    "isNil": (1, 1, lambda env: lambda v: v is None),
    "contains": (2, 2, lambda env: _fn_contains),
    "startsWith": (2, 2, lambda env: _fn_starts),
    "len": (1, 1, lambda env: _fn_len),
    "hash": (1, 1, lambda env: _fn_hash),
    "list": (0, 1000, lambda env: lambda *a: list(a)),
    "now": (0, 0, lambda env: lambda: env.now_ms),
    "date": (
        3,
        6,
        lambda env: _guard_time(
            lambda *a: to_ms(datetime(*(int(x) for x in a), tzinfo=env.zone))  # type: ignore[misc]
        ),
    ),
    "dateAdd": (
        3,
        3,
        lambda env: _guard_time(lambda t, n, u: date_add(int(t), int(n), str(u), env.zone)),
    ),
    "startOfPeriod": (
        2,
        2,
        # One published example writes the arguments reversed; accept both orders.
        lambda env: _guard_time(
            lambda p, t: (
                start_of_period(p, int(t), env.zone)
                if isinstance(p, str)
                else start_of_period(t, int(p), env.zone)
            )
        ),
    ),
}
_FUNCS["date_add"] = _FUNCS["dateAdd"]
_CONSTANTS = {"true": True, "false": False, "null": None, "nil": None}


# ---------------------------------------------------------------------------- parser

# A node is (closure, is_constant, constant_value); constants are folded at compile time.
_Node = tuple[Compiled, bool, Any]


def _const(value: Any) -> _Node:
    return (lambda row: value), True, value


class _Parser:
    def __init__(self, text: str, env: ExprEnv) -> None:
        self.text = text
        self.env = env
        self.toks = _tokenize(text)
        self.i = 0
        self.depth = 0

    # -- helpers
    def peek(self) -> _Tok:
        return self.toks[self.i]

    def take(self) -> _Tok:
        tok = self.toks[self.i]
        self.i += 1
        return tok

    def fail(self, reason: str, tok: _Tok | None = None) -> ExpressionError:
        tok = tok or self.peek()
        return ExpressionError(reason, self.text, tok.pos)

    def expect(self, op: str) -> None:
        tok = self.take()
        if tok.kind != "op" or tok.value != op:
            raise self.fail(f"expected '{op}' but found {self.describe(tok)}", tok)

    @staticmethod
    def describe(tok: _Tok) -> str:
        if tok.kind == "end":
            return "end of expression"
        if tok.kind == "str":
            return "a string"
        return f"'{tok.value}'"

    # -- grammar
    def parse(self) -> _Node:
        if self.peek().kind == "end":
            raise self.fail("empty expression")
        node = self.parse_or()
        tok = self.peek()
        if tok.kind != "end":
            if tok.kind == "name" and tok.value == "in":
                raise self.fail("'in' is not supported; chain || comparisons instead", tok)
            raise self.fail(f"unexpected {self.describe(tok)}", tok)
        return node

    def binary_level(self, ops: tuple[str, ...], sub: Callable[[], _Node]) -> _Node:
        left = sub()
        chain = 0
        while (tok := self.peek()).kind == "op" and tok.value in ops:
            self.take()
            chain += 1
            if chain > _MAX_CHAIN:
                raise self.fail(f"more than {_MAX_CHAIN} chained '{tok.value}' operators", tok)
            left = self.combine(tok.value, left, sub())
        return left

    def logical_level(self, op: str, sub: Callable[[], _Node]) -> _Node:
        operands = [sub()]
        while (tok := self.peek()).kind == "op" and tok.value == op:
            self.take()
            operands.append(sub())
        if len(operands) == 1:
            return operands[0]
        if all(is_const for _, is_const, _ in operands):
            values = (truthy(v) for _, _, v in operands)
            return _const(all(values) if op == "&&" else any(values))
        fns = [fn for fn, _, _ in operands]
        if len(fns) == 2:
            f0, f1 = fns
            if op == "&&":
                return (lambda row: bool(f0(row)) and bool(f1(row))), False, None
            return (lambda row: bool(f0(row)) or bool(f1(row))), False, None
        want = op == "||"  # the operand truth value that decides the chain early

        def chain(row: Row) -> bool:
            for f in fns:
                if bool(f(row)) is want:
                    return want
            return not want

        return chain, False, None

    def parse_or(self) -> _Node:
        return self.logical_level("||", self.parse_and)

    def parse_and(self) -> _Node:
        return self.logical_level("&&", self.parse_eq)

    def parse_eq(self) -> _Node:
        return self.binary_level(("==", "!="), self.parse_rel)

    def parse_rel(self) -> _Node:
        return self.binary_level(("<", "<=", ">", ">="), self.parse_add)

    def parse_add(self) -> _Node:
        return self.binary_level(("+", "-"), self.parse_mul)

    def parse_mul(self) -> _Node:
        return self.binary_level(("*", "/", "%"), self.parse_unary)

    def parse_unary(self) -> _Node:
        tok = self.peek()
        if tok.kind == "op" and tok.value in ("!", "-", "+"):
            self.take()
            self.enter()
            operand = self.parse_unary()
            self.depth -= 1
            fn, is_const, value = operand
            if tok.value == "!":
                if is_const:
                    return _const(not truthy(value))
                return (lambda row: not truthy(fn(row))), False, None
            if tok.value == "+":
                return operand
            if is_const:
                return _const(-value if _is_num(value) else None)
            return (lambda row: -v if _is_num(v := fn(row)) else None), False, None
        return self.parse_primary()

    def enter(self) -> None:
        self.depth += 1
        if self.depth > _MAX_DEPTH:
            raise self.fail("expression nested too deeply")

    def parse_primary(self) -> _Node:
        tok = self.take()
        if tok.kind in ("num", "str"):
            return _const(tok.value)
        if tok.kind == "op" and tok.value == "(":
            self.enter()
            node = self.parse_or()
            self.depth -= 1
            self.expect(")")
            return node
        if tok.kind == "name":
            nxt = self.peek()
            if nxt.kind == "op" and nxt.value == "(":
                return self.parse_call(tok)
            if tok.value in _CONSTANTS:
                return _const(_CONSTANTS[tok.value])
            return field_getter(tok.value), False, None
        raise self.fail(f"expected a value but found {self.describe(tok)}", tok)

    def parse_args(self) -> list[_Node]:
        self.expect("(")
        args: list[_Node] = []
        if self.peek().kind == "op" and self.peek().value == ")":
            self.take()
            return args
        self.enter()
        while True:
            args.append(self.parse_or())
            tok = self.take()
            if tok.kind == "op" and tok.value == ")":
                break
            if not (tok.kind == "op" and tok.value == ","):
                raise self.fail(f"expected ',' or ')' but found {self.describe(tok)}", tok)
        self.depth -= 1
        return args

    def parse_call(self, name_tok: _Tok) -> _Node:
        name = name_tok.value
        args = self.parse_args()
        if name == "if":
            return self.compile_if(name_tok, args)
        if name == "identified" and not args:
            visitor = field_getter("visitorId")
            return (lambda row: _fn_identified(visitor(row))), False, None
        if name == "identified":
            args_spec: tuple[int, int, Callable[[ExprEnv], Callable[..., Any]]] = (
                1,
                1,
                lambda env: _fn_identified,
            )
        elif name in _FUNCS:
            args_spec = _FUNCS[name]
        else:
            raise self.fail(f"unknown function '{name}'", name_tok)
        lo, hi, factory = args_spec
        if not lo <= len(args) <= hi:
            want = str(lo) if lo == hi else f"{lo} to {hi}"
            raise self.fail(f"{name}() takes {want} arguments, got {len(args)}", name_tok)
        func = factory(self.env)
        fns = [a[0] for a in args]
        if all(a[1] for a in args):
            return _const(func(*(a[2] for a in args)))
        if len(fns) == 1:
            f0 = fns[0]
            return (lambda row: func(f0(row))), False, None
        if len(fns) == 2:
            f0, f1 = fns
            return (lambda row: func(f0(row), f1(row))), False, None
        return (lambda row: func(*(f(row) for f in fns))), False, None

    def compile_if(self, name_tok: _Tok, args: list[_Node]) -> _Node:
        if len(args) != 3:
            raise self.fail(f"if() takes 3 arguments, got {len(args)}", name_tok)
        (cond, c_const, c_val), (yes, _, _), (no, _, _) = args
        if c_const:
            return args[1] if truthy(c_val) else args[2]
        return (lambda row: yes(row) if truthy(cond(row)) else no(row)), False, None

    def combine(self, op: str, left: _Node, right: _Node) -> _Node:
        lf, lc, lv = left
        rf, rc, rv = right
        fn = _BINARY[op]
        if lc and rc:
            return _const(fn(lv, rv))
        if rc:  # the common `field > 5` shape: specialise on the constant
            return self.compare_to_constant(op, lf, rv) or (
                (lambda row: fn(lf(row), rv)),
                False,
                None,
            )
        return (lambda row: fn(lf(row), rf(row))), False, None

    @staticmethod
    def compare_to_constant(op: str, lf: Compiled, rv: Any) -> _Node | None:
        """Fast paths for `field OP constant`, same results as the generic operators."""
        if op in ("==", "!=") and (rv is None or isinstance(rv, str)):
            if op == "==":
                return (lambda row: lf(row) == rv), False, None
            return (lambda row: lf(row) != rv), False, None
        if op in _ORDER_OPS and _is_num(rv):
            cmp = _ORDER_OPS[op]
            return (lambda row: type(v := lf(row)) in _NUM_TYPES and cmp(v, rv)), False, None
        return None


def compile_expression(text: str, env: ExprEnv) -> Compiled:
    """Parse `text` once and return a function of a row. Raises ExpressionError."""
    if not isinstance(text, str):
        raise ExpressionError(f"expected an expression string, got {type(text).__name__}", "")
    if len(text) > _MAX_EXPR_LEN:
        raise ExpressionError(f"expression longer than {_MAX_EXPR_LEN} characters", "")
    fn, _, _ = _Parser(text, env).parse()
    return fn


def evaluate_constant(text: str, env: ExprEnv) -> Any:
    """Evaluate an expression that needs no row (timeSeries first/last)."""
    return compile_expression(text, env)({})
