"""Push models: SQL and CSV sources, bad input caught before anything is sent, the pull store
as a source, PostgreSQL, and the shipped demo model landing exactly in the simulator."""

from __future__ import annotations

import csv
import shutil
import sqlite3
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

sys.path.insert(0, str(Path(__file__).parent))

import test_push_support as sup
from test_push_support import (
    EVENT_COLUMNS,
    engine,
    event_rows,
    events_sync,
    make_db,
    state_rows,
    visitor_sync,
    writes,
)

from pendo_tui.config.model import Config, PushSync
from pendo_tui.config.toml_io import load_config
from pendo_tui.errors import ExitCode
from pendo_tui.store import schema
from pendo_tui.store.db import open_store
from pendo_tui.sync.push.engine import ModelError, PushEngine

sim, fresh_sim, push_store = sup.sim, sup.fresh_sim, sup.push_store  # fixtures

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def write_csv(path: Path, header: list[str] | None, rows: list[list[object]]) -> Path:
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        if header is not None:
            w.writerow(header)
        w.writerows(rows)
    return path


def test_query_error_shows_the_database_message(fresh_sim, push_store, tmp_path) -> None:
    url = make_db(tmp_path / "m.db", "ev", EVENT_COLUMNS, event_rows(3))
    with pytest.raises(ModelError) as err:
        engine(fresh_sim, push_store).sync(events_sync(url, query="SELECT * FROM nope"))
    assert "no such table: nope" in str(err.value)
    assert err.value.exit_code == ExitCode.USAGE
    assert writes(fresh_sim) == 0


def test_missing_primary_key_column_is_named(fresh_sim, push_store, tmp_path) -> None:
    url = make_db(tmp_path / "m.db", "ev", EVENT_COLUMNS, event_rows(3))
    with pytest.raises(ModelError) as err:
        engine(fresh_sim, push_store).sync(events_sync(url, primary_key="event_uuid"))
    assert "'event_uuid'" in str(err.value) and "Columns found: id, vid" in str(err.value)
    assert writes(fresh_sim) == 0


def test_duplicate_primary_keys_are_listed_before_sending(fresh_sim, push_store, tmp_path) -> None:
    rows = [*event_rows(5), event_rows(1)[0], event_rows(1)[0], event_rows(2)[1]]
    url = make_db(tmp_path / "m.db", "ev", EVENT_COLUMNS, rows)
    with pytest.raises(ModelError) as err:
        engine(fresh_sim, push_store).sync(events_sync(url))
    message = str(err.value)
    assert "2 duplicated key(s)" in message and "'e0' ×3" in message and "'e1' ×2" in message
    assert writes(fresh_sim) == 0


def test_csv_duplicates_and_missing_header(fresh_sim, push_store, tmp_path) -> None:
    eng = engine(fresh_sim, push_store)
    dup = write_csv(tmp_path / "d.csv", ["vid", "role", "seats"], [["v-0000", "a", 1]] * 2)
    with pytest.raises(ModelError, match="'v-0000' ×2"):
        eng.sync(visitor_sync("", model={"csv": str(dup)}))
    empty = write_csv(tmp_path / "e.csv", None, [])
    with pytest.raises(ModelError, match="has no header row"):
        eng.sync(visitor_sync("", model={"csv": str(empty)}))
    no_col = write_csv(tmp_path / "n.csv", ["vid", "role"], [["v-0000", "a"]])
    with pytest.raises(ModelError, match="no column 'seats'"):
        eng.sync(visitor_sync("", model={"csv": str(no_col)}))
    with pytest.raises(ModelError, match="does not exist"):
        eng.sync(visitor_sync("", model={"csv": str(tmp_path / "absent.csv")}))
    assert writes(fresh_sim) == 0


def test_the_pull_store_is_a_source(fresh_sim, push_store) -> None:
    """Push metrics computed by pull mappings back into Pendo account metadata."""
    with push_store.begin() as conn:
        conn.execute(
            schema.companies.insert(),
            [{"external_id": "acme", "name": "Acme"}, {"external_id": "globex", "name": "G"}],
        )
    sync = PushSync(
        name="company-names",
        kind="account",
        model={"url": "store", "query": "SELECT external_id, name FROM companies"},
        primary_key="external_id",
        match="external_id",
        fields={"tier": "name"},
    )
    res = engine(fresh_sim, push_store).sync(sync)
    assert res.delivered == 2
    assert fresh_sim.state.metadata[("account", "custom", "acme")] == {"tier": "Acme"}


@pytest.mark.postgres
def test_postgresql_model_and_store(fresh_sim, fresh_pg_url, tmp_path) -> None:
    pg = create_engine(fresh_pg_url)
    with pg.begin() as conn:
        conn.execute(
            text("CREATE TABLE ev (id text, vid text, acc text, name text, ts timestamptz)")
        )
        conn.execute(
            text(
                "INSERT INTO ev SELECT 'pg' || g, 'v-000' || (g % 5), 'acme', 'Seat Added', "
                "now() - g * interval '1 minute' FROM generate_series(1, 40) g"
            )
        )
    pg.dispose()
    store = open_store(fresh_pg_url)
    try:
        eng = PushEngine(Config(), sup.client_for(fresh_sim), store, run_id=1)
        sync = events_sync(fresh_pg_url, properties=[])
        assert eng.sync(sync).delivered == 40
        again = eng.sync(sync)
        assert (again.sent, again.unchanged) == (0, 40)
    finally:
        store.close()
    assert len(fresh_sim.state.track_events) == 40


def test_demo_model_lands_exactly_in_the_simulator(
    fresh_sim, push_store, tmp_path, monkeypatch
) -> None:
    work = tmp_path / "repo"
    shutil.copytree(EXAMPLES, work / "examples")
    sys.path.insert(0, str(work / "examples"))
    import make_demo_model

    make_demo_model.build(work / "examples" / "demo_model.sqlite")
    monkeypatch.chdir(work)
    config = load_config(work / "examples" / "push-demo.toml")
    eng = PushEngine(config, sup.client_for(fresh_sim), push_store, run_id=1)
    results = {s.name: eng.sync(s) for s in config.push}

    con = sqlite3.connect(work / "examples" / "demo_model.sqlite")
    model_events = con.execute(
        "SELECT event_id, visitor_id, account_id, event_name, plan, amount FROM product_events"
    ).fetchall()
    traits = con.execute("SELECT visitor_id, role, seats_used, nps_score FROM visitor_traits")
    traits = traits.fetchall()
    con.close()

    sent = fresh_sim.state.track_events
    sql_events = [e for e in sent if "amount" in e["properties"]]
    expected = {(v, a, n, p, x) for _, v, a, n, p, x in model_events}
    got = {
        (e["visitorId"], e["accountId"], e["event"], *e["properties"].values()) for e in sql_events
    }
    assert len(sql_events) == len(model_events) == 60 and got == expected
    assert len(sent) == 60 + 10  # plus examples/events.csv
    assert results["demo-events"].delivered == 60
    meta = fresh_sim.state.metadata
    known = {v["visitorId"] for v in fresh_sim.dataset.visitors}
    for vid, _role, _seats, nps in traits:
        if vid in known:
            assert meta[("visitor", "custom", vid)]["nps_score"] == nps
    assert results["demo-visitor-traits"].missing == 1  # v-9999
    assert results["demo-visitor-traits"].fields_created == ["nps_score"]
    assert meta[("account", "custom", "acme")] == {"tier": "gold", "health_score": 50}
    # CSV visitors ran last and own role/seats_used for v-0000..v-0007 (CSV values are text).
    assert meta[("visitor", "custom", "v-0001")]["seats_used"] == "2"
    assert results["demo-csv-visitors"].delivered == 8

    # A second run of the whole demo sends nothing.
    before = writes(fresh_sim)
    for s in config.push:
        assert eng.sync(s).sent == 0
    assert writes(fresh_sim) == before


def test_model_failing_mid_stream_settles_what_was_sent(fresh_sim, push_store, tmp_path) -> None:
    """A read error after 1,000 streamed rows: the events already sent stay recorded."""
    url = make_db(tmp_path / "m.db", "ev", EVENT_COLUMNS, event_rows(1_500))
    # abs() of the smallest integer overflows, but only when that row is evaluated.
    query = (
        "SELECT id, vid, acc, name, plan, CASE WHEN id = 'e1400' "
        "THEN abs(-9223372036854775808) ELSE ts END AS ts FROM ev"
    )
    with pytest.raises(ModelError, match="integer overflow"):
        engine(fresh_sim, push_store).sync(events_sync(url, query=query))
    states = state_rows(push_store, "events")
    sent = len(fresh_sim.state.track_events)
    assert sent >= 1_000
    assert list(states.values()).count("delivered") == sent
    assert "in_flight" not in states.values()


def test_unreachable_model_database_is_named_without_its_password(fresh_sim, push_store) -> None:
    url = "postgresql+psycopg://reader:s3cret-pw@127.0.0.1:1/warehouse"
    with pytest.raises(ModelError) as err:
        engine(fresh_sim, push_store).sync(events_sync(url, query="SELECT 1 AS id"))
    message = str(err.value)
    assert "127.0.0.1:1/warehouse" in message and "s3cret-pw" not in message
    assert writes(fresh_sim) == 0
