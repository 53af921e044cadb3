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

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pendo_tui.sim.expr_funcs import ANONYMOUS_PREFIX, CONSTANTS, FUNCS, ExprEnv, fn_identified
from pendo_tui.sim.expr_time import hour_floor, local_datetime
from pendo_tui.sim.expr_values import (
    BINARY,
    NUM_TYPES,
    ORDER_OPS,
    Compiled,
    Row,
    field_getter,
    get_path,
    is_num,
    truthy,
)

__all__ = [
    "ANONYMOUS_PREFIX",
    "Compiled",
    "ExprEnv",
    "ExpressionError",
    "Row",
    "compile_expression",
    "evaluate_constant",
    "field_getter",
    "get_path",
    "hour_floor",
    "local_datetime",
    "truthy",
]

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
        # `field == "text"` nodes, so an || chain of them becomes one set lookup per field
        self.paths: dict[Compiled, str] = {}
        self.equals: dict[Compiled, tuple[str, str]] = {}

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
        if op == "||" and (members := self.or_equals(fns)) is not None:
            return members, False, None
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

    def or_equals(self, fns: list[Compiled]) -> Compiled | None:
        """`id == "a" || id == "b" || …` (Pendo's spelling of `in`) as one set lookup per
        field: a chain of thousands of ids costs about what one comparison does. Same truth
        value as the chain: `field == "text"` holds only for a string field equal to it."""
        sets: dict[str, set[str]] = {}
        rest: list[Compiled] = []
        for f in fns:
            hit = self.equals.get(f)
            if hit is None:
                rest.append(f)
            else:
                sets.setdefault(hit[0], set()).add(hit[1])
        if not any(len(values) > 1 for values in sets.values()):
            return None
        tests = [(field_getter(path), frozenset(values)) for path, values in sets.items()]
        if len(tests) == 1 and not rest:
            ((get, members),) = tests
            return lambda row: isinstance(v := get(row), str) and v in members

        def chain(row: Row) -> bool:
            for get, members in tests:
                if isinstance(v := get(row), str) and v in members:
                    return True
            return any(bool(f(row)) for f in rest)

        return chain

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
                return _const(-value if is_num(value) else None)
            return (lambda row: -v if is_num(v := fn(row)) else None), False, None
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
            if tok.value in CONSTANTS:
                return _const(CONSTANTS[tok.value])
            getter = field_getter(tok.value)
            self.paths[getter] = tok.value
            return getter, False, None
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
            return (lambda row: fn_identified(visitor(row))), False, None
        if name == "identified":
            args_spec: tuple[int, int, Callable[[ExprEnv], Callable[..., Any]]] = (
                1,
                1,
                lambda env: fn_identified,
            )
        elif name in FUNCS:
            args_spec = FUNCS[name]
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
        fn = BINARY[op]
        if lc and rc:
            return _const(fn(lv, rv))
        if rc:  # the common `field > 5` shape: specialise on the constant
            node = self.compare_to_constant(op, lf, rv)
            if node is None:
                return (lambda row: fn(lf(row), rv)), False, None
            if op == "==" and isinstance(rv, str) and lf in self.paths:
                self.equals[node[0]] = (self.paths[lf], rv)
            return node
        return (lambda row: fn(lf(row), rf(row))), False, None

    @staticmethod
    def compare_to_constant(op: str, lf: Compiled, rv: Any) -> _Node | None:
        """Fast paths for `field OP constant`, same results as the generic operators."""
        if op in ("==", "!=") and (rv is None or isinstance(rv, str)):
            if op == "==":
                return (lambda row: lf(row) == rv), False, None
            return (lambda row: lf(row) != rv), False, None
        if op in ORDER_OPS and is_num(rv):
            cmp = ORDER_OPS[op]
            return (lambda row: type(v := lf(row)) in NUM_TYPES and cmp(v, rv)), False, None
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
