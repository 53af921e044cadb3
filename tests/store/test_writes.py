"""Bulk upsert, replace_rows and delete_where on both back ends."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from pendo_tui.store import schema
from pendo_tui.store.db import Store
from pendo_tui.store.upsert import COPY_THRESHOLD

DAY0 = date(2026, 3, 1)


def _activities(n: int, *, events_offset: int = 0, mapping: str = "visits") -> list[dict]:
    return [
        {
            "mapping": mapping,
            "end_user_id": i % 1000,
            "app_id": "-323232" if i % 2 else "app-2",
            "day": DAY0 + timedelta(days=i // 1000),
            "company_external_id": f"c{i % 37}",
            "events": i + events_offset,
            "minutes": i % 60,
            "passive": i % 3 == 0,
        }
        for i in range(n)
    ]


def _all_activities(store: Store) -> list[tuple]:
    with store.connect() as conn:
        cols = schema.activities.c
        query = select(schema.activities).order_by(
            cols.mapping, cols.end_user_id, cols.app_id, cols.day
        )
        return [tuple(r) for r in conn.execute(query)]


def _count(store: Store, table: str) -> int:
    with store.connect() as conn:
        return conn.execute(
            select(func.count()).select_from(schema.metadata.tables[table])
        ).scalar()


@pytest.mark.parametrize("n", [10, COPY_THRESHOLD + 1_500])  # both PostgreSQL paths
def test_upsert_is_idempotent_and_updates(store: Store, n: int) -> None:
    rows = _activities(n)
    with store.begin() as conn:
        assert store.upsert(conn, schema.activities, rows) == n
    first = _all_activities(store)
    assert len(first) == n

    with store.begin() as conn:  # a re-read of the same window
        store.upsert(conn, "activities", rows)
    assert _all_activities(store) == first

    with store.begin() as conn:  # changed values update in place, no duplicates
        store.upsert(conn, "activities", _activities(n, events_offset=1000))
    again = _all_activities(store)
    assert len(again) == n
    assert sorted(r[5] for r in again) == sorted(r["events"] + 1000 for r in rows)
    # Types survive the fast paths exactly (dates, booleans).
    sample = next(r for r in again if r[1] == 3 and r[3] == DAY0)
    assert sample[2:] == ("-323232", DAY0, "c3", 1003, 3, True)


def test_duplicate_keys_in_one_call_last_wins(store: Store) -> None:
    base = {"metric": "Visits", "object_type": "company", "object_id": "acme", "app_id": ""}
    rows = [
        {**base, "day": DAY0, "value": 1.0, "mapping": "m"},
        {**base, "day": DAY0, "value": 2.0, "mapping": "m"},
    ]
    with store.begin() as conn:
        assert store.upsert(conn, "metrics", rows) == 1
    with store.connect() as conn:
        assert conn.execute(select(schema.metrics.c.value)).scalars().all() == [2.0]


def test_upsert_on_explicit_key_and_json_and_datetimes(store: Store) -> None:
    started = datetime(2026, 3, 2, 10, 30, 5, 123456, tzinfo=UTC)
    run = {"id": 7, "kind": "sync", "started_at": started, "status": "running", "summary": None}
    with store.begin() as conn:
        store.upsert(conn, "runs", [run], key_cols=["id"])
        done = {**run, "status": "ok", "summary": {"written": 3, "names": ["a", "b"]}}
        store.upsert(conn, "runs", [done], key_cols=["id"])
    with store.connect() as conn:
        row = conn.execute(select(schema.runs)).one()
    assert row.status == "ok" and row.summary == {"written": 3, "names": ["a", "b"]}
    assert row.started_at.replace(tzinfo=None) == started.replace(tzinfo=None)


def test_constraint_violations_surface_as_sqlalchemy_errors(store: Store) -> None:
    """Both fast paths raise the same exception family as any other store call."""
    bad = [{"id": i, "kind": None, "started_at": datetime.now(UTC), "status": "ok"} for i in
           range(COPY_THRESHOLD + 1)]  # fmt: skip
    for rows in (bad[:1], bad):
        with pytest.raises(IntegrityError), store.begin() as conn:
            store.upsert(conn, "runs", rows)


def test_key_only_rows_do_nothing_on_conflict(store: Store) -> None:
    rows = [{"external_id": f"asset-{i}"} for i in range(COPY_THRESHOLD + 10)]
    with store.begin() as conn:
        store.upsert(conn, "assets", rows)
        store.upsert(conn, "assets", rows)
    assert _count(store, "assets") == len(rows)


def test_rows_with_differing_columns_are_rejected(store: Store) -> None:
    with pytest.raises(ValueError, match="same columns"), store.begin() as conn:
        store.upsert(conn, "assets", [{"external_id": "a"}, {"external_id": "b", "x": 1}])
    with pytest.raises(ValueError, match="unknown columns"), store.begin() as conn:
        store.upsert(conn, "assets", [{"external_id": "a", "nope": 1}])


@pytest.mark.parametrize("n", [50, COPY_THRESHOLD + 500])
def test_replace_rows_swaps_a_mapping_atomically(store: Store, n: int) -> None:
    with store.begin() as conn:
        store.upsert(conn, "activities", _activities(n, mapping="visits"))
        store.upsert(conn, "activities", _activities(20, mapping="other"))
    before = _all_activities(store)

    # A failure inside the caller's transaction leaves the previous data intact.
    with pytest.raises(RuntimeError, match="boom"), store.begin() as conn:
        store.replace_rows(conn, "activities", {"mapping": "visits"}, _activities(5))
        raise RuntimeError("boom")
    assert _all_activities(store) == before

    # Success: the mapping's rows are exactly the new ones, other mappings untouched.
    with store.begin() as conn:
        written = store.replace_rows(
            conn, schema.activities, schema.activities.c.mapping == "visits", _activities(5)
        )
    assert written == 5
    after = _all_activities(store)
    assert len([r for r in after if r[0] == "visits"]) == 5
    assert [r for r in after if r[0] == "other"] == [r for r in before if r[0] == "other"]


def test_replace_rows_with_no_rows_clears_the_selection(store: Store) -> None:
    with store.begin() as conn:
        store.upsert(conn, "activities", _activities(30))
        store.replace_rows(conn, "activities", {"mapping": "visits"}, [])
    assert _count(store, "activities") == 0


def test_delete_where(store: Store) -> None:
    with store.begin() as conn:
        store.upsert(conn, "activities", _activities(3000))
        gone = store.delete_where(
            conn, "activities", schema.activities.c.day < DAY0 + timedelta(days=1)
        )
        assert gone == 1000
        assert store.delete_where(conn, "activities", {"app_id": "app-2"}) == 1000
    assert _count(store, "activities") == 1000
    with pytest.raises(ValueError, match="refusing"), store.begin() as conn:
        store.delete_where(conn, "activities", {})


@pytest.mark.parametrize("n", [3, COPY_THRESHOLD + 5])
def test_timestamps_are_stored_in_utc_and_read_back_aware(store: Store, n: int) -> None:
    """SQLite has no timezone type: without normalising, offsets would be silently lost."""
    ny = datetime(2026, 3, 2, 9, 0, tzinfo=ZoneInfo("America/New_York"))  # EST: 14:00 UTC
    naive = datetime(2026, 3, 2, 12, 0)  # taken as UTC
    rows = [
        {"sync": "s", "key": f"k{i}", "status": "delivered", "delivered_at": ny if i % 2 else naive}
        for i in range(n)
    ]
    with store.begin() as conn:
        store.upsert(conn, "push_state", rows)
        conn.execute(
            schema.runs.insert().values(id=1, kind="sync", started_at=ny, status="running")
        )
    with store.connect() as conn:
        query = select(schema.push_state.c.key, schema.push_state.c.delivered_at)
        got = {key: when for key, when in conn.execute(query)}
        started = conn.execute(select(schema.runs.c.started_at)).scalar_one()
        later = conn.execute(
            select(func.count())
            .select_from(schema.push_state)
            .where(schema.push_state.c.delivered_at > datetime(2026, 3, 2, 13, 0, tzinfo=UTC))
        ).scalar()
    assert got["k1"] == datetime(2026, 3, 2, 14, 0, tzinfo=UTC) and got["k1"].tzinfo == UTC
    assert got["k0"] == datetime(2026, 3, 2, 12, 0, tzinfo=UTC) and got["k0"].tzinfo == UTC
    assert started == ny and started.tzinfo == UTC
    assert later == n // 2  # compared as instants in SQL, not as wall-clock text
