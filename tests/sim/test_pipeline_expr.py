"""The expression language of filter/select/eval: parsing, precedence, semantics, errors."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pendo_tui.sim.expr import ExprEnv, ExpressionError, compile_expression

NY = "America/New_York"
NOW = int(datetime(2026, 3, 20, 11, 0, tzinfo=ZoneInfo(NY)).timestamp() * 1000)
ENV = ExprEnv(now_ms=NOW, tz=NY)


def ev(text: str, row: dict[str, Any] | None = None) -> Any:
    return compile_expression(text, ENV)(row or {})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1 + 2 * 3", 7),
        ("(1 + 2) * 3", 9),
        ("10 - 4 - 3", 3),  # left associative
        ("24 / 4 / 2", 3),
        ("7 / 2", 3.5),
        ("7 % 3", 1),
        ("-7 % 3", -1),  # C semantics: sign of the dividend
        ("2 * -3", -6),
        ("!0", True),
        ("!1 == false", True),  # unary binds tighter than ==
        ("1 < 2 == true", True),  # relational binds tighter than equality
        ("1 + 1 == 2 && 3 > 2", True),
        ("false && false || true", True),  # && binds tighter than ||
        ("true || false && false", True),
        ("!(true || false)", False),
        ("1.5e3", 1500.0),
        ('"a" + "b"', "ab"),
        ("null == null", True),
        ("nil == null", True),
        ("1 == 1.0", True),
        ('1 == "1"', False),
        ('"b" > "a"', True),
    ],
)
def test_operators_and_precedence(text: str, expected: Any) -> None:
    assert ev(text) == expected


def test_short_circuit_and_if_are_lazy() -> None:
    # 1/0 is null, not an exception; if() must not evaluate the branch it does not take.
    assert ev("false && 1/0 == null") is False
    assert ev('if(x > 1, "big", "small")', {"x": 5}) == "big"
    assert ev('if(x > 1, "big", "small")', {"x": 0}) == "small"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (r'"say \"hi\""', 'say "hi"'),
        (r'"back\\slash"', "back\\slash"),
        (r'"tab\there"', "tab\there"),
        (r'"\u00e9"', "é"),
        (r"`raw \`tick\``", "raw `tick`"),
        (r"`a\\b`", "a\\b"),
        ('"single \' quote"', "single ' quote"),
    ],
)
def test_string_escapes(text: str, expected: str) -> None:
    assert ev(text) == expected


def test_field_paths_and_missing_fields() -> None:
    row = {"visitorId": "v1", "metadata": {"agent": {"email": "a@x.io"}}, "n": 3}
    assert ev("metadata.agent.email", row) == "a@x.io"
    assert ev("metadata.agent.missing", row) is None
    assert ev("metadata.agent.email.deeper", row) is None
    assert ev("nothing == null", row) is True
    assert ev("isNull(nothing) && !isNil(n)", row) is True
    # arithmetic and ordering on null are null/false, never an exception
    assert ev("nothing + 1", row) is None
    assert ev("nothing > 1", row) is False
    assert ev('n > "2"', row) is False


def test_functions() -> None:
    row = {"v": "_PENDO_T_abc", "w": "user-1", "tags": ["a", "b"], "s": "hello world"}
    assert ev('contains(s, "lo w")', row) is True
    assert ev('contains(tags, "b") && !contains(tags, "z")', row) is True
    assert ev('startsWith(s, "hell")', row) is True
    assert ev("len(s) + len(tags)", row) == 13
    assert ev("identified(v)", row) is False
    assert ev("identified(w)", row) is True
    assert ev("identified()", {"visitorId": "x"}) is True
    assert ev("hash(w)", row) == ev("hash(w)", row) != ev("hash(v)", row)
    assert isinstance(ev("hash(w)", row), int)
    assert ev("list(1, 2)") == [1, 2]


def test_time_functions_are_zone_aware() -> None:
    assert ev("now()") == NOW
    assert ev("now() - 30*24*60*60*1000") == NOW - 30 * 86_400_000
    midnight = int(datetime(2024, 1, 1, tzinfo=ZoneInfo(NY)).timestamp() * 1000)
    assert ev("date(2024, 1, 1)") == midnight
    # 2026-03-08 is the spring-forward day in New York: one calendar day is 23 hours.
    assert ev('dateAdd(date(2026,3,8), 1, "days") - date(2026,3,8)') == 23 * 3_600_000
    assert ev('dateAdd(date(2026,3,9), -1, "days")') == ev("date(2026,3,8)")
    assert ev('date_add(date(2026,1,31), 1, "months")') == ev("date(2026,2,28)")
    assert ev('dateAdd(now(), -2, "hours")') == NOW - 2 * 3_600_000
    assert ev('startOfPeriod("monthly", date(2026,3,20,15))') == ev("date(2026,3,1)")
    assert ev('startOfPeriod(date(2026,3,20,15), "daily")') == ev("date(2026,3,20)")
    # 2026-03-20 is a Friday; Pendo weeks start on Sunday the 15th.
    assert ev('startOfPeriod("weekly", date(2026,3,20,15))') == ev("date(2026,3,15)")
    assert ev('dateAdd(now(), 1, "fortnights")') is None


def test_constant_subtrees_fold_once() -> None:
    fn = compile_expression("now() - 7*24*60*60*1000 + x", ENV)
    assert fn({"x": 1}) == NOW - 7 * 86_400_000 + 1
    assert fn({"x": None}) is None


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("numEvents >", "expected a value but found end of expression"),
        ("a = 1", "unexpected '='"),
        ("a & b", "unexpected '&'"),
        ("appId in [1, 2]", "lists are not supported"),
        ("appId in x", "'in' is not supported"),
        ('"unterminated', "unterminated string"),
        ("frobnicate(1)", "unknown function 'frobnicate'"),
        ("len(1, 2)", "len() takes 1 arguments, got 2"),
        ("(1 + 2", "expected ')' but found end of expression"),
        ("1 2", "unexpected '2'"),
        ("", "empty expression"),
        ("a # b", "unexpected character '#'"),
        ('"\\uZZZZ"', "bad \\u escape"),
    ],
)
def test_parse_errors_name_the_problem(text: str, fragment: str) -> None:
    with pytest.raises(ExpressionError) as info:
        compile_expression(text, ENV)
    assert fragment in str(info.value)
    assert "position" in str(info.value)


def test_deep_nesting_is_bounded() -> None:
    with pytest.raises(ExpressionError, match="nested too deeply"):
        compile_expression("(" * 500 + "1" + ")" * 500, ENV)
    assert ev("(" * 30 + "1" + ")" * 30) == 1


def test_long_or_chains_work_and_arithmetic_chains_are_bounded() -> None:
    # Pendo has no `in [...]`: users chain ||, sometimes hundreds of terms long.
    chain = " || ".join(f'appId == "{i}"' for i in range(2000))
    fn = compile_expression(chain, ENV)
    assert fn({"appId": "1999"}) is True
    assert fn({"appId": "x"}) is False
    with pytest.raises(ExpressionError, match="chained"):
        compile_expression(" + ".join(["x"] * 1000), ENV)


_mixed = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 5),
    st.floats(-5, 5, allow_nan=False),
    st.sampled_from(["", "a", "b", "5"]),
)
_FLIP = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "==": "==", "!=": "!="}


@settings(max_examples=300, deadline=None)
@given(
    x=_mixed,
    const=st.sampled_from(["5", "2.5", "-1", '"a"', '"5"', "null", "true"]),
    op=st.sampled_from(sorted(_FLIP)),
)
def test_field_vs_constant_fast_paths_agree_with_generic_operators(
    x: Any, const: str, op: str
) -> None:
    # `x OP c` takes a specialised path; `c FLIP(OP) x` the generic one: same answer.
    fast = compile_expression(f"x {op} {const}", ENV)({"x": x})
    generic = compile_expression(f"{const} {_FLIP[op]} x", ENV)({"x": x})
    assert fast is generic


@settings(max_examples=300, deadline=None)
@given(value=st.text(max_size=40))
def test_any_string_round_trips_through_escaped_literals(value: str) -> None:
    # What a client does to embed a value: escape backslash and the quote character.
    double = '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    tick = "`" + value.replace("\\", "\\\\").replace("`", "\\`") + "`"
    assert compile_expression(double, ENV)({}) == value
    assert compile_expression(f"x == {tick}", ENV)({"x": value}) is True
