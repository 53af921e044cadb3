"""Events push: payload shape, exactly-once per key across runs, local rejects, old events."""

from __future__ import annotations

import datetime as dt
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

import test_push_support as sup
from test_push_support import (
    EVENT_COLUMNS,
    NOW_S,
    engine,
    event_rows,
    events_sync,
    make_db,
    reject_rows,
    state_rows,
    writes,
)

from pendo_tui.config.model import Config
from pendo_tui.errors import ExitCode, SecretError
from pendo_tui.store import schema
from pendo_tui.sync.progress import ProgressEvent
from pendo_tui.sync.push.engine import PushEngine
from pendo_tui.sync.push.events import parse_timestamp
from pendo_tui.sync.push.state import DELIVERED, IN_FLIGHT, PushState, StateUpdate

sim, fresh_sim, push_store = sup.sim, sup.fresh_sim, sup.push_store  # fixtures
UTC = dt.UTC


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2026-03-01T12:00:00Z", 1772366400000),
        ("2026-03-01T13:00:00+01:00", 1772366400000),
        ("2026-03-01T12:00:00", 1772366400000),  # naive = UTC
        ("2026-03-01 12:00:00.250", 1772366400250),
        (1772366400, 1772366400000),  # epoch seconds
        (1772366400000, 1772366400000),  # epoch milliseconds
        ("1772366400", 1772366400000),
        ("1772366400000", 1772366400000),
        (1772366400.5, 1772366400500),
        (dt.datetime(2026, 3, 1, 12, tzinfo=UTC), 1772366400000),
        (dt.date(2026, 3, 1), 1772323200000),
    ],
)
def test_timestamps_become_epoch_ms(raw: object, expected: int) -> None:
    assert parse_timestamp(raw) == expected


@pytest.mark.parametrize("raw", ["yesterday", "2026-13-01", "", True, float("nan")])
def test_unparseable_timestamps_raise(raw: object) -> None:
    with pytest.raises(ValueError):
        parse_timestamp(raw)


def test_events_reach_pendo_once_with_their_fields(fresh_sim, store, tmp_path) -> None:
    """On both store back ends (``store`` is the shared SQLite/PostgreSQL fixture)."""
    push_store = store
    url = make_db(tmp_path / "m.db", "ev", EVENT_COLUMNS, event_rows(50))
    sync = events_sync(url)
    eng = engine(fresh_sim, push_store)

    res = eng.sync(sync)

    assert (res.rows_read, res.sent, res.delivered, res.rejected_total) == (50, 50, 50, 0)
    assert res.requests == 50
    assert len(fresh_sim.state.track_events) == 50
    first = next(e for e in fresh_sim.state.track_events if e["timestamp"] == NOW_S * 1000)
    assert first["event"] == "Report Exported"
    assert first["visitorId"] == "v-0000"
    assert first["accountId"] == "acme"
    assert first["properties"] == {"plan": "pro"}
    assert first["context"] == {}
    assert set(state_rows(push_store, "events").values()) == {"delivered"}

    # A rerun with the same model sends nothing; new rows only are sent.
    again = eng.sync(sync)
    assert (again.sent, again.unchanged, again.requests) == (0, 50, 0)
    make_db(tmp_path / "m.db", "ev", EVENT_COLUMNS, event_rows(60))
    more = eng.sync(sync)
    assert (more.sent, more.unchanged) == (10, 50)
    assert len(fresh_sim.state.track_events) == 60
    ids = [(e["visitorId"], e["timestamp"]) for e in fresh_sim.state.track_events]
    assert len(set(ids)) == 60


def test_bad_rows_are_rejected_locally_and_the_rest_go_on(fresh_sim, push_store, tmp_path) -> None:
    rows = event_rows(5)
    rows += [
        ("no-visitor", "", "acme", "Report Exported", NOW_S, "pro"),
        ("null-visitor", None, "acme", "Report Exported", NOW_S, "pro"),
        ("bad-ts", "v-0001", "acme", "Report Exported", "last tuesday", "pro"),
        ("no-name", "v-0001", "acme", None, NOW_S, "pro"),
    ]
    url = make_db(tmp_path / "m.db", "ev", EVENT_COLUMNS, rows)
    res = engine(fresh_sim, push_store).sync(events_sync(url))

    assert res.delivered == 5
    assert dict(res.rejected) == {"empty_visitor_id": 2, "bad_timestamp": 1, "empty_event_name": 1}
    assert len(fresh_sim.state.track_events) == 5
    stored = reject_rows(push_store, "events")
    assert set(stored) == {"no-visitor", "null-visitor", "bad-ts", "no-name"}
    assert "'last tuesday'" in stored["bad-ts"] and "'ts'" in stored["bad-ts"]
    assert "bad-ts" not in state_rows(push_store, "events")  # fixed rows are sent later


def test_missing_timestamp_column_means_time_of_sending(fresh_sim, push_store, tmp_path) -> None:
    url = make_db(tmp_path / "m.db", "ev", EVENT_COLUMNS, event_rows(3))
    before = int(time.time() * 1000)
    seen: list[ProgressEvent] = []
    eng = engine(fresh_sim, push_store)
    eng.progress = seen.append
    res = eng.sync(
        events_sync(url, timestamp=None, event="Static Name", event_column=None, account_id=None)
    )
    after = int(time.time() * 1000)
    assert res.delivered == 3
    for e in fresh_sim.state.track_events:
        assert before <= e["timestamp"] <= after
        assert e["event"] == "Static Name"
        assert "accountId" not in e
    assert any("account_id is not mapped" in w for w in res.warnings)
    assert seen[-1].phase == "done" and seen[-1].mapping == "events" and seen[-1].total == 3
    assert {"check", "send", "done"} <= {p.phase for p in seen}


def test_old_events_are_counted_and_sent_only_when_asked(fresh_sim, push_store, tmp_path) -> None:
    old = NOW_S - 8 * 86400
    rows = [*event_rows(2), ("old1", "v-0001", "acme", "Report Exported", old, "pro")]
    url = make_db(tmp_path / "m.db", "ev", EVENT_COLUMNS, rows)
    eng = engine(fresh_sim, push_store)

    res = eng.sync(events_sync(url))
    assert (res.delivered, res.old_events, res.skipped["old_event"]) == (2, 1, 1)
    assert any("older than 7 days" in w for w in res.warnings)
    assert len(fresh_sim.state.track_events) == 2

    res = eng.sync(events_sync(url, send_old_events=True))
    assert (res.delivered, res.old_events, res.unchanged) == (1, 1, 2)
    assert fresh_sim.state.track_events[-1]["timestamp"] == old * 1000


def test_keys_left_in_flight_are_resent_and_reported(fresh_sim, push_store, tmp_path) -> None:
    url = make_db(tmp_path / "m.db", "ev", EVENT_COLUMNS, event_rows(6))
    eng = engine(fresh_sim, push_store)
    # What an interrupted run leaves behind: two keys in flight, one delivered.
    state = PushState(push_store, "events", 0)
    with push_store.begin() as conn:
        state.write(
            conn,
            [
                StateUpdate("e0", "x", DELIVERED),
                StateUpdate("e1", "x", IN_FLIGHT),
                StateUpdate("e2", "x", IN_FLIGHT),
            ],
        )

    res = eng.sync(events_sync(url))

    assert res.in_flight_found == 2 and sorted(res.in_flight_keys) == ["e1", "e2"]
    assert any("in flight" in w for w in res.warnings)
    assert (res.sent, res.unchanged) == (5, 1)
    assert set(state_rows(push_store, "events").values()) == {"delivered"}


def test_in_flight_skip_policy_reports_once_and_never_resends(
    fresh_sim, push_store, tmp_path
) -> None:
    url = make_db(tmp_path / "m.db", "ev", EVENT_COLUMNS, event_rows(4))
    with push_store.begin() as conn:
        PushState(push_store, "events", 0).write(conn, [StateUpdate("e1", "x", IN_FLIGHT)])
    eng = PushEngine(Config(), sup.client_for(fresh_sim), push_store, run_id=1, in_flight="skip")

    sync = events_sync(url, properties=["id"])
    res = eng.sync(sync)

    assert (res.in_flight_found, res.skipped["possibly_delivered"], res.sent) == (1, 1, 3)
    assert any("not sent again" in w for w in res.warnings)
    sent_ids = {e["properties"]["id"] for e in fresh_sim.state.track_events}
    assert sent_ids == {"e0", "e2", "e3"}
    assert state_rows(push_store, "events")["e1"] == "delivered"
    again = eng.sync(sync)
    assert (again.in_flight_found, again.sent, again.unchanged) == (0, 0, 4)


def test_events_sync_without_track_secret_fails_before_any_write(
    fresh_sim, push_store, tmp_path
) -> None:
    url = make_db(tmp_path / "m.db", "ev", EVENT_COLUMNS, event_rows(3))
    eng = engine(fresh_sim, push_store, track=None)
    with pytest.raises(SecretError) as err:
        eng.preflight(events_sync(url))
    assert err.value.exit_code == ExitCode.AUTH
    with pytest.raises(SecretError):
        eng.sync(events_sync(url))
    assert writes(fresh_sim) == 0
    assert state_rows(push_store, "events") == {}


def test_one_event_refused_by_pendo_is_rejected_others_delivered(
    fresh_sim, push_store, tmp_path
) -> None:
    url = make_db(tmp_path / "m.db", "ev", EVENT_COLUMNS, event_rows(5))
    fresh_sim.faults.add("track", status=400, times=1)
    res = engine(fresh_sim, push_store).sync(events_sync(url, concurrency=1))
    assert (res.delivered, res.rejected["pendo_rejected"]) == (4, 1)
    assert len(reject_rows(push_store, "events")) == 1
    # The refused key is not remembered as delivered: the next run sends it.
    again = engine(fresh_sim, push_store).sync(events_sync(url))
    assert (again.sent, again.delivered) == (1, 1)
    assert len(fresh_sim.state.track_events) == 5


def test_dry_run_sends_nothing_and_keeps_state(fresh_sim, push_store, tmp_path) -> None:
    rows = [*event_rows(7), ("bad", "", "acme", "X", NOW_S, "p")]
    url = make_db(tmp_path / "m.db", "ev", EVENT_COLUMNS, rows)
    plan = engine(fresh_sim, push_store).plan(events_sync(url))
    assert plan["would_send"] == 7 and plan["rows_read"] == 8
    assert plan["rejected"] == {"empty_visitor_id": 1}
    assert len(plan["first_payloads"]) == 5
    assert plan["first_payloads"][0]["visitorId"] == "v-0000"
    assert sum(fresh_sim.state.requests.values()) == 0
    assert state_rows(push_store, "events") == {} and reject_rows(push_store, "events") == {}
    with push_store.engine.connect() as conn:
        assert conn.execute(schema.push_rejects.select()).first() is None
