"""Report compatibility, aggregation validation and the companies source."""

from __future__ import annotations

import sqlite3

import pytest
from pull_expect import make_config
from sqlalchemy import select

from pendo_tui.errors import ConfigError
from pendo_tui.pendo.pipelines import substitute_window, trial_problems, validate_pipeline
from pendo_tui.store import schema
from pendo_tui.sync.pull.companies import refresh_companies
from pendo_tui.sync.pull.engine import PullEngine
from pendo_tui.sync.pull.reports import numeric_columns, report_compatibility


def test_report_compatibility_on_the_simulated_reports(sim):
    verdicts = {r["name"]: report_compatibility(r) for r in sim.dataset.reports}
    # a flat rolling 7-day timeSeries (first/count directly under timeSeries)
    assert verdicts["Account usage - last 7 days"] == (True, None, None)
    ok, _, warning = verdicts["Visitor activity - last 30 days"]
    assert ok and warning is None  # 30 days: at the limit, no warning
    assert not verdicts["Account usage - last 200 days"][0]
    assert "fixed" in verdicts["Account usage - December 2025 (fixed)"][1]
    assert "fixed" in verdicts["Visitor activity - November 2025 (fixed)"][1]
    assert "numeric" in verdicts["Visitor directory"][1]
    unknown = verdicts["Account health - custom range"][1]
    assert "could not be determined" in unknown and "fixed" not in unknown
    assert "definition.timeSeries.period" in unknown  # the keys that were seen


def test_report_warning_above_30_days_and_numeric_columns_only(sim):
    report = dict(sim.dataset.find("reports", "Account usage - last 7 days"))
    report["definition"] = {"timeSeries": {"primaryTimeSeries": {"first": "now()", "count": -45}}}
    ok, reason, warning = report_compatibility(report)
    assert ok and reason is None and "45 days" in warning
    assert numeric_columns(report) == ["numEvents", "numMinutes", "daysActive", "activeVisitors"]


def test_mapping_a_non_numeric_report_column_is_a_config_error(sim, client, store):
    report = sim.dataset.find("reports", "Account usage - last 7 days")
    pull = [
        {"name": "r", "kind": "report", "id": report["id"], "columns": {"account_agent_name": "n"}}
    ]
    config = make_config(sim, pull)
    with pytest.raises(ConfigError, match="not numeric"):
        PullEngine(config, client, store, today=sim.dataset.today).sync(config.pull[0])


def test_validate_aggregation_pipeline():
    good = [
        {"source": {"events": None, "timeSeries": {"period": "dayRange", "first": 0, "count": 1}}},
        {"group": {"group": ["accountId"], "fields": {"ev": {"sum": "numEvents"}}}},
    ]
    assert validate_pipeline(good, "company", ["ev"]) == []
    assert "visitorId" in validate_pipeline(good, "end_user", ["ev"])[0]
    assert "'nope' is not in the pipeline's rows" in validate_pipeline(good, "company", ["nope"])[0]
    assert "must be a source" in validate_pipeline([{"filter": "x"}], "company", [])[0]
    assert validate_pipeline({}, "company", [])
    assert trial_problems([{"ev": 1}, {"ev": "x"}], ["ev"])
    assert trial_problems([{"ev": 1}, {"ev": 2.5}], ["ev"]) == []


def test_substitute_window_replaces_every_time_series_and_keeps_the_original():
    steps = [
        {"spawn": [[{"source": {"events": None, "timeSeries": {"first": "now()", "count": -30}}}]]}
    ]
    out = substitute_window(steps, 1234, 1)
    assert out[0]["spawn"][0][0]["source"]["timeSeries"] == {
        "period": "dayRange",
        "first": 1234,
        "count": 1,
    }
    assert steps[0]["spawn"][0][0]["source"]["timeSeries"]["count"] == -30


def _companies(store):
    with store.connect() as conn:
        return {r.external_id: (r.name, r.source) for r in conn.execute(select(schema.companies))}


def test_companies_from_pendo_accounts(sim, client, store):
    refresh_companies(make_config(sim, []), client, store)
    expected = {
        a["accountId"]: (a["metadata"]["agent"]["name"], "pendo") for a in sim.dataset.accounts
    }
    assert _companies(store) == expected


def test_companies_from_csv(sim, client, store, tmp_path):
    path = tmp_path / "companies.csv"
    path.write_text("external_id,name\nacme,Acme Inc\nnew-co,New Co\n", encoding="utf-8")
    config = make_config(sim, [], companies={"source": "csv", "path": str(path)})
    refresh_companies(config, client, store)
    assert _companies(store) == {"acme": ("Acme Inc", "csv"), "new-co": ("New Co", "csv")}


def test_companies_from_sql_and_bad_query(sim, client, store, tmp_path):
    db = tmp_path / "crm.db"
    with sqlite3.connect(db) as conn:
        conn.execute("create table accounts (id text, company text)")
        conn.execute("insert into accounts values ('acme', 'Acme SQL')")
    source = {
        "source": "sql",
        "url": f"sqlite:///{db}",
        "query": "select id, company from accounts",
    }
    refresh_companies(make_config(sim, [], companies=source), client, store)
    assert _companies(store) == {"acme": ("Acme SQL", "sql")}
    bad = source | {"query": "select nope from accounts"}
    with pytest.raises(ConfigError, match="companies query failed"):
        refresh_companies(make_config(sim, [], companies=bad), client, store)


def test_engine_validates_aggregation_with_a_trial_run(sim, client, store):
    base = {"name": "a", "kind": "aggregation", "object": "company"}
    pipeline = [
        {"source": {"accounts": None}},
        {"select": {"accountId": "accountId", "name": "metadata.agent.name"}},
    ]
    bad = make_config(sim, [base | {"pipeline": pipeline, "columns": {"name": "n"}}])
    eng = PullEngine(bad, client, store, today=sim.dataset.today)
    assert "not numeric" in eng.validate_aggregation(bad.pull[0])[0]
    ok_pipe = [
        {
            "source": {
                "events": None,
                "timeSeries": {"period": "dayRange", "first": "now()", "count": -1},
            }
        },
        {"group": {"group": ["accountId"], "fields": {"ev": {"sum": "numEvents"}}}},
    ]
    good = make_config(sim, [base | {"pipeline": ok_pipe, "columns": {"ev": "Events"}}])
    assert eng.validate_aggregation(good.pull[0]) == []
