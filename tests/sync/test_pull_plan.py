"""The pull plan: coalesced calls give every mapping what it gets synced alone, in
⌈days ÷ 30⌉ aggregation calls per (kind, segment); calls that fail or grow too large are
split in half and read again instead of failing the mapping."""

from __future__ import annotations

import json
import math
from datetime import timedelta
from pathlib import Path

import pytest
from pull_expect import make_config, placed, stored_activities, stored_metrics
from sqlalchemy import select

from pendo_tui.pendo.client import PendoClient
from pendo_tui.store import schema
from pendo_tui.store.db import open_store
from pendo_tui.sync.pull.engine import PullEngine

PREPARE_CALLS = 2  # companies (accounts) and visitor metadata, once per run


def _mappings(sim) -> list[dict]:
    ds = sim.dataset
    seg = next(s for s in ds.segments if s.get("visitorIds"))
    pages = [p["id"] for p in ds.pages]
    feats = [f["id"] for f in ds.features]
    return [
        *({"name": f"page {i}", "kind": "page", "id": p} for i, p in enumerate(pages)),
        {"name": "page 0 by user", "kind": "page", "id": pages[0], "object": "end_user"},
        {"name": "page 1 multi", "kind": "page", "id": pages[1], "multi_app": True},
        {"name": "seg page", "kind": "page", "id": pages[0], "segment": seg["id"]},
        {"name": "seg page 2", "kind": "page", "id": pages[2], "segment": seg["id"]},
        *({"name": f"feat {i}", "kind": "feature", "id": f} for i, f in enumerate(feats[:3])),
    ]


def _counts(sim) -> tuple[int, int]:
    """(kinds × segments, mappings) of ``_mappings``: page, page+segment, feature."""
    return 3, len(_mappings(sim))


def _solo(sim, config, mapping, tmp_path: Path):
    url = f"sqlite:///{tmp_path / ('solo-' + str(abs(hash(mapping.name))) + '.db')}"
    with open_store(url) as store, PendoClient(sim.base_url, sim.keys.read) as client:
        PullEngine(config, client, store, today=sim.dataset.today).sync(mapping)
        return stored_activities(store, mapping.name), stored_metrics(store, mapping.name)


def test_coalesced_results_equal_solo_syncs_in_few_calls(sim, client, store, tmp_path):
    days = 90
    config = make_config(sim, _mappings(sim), pendo={"days_to_sync": days})
    eng = PullEngine(config, client, store, today=sim.dataset.today)
    before = sim.state.requests["aggregation"]
    outcomes = eng.sync_many(config.pull)
    calls = sim.state.requests["aggregation"] - before
    assert all(not isinstance(o, Exception) for o in outcomes), outcomes
    groups, n = _counts(sim)
    assert n >= 8
    # one call per 30-day window per (kind, segment), however many mappings share it
    assert calls == PREPARE_CALLS + groups * math.ceil(days / 30)
    for m in config.pull:
        acts, mets = _solo(sim, config, m, tmp_path)
        assert stored_activities(store, m.name) == acts, m.name
        assert stored_metrics(store, m.name) == mets, m.name
        assert acts or mets, m.name  # the mapping really has data


def test_pes_shares_the_usage_scans(sim, client, store, tmp_path):
    ds = sim.dataset
    pulls = [
        {"name": "dash", "kind": "page", "id": ds.find("pages", "Dashboard")["id"]},
        {"name": "pes", "kind": "pes"},
    ]
    config = make_config(sim, pulls, pendo={"days_to_sync": 30})
    eng = PullEngine(config, client, store, today=ds.today)
    before = sim.state.requests["aggregation"]
    results = eng.sync_many(config.pull)
    calls = sim.state.requests["aggregation"] - before
    assert all(not isinstance(r, Exception) for r in results)
    history = 30 + 59  # PES reads 59 days before the window too
    windows = math.ceil(history / 30)
    # page, feature and track-type usage (shared with "dash") and PES activity: 4 scans
    assert calls == PREPARE_CALLS + 4 * windows
    for m in config.pull:
        _, mets = _solo(sim, config, m, tmp_path)
        assert stored_metrics(store, m.name) == mets and mets, m.name


def _split_names(client: PendoClient) -> list[str]:
    names = []
    for r in client.request_log.records():
        if r.kind == "aggregation" and r.status == 200 and r.request_body:
            name = json.loads(r.request_body)["request"]["name"]
            if " split " in name:
                names.append(name)
    return names


@pytest.mark.parametrize("cause", ["5xx", "rows", "bytes"])
def test_a_failing_or_too_large_call_is_split_not_fatal(sim, client, store, tmp_path, cause):
    ds = sim.dataset
    pulls = [
        {"name": "dash", "kind": "page", "id": ds.find("pages", "Dashboard")["id"]},
        {"name": "feat", "kind": "feature", "id": ds.features[0]["id"]},
    ]
    config = make_config(sim, pulls, pendo={"days_to_sync": 8, "max_concurrent_calls": 1})
    limits = {"rows": {"max_call_rows": 10}, "bytes": {"max_call_bytes": 1_000}}.get(cause, {})
    eng = PullEngine(config, client, store, today=ds.today, **limits)
    eng.prepare()  # companies and visitors read before the fault is armed
    if cause == "5xx":  # the first call fails on every retry (client: 4 retries)
        sim.faults.add("aggregation", status=500, times=5)
    results = eng.sync_many(config.pull)
    assert not sim.faults.active()
    assert all(not isinstance(r, Exception) for r in results), results
    assert results[0].splits >= 1  # type: ignore[union-attr]
    assert _split_names(client)  # the debugger shows the split calls by name
    if cause == "bytes":  # a call that went through returned ≤ 1,000 bytes, or one day
        done = [
            (json.loads(r.request_body)["request"]["name"], r.response_body_size or 0)
            for r in client.request_log.records()
            if r.kind == "aggregation" and r.status == 200 and not r.error and r.request_body
        ]
        usage = [(n.rsplit(" ", 1)[1].split(".."), size) for n, size in done if " split " in n]
        assert any(size > 1_000 for _, size in usage)  # one-day calls are never split
        multi_day = [(days, size) for days, size in usage if days[0] != days[1]]
        assert all(size <= 1_000 + 100 for _, size in multi_day), multi_day  # + the "]}" tail
        assert all(" split " in n for n, _ in done if " usage" in n)
    for m in config.pull:
        acts, mets = _solo(sim, config, m, tmp_path)
        assert stored_activities(store, m.name) == acts and acts, m.name
        assert stored_metrics(store, m.name) == mets, m.name


@pytest.mark.parametrize("limit", [None, 10], ids=["whole", "split"])
def test_last_seen_is_the_latest_active_day_in_the_raw_events(sim, client, store, limit):
    """Last-seen days come from the rows as routed, or (once a call's rows were discarded
    for a split) from the staged rows: either way the latest day each visitor and account
    was active on the mappings' ids, from the raw dataset."""
    ds = sim.dataset
    pulls = _two_usage_mappings(sim)
    config = make_config(sim, pulls, pendo={"days_to_sync": 8, "max_concurrent_calls": 1})
    limits = {"max_call_rows": limit} if limit else {}
    eng = PullEngine(config, client, store, today=ds.today, **limits)
    results = eng.sync_many(config.pull)
    assert all(not isinstance(r, Exception) for r in results), results
    assert all(r.splits for r in results) == bool(limit)  # type: ignore[union-attr]

    ids = {("pageId", pulls[0]["id"]), ("featureId", pulls[1]["id"])}
    first, last = ds.today - timedelta(days=8), ds.today - timedelta(days=1)
    users: dict = {}
    accounts: dict = {}
    for row in ds.events:
        day = ds.day_of_ms(row["day"])
        if not placed(row) or not first <= day <= last:
            continue
        if any(row.get(field) == value for field, value in ids):
            users[row["visitorId"]] = max(day, users.get(row["visitorId"], day))
            accounts[row["accountId"]] = max(day, accounts.get(row["accountId"], day))
    assert users and accounts
    u, c = schema.end_users, schema.companies
    with store.connect() as conn:
        got_users = conn.execute(select(u.c.external_id, u.c.last_seen, u.c.last_active))
        got_companies = conn.execute(select(c.c.external_id, c.c.last_seen))
        seen = {vid: (ls.date(), la.date()) for vid, ls, la in got_users if ls is not None}
        seen_companies = {acc: ls.date() for acc, ls in got_companies if ls is not None}
    assert seen == {vid: (day, day) for vid, day in users.items()}
    assert seen_companies == accounts


def test_a_call_that_fails_at_one_day_fails_only_its_mappings(sim, client, store):
    ds = sim.dataset
    pulls = [
        {"name": "dash", "kind": "page", "id": ds.find("pages", "Dashboard")["id"]},
        {"name": "feat", "kind": "feature", "id": ds.features[0]["id"]},
    ]
    config = make_config(sim, pulls, pendo={"days_to_sync": 1, "max_concurrent_calls": 1})
    eng = PullEngine(config, client, store, today=ds.today)
    eng.prepare()
    sim.faults.add("aggregation", status=500, times=5)  # the page call, one day: no split
    page, feat = eng.sync_many(config.pull)
    assert isinstance(page, Exception) and "500" in str(page)
    assert not isinstance(feat, Exception) and feat.rows_written > 0
    assert stored_activities(store, "dash") == {}


def _two_usage_mappings(sim) -> list[dict]:
    ds = sim.dataset
    return [
        {"name": "dash", "kind": "page", "id": ds.find("pages", "Dashboard")["id"]},
        {"name": "feat", "kind": "feature", "id": ds.features[0]["id"]},
    ]


def _request_names(client: PendoClient) -> list[tuple[str, int | None]]:
    out = []
    for r in client.request_log.records():
        if r.kind == "aggregation" and r.request_body:
            out.append((json.loads(r.request_body)["request"]["name"], r.status))
    return out


def test_calls_over_n_days_are_split_until_they_pass(sim, client, store, tmp_path):
    """Pendo fails every call over 7 days (after retries): 30 → 15 → 8 → 4 days."""
    config = make_config(
        sim, _two_usage_mappings(sim), pendo={"days_to_sync": 30, "max_concurrent_calls": 2}
    )
    eng = PullEngine(config, client, store, today=sim.dataset.today)
    eng.prepare()
    sim.faults.add("aggregation", status=500, min_days=8, times=None)
    results = eng.sync_many(config.pull)
    sim.faults.clear()
    assert all(not isinstance(r, Exception) for r in results), results
    names = _request_names(client)
    ok = [n for n, status in names if status == 200 and n.startswith("pendo-tui:")]
    assert ok and all(" split " in n for n in ok)  # only split calls got through
    assert {n for n, status in names if status == 500} >= {
        "pendo-tui:page usage",
        "pendo-tui:feature usage",
    }
    for r in results:
        # 30 days: one split at 30, two at 15, two at 8 (the 8-day halves) = 5 per mapping
        assert r.splits == 5, r  # type: ignore[union-attr]
    for m in config.pull:
        acts, mets = _solo(sim, config, m, tmp_path)
        assert stored_activities(store, m.name) == acts and acts, m.name
        assert stored_metrics(store, m.name) == mets, m.name


def test_a_timed_out_call_is_split(sim, store, tmp_path):
    config = make_config(
        sim, _two_usage_mappings(sim), pendo={"days_to_sync": 10, "max_concurrent_calls": 2}
    )
    sim.reset()
    with PendoClient(sim.base_url, sim.keys.read, aggregation_timeout=3, max_retries=0) as client:
        eng = PullEngine(config, client, store, today=sim.dataset.today)
        eng.prepare()
        sim.faults.add("aggregation", latency=10, min_days=6, times=None)  # never answers in time
        results = eng.sync_many(config.pull)
        sim.faults.clear()
        assert all(not isinstance(r, Exception) for r in results), results
        assert [r.splits for r in results] == [1, 1]  # type: ignore[union-attr]
        assert any("timed out" in (r.error or "") for r in client.request_log.records())
    for m in config.pull:
        acts, _ = _solo(sim, config, m, tmp_path)
        assert stored_activities(store, m.name) == acts and acts, m.name


def test_mappings_with_different_windows_share_calls_correctly(sim, client, store, tmp_path):
    """One mapping is 10 days behind, the other new (20 days): the shared calls cover both
    windows, and each stores what it would alone."""
    from datetime import timedelta

    ds = sim.dataset
    pulls = _two_usage_mappings(sim)
    pulls[1] = {"name": "dash 2", "kind": "page", "id": ds.pages[1]["id"]}
    if pulls[1]["id"] == pulls[0]["id"]:
        pulls[1]["id"] = ds.pages[2]["id"]
    config = make_config(sim, pulls, pendo={"days_to_sync": 20})
    behind = ds.today - timedelta(days=10)
    PullEngine(config, client, store, today=behind).sync(config.pull[0])
    eng = PullEngine(config, client, store, today=ds.today)
    assert [len(eng.window(m)) for m in config.pull] == [10, 20]
    client.request_log.clear()
    results = eng.sync_many(config.pull)
    assert all(not isinstance(r, Exception) for r in results), results
    bodies = [
        json.loads(r.request_body)["request"]["pipeline"]
        for r in client.request_log.records()
        if r.kind == "aggregation" and r.request_body and "pageEvents" in r.request_body
    ]
    assert len(bodies) == 1  # 20 days: one call for both pages
    url = f"sqlite:///{tmp_path / 'alone.db'}"
    with open_store(url) as alone, PendoClient(sim.base_url, sim.keys.read) as c2:
        PullEngine(config, c2, alone, today=behind).sync(config.pull[0])
        for m in config.pull:
            PullEngine(config, c2, alone, today=ds.today).sync(m)
        for m in config.pull:
            assert stored_activities(store, m.name) == stored_activities(alone, m.name), m.name
            assert stored_metrics(store, m.name) == stored_metrics(alone, m.name), m.name
            assert stored_activities(alone, m.name)


def test_sync_now_leaves_out_a_failed_mapping_and_commits_the_others(sim, client, store, tmp_path):
    """The mappings of a batch whose calls succeeded commit (together); one whose call
    failed for good keeps its earlier data and cursor, and says why."""
    from datetime import timedelta

    from pendo_tui.errors import PendoTuiError
    from pendo_tui.sync.pull.apply import read_state

    ds = sim.dataset
    report = ds.find("reports", "Account usage - last 7 days")
    pulls = [
        {"name": "dash", "kind": "page", "id": ds.find("pages", "Dashboard")["id"]},
        {"name": "rep", "kind": "report", "id": report["id"], "columns": {"numEvents": "rep"}},
    ]
    config = make_config(sim, pulls, pendo={"days_to_sync": 20})
    yesterday = ds.today - timedelta(days=1)
    PullEngine(config, client, store, today=yesterday).sync_many(config.pull)
    rep_before = stored_metrics(store, "rep")
    assert rep_before, "the report must have stored something for this test to mean anything"
    rep_cursor = read_state(store, "rep")[0]

    sim.faults.add("report", status=500, times=None)  # the report call fails for good
    results = PullEngine(config, client, store, today=ds.today).sync_many(config.pull)
    sim.faults.clear()

    assert isinstance(results[1], PendoTuiError), results
    assert not isinstance(results[0], Exception), results
    acts, mets = _solo(sim, config, config.pull[0], tmp_path)
    first = ds.today - timedelta(days=20)  # the first sync also stored the day before
    assert {k: v for k, v in stored_activities(store, "dash").items() if k[2] >= first} == acts
    assert {k: v for k, v in stored_metrics(store, "dash").items() if k[3] >= first} == mets
    assert acts and read_state(store, "dash")[0] == ds.today - timedelta(days=1)
    assert stored_metrics(store, "rep") == rep_before  # untouched
    assert read_state(store, "rep")[0] == rep_cursor
