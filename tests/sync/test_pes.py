"""PES per company from event data, checked against a from-scratch computation over the
simulator's raw rows (the formulas of docs/pes.md, written out again here)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from pull_expect import make_config, stored_metrics

from pendo_tui.config.model import Config
from pendo_tui.sync.pull.engine import PullEngine
from pendo_tui.sync.pull.pes import PesInputs, score_account


def expected_pes(ds, app, days):
    core = {
        o["id"]
        for o in ds.pages + ds.features + ds.track_types
        if o.get("isCoreEvent") and o["appId"] == app
    }
    active: dict = {}  # account -> visitor -> days
    used: dict = {}  # account -> visitor -> [(day, core id)]
    for row in ds.activity:
        if row["appId"] == app and row["accountId"] and not row["visitorId"].startswith("_"):
            d = ds.day_of_ms(row["day"])
            active.setdefault(row["accountId"], {}).setdefault(row["visitorId"], set()).add(d)
    for row in ds.events:
        oid = row.get("pageId") or row.get("featureId") or row.get("trackTypeId")
        if row["appId"] == app and row["accountId"] and oid in core:
            d = ds.day_of_ms(row["day"])
            used.setdefault(row["accountId"], {}).setdefault(row["visitorId"], []).append((d, oid))
    first_visit = {
        v["visitorId"]: ds.day_of_ms(v["metadata"]["auto"]["firstvisit"]) for v in ds.visitors
    }
    out = {}
    for day in days:
        w0, p1 = day - timedelta(days=29), day - timedelta(days=30)
        p0 = p1 - timedelta(days=29)
        for acc, visitors in active.items():
            now = {v for v, ds_ in visitors.items() if any(w0 <= d <= day for d in ds_)}
            if not now:
                continue
            prev = {v for v, ds_ in visitors.items() if any(p0 <= d <= p1 for d in ds_)}
            adoption = (
                100
                * sum(
                    len({o for d, o in used.get(acc, {}).get(v, []) if w0 <= d <= day}) / len(core)
                    for v in now
                )
                / len(now)
            )
            dau = sum(
                sum(1 for v in now if w0 + timedelta(days=i) in visitors[v]) for i in range(30)
            )
            stickiness = 100 * dau / 30 / len(now)
            new = sum(1 for v in now - prev if first_visit[v] >= w0)
            rec = sum(1 for v in now - prev if first_visit[v] < p0)
            dropped = len(prev - now)
            parts = {"adoption": adoption, "stickiness": stickiness}
            parts["growth"] = (
                100 * (new + rec) / (new + rec + dropped) if new + rec + dropped else 50
            )
            for k, v in parts.items():
                out[(f"PES {k}", "company", acc, day)] = v
            out[("PES", "company", acc, day)] = sum(parts.values()) / len(parts)
    return out


# Core events are found whatever shape the object lists take (appId as a string, or only
# appIds): see docs/pendo-reference.md "What we accept from Pendo".
@pytest.mark.parametrize("objects", ["standard", "app_id_string", "app_ids_only"])
def test_pes_matches_raw_computation(sim, client, store, objects):
    ds = sim.dataset
    sim.shapes.objects = objects
    pull = [{"name": "pes", "kind": "pes", "metric": "PES", "app": "-323232"}]
    config = make_config(sim, pull, pendo={"days_to_sync": 3})
    PullEngine(config, client, store, today=ds.today).sync(config.pull[0])
    days = [ds.today - timedelta(days=i) for i in (3, 2, 1)]
    expected = expected_pes(ds, -323232, days)
    got = stored_metrics(store, "pes")
    assert expected and set(got) == set(expected)
    for key, value in expected.items():
        assert got[key] == pytest.approx(value), key
    assert all(0 <= v <= 100 for v in got.values())


def test_pes_only_with_account_id_and_no_multi_app():
    with pytest.raises(ValueError, match="accountId"):
        Config.model_validate(
            {
                "identity": {"company_external_id": "agent.companyid"},
                "pull": [{"name": "p", "kind": "pes"}],
            }
        )
    with pytest.raises(ValueError, match="multi-app"):
        Config.model_validate({"pull": [{"name": "p", "kind": "pes", "multi_app": True}]})


def test_growth_counts_new_recovered_and_dropped():
    day = date(2026, 3, 19)
    inputs = PesInputs()
    w, p, before = day - timedelta(days=5), day - timedelta(days=40), day - timedelta(days=90)
    inputs.first_visit = {"new": w, "back": before, "gone": before, "stay": before}
    for visitor, days in {"new": [w], "back": [w], "gone": [p], "stay": [p, w]}.items():
        for d in days:
            inputs.add_activity("acme", visitor, d)
    scores = score_account(inputs, inputs.accounts["acme"], day)
    assert scores["growth"] == pytest.approx(100 * 2 / 3)  # (new + recovered) / (+ dropped)
    assert "adoption" not in scores  # no core events defined: no adoption value
    assert scores["stickiness"] == pytest.approx(100 * 3 / 30 / 3)
    assert scores["pes"] == pytest.approx((scores["growth"] + scores["stickiness"]) / 2)
