"""The apply's SQLite index rebuild: a large apply drops a table's secondary indexes and
builds them again in its transaction; a small one keeps them; a failure restores them."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import insert, text

from pendo_tui.store import schema
from pendo_tui.store.db import open_store
from pendo_tui.sync.pull import stage as st

INDEXES = {ix.name for ix in schema.activities.indexes}
METRIC_INDEXES = {ix.name for ix in schema.metrics.indexes}
BY_DAY = "EXPLAIN QUERY PLAN SELECT * FROM activities WHERE day = '2026-01-02'"


def _indexes(conn, table: str = "activities") -> set[str]:
    sql = f"SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = '{table}'"
    return {r[0] for r in conn.execute(text(sql))} & (INDEXES | METRIC_INDEXES)


def _fill(conn, n: int, first: int = 0) -> None:
    if not n:
        return
    start = date(2026, 1, 1)
    rows = [
        {
            "mapping": "m",
            "end_user_id": first + i,
            "app_id": "-323232",
            "day": start + timedelta(days=i % 90),
            "company_external_id": f"c{i % 7}",
            "events": 1,
            "minutes": 1,
            "passive": False,
        }
        for i in range(n)
    ]
    conn.execute(insert(schema.activities), rows)


@pytest.fixture
def sqlite_store(tmp_path: Path):
    store = open_store(f"sqlite:///{tmp_path / 's.db'}")
    try:
        yield store
    finally:
        store.close()


def test_the_schema_names_the_indexes_it_rebuilds():
    # one added to the schema is rebuilt too
    assert len(INDEXES) == 2  # day, company
    assert len(METRIC_INDEXES) == 2  # object, mapping


@pytest.mark.parametrize(
    ("held", "incoming", "dropped"),
    [(0, 10, True), (100, 60, True), (100, 40, False), (100, 0, False)],
)
def test_large_applies_rebuild_and_small_ones_keep(sqlite_store, held, incoming, dropped):
    with sqlite_store.connect() as conn, conn.begin():
        _fill(conn, held)
        with st.rebuilt_indexes(conn, {schema.activities: incoming, schema.metrics: 0}):
            assert _indexes(conn) == (set() if dropped else INDEXES)
            assert _indexes(conn, "metrics") == METRIC_INDEXES  # nothing comes its way
            _fill(conn, incoming, first=held)
        assert _indexes(conn) == INDEXES
    with sqlite_store.connect() as conn:  # committed with them, and used
        assert _indexes(conn) == INDEXES
        assert "ix_activities_day" in " ".join(str(r) for r in conn.execute(text(BY_DAY)))
        count = conn.execute(text("SELECT count(*) FROM activities")).scalar()
        assert count == held + incoming


def test_a_failed_apply_leaves_the_indexes_in_place(sqlite_store):
    with sqlite_store.connect() as conn:
        incoming = {schema.activities: 1_000, schema.metrics: 1_000}
        with pytest.raises(RuntimeError), conn.begin(), st.rebuilt_indexes(conn, incoming):
            assert _indexes(conn) == _indexes(conn, "metrics") == set()
            _fill(conn, 10)
            raise RuntimeError("the apply failed")
        assert _indexes(conn) == INDEXES
        assert _indexes(conn, "metrics") == METRIC_INDEXES
        assert conn.execute(text("SELECT count(*) FROM activities")).scalar() == 0


def test_a_failed_stage_write_surfaces_on_the_store_thread(store):
    """PostgreSQL writes staged rows on the inserter's thread: what fails there is raised
    by the next hand-over or ``wait`` (SQLite writes inline and raises at once)."""
    with store.connect() as conn:
        st.create_stage(conn)
        inserter = st.Inserter(conn)
        writer = st.StageWriter(inserter, st.stage_activity, batch_rows=2)
        good = ("m", 1, "app", writer.day_value(date(2026, 1, 1)), "c", 1, 1, None, None, "")
        try:
            writer.buffer.append(good)
            writer.flush()
            inserter.wait()
            writer.buffer.append((None, *good[1:]))  # mapping is NOT NULL
            with pytest.raises(Exception, match=r"(?i)null"):
                writer.flush()
                inserter.wait()
            inserter.wait()  # raised once; the inserter is usable again
        finally:
            inserter.close()
        # what the engine does next: the batch's staging is one transaction, rolled back
        # whole, and the connection is usable again (PostgreSQL: after a failed COPY)
        conn.rollback()
        assert conn.execute(text("SELECT count(*) FROM pendo_tui_stage_activity")).scalar() == 0
        st.drop_stage(conn)


def test_no_activities_between_looks_at_the_mapping_and_days_only(store):
    with store.connect() as conn, conn.begin():
        _fill(conn, 3)  # mapping "m" on 2026-01-01 .. 2026-01-03
        day = date(2026, 1, 2)
        assert not st.no_activities_between(conn, "m", day, day)
        assert not st.no_activities_between(conn, "m", date(2025, 12, 1), date(2026, 1, 1))
        assert st.no_activities_between(conn, "m", date(2026, 1, 4), date(2026, 3, 1))
        assert st.no_activities_between(conn, "other", day, day)


def _stage_one(writer: st.StageWriter, user: int, events: int) -> None:
    day = writer.day_value(date(2026, 1, 2))
    writer.buffer.append(("m", user, "app", day, "c", events, 1, "c", "page views", "app"))
    writer.flush()
    writer.inserter.wait()


def test_a_fresh_apply_inserts_and_a_repeated_one_updates(store):
    """``fresh`` leaves out the ON CONFLICT clause: right on days the mapping does not hold
    yet; on days it holds, the upsert updates (and a fresh insert there would fail)."""
    with store.connect() as conn:
        st.create_stage(conn)
        inserter = st.Inserter(conn)
        writer = st.StageWriter(inserter, st.stage_activity)
        try:
            with conn.begin():
                _stage_one(writer, 1, 5)
            with conn.begin():
                assert st.no_activities_between(conn, "m", date(2026, 1, 2), date(2026, 1, 2))
                assert st.apply_activities(conn, "m", "company", False, False, fresh=True) == (1, 1)
                assert not st.no_activities_between(conn, "m", date(2026, 1, 2), date(2026, 1, 2))
            with conn.begin():
                conn.execute(st.stage_activity.delete())
                _stage_one(writer, 1, 7)
            with conn.begin():
                assert st.apply_activities(conn, "m", "company", False, False) == (1, 1)
            events = conn.execute(text("SELECT events FROM activities")).scalars().all()
            assert events == [7]
            conn.commit()
            with pytest.raises(Exception, match=r"(?i)unique|duplicate"), conn.begin():
                st.apply_activities(conn, "m", "company", False, False, fresh=True)
        finally:
            inserter.close()
            conn.rollback()
            st.drop_stage(conn)


def _temp_tables(conn) -> set[str]:
    if conn.dialect.name == "sqlite":
        return set(conn.dialect.get_temp_table_names(conn))
    sql = "SELECT tablename FROM pg_tables WHERE schemaname LIKE 'pg_temp%'"  # any session
    return {r[0] for r in conn.execute(text(sql))}


def test_released_stages_are_gone_and_the_store_serves_the_next_batch(store):
    """SQLite closes the connection (its temporary file goes with it) instead of dropping
    the staged rows; PostgreSQL drops the tables. Either way the next batch starts clean."""
    staged = {st.stage_activity.name, st.stage_metric.name, st.stage_users.name}
    for _ in range(2):
        with store.connect() as conn:
            st.create_stage(conn)
            conn.execute(st.stage_users.insert(), [{"old": -1, "new": 1}])
            conn.commit()
            assert staged <= _temp_tables(conn)
            st.release_stage(conn)
        with store.connect() as conn:  # the pool's next connection holds no stage
            assert not staged & _temp_tables(conn)
