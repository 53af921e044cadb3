"""The answer-shape switches over the admin API: listed, set, refused when unknown, reset."""

from __future__ import annotations

import json

import httpx
import pytest

from pendo_tui.sim.server import Simulator
from pendo_tui.sim.shapes import CHOICES
from pendo_tui.sim.streaming import json_chunks


@pytest.fixture(scope="module")
def sim():
    with Simulator() as s:
        yield s


def test_shapes_over_the_admin_api(sim: Simulator) -> None:
    key = {"x-pendo-integration-key": sim.keys.read}
    with httpx.Client(base_url=sim.base_url, timeout=30) as http:
        defaults = http.get("/_sim/settings").json()["shapes"]
        assert defaults == {name: values[0] for name, values in CHOICES.items()}
        assert http.get("/api/v1/token/verify", headers=key).json() == {
            "valid": True,
            "writeAccess": False,
        }

        r = http.post("/_sim/settings", json={"shapes": {"verify": "string_booleans"}})
        assert r.status_code == 200 and r.json()["shapes"]["verify"] == "string_booleans"
        assert http.get("/api/v1/token/verify", headers=key).json() == {
            "valid": "true",
            "writeAccess": "false",
        }

        # Refused as a whole: nothing of a bad request is applied.
        bad = {"shapes": {"objects": "no_kind", "verify": "sometimes"}}
        r = http.post("/_sim/settings", json=bad)
        assert r.status_code == 400 and "verify" in r.text and "string_booleans" in r.text
        r = http.post("/_sim/settings", json={"shapes": {"nope": "x"}})
        assert r.status_code == 400 and "nope" in r.text
        assert http.get("/_sim/settings").json()["shapes"]["objects"] == "standard"

        http.post("/_sim/reset")
        assert http.get("/_sim/settings").json()["shapes"] == defaults


@pytest.mark.parametrize(
    "rows",
    [
        [{"pageId": "p", "day": 1, "n": 2.5, "s": 'é\u2028"}', "none": None, "t": True}] * 600,
        [{1: "a key that is not a string"}, {"big": 2**70}],  # what orjson refuses
        [],
    ],
    ids=["usage", "refused-by-orjson", "empty"],
)
def test_streamed_rows_are_the_standard_librarys_json(rows: list) -> None:
    body = b"".join(json_chunks(b"[", rows, b"]"))
    assert json.loads(body) == json.loads(json.dumps(rows))
