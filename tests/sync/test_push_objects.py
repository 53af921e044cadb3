"""Objects push: metadata writes, diff, missing records, field creation, split retries,
delete behaviour, read-only keys and dry run."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

import test_push_support as sup
from test_push_support import (
    engine,
    known_visitors,
    make_db,
    reject_rows,
    state_rows,
    visitor_sync,
    writes,
)

from pendo_tui.config.model import PushSync
from pendo_tui.errors import ConfigError, ExitCode
from pendo_tui.pendo.errors import ReadOnlyKeyError
from pendo_tui.sync.push.objects import PlannedWrite, _row_errors

sim, fresh_sim, push_store = sup.sim, sup.fresh_sim, sup.push_store  # fixtures

VT_COLUMNS = ["vid", "role", "seats"]


def visitor_rows(sim, n: int, extra: list[tuple] | None = None) -> list[tuple]:
    ids = known_visitors(sim)[:n]
    return [(v, "admin" if i % 2 else "user", i) for i, v in enumerate(ids)] + (extra or [])


def custom(sim, kind: str = "visitor") -> dict[str, dict]:
    return {i: v for (k, g, i), v in sim.state.metadata.items() if k == kind and g == "custom"}


def test_metadata_lands_missing_records_are_skipped_and_rerun_sends_nothing(
    fresh_sim, store, tmp_path
) -> None:
    push_store = store  # the shared fixture: SQLite and PostgreSQL
    rows = visitor_rows(fresh_sim, 20, [("ghost-1", "user", 1), ("ghost-2", "user", 2)])
    url = make_db(tmp_path / "m.db", "vt", VT_COLUMNS, rows)
    eng = engine(fresh_sim, push_store)

    res = eng.sync(visitor_sync(url))

    assert (res.rows_read, res.sent, res.delivered, res.missing) == (22, 22, 20, 2)
    assert res.skipped["missing"] == 2
    got = custom(fresh_sim)
    assert len(got) == 20 and "ghost-1" not in got
    first = rows[1][0]
    assert got[first] == {"role": "admin", "seats_used": 1}
    assert state_rows(push_store, "visitors")["ghost-1"] == "missing"

    # No model change: no write at all; missing records are not retried forever.
    before = writes(fresh_sim)
    again = eng.sync(visitor_sync(url))
    assert (again.sent, again.unchanged, again.missing) == (0, 20, 2)
    assert writes(fresh_sim) == before and again.requests == 0

    # One changed row: exactly that row is sent.
    rows[3] = (rows[3][0], "owner", 99)
    make_db(tmp_path / "m.db", "vt", VT_COLUMNS, rows)
    changed = eng.sync(visitor_sync(url))
    assert (changed.sent, changed.delivered, changed.unchanged) == (1, 1, 19)
    assert custom(fresh_sim)[rows[3][0]] == {"role": "owner", "seats_used": 99}


def test_missing_field_is_created_then_written_in_the_same_run(
    fresh_sim, push_store, tmp_path
) -> None:
    url = make_db(tmp_path / "m.db", "vt", VT_COLUMNS, visitor_rows(fresh_sim, 5))
    fields = {"role": "role", "nps_score": "seats"}

    with pytest.raises(ConfigError) as err:
        engine(fresh_sim, push_store).sync(visitor_sync(url, fields=fields))
    assert "nps_score" in str(err.value) and "create_missing_fields" in str(err.value)
    assert writes(fresh_sim) == 0

    res = engine(fresh_sim, push_store).sync(
        visitor_sync(url, fields=fields, create_missing_fields=True)
    )
    assert res.fields_created == ["nps_score"]
    assert "nps_score" in fresh_sim.state.fields[("visitor", "custom")]
    assert fresh_sim.state.fields[("visitor", "custom")]["nps_score"]["Type"] == "float"
    assert res.delivered == 5 and res.rejected_total == 0
    assert all("nps_score" in v for v in custom(fresh_sim).values())


@pytest.mark.parametrize("bad_positions", [[5], [0, 63], [10, 11, 40]])
def test_split_retries_isolate_bad_rows_within_the_request_bound(
    fresh_sim, store, tmp_path, bad_positions: list[int]
) -> None:
    push_store = store  # the shared fixture: SQLite and PostgreSQL
    n = 64
    ids = [f"v-{i:04d}" for i in range(n)]
    rows = [(v, "user", i) for i, v in enumerate(ids)]
    url = make_db(tmp_path / "m.db", "vt", VT_COLUMNS, rows)
    bad = [ids[i] for i in bad_positions]
    fresh_sim.faults.add("metadata", reject_ids=bad, times=None)

    res = engine(fresh_sim, push_store).sync(visitor_sync(url, batch_size=n, concurrency=1))

    k = len(bad)
    extra = fresh_sim.state.requests["metadata"] - 1
    assert extra <= 2 * k * math.ceil(math.log2(n)), extra
    assert res.rejected["pendo_rejected"] == k
    assert sorted(r.key for r in res.rejects) == sorted(bad)
    assert all("invalid record" in r.error for r in res.rejects)  # Pendo's own message
    stored = reject_rows(push_store, "visitors")
    assert sorted(stored) == sorted(bad)
    good = set(ids) - set(bad)
    missing = good - set(known_visitors(fresh_sim))  # ids the dataset does not have
    assert set(custom(fresh_sim)) == good - missing
    assert res.delivered + res.missing == n - k


def test_without_split_retries_the_whole_batch_is_rejected(fresh_sim, push_store, tmp_path) -> None:
    ids = known_visitors(fresh_sim)[:8]
    url = make_db(tmp_path / "m.db", "vt", VT_COLUMNS, [(v, "user", 1) for v in ids])
    fresh_sim.faults.add("metadata", reject_ids=[ids[2]], times=None)
    res = engine(fresh_sim, push_store).sync(visitor_sync(url, batch_size=8, split_retries=False))
    assert res.rejected["pendo_rejected"] == 8 and res.delivered == 0
    assert fresh_sim.state.requests["metadata"] == 1
    assert custom(fresh_sim) == {}


def test_on_delete_clears_the_fields_this_sync_wrote(fresh_sim, push_store, tmp_path) -> None:
    rows = visitor_rows(fresh_sim, 6)
    url = make_db(tmp_path / "m.db", "vt", VT_COLUMNS, rows)
    eng = engine(fresh_sim, push_store)
    eng.sync(visitor_sync(url, on_delete="delete"))
    gone = rows[0][0]
    make_db(tmp_path / "m.db", "vt", VT_COLUMNS, rows[1:])

    res = eng.sync(visitor_sync(url, on_delete="delete"))

    assert (res.vanished, res.cleared, res.unchanged) == (1, 1, 5)
    assert custom(fresh_sim)[gone] == {"role": None, "seats_used": None}
    assert gone not in state_rows(push_store, "visitors")
    assert fresh_sim.state.bulk_deletes == []  # records themselves are never deleted
    # Next run: nothing more to clear.
    assert eng.sync(visitor_sync(url, on_delete="delete")).cleared == 0


def test_on_delete_nothing_leaves_vanished_records_alone(fresh_sim, push_store, tmp_path) -> None:
    rows = visitor_rows(fresh_sim, 4)
    url = make_db(tmp_path / "m.db", "vt", VT_COLUMNS, rows)
    eng = engine(fresh_sim, push_store)
    eng.sync(visitor_sync(url))
    make_db(tmp_path / "m.db", "vt", VT_COLUMNS, rows[1:])
    res = eng.sync(visitor_sync(url))
    assert (res.cleared, res.sent) == (0, 0)
    assert custom(fresh_sim)[rows[0][0]]["role"] == "user"


def test_delete_needs_the_match_column_as_primary_key(fresh_sim, push_store, tmp_path) -> None:
    url = make_db(tmp_path / "m.db", "vt", [*VT_COLUMNS, "rid"], [("v-0000", "u", 1, "r1")])
    with pytest.raises(ConfigError, match="primary_key"):
        engine(fresh_sim, push_store).sync(visitor_sync(url, primary_key="rid", on_delete="delete"))
    assert writes(fresh_sim) == 0


def test_read_only_key_fails_before_the_first_write(fresh_sim, push_store, tmp_path) -> None:
    url = make_db(tmp_path / "m.db", "vt", VT_COLUMNS, visitor_rows(fresh_sim, 3))
    eng = engine(fresh_sim, push_store, key=fresh_sim.keys.read)
    with pytest.raises(ReadOnlyKeyError) as err:
        eng.sync(visitor_sync(url))
    assert err.value.exit_code == ExitCode.AUTH
    assert writes(fresh_sim) == 0 and state_rows(push_store, "visitors") == {}


def test_accounts_and_parent_accounts(fresh_sim, push_store, tmp_path) -> None:
    url = make_db(
        tmp_path / "m.db",
        "acc",
        ["id", "tier", "region"],
        [("acme", "gold", "emea"), ("globex", "silver", "amer"), ("parent-north", "x", "north")],
    )
    eng = engine(fresh_sim, push_store)
    acc = PushSync(
        name="acc",
        kind="account",
        model={"url": url, "query": "SELECT * FROM acc WHERE id != 'parent-north'"},
        primary_key="id",
        match="id",
        fields={"tier": "tier"},
    )
    parent = PushSync(
        name="parent",
        kind="parent_account",
        model={"url": url, "query": "SELECT * FROM acc WHERE id = 'parent-north'"},
        primary_key="id",
        match="id",
        fields={"region": "region"},
    )
    assert eng.sync(acc).delivered == 2
    assert eng.sync(parent).delivered == 1
    meta = fresh_sim.state.metadata
    assert meta[("account", "custom", "acme")] == {"tier": "gold"}
    assert meta[("parentAccount", "custom", "parent-north")] == {"region": "north"}


def test_agent_group(fresh_sim, push_store, tmp_path) -> None:
    ids = known_visitors(fresh_sim)[:2]
    url = make_db(tmp_path / "m.db", "vt", ["vid", "mail"], [(v, f"{v}@x.example") for v in ids])
    sync = visitor_sync(url, group="agent", fields={"email": "mail"})
    assert engine(fresh_sim, push_store).sync(sync).delivered == 2
    assert fresh_sim.state.metadata[("visitor", "agent", ids[0])] == {
        "email": f"{ids[0]}@x.example"
    }


def test_dry_run_lists_payloads_and_fields_without_writing(fresh_sim, push_store, tmp_path) -> None:
    url = make_db(tmp_path / "m.db", "vt", VT_COLUMNS, visitor_rows(fresh_sim, 10))
    sync = visitor_sync(
        url, fields={"role": "role", "new_one": "seats"}, create_missing_fields=True
    )
    plan = engine(fresh_sim, push_store).plan(sync)
    assert plan["would_send"] == 10 and plan["requests_estimate"] == 1
    assert plan["fields_to_create"] == ["new_one"]
    assert plan["first_payloads"][0] == {
        "visitorId": "v-0000",
        "values": {"role": "user", "new_one": 0},
    }
    assert writes(fresh_sim) == 0 and fresh_sim.state.fields == {}
    assert state_rows(push_store, "visitors") == {}


def test_per_row_errors_of_a_200_answer_are_pinned_to_their_rows() -> None:
    part = [PlannedWrite(f"k{i}", pid, "", {}) for i, pid in enumerate(["v-1", "v-10", "a@b.c"])]
    errors = [
        "row 2 (a@b.c): custom field 'x' does not exist",  # by index
        "visitor v-10: value too long",  # by whole id, not mistaken for v-1
        "something about nobody",
    ]
    assert _row_errors(part, errors) == {2: errors[0], 1: errors[1]}
