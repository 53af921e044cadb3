"""Primary keys that differ only in form are one key: the uniqueness check, the in-flight
record and the delivered state agree, so no spelling of a key reaches Pendo twice — across
runs and SIGKILLs — and keys a user tells apart are never merged.

Expectations come from how the test builds each model: every row is a *form* of a *base*
key (the base travels as an event property), so "sent at most once" is counted per base.
"""

from __future__ import annotations

import csv
import json
import sys
import tempfile
import time
import unicodedata
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine, text

sys.path.insert(0, str(Path(__file__).parent))

import test_push_support as sup
from test_push_support import engine, make_db, push_and_kill, state_rows, writes

from pendo_tui.config.model import PushSync
from pendo_tui.errors import ExitCode
from pendo_tui.store import schema
from pendo_tui.store.db import open_store
from pendo_tui.sync.push.engine import ModelError
from pendo_tui.sync.push.keys import InvalidKey, canonical_key
from pendo_tui.sync.push.state import DELIVERED

sim, fresh_sim, push_store = sup.sim, sup.fresh_sim, sup.push_store  # fixtures

NOW = int(time.time())
NFD = unicodedata.normalize("NFD", "é1")


def test_the_key_rule() -> None:
    same = {
        "A1": ["A1", " A1", "A1 ", "\tA1\n", "\u00a0A1"],
        "12": [12, "12", 12.0, Decimal("12.00"), " 12 "],
        "12.5": [12.5, Decimal("12.50"), "12.5"],
        "é1": ["é1", NFD],
        "true": [True, "true"],
    }
    for key, forms in same.items():
        assert {canonical_key(f) for f in forms} == {key}, key
    different = ["A1", "a1", "A 1", "A  1", "012", "12.0", "1e1", "ﬁ", "fi"]
    assert len({canonical_key(v) for v in different}) == len(different)
    for empty in (None, "", "   "):
        assert canonical_key(empty) is None
    for bad in (float("nan"), float("inf"), Decimal("NaN"), "k" * 1025, b"\xff"):
        with pytest.raises(InvalidKey):
            canonical_key(bad)


def events_on(
    url: str | None = None, *, model: dict[str, Any] | None = None, **kw: Any
) -> PushSync:
    base: dict[str, Any] = {
        "name": "events",
        "kind": "events",
        "model": model or {"url": url, "query": "SELECT * FROM ev"},
        "primary_key": "k",
        "event": "Keyed",
        "visitor_id": "vid",
        "timestamp": "ts",
        "properties": ["base"],
        "concurrency": 4,
    }
    base.update(kw)
    return PushSync(**base)


def sent_bases(sim_) -> Counter[str]:
    return Counter(e["properties"]["base"] for e in sim_.state.track_events)


@pytest.mark.parametrize(
    "forms",
    [["A1", "A1 ", " A1"], [12, "12"], [12, 12.0], ["é1", NFD]],
    ids=["whitespace", "int-text", "int-float", "nfc-nfd"],
)
def test_forms_of_one_key_stop_sqlite_before_sending(forms, fresh_sim, push_store, tmp_path):
    rows = [(f, "v-1", NOW, str(i)) for i, f in enumerate(forms)]
    url = make_db(tmp_path / "m.db", "ev", ["k", "vid", "ts", "base"], rows)
    with pytest.raises(ModelError) as err:
        engine(fresh_sim, push_store).sync(events_on(url))
    assert err.value.exit_code == ExitCode.USAGE
    message = str(err.value)
    assert f"×{len(forms)}" in message and "not unique" in message
    if forms[0] == "A1":
        assert "('A1', 'A1 ', ' A1')" in message
    assert writes(fresh_sim) == 0 and state_rows(push_store, "events") == {}


@pytest.mark.postgres
def test_forms_of_one_key_stop_postgresql_before_sending(fresh_sim, push_store, fresh_pg_url):
    pg = create_engine(fresh_pg_url)
    with pg.begin() as conn:
        conn.execute(text("CREATE TABLE ev (k text, vid text, ts bigint, base text)"))
        conn.execute(
            text("INSERT INTO ev VALUES (:k, 'v-1', :ts, :b)"),
            [{"k": k, "ts": NOW, "b": k} for k in ("A1", "A1 ", "é1", NFD, "a1")],
        )
        conn.execute(text("CREATE TABLE num (k numeric, vid text, ts bigint, base text)"))
        conn.execute(
            text("INSERT INTO num VALUES (12, 'v-1', :ts, 'a'), (12.00, 'v-1', :ts, 'b')"),
            {"ts": NOW},
        )
    pg.dispose()
    with pytest.raises(ModelError) as err:
        engine(fresh_sim, push_store).sync(events_on(fresh_pg_url))
    assert "2 duplicated key(s)" in str(err.value)
    with pytest.raises(ModelError, match="'12' ×2"):
        sync = events_on(model={"url": fresh_pg_url, "query": "SELECT * FROM num"})
        engine(fresh_sim, push_store).sync(sync)
    assert writes(fresh_sim) == 0


def test_forms_of_one_key_stop_a_csv_model(fresh_sim, push_store, tmp_path) -> None:
    path = tmp_path / "m.csv"
    write_csv(path, [("A1", "0"), (" A1", "1"), ("B1", "2")])
    with pytest.raises(ModelError, match=r"'A1' ×2 \('A1', ' A1'\)"):
        engine(fresh_sim, push_store).sync(events_on(model={"csv": str(path)}))
    assert writes(fresh_sim) == 0


def test_keys_stored_by_an_older_spelling_are_not_sent_again(fresh_sim, push_store, tmp_path):
    """A key delivered under its NFD spelling (stored before keys were NFC) is the same key."""
    with push_store.begin() as conn:
        conn.execute(
            schema.push_state.insert(),
            [{"sync": "events", "key": NFD, "value_hash": "h", "status": DELIVERED}],
        )
    url = make_db(tmp_path / "m.db", "ev", ["k", "vid", "ts", "base"], [("é1", "v-1", NOW, "0")])
    res = engine(fresh_sim, push_store).sync(events_on(url))
    assert (res.sent, res.unchanged) == (0, 1)
    assert writes(fresh_sim) == 0
    assert state_rows(push_store, "events") == {"é1": DELIVERED}


# -- property: any mix of key forms, any model ------------------------------------------------

TEXT_BASES = ["A1", "a1", "A 1", "é1", "012", "12", "12.5", "x-7"]
NULL = "<null>"


def text_forms(base: str) -> list[Any]:
    if base == NULL:
        return [None, "", "  "]
    forms = [base, f" {base}", f"{base} ", f"\t{base} "]
    if unicodedata.normalize("NFD", base) != base:
        forms.append(unicodedata.normalize("NFD", base))
    return forms


def sqlite_forms(base: str) -> list[Any]:
    numbers = {"12": [12, 12.0], "12.5": [12.5]}
    return text_forms(base) + numbers.get(base, [])


ROWS = st.lists(
    st.tuples(st.sampled_from([*TEXT_BASES, NULL]), st.integers(0, 5)), min_size=1, max_size=7
)


def build_rows(picks: list[tuple[str, int]], forms_of) -> list[tuple[Any, str]]:
    """(key form, base) per row."""
    out = []
    for base, i in picks:
        forms = forms_of(base)
        out.append((forms[i % len(forms)], base))
    return out


def write_csv(path: Path, rows: list[tuple[Any, str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["k", "vid", "ts", "base"])
        w.writerows(("" if k is None else k, "v-1", NOW, b) for k, b in rows)


def check_sends_each_key_at_most_once(sim_, rows, make_model) -> None:
    sim_.reset()
    with tempfile.TemporaryDirectory() as tmp:
        sync = make_model(Path(tmp), rows)
        store = open_store(f"sqlite:///{Path(tmp) / 'store.db'}")
        try:
            bases = Counter(b for _, b in rows if b != NULL)
            try:
                first = engine(sim_, store).sync(sync)
            except ModelError as err:
                assert err.exit_code == ExitCode.USAGE
                assert max(bases.values()) > 1, f"distinct keys refused: {rows!r}: {err}"
                assert writes(sim_) == 0
                return
            assert not bases or max(bases.values()) == 1, f"forms of one key accepted: {rows!r}"
            assert sent_bases(sim_) == Counter(set(bases)), rows
            assert first.rejected.get("empty_primary_key", 0) == len(rows) - sum(bases.values())
            again = engine(sim_, store).sync(sync)
            assert again.sent == 0
            assert sent_bases(sim_) == Counter(set(bases))
        finally:
            store.close()


HYPO = settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@HYPO
@given(picks=ROWS)
def test_any_sqlite_key_forms_are_sent_at_most_once(sim, picks) -> None:
    def model(tmp: Path, rows):
        url = make_db(
            tmp / "m.db", "ev", ["k", "vid", "ts", "base"], [(k, "v-1", NOW, b) for k, b in rows]
        )
        return events_on(url)

    check_sends_each_key_at_most_once(sim, build_rows(picks, sqlite_forms), model)


@HYPO
@given(picks=ROWS)
def test_any_csv_key_forms_are_sent_at_most_once(sim, picks) -> None:
    def model(tmp: Path, rows):
        write_csv(tmp / "m.csv", rows)
        return events_on(model={"csv": str(tmp / "m.csv")})

    check_sends_each_key_at_most_once(sim, build_rows(picks, text_forms), model)


@pytest.mark.postgres
@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(picks=ROWS)
def test_any_postgresql_key_forms_are_sent_at_most_once(sim, fresh_pg_url, picks) -> None:
    def model(tmp: Path, rows):
        pg = create_engine(fresh_pg_url)
        with pg.begin() as conn:
            conn.execute(text("DROP TABLE IF EXISTS ev"))
            conn.execute(text("CREATE TABLE ev (k text, vid text, ts bigint, base text)"))
            conn.execute(
                text("INSERT INTO ev VALUES (:k, 'v-1', :ts, :b)"),
                [{"k": k, "ts": NOW, "b": b} for k, b in rows],
            )
        pg.dispose()
        return events_on(fresh_pg_url)

    check_sends_each_key_at_most_once(sim, build_rows(picks, text_forms), model)


# -- SIGKILL mid-push, with key forms -----------------------------------------------------------

CHILD = """
import json, sys
from pendo_tui.config.model import Config, PushSync
from pendo_tui.pendo.client import PendoClient
from pendo_tui.store.db import open_store
from pendo_tui.sync.push.engine import PushEngine

base_url, write_key, track, store_url, sync_json, policy = sys.argv[1:7]
client = PendoClient(base_url, write_key, track_secret=track)
engine = PushEngine(Config(), client, open_store(store_url), run_id=1, in_flight=policy)
engine.sync(PushSync(**json.loads(sync_json)))
print("finished")
"""


def mixed_forms(n: int) -> list[tuple[Any, str, str]]:
    """(key form, its canonical spelling by the documented rule, base) — all distinct keys."""
    out = []
    for i in range(n):
        if i % 3 == 0:
            out.append((i, str(i), f"b{i}"))
        elif i % 3 == 1:
            out.append((f" k{i}\t", f"k{i}", f"b{i}"))
        else:
            out.append((unicodedata.normalize("NFD", f"é{i}"), f"é{i}", f"b{i}"))
    return out


@pytest.mark.slow
@pytest.mark.parametrize(
    ("backend", "policy"),
    [
        ("sqlite", "resend"),
        ("csv", "skip"),
        pytest.param("postgresql", "skip", marks=pytest.mark.postgres),
    ],
)
def test_sigkill_mid_push_sends_each_key_form_at_most_once(
    backend, policy, fresh_sim, tmp_path, request
) -> None:
    n, concurrency = 1_500, 4
    keys = mixed_forms(n)
    if backend == "sqlite":
        url = make_db(
            tmp_path / "m.db", "ev", ["k", "vid", "ts", "base"],
            [(k, "v-1", NOW, b) for k, _, b in keys],
        )  # fmt: skip
        sync = events_on(url, concurrency=concurrency)
    elif backend == "csv":
        write_csv(tmp_path / "m.csv", [(k, b) for k, _, b in keys if not isinstance(k, int)])
        keys = [k for k in keys if not isinstance(k[0], int)]
        sync = events_on(model={"csv": str(tmp_path / "m.csv")}, concurrency=concurrency)
    else:
        url = request.getfixturevalue("fresh_pg_url")
        pg = create_engine(url)
        with pg.begin() as conn:
            conn.execute(text("CREATE TABLE ev (k text, vid text, ts bigint, base text)"))
            conn.execute(
                text("INSERT INTO ev VALUES (:k, 'v-1', :ts, :b)"),
                [{"k": str(k), "ts": NOW, "b": b} for k, _, b in keys],
            )
        pg.dispose()
        sync = events_on(url, concurrency=concurrency)
    base_of = {canon: b for _, canon, b in keys}
    store_url = f"sqlite:///{tmp_path / 'store.db'}"
    open_store(store_url).close()
    fresh_sim.faults.add("track", latency=0.004, times=None)  # slow enough to kill mid-way
    args = [fresh_sim.base_url, fresh_sim.keys.write, fresh_sim.keys.track, store_url]
    push_and_kill(
        fresh_sim, [CHILD, *args, json.dumps(sync.model_dump()), policy], len(keys) // 4, 60
    )
    assert len(fresh_sim.state.track_events) < len(keys), "finished before the kill"
    fresh_sim.faults.clear()

    store = open_store(store_url)
    try:
        eng = sup.PushEngine(sup.Config(), sup.client_for(fresh_sim), store, run_id=2,
                             in_flight=policy)  # fmt: skip
        second = eng.sync(sync)
        third = eng.sync(sync)
    finally:
        store.close()
    assert third.sent == 0
    counts = sent_bases(fresh_sim)
    reported = {base_of[k] for k in second.in_flight_keys}
    twice = {b for b, c in counts.items() if c > 1}
    if policy == "skip":
        assert not twice, twice
        assert set(counts) | reported == set(base_of.values())  # only in-flight may be lost
    else:
        assert twice <= reported, twice - reported  # only keys the run reported
        assert set(counts) == set(base_of.values()), "an event was lost"
    assert all(c <= 2 for c in counts.values())
    assert len(reported) <= concurrency


@pytest.mark.postgres
def test_a_key_seen_twice_while_reading_is_sent_once(fresh_sim, push_store, fresh_pg_url):
    """The model changes between the uniqueness check and the read (here: a sequence makes
    every row of the second read the same key): the repeats are rejected, not sent."""
    pg = create_engine(fresh_pg_url)
    with pg.begin() as conn:
        conn.execute(text("CREATE SEQUENCE s"))
        conn.execute(text("CREATE TABLE ev (id text, vid text, ts bigint, base text)"))
        conn.execute(
            text("INSERT INTO ev VALUES ('a', 'v-1', :ts, 'a'), ('b', 'v-1', :ts, 'b'),"
                 " ('c', 'v-1', :ts, 'c')"),
            {"ts": NOW},
        )  # fmt: skip
    pg.dispose()
    query = "SELECT CASE WHEN nextval('s') > 3 THEN 'same' ELSE id END AS k, * FROM ev"
    res = engine(fresh_sim, push_store).sync(events_on(fresh_pg_url, model={
        "url": fresh_pg_url, "query": query}))  # fmt: skip
    assert len(fresh_sim.state.track_events) == 1
    assert res.to_dict()["rejected_reasons"] == {
        "duplicate_primary_key": {"count": 2, "examples": ["same"]}
    }
