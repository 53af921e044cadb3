"""The demo config against the simulator, and ``python -m pendo_tui.sim`` as a process."""

from __future__ import annotations

import csv
import os
import re
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from pendo_tui.config.model import Config
from pendo_tui.sim.demo import demo_config, demo_dataset, demo_secrets
from pendo_tui.sim.keys import DEMO_TRACK_SECRET, DEMO_WRITE_KEY
from pendo_tui.sim.server import Simulator

KEY = "x-pendo-integration-key"


@pytest.fixture
def config(sim: Simulator) -> Config:
    return demo_config(sim.base_url, "sqlite:///:memory:")


def test_demo_has_every_mapping_kind(config: Config) -> None:
    assert {m.kind for m in config.pull} == {"page", "feature", "report", "aggregation", "pes"}
    assert {p.kind for p in config.push} == {"events", "visitor"}
    assert config.pendo.timezone == "America/New_York"
    assert [a.id for a in config.apps] == ["-323232", "5629499534213120", "unknown"]
    assert any(m.multi_app for m in config.pull if m.kind == "feature")
    assert any(m.segment for m in config.pull)
    assert next(m for m in config.pull if m.kind == "pes").app == "-323232"


def test_demo_ids_exist_in_the_simulator(config: Config, http: httpx.Client, read_h: dict) -> None:
    pages = {p["id"] for p in http.get("/api/v1/page?expand=*", headers=read_h).json()}
    features = {p["id"] for p in http.get("/api/v1/feature?expand=*", headers=read_h).json()}
    segments = {s["id"] for s in http.get("/api/v1/segment", headers=read_h).json()}
    reports = {r["id"]: r for r in http.get("/api/v1/report", headers=read_h).json()}
    for m in config.pull:
        if m.kind == "page":
            assert m.id in pages
        elif m.kind == "feature":
            assert m.id in features
        elif m.kind == "report":
            report = reports[m.id]
            assert report["level"] == "account"
            series = report["definition"]["timeSeries"]  # flat: first/count directly
            assert series["first"] == "now()" and series["count"] == -7
            types = {f["field"]: f["type"] for f in report["aggregation"]["fields"]}
            assert all(types[c] in ("number", "integer") for c in m.columns)
    assert {s.id for s in config.segments} <= segments


def test_demo_pipeline_runs_and_yields_mapped_columns(
    config: Config, http: httpx.Client, read_h: dict
) -> None:
    mapping = next(m for m in config.pull if m.kind == "aggregation")
    body = {"response": {"mimeType": "application/json"}, "request": {"pipeline": []}}
    body["request"]["pipeline"] = mapping.pipeline_steps()
    r = http.post("/api/v1/aggregation", json=body, headers=read_h)
    assert r.status_code == 200, r.text
    rows = r.json()["results"]
    assert rows
    for row in rows:
        assert row["accountId"]
        assert all(isinstance(row[c], int | float) for c in mapping.columns)


def test_demo_push_models_have_the_mapped_columns(config: Config) -> None:
    for sync in config.push:
        assert sync.model.csv
        with open(sync.model.csv, newline="") as fh:
            reader = csv.DictReader(fh)
            rows = list(reader)
            columns = set(reader.fieldnames or [])
        needed = {sync.primary_key, *sync.fields.values(), *sync.property_columns().values()}
        needed |= {
            c for c in (sync.visitor_id, sync.account_id, sync.event_column, sync.match) if c
        }
        assert needed <= columns
        keys = [r[sync.primary_key] for r in rows]
        assert len(keys) == len(set(keys)) > 5


def test_demo_secrets_and_live_dates() -> None:
    secrets = demo_secrets()
    assert secrets.integration_key() == DEMO_WRITE_KEY
    assert secrets.track_secret() == DEMO_TRACK_SECRET
    now = datetime(2026, 11, 23, 11, tzinfo=UTC)
    ds = demo_dataset(now)
    yesterday = ds.day_start_ms(ds.today - timedelta(days=1))
    assert any(r["day"] == yesterday for r in ds.activity)


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM])
def test_module_runs_standalone_and_prints_url_and_keys(stop: int) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "pendo_tui.sim", "--port", "0", "--fixed-now"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline() for _ in range(4)]
        url = re.search(r"http://127\.0\.0\.1:\d+", lines[0])
        assert url, lines
        assert DEMO_WRITE_KEY in "".join(lines) and DEMO_TRACK_SECRET in "".join(lines)
        r = httpx.get(f"{url.group(0)}/api/v1/token/verify", headers={KEY: DEMO_WRITE_KEY})
        assert r.json() == {"valid": True, "writeAccess": True}
    finally:
        proc.send_signal(stop)
        try:
            assert proc.wait(timeout=10) == 0
        finally:
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGKILL)
