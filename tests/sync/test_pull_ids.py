"""Ids a pull mapping names are checked against Pendo before any data moves (exit 2)."""

from __future__ import annotations

import json
from collections import Counter
from urllib.parse import urlparse

import pytest
from pull_expect import make_config
from sqlalchemy import select

from pendo_tui.cli import main
from pendo_tui.config.secrets import StaticSecrets
from pendo_tui.errors import ExitCode
from pendo_tui.sim.keys import MOBILE_APP_ID
from pendo_tui.store import schema
from pendo_tui.sync.pull.ids import unknown_ids
from pendo_tui.sync.runner import run

MISSING = "NoSuchId0000000000000000000"


def _mappings(sim) -> dict[str, dict]:
    ds = sim.dataset
    track = ds.track_types[0]["id"]
    return {
        "page": {"name": "p", "kind": "page", "id": ds.find("pages", "Dashboard")["id"]},
        "feature": {"name": "f", "kind": "feature", "id": ds.features[0]["id"]},
        "report": {
            "name": "r",
            "kind": "report",
            "id": ds.find("reports", "Account usage - last 7 days")["id"],
            "columns": {"numEvents": "E"},
        },
        "segment": {
            "name": "s",
            "kind": "page",
            "id": ds.find("pages", "Dashboard")["id"],
            "segment": ds.segments[0]["id"],
        },
        "track type": {
            "name": "t",
            "kind": "aggregation",
            "pipeline": [
                {
                    "source": {
                        "trackEvents": {"trackTypeId": track},
                        "timeSeries": {"period": "dayRange", "first": "now()", "count": -1},
                    }
                },
                {"group": {"group": ["accountId"], "fields": {"n": {"sum": "numEvents"}}}},
            ],
            "columns": {"n": "N"},
        },
        "app": {"name": "pes", "kind": "pes", "app": str(MOBILE_APP_ID)},
    }


def _break(kind: str, mapping: dict) -> dict:
    """The same mapping naming an id Pendo does not have."""
    m = json.loads(json.dumps(mapping))
    if kind == "segment":
        m["segment"] = MISSING
    elif kind == "track type":
        m["pipeline"][0]["source"]["trackEvents"]["trackTypeId"] = MISSING
    elif kind == "app":
        m["app"] = "42"
    else:
        m["id"] = MISSING
    return m


def test_known_ids_pass_with_one_listing_call_per_kind(sim, client):
    config = make_config(sim, list(_mappings(sim).values()))
    assert unknown_ids(config, client, config.pull) == []
    lists = Counter(urlparse(r.url).path for r in client.request_log.records() if r.kind == "list")
    assert lists == {
        "/api/v1/page": 1,
        "/api/v1/feature": 1,
        "/api/v1/tracktype": 1,
        "/api/v1/report": 1,
        "/api/v1/segment": 1,
    }


@pytest.mark.parametrize("kind", ["page", "feature", "report", "segment", "track type", "app"])
def test_runner_refuses_an_unknown_id_before_data_moves(sim, store, kind):
    good = _mappings(sim)[kind]
    bad = _break(kind, good)
    config = make_config(sim, [bad], store={"url": store.url})
    secrets = StaticSecrets(integration_key=sim.keys.read)
    summary = run(config, secrets, store=store)
    assert summary.exit_code == ExitCode.USAGE == 2
    assert summary.status == "failed"
    ident = "42" if kind == "app" else MISSING
    assert f"pull mapping {bad['name']!r}" in summary.error
    assert f"{kind} {ident!r}" in summary.error
    with store.connect() as conn:
        assert conn.execute(select(schema.pull_state)).all() == []  # no cursor moved
        assert conn.execute(select(schema.metrics)).all() == []
        assert conn.execute(select(schema.activities)).all() == []
        (run_row,) = conn.execute(select(schema.runs)).all()
    assert run_row.status == "failed" and ident in run_row.error


def _write_config(tmp_path, sim, pull: list[dict]) -> str:
    """A TOML config file for mappings with scalar settings only."""
    lines = [
        f'[pendo]\ndomain = "{sim.base_url}"\ntimezone = "{sim.dataset.timezone}"\n',
        f'[store]\nurl = "sqlite:///{tmp_path / "s.db"}"\n',
    ]
    for m in pull:
        lines.append("[[pull]]\n")
        lines.extend(f"{key} = {json.dumps(value)}\n" for key, value in m.items())
    path = tmp_path / "c.toml"
    path.write_text("".join(lines), encoding="utf-8")
    return str(path)


@pytest.mark.parametrize("kind", ["page", "segment"])
def test_cli_sync_exits_2_naming_mapping_and_id(sim, tmp_path, monkeypatch, capsys, kind):
    """Before: an unknown page synced `ok` with 0 rows; an unknown segment exited 4."""
    monkeypatch.setenv("PENDO_INTEGRATION_KEY", sim.keys.read)
    bad = _break(kind, _mappings(sim)[kind])
    cfg = _write_config(tmp_path, sim, [bad])
    assert main(["--config", cfg, "--sync", "--json"]) == 2
    summary = json.loads(capsys.readouterr().out)
    assert f"pull mapping {bad['name']!r}" in summary["error"] and MISSING in summary["error"]
    assert main(["--config", cfg, "--sync", "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert MISSING in err and repr(bad["name"]) in err
