"""Runs: the runs row, persisted requests, exit codes, alerts through a local webhook."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from pendo_tui.config.model import AlertSettings, PullMapping
from pendo_tui.config.secrets import StaticSecrets
from pendo_tui.errors import ExitCode, LockHeldError
from pendo_tui.pendo.requestlog import RequestLog
from pendo_tui.sim.demo import demo_config
from pendo_tui.sim.keys import DEMO_TRACK_SECRET, DEMO_WRITE_KEY
from pendo_tui.sim.server import Simulator
from pendo_tui.store import schema
from pendo_tui.store.db import open_store
from pendo_tui.sync.runner import run

SECRETS = StaticSecrets(integration_key=DEMO_WRITE_KEY, track_secret=DEMO_TRACK_SECRET)


class _Receiver(BaseHTTPRequestHandler):
    received: list[dict[str, Any]] = []

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", 0))
        body = self.rfile.read(length)
        type(self).received.append(json.loads(body or b"{}"))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def webhook() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """A webhook receiver on 127.0.0.1 that records what apprise posts to it."""
    received: list[dict[str, Any]] = []
    handler = type("Receiver", (_Receiver,), {"received": received})
    server = HTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"json://127.0.0.1:{server.server_address[1]}/hook", received
    server.shutdown()
    server.server_close()


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator() as s:
        yield s


def _config(sim: Simulator, store_url: str, **alerts: Any) -> Any:
    cfg = demo_config(sim.base_url, store_url)
    # Fault tests must fail fast: two tries, at most a second of backoff.
    pendo = cfg.pendo.model_copy(update={"max_retries": 1, "max_retry_seconds": 1.0})
    cfg = cfg.model_copy(update={"pendo": pendo})
    if alerts:
        cfg = cfg.model_copy(update={"alerts": AlertSettings(**alerts)})
    return cfg


def test_run_is_recorded_with_requests_and_no_secrets(sim: Simulator, store_url: str) -> None:
    cfg = _config(sim, store_url)
    log = RequestLog()
    summary = run(cfg, SECRETS, request_log=log)
    assert summary.status == "ok", summary.to_dict()
    assert summary.exit_code == ExitCode.OK
    store = open_store(store_url)
    with store.engine.connect() as conn:
        row = conn.execute(select(schema.runs).where(schema.runs.c.id == summary.run_id)).one()
        reqs = conn.execute(
            select(schema.requests).where(schema.requests.c.run_id == summary.run_id)
        ).all()
    store.close()
    assert row.status == "ok" and row.finished_at is not None
    assert row.summary["totals"]["rows_written"] > 0
    assert len(reqs) == len(log.records()) > 0
    assert {r.kind for r in reqs} >= {"aggregation", "track"}
    assert all(r.response_body_size is not None for r in reqs)
    dump = json.dumps([dict(r._mapping) for r in reqs], default=str)
    assert DEMO_WRITE_KEY not in dump and DEMO_TRACK_SECRET not in dump


def test_failure_alerts_the_webhook(
    sim: Simulator, store_url: str, webhook: tuple[str, list[dict[str, Any]]]
) -> None:
    url, received = webhook
    cfg = _config(sim, store_url, urls=[url], on=["failure"])
    sim.faults.add("*", status=500, times=10_000)
    summary = run(cfg, SECRETS)
    assert summary.status == "failed"
    assert summary.exit_code == ExitCode.REMOTE
    assert summary.alerts == []  # delivered
    assert len(received) == 1
    assert "failed" in received[0]["title"]
    assert DEMO_WRITE_KEY not in json.dumps(received)


def test_rejected_rows_above_threshold_exit_5_and_alert(
    sim: Simulator, store_url: str, webhook: tuple[str, list[dict[str, Any]]]
) -> None:
    url, received = webhook
    cfg = _config(sim, store_url, urls=[url], on=["rejected"], rejected_threshold=0)
    summary = run(cfg, SECRETS)
    problems = summary.totals.get("skipped", 0) + summary.totals.get("rejected", 0)
    assert problems > 0, "the demo dataset has anonymous visitors, which are skipped"
    assert summary.status == "rejected"
    assert summary.exit_code == ExitCode.THRESHOLD
    assert len(received) == 1 and "rejected" in received[0]["title"]


def test_no_threshold_means_no_exit_5(sim: Simulator, store_url: str) -> None:
    summary = run(_config(sim, store_url), SECRETS)
    assert summary.exit_code == ExitCode.OK


def test_lock_held_raises_at_once(sim: Simulator, tmp_path: Path) -> None:
    store_url = f"sqlite:///{tmp_path}/s.db"
    store = open_store(store_url)
    with store.lock(), pytest.raises(LockHeldError):
        run(_config(sim, store_url), SECRETS)
    store.close()


def test_dry_run_writes_nothing(sim: Simulator, store_url: str) -> None:
    summary = run(_config(sim, store_url), SECRETS, dry_run=True)
    assert summary.status == "planned" and summary.run_id is None
    preview = summary.identity_preview
    assert preview is not None and preview["visitors"] > 0
    assert preview["skipped"].get("anonymous", 0) > 0  # the demo has anonymous visitors
    assert sim.state.track_events == []
    store = open_store(store_url)
    with store.engine.connect() as conn:
        assert conn.execute(select(schema.runs)).all() == []
        assert conn.execute(select(schema.metrics)).all() == []
        assert conn.execute(select(schema.end_users)).all() == []
        assert conn.execute(select(schema.companies)).all() == []
    store.close()


def test_split_calls_show_in_the_summary(sim: Simulator, store_url: str) -> None:
    cfg = _config(sim, store_url)
    names = ["Dashboard views", "CSV exports"]
    sim.faults.add("aggregation", status=500, min_days=16, times=None)  # 30-day calls fail
    summary = run(cfg, SECRETS, kind="sync", mappings=names)
    assert summary.status == "ok", summary.to_dict()
    items = {i["name"]: i for i in summary.items}
    assert all(items[n]["splits"] >= 1 for n in names)
    assert summary.totals["splits"] == sum(items[n]["splits"] for n in names)
    store = open_store(store_url)
    with store.engine.connect() as conn:
        stored = [
            json.loads(r.request_body)["request"]["name"]
            for r in conn.execute(select(schema.requests))
            if r.kind == "aggregation" and r.status == 200 and r.request_body
        ]
    assert any(" split " in n for n in stored)  # the debugger's request list shows them
    store.close()


def test_warnings_reach_the_json_summary_exit_code_unchanged(
    sim: Simulator, store_url: str
) -> None:
    """A visitor-level report (end-user metrics) with auto-create off fetches rows and
    writes none: the item's ``warnings`` say how many, why and what to change; the exit
    code stays 0."""
    base = _config(sim, store_url)
    report = sim.dataset.find("reports", "Visitor activity - last 30 days")
    mapping = PullMapping(
        name="visitors", kind="report", id=report["id"], columns={"numEvents": "Events"}
    )
    identity = base.identity.model_copy(update={"auto_create_end_users": False})
    cfg = base.model_copy(update={"pull": [mapping], "push": [], "identity": identity})
    summary = run(cfg, SECRETS)
    assert (summary.status, summary.exit_code) == ("ok", ExitCode.OK)
    item = json.loads(json.dumps(summary.to_dict()))["items"][0]
    assert item["rows_fetched"] > 0 and item["rows_written"] == 0
    assert item["warnings"][0] == f"{item['rows_fetched']} rows fetched but nothing written"
    assert any("identity.auto_create_end_users" in w for w in item["warnings"])
    assert len(item["skipped_examples"]["auto_create_off"]) == 3
    store = open_store(store_url)
    with store.engine.connect() as conn:
        stored = conn.execute(select(schema.runs.c.summary)).scalar_one()
    store.close()
    assert stored["items"][0]["warnings"] == item["warnings"]

    planned = run(cfg, SECRETS, kind="resync_all", dry_run=True).to_dict()  # cursor is current
    assert any("would be skipped" in w for w in planned["items"][0]["warnings"])
    assert any("would get no end user" in w for w in planned["identity_preview"]["warnings"])


def test_dry_run_plans_the_calls_the_real_run_makes(
    sim: Simulator, store_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Every pull kind of the demo (two page mappings, one with a segment, a feature, a
    report, an aggregation, PES): the dry run's plan counts the aggregation and report
    calls the simulator then receives from the real run, each shared call once; each
    item's ``calls`` are the calls its data comes from, with whom it shares them."""
    from pendo_tui.commands import _print_summary

    cfg = _config(sim, store_url)
    names = [m.name for m in cfg.pull]
    planned = run(cfg, SECRETS, dry_run=True, mappings=names)
    plan = planned.plan
    assert plan is not None
    before = dict(sim.state.requests)
    done = run(cfg, SECRETS, mappings=names)
    assert done.status == "ok", done.to_dict()
    assert done.totals.get("splits", 0) == 0
    made = {k: sim.state.requests[k] - before.get(k, 0) for k in ("aggregation", "report")}
    assert plan["aggregations"] == made["aggregation"]
    assert plan["calls"] == made["aggregation"] + made["report"]
    # shared calls: fewer calls than the mappings' calls summed
    assert plan["calls"] - plan["setup"] < sum(i["calls"] for i in planned.items)
    real = {i["name"]: i for i in done.items}
    items = {i["name"]: i for i in planned.items}
    for name, item in items.items():
        assert item["calls"] == real[name]["calls"], name
        assert (item["first_day"], item["last_day"], item["days"]) == (
            real[name]["first_day"], real[name]["last_day"], real[name]["days"]
        ), name  # fmt: skip
        assert item["writes"] and isinstance(item["warnings"], list)
    # the page and feature mappings without a segment share their scans with PES
    assert "Web PES" in items["Dashboard views"]["shared_with"]
    assert "Dashboard views" in items["Web PES"]["shared_with"]
    assert items["Weekly usage report"]["shared_with"] == []
    assert items["Dashboard views (power users)"]["shared_with"] == []
    reads = {r["read"]: r for r in plan["reads"]}
    assert set(reads["page usage"]["mappings"]) == {"Dashboard views", "Web PES"}
    assert reads["report Weekly usage report"]["kind"] == "report"
    _print_summary(planned)
    out = capsys.readouterr().out
    assert f"plan: {plan['calls']} calls to Pendo" in out
    assert "calls shared with Web PES" in out
