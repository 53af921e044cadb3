"""Each recorded call names who made it: the caller's request_source, across worker threads."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

from pendo_tui.pendo.requestlog import (
    RequestLog,
    RequestRecord,
    current_source,
    inherit_source,
    request_source,
)


def _record(log: RequestLog) -> RequestRecord:
    return log.record(
        at=datetime.now(UTC),
        method="GET",
        url="http://127.0.0.1/x",
        status=200,
        duration_ms=1.0,
        request_headers=(),
        response_headers=(),
        request_body=b"",
        request_body_size=0,
        response_body=b"",
        response_body_size=0,
    )


def test_source_follows_the_context_and_is_restored() -> None:
    log = RequestLog()
    assert _record(log).source == ""
    with request_source("pull Dashboard views"):
        assert _record(log).source == "pull Dashboard views"
        with request_source("push Visitor roles"):
            assert _record(log).source == "push Visitor roles"
        assert _record(log).source == "pull Dashboard views"
    assert _record(log).source == "" and current_source() == ""


def test_worker_threads_inherit_the_source_only_when_given() -> None:
    log = RequestLog()
    with request_source("push Warehouse events"):
        with ThreadPoolExecutor(2) as bare:
            plain = list(bare.map(lambda _i: _record(log).source, range(4)))
        with ThreadPoolExecutor(2, initializer=inherit_source, initargs=(current_source(),)) as p:
            inherited = list(p.map(lambda _i: _record(log).source, range(4)))
    assert plain == [""] * 4  # a new thread starts with an empty context
    assert inherited == ["push Warehouse events"] * 4
