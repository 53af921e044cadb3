"""Object pushes when Pendo's key check does not say whether the key may write."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

import test_push_support as sup
from test_push_support import engine, known_visitors, make_db, visitor_sync, writes

from pendo_tui.errors import ExitCode
from pendo_tui.pendo.errors import AuthError, ReadOnlyKeyError

sim, fresh_sim, push_store = sup.sim, sup.fresh_sim, sup.push_store  # fixtures

COLUMNS = ["vid", "role", "seats"]


def custom(sim) -> dict[str, dict]:
    return {i: v for (k, g, i), v in sim.state.metadata.items() if (k, g) == ("visitor", "custom")}


def test_write_key_pushes_when_verify_does_not_say(fresh_sim, push_store, tmp_path) -> None:
    fresh_sim.shapes.verify = "no_write_access"
    ids = known_visitors(fresh_sim)[:4]
    url = make_db(tmp_path / "m.db", "vt", COLUMNS, [(v, "user", i) for i, v in enumerate(ids)])
    res = engine(fresh_sim, push_store).sync(visitor_sync(url))
    assert res.delivered == 4
    assert set(custom(fresh_sim)) == set(ids)


def test_read_key_is_refused_by_pendo_when_verify_does_not_say(
    fresh_sim, push_store, tmp_path
) -> None:
    fresh_sim.shapes.verify = "no_write_access"
    ids = known_visitors(fresh_sim)[:2]
    url = make_db(tmp_path / "m.db", "vt", COLUMNS, [(v, "user", 1) for v in ids])
    eng = engine(fresh_sim, push_store, key=fresh_sim.keys.read)
    with pytest.raises(AuthError) as err:
        eng.sync(visitor_sync(url))
    # Pendo's own 403 decides; we do not claim "read-only" before it said so.
    assert not isinstance(err.value, ReadOnlyKeyError)
    assert err.value.exit_code == ExitCode.AUTH and err.value.status == 403
    assert writes(fresh_sim) == 1 and custom(fresh_sim) == {}  # one batch, refused
