"""Rows Pendo cannot take are rejected one by one, with a reason, counted and listed — never
sent, never a crash — on SQLite and PostgreSQL models; CSV files that cannot be read stop the
sync (exit 2) naming the file, line and column, before anything is sent."""

from __future__ import annotations

import json
import math
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

sys.path.insert(0, str(Path(__file__).parent))

import test_push_support as sup
from test_push_support import engine, events_sync, make_db, reject_rows, visitor_sync, writes

from pendo_tui.errors import ConfigError, ExitCode
from pendo_tui.sync.push.engine import ModelError

sim, fresh_sim, push_store = sup.sim, sup.fresh_sim, sup.push_store  # fixtures

NOW = int(time.time())
BIG = "x" * (70 * 1024)  # over the 64 KiB a value may hold
COLUMNS = ["id", "vid", "acc", "name", "ts", "plan", "score"]


def event_model(backend: str, tmp_path: Path, rows: list[tuple[Any, ...]], request) -> str:
    """The same rows as a SQLite or a PostgreSQL model table ``ev``."""
    if backend == "sqlite":
        return make_db(tmp_path / "m.db", "ev", COLUMNS, rows)
    url = request.getfixturevalue("fresh_pg_url")
    pg = create_engine(url)
    with pg.begin() as conn:
        conn.execute(
            text(
                "CREATE TABLE ev (id text, vid text, acc text, name text, ts bigint, "
                "plan text, score double precision)"
            )
        )
        conn.execute(
            text("INSERT INTO ev VALUES (:a, :b, :c, :d, :e, :f, :g)"),
            [dict(zip("abcdefg", r, strict=True)) for r in rows],
        )
    pg.dispose()
    return url


BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@pytest.mark.parametrize("backend", BACKENDS)
def test_event_rows_pendo_cannot_take_are_rejected_with_reasons(
    backend, fresh_sim, push_store, tmp_path, request
) -> None:
    ok = ("ok1", "v-1", "acme", "Exported", NOW - 5, "pro", 1.5)
    rows = [
        ok,
        ("ok2", "v-2", "acme", "Exported", (NOW - 6) * 1000, "pro", None),  # milliseconds
        ("inf", "v-3", "acme", "Exported", NOW, "pro", math.inf),
        ("ninf", "v-3", "acme", "Exported", NOW, "pro", -math.inf),
        ("y5138", "v-4", "acme", "Exported", 99_999_999_999, "pro", 1.0),
        ("y1990", "v-4", "acme", "Exported", 631_152_000, "pro", 1.0),
        ("ahead", "v-4", "acme", "Exported", NOW + 3 * 86_400, "pro", 1.0),
        ("fat", "v-5", "acme", "Exported", NOW, "p" * 600, 1.0),
        ("huge", "v-5", BIG, "Exported", NOW, "pro", 1.0),
    ]
    url = event_model(backend, tmp_path, rows, request)
    res = engine(fresh_sim, push_store).sync(events_sync(url, properties=["plan", "score"]))

    sent = {e["properties"]["plan"] + str(e["timestamp"]) for e in fresh_sim.state.track_events}
    assert sent == {f"pro{(NOW - 5) * 1000}", f"pro{(NOW - 6) * 1000}"}
    assert res.delivered == 2
    reasons = res.to_dict()["rejected_reasons"]
    assert reasons == {
        "non_finite_number": {"count": 2, "examples": ["inf", "ninf"]},
        "timestamp_out_of_range": {"count": 3, "examples": ["y5138", "y1990", "ahead"]},
        "properties_too_large": {"count": 1, "examples": ["fat"]},
        "value_too_large": {"count": 1, "examples": ["huge"]},
    }
    stored = reject_rows(push_store, "events")
    assert set(stored) == {"inf", "ninf", "y5138", "y1990", "ahead", "fat", "huge"}
    assert "5138-" in stored["y5138"] and "2000-01-01" in stored["y5138"]
    assert "512 bytes" in stored["fat"]

    # A rerun rejects them again and sends nothing new.
    again = engine(fresh_sim, push_store).sync(events_sync(url, properties=["plan", "score"]))
    assert again.sent == 0 and again.rejected_total == 7
    assert len(fresh_sim.state.track_events) == 2


@pytest.mark.postgres
def test_postgresql_nan_and_nested_json_names(fresh_sim, push_store, fresh_pg_url) -> None:
    pg = create_engine(fresh_pg_url)
    with pg.begin() as conn:
        conn.execute(text("CREATE TABLE ev (id text, vid text, ts bigint, n numeric, j jsonb)"))
        conn.execute(
            text(
                f"INSERT INTO ev VALUES ('ok', 'v-1', {NOW}, 2.50, '{{\"seat_count\": 3}}'),"
                f" ('nan', 'v-1', {NOW}, 'NaN', '{{}}'),"
                f" ('badname', 'v-1', {NOW}, 1, '{{\"Seat Count\": 3}}')"
            )
        )
    pg.dispose()
    sync = events_sync(
        fresh_pg_url,
        event="Seats",
        event_column=None,
        account_id=None,
        properties={"n": "n", "detail": "j"},
    )
    res = engine(fresh_sim, push_store).sync(sync)
    assert [e["properties"] for e in fresh_sim.state.track_events] == [
        {"n": 2.5, "detail": {"seat_count": 3}}
    ]
    assert res.to_dict()["rejected_reasons"] == {
        "non_finite_number": {"count": 1, "examples": ["nan"]},
        "bad_property_name": {"count": 1, "examples": ["badname"]},
    }


def test_skip_checks_sends_what_a_check_would_reject(fresh_sim, push_store, tmp_path) -> None:
    rows = [("fat", "v-5", "acme", "Exported", NOW, "p" * 600, math.inf)]
    url = make_db(tmp_path / "m.db", "ev", COLUMNS, rows)
    sync = events_sync(
        url, properties=["plan", "score"], skip_checks=["properties_size", "non_finite"]
    )
    res = engine(fresh_sim, push_store).sync(sync)
    assert res.delivered == 1 and res.rejected_total == 0
    (event,) = fresh_sim.state.track_events
    assert event["properties"] == {"plan": "p" * 600, "score": None}  # as before the checks
    assert any("skip_checks" in w and "properties_size" in w for w in res.warnings)


def test_skip_checks_is_validated() -> None:
    with pytest.raises(ValueError, match="properties_size"):
        events_sync("sqlite://", skip_checks=["property_size"])
    with pytest.raises(ValueError, match="more than once"):
        events_sync("sqlite://", skip_checks=["non_finite", "non_finite"])


def test_property_name_pendo_rejects_stops_before_sending(fresh_sim, push_store, tmp_path) -> None:
    url = make_db(tmp_path / "m.db", "ev", COLUMNS, [("a", "v-1", "acme", "E", NOW, "pro", 1)])
    for name in ("Plan Name", "9lives", "__plan__", "p" * 33):
        with pytest.raises(ConfigError) as err:
            engine(fresh_sim, push_store).sync(events_sync(url, properties={name: "plan"}))
        assert err.value.exit_code == ExitCode.USAGE and repr(name) in str(err.value)
    assert writes(fresh_sim) == 0
    ok = events_sync(url, properties={"Plan Name": "plan"}, skip_checks=["property_names"])
    assert engine(fresh_sim, push_store).sync(ok).delivered == 1


@pytest.mark.parametrize("backend", BACKENDS)
def test_metadata_rows_rejected_with_reasons(
    backend, fresh_sim, push_store, tmp_path, request
) -> None:
    ids = sup.known_visitors(fresh_sim)[:6]
    rows = [
        (ids[0], "admin", 3),
        (ids[1], "member", "12"),  # numeric text is a number
        (ids[2], "member", "twelve"),  # seats_used is an integer field in Pendo's schema
        (ids[3], "member", math.inf),
        (ids[4], BIG, 1),
        (ids[5], "member", None),  # clears the field
    ]
    if backend == "sqlite":
        url = make_db(tmp_path / "m.db", "vt", ["vid", "role", "seats"], rows)
    else:
        url = request.getfixturevalue("fresh_pg_url")
        pg = create_engine(url)
        with pg.begin() as conn:
            conn.execute(text("CREATE TABLE vt (vid text, role text, seats text)"))
            conn.execute(
                text("INSERT INTO vt VALUES (:a, :b, :c)"),
                [{"a": a, "b": b, "c": None if c is None else str(c)} for a, b, c in rows],
            )
        pg.dispose()
    res = engine(fresh_sim, push_store).sync(visitor_sync(url))
    written = {i for (k, g, i) in fresh_sim.state.metadata if k == "visitor" and g == "custom"}
    assert written == {ids[0], ids[1], ids[5]}
    reasons = res.to_dict()["rejected_reasons"]
    assert reasons["not_numeric"]["examples"][0] == ids[2]
    assert reasons["value_too_large"] == {"count": 1, "examples": [ids[4]]}
    # SQLite keeps inf as a float (non_finite); PostgreSQL's text 'inf' is no number.
    bad_inf = "non_finite_number" if backend == "sqlite" else "not_numeric"
    assert ids[3] in reasons[bad_inf]["examples"]
    assert res.rejected_total == 3
    assert set(reject_rows(push_store, "visitors")) == {ids[2], ids[3], ids[4]}


def test_metadata_requests_are_cut_by_size(fresh_sim, push_store, tmp_path) -> None:
    ids = sup.known_visitors(fresh_sim)[:40]
    big = "r" * (60 * 1024)
    url = make_db(tmp_path / "m.db", "vt", ["vid", "role", "seats"], [(v, big, 1) for v in ids])
    res = engine(fresh_sim, push_store).sync(visitor_sync(url, batch_size=500))
    assert res.delivered == len(ids) >= 30
    # ≥ 30 × 60 KiB ≥ 1.8 M characters: at least two requests under the 1 Mi cap
    assert fresh_sim.state.requests["metadata"] >= 2
    assert all(fresh_sim.state.metadata[("visitor", "custom", v)]["role"] == big for v in ids)


# -- CSV files -------------------------------------------------------------------------------


def csv_sync(path: Path, **kw: Any):
    model = {"csv": str(path), **kw.pop("model", {})}
    return visitor_sync("", model=model, **kw)


def test_latin1_csv_stops_naming_line_column_and_fix(fresh_sim, push_store, tmp_path) -> None:
    ids = sup.known_visitors(fresh_sim)[:3]
    body = f"vid,role,seats\n{ids[0]},admin,1\n{ids[1]},Gérant,2\n{ids[2]},x,3\n"
    path = tmp_path / "latin.csv"
    path.write_bytes(body.encode("latin-1"))
    with pytest.raises(ModelError) as err:
        engine(fresh_sim, push_store).sync(csv_sync(path))
    msg = str(err.value)
    assert err.value.exit_code == ExitCode.USAGE
    assert str(path) in msg and "line 3" in msg and "column 2 ('role')" in msg
    assert "encoding = " in msg and "latin-1" in msg
    assert writes(fresh_sim) == 0

    res = engine(fresh_sim, push_store).sync(csv_sync(path, model={"encoding": "latin-1"}))
    assert res.delivered == 3
    assert fresh_sim.state.metadata[("visitor", "custom", ids[1])]["role"] == "Gérant"


def test_utf16_csv_is_named_and_readable_with_encoding(fresh_sim, push_store, tmp_path) -> None:
    ids = sup.known_visitors(fresh_sim)[:2]
    path = tmp_path / "u16.csv"
    path.write_text(f"vid,role,seats\n{ids[0]},Ärztin,1\n{ids[1]},b,2\n", encoding="utf-16")
    with pytest.raises(ModelError) as err:
        engine(fresh_sim, push_store).sync(csv_sync(path))
    assert "line 1" in str(err.value) and "encoding = 'utf-16'" in str(err.value)
    assert writes(fresh_sim) == 0
    res = engine(fresh_sim, push_store).sync(csv_sync(path, model={"encoding": "utf-16"}))
    assert res.delivered == 2
    assert fresh_sim.state.metadata[("visitor", "custom", ids[0])]["role"] == "Ärztin"


def test_unknown_encoding_is_a_config_error() -> None:
    with pytest.raises(ValueError, match="not a text encoding"):
        csv_sync(Path("x.csv"), model={"encoding": "klingon"})
    with pytest.raises(ValueError, match="csv model only"):
        visitor_sync("sqlite://", model={"url": "sqlite://", "query": "x", "encoding": "utf-8"})


def test_cell_over_the_csv_field_limit_is_named(fresh_sim, push_store, tmp_path) -> None:
    ids = sup.known_visitors(fresh_sim)[:3]
    path = tmp_path / "long.csv"
    path.write_text(f'vid,role,seats\n{ids[0]},a,1\n{ids[1]},"{"y" * 200_000}",2\n{ids[2]},c,3\n')
    with pytest.raises(ModelError) as err:
        engine(fresh_sim, push_store).sync(csv_sync(path))
    msg = str(err.value)
    assert "field limit of 131,072" in msg and "line 3" in msg and "column 2 ('role')" in msg
    assert writes(fresh_sim) == 0


def test_ragged_csv_rows_are_rejected_one_by_one(fresh_sim, push_store, tmp_path) -> None:
    ids = sup.known_visitors(fresh_sim)[:4]
    path = tmp_path / "ragged.csv"
    path.write_text(f"vid,role,seats\n{ids[0]},a,1\n{ids[1]},b\n{ids[2]},c,3,extra\n{ids[3]},d,4\n")
    res = engine(fresh_sim, push_store).sync(csv_sync(path))
    written = {i for (k, g, i) in fresh_sim.state.metadata if k == "visitor" and g == "custom"}
    assert written == {ids[0], ids[3]}
    assert res.to_dict()["rejected_reasons"] == {
        "ragged_row": {"count": 2, "examples": [ids[1], ids[2]]}
    }
    assert "line 3 has 2 cell(s), the header has 3" in reject_rows(push_store, "visitors")[ids[1]]


def test_result_dict_is_json(fresh_sim, push_store, tmp_path) -> None:
    url = make_db(tmp_path / "m.db", "ev", COLUMNS, [("a", "v-1", "acme", "E", 5, "p", 1)])
    res = engine(fresh_sim, push_store).sync(events_sync(url))
    out = json.loads(json.dumps(res.to_dict()))
    assert out["rejected_reasons"]["timestamp_out_of_range"]["examples"] == ["a"]
    assert isinstance(out["warnings"], list)


def test_utf8_csv_with_a_byte_order_mark(fresh_sim, push_store, tmp_path) -> None:
    ids = sup.known_visitors(fresh_sim)[:1]
    path = tmp_path / "bom.csv"
    path.write_text(f"vid,role,seats\n{ids[0]},Ärztin,1\n", encoding="utf-8-sig")
    for encoding in (None, "utf-8", "UTF8"):
        fresh_sim.reset()
        model = {"encoding": encoding} if encoding else {}
        res = engine(fresh_sim, push_store).sync(csv_sync(path, model=model))
        assert res.rows_read == 1 and res.rejected_total == 0


def test_run_summary_and_plain_text_show_reasons_with_examples(fresh_sim, tmp_path) -> None:
    """Through the runner: the item of a push carries rejected_reasons and warnings, and the
    headless printer's detail lines show them."""
    from pendo_tui.commands import detail_lines
    from pendo_tui.config.model import Config
    from pendo_tui.config.secrets import StaticSecrets
    from pendo_tui.sync.runner import run

    rows = [
        ("ok", "v-1", "acme", "E", NOW, "pro", 1),
        ("y5138", "v-1", "acme", "E", 99_999_999_999, "pro", 1),
        ("y1990", "v-1", "acme", "E", 631_152_000, "pro", 1),
    ]
    url = make_db(tmp_path / "m.db", "ev", COLUMNS, rows)
    cfg = Config(
        pendo={"domain": fresh_sim.base_url},
        store={"url": f"sqlite:///{tmp_path / 'store.db'}"},
        push=[events_sync(url, account_id=None)],
    )
    secrets = StaticSecrets(integration_key=fresh_sim.keys.write, track_secret=fresh_sim.keys.track)
    item = run(cfg, secrets).to_dict()["items"][0]
    assert item["rejected_reasons"] == {
        "timestamp_out_of_range": {"count": 2, "examples": ["y5138", "y1990"]}
    }
    lines = detail_lines(item)
    assert "rejected timestamp_out_of_range: 2 (e.g. y5138, y1990)" in lines
    assert any(line.startswith("warning:") and "accountId" in line for line in lines)
    assert len(fresh_sim.state.track_events) == 1
