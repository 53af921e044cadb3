"""Rows bodies cut between rows and parsed by orjson (``iter_rows``): the rows must be the
ones the standard library reads from the whole body, however the bytes arrive, and a
body it cannot cut must go to ijson with nothing lost, repeated or accepted that is
broken."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pendo_tui.pendo import streaming
from pendo_tui.pendo.streaming import ByteStreamReader, JSONError, iter_rows


def _reader(body: bytes, sizes: list[int] | None = None) -> ByteStreamReader:
    """``body`` in chunks of the given sizes (repeated), like httpx hands them over."""
    sizes = sizes or [65536]
    chunks, at, i = [], 0, 0
    while at < len(body):
        n = max(1, sizes[i % len(sizes)])
        chunks.append(body[at : at + n])
        at, i = at + n, i + 1
    return ByteStreamReader(iter(chunks))


def _rows(body: bytes, prefix: str = "results.item", sizes: list[int] | None = None) -> list:
    return list(iter_rows(_reader(body, sizes), prefix))


ROWS = [
    {"pageId": "p1", "visitorId": "v-1", "day": 1700000000000, "numEvents": 3},
    {"pageId": "p2", "visitorId": 'a "quoted" }, {id', "day": 1700086400000, "numEvents": 1},
    {"pageId": "p3", "nested": {"k": [1, {"x": "},"}]}, "numEvents": 2.5},
    {"pageId": "p4", "visitorId": None, "flag": True, "big": 2**62},
]


@pytest.mark.parametrize(
    "body",
    [
        {"startTime": 1700000000000, "results": ROWS},
        {"startTime": None, "results": ROWS},
        {"results": ROWS},
        {"results": ROWS, "startTime": 1700000000000},
        {"results": ROWS, "more": {"a": [1, 2]}},
    ],
    ids=["envelope", "null-start", "no-start", "results-first", "trailer"],
)
@pytest.mark.parametrize("separators", [(",", ":"), (", ", ": ")], ids=["compact", "spaced"])
@pytest.mark.parametrize("size", [1, 7, 64, 65536])
def test_the_rows_of_every_object_shape(body: dict, separators: tuple, size: int) -> None:
    raw = json.dumps(body, separators=separators).encode()
    assert _rows(raw, sizes=[size]) == json.loads(raw)["results"]


@pytest.mark.parametrize("size", [1, 5, 65536])
def test_a_bare_array(size: int) -> None:
    raw = json.dumps(ROWS).encode()
    assert _rows(raw, "item", [size]) == ROWS


@pytest.mark.parametrize(
    "raw",
    [b'{"results":[]}', b"[]", b'{"startTime":1,"results":[]}', b'  {"results" : [ ] }  '],
)
def test_no_rows(raw: bytes) -> None:
    prefix = "item" if raw.lstrip().startswith(b"[") else "results.item"
    assert _rows(raw, prefix) == []


def test_rows_that_are_not_objects() -> None:
    values: list[Any] = [[1, 2], "x", 3, None, {"a": 1}, [{"b": 2}]]
    raw = json.dumps({"results": values}).encode()
    assert _rows(raw, sizes=[3]) == values


def test_an_opening_of_another_shape_is_read_by_ijson() -> None:
    """Keys before ``results`` that the fast path does not know: ijson finds the rows."""
    raw = json.dumps({"meta": {"results": [9]}, "results": ROWS}).encode()
    assert _rows(raw, sizes=[10]) == ROWS


def test_a_row_larger_than_the_pending_bound_goes_to_ijson(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(streaming, "MAX_PENDING", 64)
    rows = [{"id": i, "text": "y" * (10 if i % 3 else 200)} for i in range(30)]
    raw = json.dumps({"results": rows}).encode()
    assert _rows(raw, sizes=[50]) == rows


def test_pending_bytes_stay_bounded_when_rows_never_cut(monkeypatch: pytest.MonkeyPatch) -> None:
    """Rows separated by a newline before the comma never show "},": the bytes waiting
    are handed to ijson past the bound instead of growing with the body."""
    monkeypatch.setattr(streaming, "MAX_PENDING", 1000)
    rows = [{"id": i} for i in range(5000)]
    raw = b'{"results":[' + b"\n,".join(json.dumps(r).encode() for r in rows) + b"]}"
    reader = _reader(raw, [100])
    it = iter_rows(reader, "results.item")
    assert next(it) == rows[0]
    assert reader.size < 2000  # a few chunks past the bound, not the whole body
    assert [rows[0], *it] == rows


@pytest.mark.parametrize("cut", [20, 45, 90, -1])
def test_a_truncated_body_raises_after_its_whole_rows(cut: int) -> None:
    raw = json.dumps({"startTime": 1, "results": ROWS[:2]}, separators=(",", ":")).encode()
    got: list = []
    with pytest.raises(JSONError):
        for row in iter_rows(_reader(raw[:cut], [7]), "results.item"):
            got.append(row)
    assert got == ROWS[: len(got)]  # never a row that is not in the body


def test_garbage_after_the_rows_raises() -> None:
    raw = json.dumps({"results": ROWS}).encode() + b" trailing"
    with pytest.raises(JSONError):
        _rows(raw)


def test_broken_json_between_rows_raises() -> None:
    raw = b'{"results":[{"a":1},{"b":2,},{"c":3}]}'
    got: list = []
    with pytest.raises(JSONError):
        for row in iter_rows(_reader(raw, [4]), "results.item"):
            got.append(row)
    assert got in ([], [{"a": 1}])


def test_other_prefixes_are_ijsons() -> None:
    raw = json.dumps({"data": {"rows": ROWS}}).encode()
    assert list(iter_rows(_reader(raw), "data.rows.item")) == ROWS


json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False, width=32)
    | st.text(alphabet=st.sampled_from('ab"\\{},[]: \n\u00e9'), max_size=8)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.text(alphabet="ab},{", max_size=3), inner, max_size=3)
    ),
    max_leaves=8,
)


@settings(max_examples=300, deadline=None)
@given(
    rows=st.lists(json_values, max_size=12),
    sizes=st.lists(st.integers(min_value=1, max_value=40), min_size=1, max_size=5),
    spaced=st.booleans(),
    bare=st.booleans(),
)
def test_any_rows_in_any_chunks_are_the_standard_librarys(
    rows: list, sizes: list[int], spaced: bool, bare: bool
) -> None:
    seps = (", ", ": ") if spaced else (",", ":")
    doc: Any = rows if bare else {"startTime": 5, "results": rows}
    raw = json.dumps(doc, separators=seps, ensure_ascii=False).encode()
    expected = json.loads(raw)
    assert _rows(raw, "item" if bare else "results.item", sizes) == (
        expected if bare else expected["results"]
    )
