"""One placement rule for every pull kind: usage is dropped only when it can be placed
nowhere. Company metrics count every identified visitor whose company exists, end user or
not; activities and end-user metrics need an end user.

Every expected value is computed here from the simulator's raw dataset (visitors,
accounts, events, activity), never through the engine or the aggregation evaluator.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import timedelta
from typing import Any

from pull_expect import make_config, stored_activities, stored_metrics
from sqlalchemy import func, insert, select
from test_pes import expected_pes

from pendo_tui.sim.keys import LEGACY_APP_ID, MOBILE_APP_ID
from pendo_tui.store import schema
from pendo_tui.sync.pull.engine import PullEngine

DAYS = 20
OFF = {"auto_create_end_users": False}
AUTO_OFF_LINE = (
    "no matching end user and auto-create is off — set identity.auto_create_end_users "
    "or this mapping's auto_create_users"
)
SERIES = {
    "source": {
        "events": {"appId": 'expandAppIds("*")'},
        "timeSeries": {"period": "dayRange", "first": "now()", "count": -1},
    }
}


def agg(*group: str) -> list[dict[str, Any]]:
    """Events per ``group`` per day (one substituted day per call)."""
    grouping = {"group": list(group), "fields": {"ev": {"sum": "numEvents"}}}
    return [SERIES, {"identified": "visitorId"}, {"group": grouping}]


# -- expectations from the raw dataset ---------------------------------------------------


def identified(vid: str) -> bool:
    return bool(vid) and not vid.startswith("_PENDO_T_")


def window(ds: Any, days: int = DAYS) -> tuple[Any, Any]:
    return ds.today - timedelta(days=days), ds.today - timedelta(days=1)


def event_rows(ds: Any, field: str, oid: str, days: int = DAYS) -> list[dict[str, Any]]:
    first, last = window(ds, days)
    return [r for r in ds.events if r.get(field) == oid and first <= ds.day_of_ms(r["day"]) <= last]


def activity_rows(ds: Any, days: int = DAYS) -> list[dict[str, Any]]:
    first, last = window(ds, days)
    return [r for r in ds.activity if first <= ds.day_of_ms(r["day"]) <= last]


def per_company(
    ds: Any, rows: list[dict[str, Any]], metric: str, companies: set[str], day: Any = None
) -> dict[tuple[str, str, str, Any], float]:
    out: dict = defaultdict(float)
    for r in rows:
        if identified(r["visitorId"]) and r["accountId"] in companies:
            out[(metric, "company", r["accountId"], day or ds.day_of_ms(r["day"]))] += r[
                "numEvents"
            ]
    return dict(out)


def per_end_user(
    ds: Any, rows: list[dict[str, Any]], metric: str, key: dict[str, str], day: Any = None
) -> dict[tuple[str, str, str, Any], float]:
    """``key``: visitor id → end-user object id, for the visitors that get an end user."""
    out: dict = defaultdict(float)
    for r in rows:
        if r["visitorId"] in key:
            out[(metric, "end_user", key[r["visitorId"]], day or ds.day_of_ms(r["day"]))] += r[
                "numEvents"
            ]
    return dict(out)


def drops(rows: list[dict[str, Any]], reason: Any) -> dict[str, int]:
    """Distinct visitors per skip reason; ``reason(row)`` → reason or None (placed)."""
    seen: dict[str, str | None] = {r["visitorId"]: reason(r) for r in rows}
    return dict(Counter(v for v in seen.values() if v))


def account_ids(ds: Any) -> set[str]:
    return {a["accountId"] for a in ds.accounts}


def visitor(ds: Any, vid: str) -> dict[str, Any]:
    return next(v for v in ds.visitors if v["visitorId"] == vid)


def count(store: Any, table: Any) -> int:
    with store.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def run_all(sim: Any, client: Any, store: Any, pull: list[dict[str, Any]], **sections: Any):
    config = make_config(sim, pull, **sections)
    eng = PullEngine(config, client, store, today=sim.dataset.today)
    results = eng.resync_all(config.pull)
    return config, eng, {r.mapping: r for r in results}


# -- scenarios ---------------------------------------------------------------------------


def test_auto_create_off_and_no_end_users_still_fills_company_metrics(sim, client, store):
    ds = sim.dataset
    feat = ds.features[0]
    page = ds.find("pages", "Dashboard")
    acct_report = ds.find("reports", "Account usage - last 7 days")
    visit_report = ds.find("reports", "Visitor activity - last 30 days")
    pull = [
        {"name": "feat", "kind": "feature", "id": feat["id"], "object": "company"},
        {"name": "page", "kind": "page", "id": page["id"], "object": "company"},
        {"name": "agg", "kind": "aggregation", "pipeline": agg("visitorId", "accountId"),
         "columns": {"ev": "agg"}},
        {"name": "rep", "kind": "report", "id": acct_report["id"], "columns": {"numEvents": "rep"}},
        {"name": "feat_eu", "kind": "feature", "id": feat["id"], "object": "end_user"},
        {"name": "vrep", "kind": "report", "id": visit_report["id"],
         "columns": {"numEvents": "vrep"}},
    ]  # fmt: skip
    _, _, res = run_all(sim, client, store, pull, identity=OFF)
    companies = account_ids(ds)
    yesterday = ds.today - timedelta(days=1)

    feat_rows = event_rows(ds, "featureId", feat["id"])
    assert stored_metrics(store, "feat") == per_company(ds, feat_rows, "feat", companies)
    assert stored_metrics(store, "feat")  # the bug: this used to be empty
    page_rows = event_rows(ds, "pageId", page["id"])
    assert stored_metrics(store, "page") == per_company(ds, page_rows, "page", companies)
    assert stored_metrics(store, "agg") == per_company(ds, activity_rows(ds), "agg", companies)
    rep = per_company(ds, activity_rows(ds, 7), "rep", companies, yesterday)
    assert stored_metrics(store, "rep") == rep
    # No end user exists or may be created: no activities, no end-user metrics.
    assert count(store, schema.activities) == 0 and count(store, schema.end_users) == 0
    # Their usage still moves the company's last_seen forward (page/feature, not passive).
    last: dict = {}
    for r in feat_rows + page_rows:
        if identified(r["visitorId"]) and r["accountId"]:
            day = ds.day_of_ms(r["day"])
            last[r["accountId"]] = max(last.get(r["accountId"], day), day)
    c = schema.companies
    with store.connect() as conn:
        seen_at = dict(conn.execute(select(c.c.external_id, c.c.last_seen)).all())
    assert {a: t.date() for a, t in seen_at.items() if t is not None} == last
    assert stored_metrics(store, "feat_eu") == {} and stored_metrics(store, "vrep") == {}

    # Only visitors placed nowhere are counted, by the reason that kept them out.
    def company_reason(r: dict[str, Any]) -> str | None:
        if not identified(r["visitorId"]):
            return "anonymous"
        return None if r["accountId"] else "no_company_id"

    assert res["feat"].skipped == drops(feat_rows, company_reason)
    assert res["feat"].warnings == []  # a few anonymous / account-less visitors: normal
    eu = drops(
        feat_rows, lambda r: "auto_create_off" if identified(r["visitorId"]) else "anonymous"
    )
    assert res["feat_eu"].skipped == eu
    # No silent zeros: rows fetched, nothing written — says why and what to change.
    seen = len({r["visitorId"] for r in feat_rows})
    assert res["feat_eu"].warnings == [
        f"{res['feat_eu'].rows_fetched} rows fetched but nothing written",
        f"{eu['auto_create_off']} of {seen} visitors skipped: {AUTO_OFF_LINE}",
        *([f"{eu['anonymous']} of {seen} visitors skipped: anonymous visitors (no login id)"
           " — no setting changes this; a segment can leave them out"]
          if eu.get("anonymous") else []),
    ]  # fmt: skip
    assert len(res["feat_eu"].skipped_examples["auto_create_off"]) == 3
    assert res["vrep"].warnings[0].endswith("rows fetched but nothing written")


def test_auto_create_on_places_end_users_and_companies(sim, client, store):
    ds = sim.dataset
    feat = ds.features[0]
    pull = [
        {"name": "feat", "kind": "feature", "id": feat["id"], "object": "company"},
        {"name": "feat_eu", "kind": "feature", "id": feat["id"], "object": "end_user"},
        {"name": "agg_eu", "kind": "aggregation", "object": "end_user",
         "pipeline": agg("visitorId", "accountId"), "columns": {"ev": "agg_eu"}},
    ]  # fmt: skip
    _, _, res = run_all(sim, client, store, pull)
    companies = account_ids(ds)
    # auto-create makes an end user of every identified visitor whose company exists
    users = {v["visitorId"]: v["visitorId"] for v in ds.visitors
             if identified(v["visitorId"]) and v["accountId"] in companies}  # fmt: skip
    rows = event_rows(ds, "featureId", feat["id"])
    assert stored_metrics(store, "feat") == per_company(ds, rows, "feat", companies)
    assert stored_metrics(store, "feat_eu") == per_end_user(ds, rows, "feat_eu", users)
    assert stored_metrics(store, "agg_eu") == per_end_user(ds, activity_rows(ds), "agg_eu", users)

    def reason(r: dict[str, Any]) -> str | None:
        if not identified(r["visitorId"]):
            return "anonymous"
        return None if r["accountId"] else "no_company_id"

    assert res["feat"].skipped == drops(rows, reason) == res["feat_eu"].skipped
    assert res["feat"].warnings == res["feat_eu"].warnings == []


def test_company_missing_drops_only_that_company(sim, client, store, tmp_path):
    ds = sim.dataset
    rows = event_rows(ds, "featureId", ds.features[0]["id"])
    used = sorted({r["accountId"] for r in rows if r["accountId"]})
    missing = set(used[:2])
    kept = account_ids(ds) - missing
    csv = tmp_path / "companies.csv"
    csv.write_text("external_id,name\n" + "".join(f"{a},{a}\n" for a in sorted(kept)))
    acct_report = ds.find("reports", "Account usage - last 7 days")
    pull = [
        {"name": "feat", "kind": "feature", "id": ds.features[0]["id"], "object": "company"},
        {"name": "feat_eu", "kind": "feature", "id": ds.features[0]["id"], "object": "end_user"},
        {"name": "agg_acc", "kind": "aggregation", "pipeline": agg("accountId"),
         "columns": {"ev": "agg_acc"}},
        {"name": "rep", "kind": "report", "id": acct_report["id"], "columns": {"numEvents": "rep"}},
    ]  # fmt: skip
    companies = {"source": "csv", "path": str(csv)}
    _, _, res = run_all(sim, client, store, pull, companies=companies)
    yesterday = ds.today - timedelta(days=1)

    assert stored_metrics(store, "feat") == per_company(ds, rows, "feat", kept)
    users = {v["visitorId"]: v["visitorId"] for v in ds.visitors
             if identified(v["visitorId"]) and v["accountId"] in kept}  # fmt: skip
    assert stored_metrics(store, "feat_eu") == per_end_user(ds, rows, "feat_eu", users)
    acts = activity_rows(ds)
    assert stored_metrics(store, "agg_acc") == per_company(ds, acts, "agg_acc", kept)
    rep = per_company(ds, activity_rows(ds, 7), "rep", kept, yesterday)
    assert stored_metrics(store, "rep") == rep

    def reason(r: dict[str, Any]) -> str | None:
        if not identified(r["visitorId"]):
            return "anonymous"
        if not r["accountId"]:
            return "no_company_id"
        return None if r["accountId"] in kept else "company_not_found"

    assert res["feat"].skipped == drops(rows, reason) == res["feat_eu"].skipped
    assert res["feat"].skipped["company_not_found"] >= 2
    # Account rows: the missing accounts themselves are what is skipped.
    active = {r["accountId"] for r in acts if identified(r["visitorId"]) and r["accountId"]}
    blank = any(identified(r["visitorId"]) and not r["accountId"] for r in acts)
    expected = {"company_not_found": len(active & missing)} | ({"null_key": 1} if blank else {})
    assert res["agg_acc"].skipped == expected  # rows grouped under an empty account id
    assert set(res["agg_acc"].skipped_examples["company_not_found"]) <= missing


def test_pes_counts_only_companies_that_exist(sim, client, store, tmp_path):
    ds = sim.dataset
    missing = sorted(account_ids(ds))[:2]
    kept = account_ids(ds) - set(missing)
    csv = tmp_path / "companies.csv"
    csv.write_text("id\n" + "".join(f"{a}\n" for a in sorted(kept)))
    pull = [{"name": "pes", "kind": "pes", "metric": "PES", "app": "-323232"}]
    config = make_config(
        sim, pull, identity=OFF, companies={"source": "csv", "path": str(csv)},
        pendo={"days_to_sync": 2},
    )  # fmt: skip
    result = PullEngine(config, client, store, today=ds.today).sync(config.pull[0])
    days = [ds.today - timedelta(days=i) for i in (2, 1)]
    expected = {k: v for k, v in expected_pes(ds, -323232, days).items() if k[2] in kept}
    got = stored_metrics(store, "pes")
    assert expected and set(got) == set(expected)
    for key, value in expected.items():
        assert abs(got[key] - value) < 1e-9, key
    assert result.skipped["company_not_found"] >= 1 and count(store, schema.end_users) == 0


def test_end_user_without_company_keeps_activities_but_no_company_metric(sim, client, store):
    """Matched end users whose visitor has no company id: activities stored, company
    metric not (there is no company), and the visitor is not counted as skipped."""
    ds = sim.dataset
    page = ds.find("pages", "Dashboard")
    known = [v for v in ds.visitors if identified(v["visitorId"])]
    with store.begin() as conn:
        conn.execute(
            insert(schema.end_users),
            [{"external_id": v["visitorId"], "created_by": "test"} for v in known],
        )
    pull = [
        {"name": "page", "kind": "page", "id": page["id"], "object": "company"},
        {"name": "agg", "kind": "aggregation", "pipeline": agg("visitorId", "accountId"),
         "columns": {"ev": "agg"}},
    ]  # fmt: skip
    _, _, res = run_all(sim, client, store, pull, identity=OFF)
    rows = event_rows(ds, "pageId", page["id"])
    acts: dict = defaultdict(lambda: [0, 0])
    for r in rows:
        if identified(r["visitorId"]):
            a = acts[(r["visitorId"], str(r["appId"]), ds.day_of_ms(r["day"]))]
            a[0] += r["numEvents"]
            a[1] += r["numMinutes"]
    assert any(not visitor(ds, k[0])["accountId"] for k in acts)  # the case under test
    assert stored_activities(store, "page") == {k: tuple(v) for k, v in acts.items()}
    assert stored_metrics(store, "page") == per_company(ds, rows, "page", account_ids(ds))
    anon = drops(rows, lambda r: None if identified(r["visitorId"]) else "anonymous")
    assert res["page"].skipped == anon  # account-less visitors were placed (activities)
    # An aggregation writes no activities: there the same visitors are dropped.
    no_company = {r["visitorId"] for r in activity_rows(ds)
                  if identified(r["visitorId"]) and not r["accountId"]}  # fmt: skip
    assert res["agg"].skipped == {"no_company_id": len(no_company)}


def test_no_company_id_field_writes_nothing_and_says_which_setting(sim, client, store):
    ds = sim.dataset
    feat = ds.features[0]
    pull = [{"name": "feat", "kind": "feature", "id": feat["id"], "object": "company"}]
    ident = {"company_external_id": "agent.companyid", "auto_create_end_users": True}
    _, _, res = run_all(sim, client, store, pull, identity=ident)
    rows = event_rows(ds, "featureId", feat["id"])
    assert stored_metrics(store, "feat") == {} and count(store, schema.end_users) == 0
    seen = len({r["visitorId"] for r in rows})
    n = len({r["visitorId"] for r in rows if identified(r["visitorId"])})
    assert (
        f"{n} of {seen} visitors skipped: no company id in the visitor field 'agent.companyid' "
        "— set identity.company_external_id to the field that holds the company id"
    ) in res["feat"].warnings


def test_email_only_identity(sim, client, store):
    ds = sim.dataset
    feat = ds.features[0]
    pull = [
        {"name": "feat", "kind": "feature", "id": feat["id"], "object": "company"},
        {"name": "feat_eu", "kind": "feature", "id": feat["id"], "object": "end_user"},
    ]
    ident = {"end_user_external_id": "-", "end_user_email": "agent.email",
             "auto_create_end_users": True}  # fmt: skip
    _, _, res = run_all(sim, client, store, pull, identity=ident)
    rows = event_rows(ds, "featureId", feat["id"])
    companies = account_ids(ds)
    # End users are keyed by email: only visitors with an email and a company get one.
    users = {v["visitorId"]: v["metadata"]["agent"]["email"] for v in ds.visitors
             if identified(v["visitorId"]) and v["accountId"] in companies
             and v["metadata"]["agent"].get("email")}  # fmt: skip
    assert stored_metrics(store, "feat_eu") == per_end_user(ds, rows, "feat_eu", users)
    # Company metrics count visitors without an email (no end user) as well.
    assert stored_metrics(store, "feat") == per_company(ds, rows, "feat", companies)

    def eu_reason(r: dict[str, Any]) -> str | None:
        if not identified(r["visitorId"]):
            return "anonymous"
        if not r["accountId"]:
            return "no_company_id"
        return None if r["visitorId"] in users else "no_email"

    assert res["feat_eu"].skipped == drops(rows, eu_reason)
    assert res["feat_eu"].skipped["no_email"] >= 1
    assert "no_email" not in res["feat"].skipped
    with store.connect() as conn:
        emails = set(conn.execute(select(schema.end_users.c.email)).scalars())
    assert emails == {users[v] for v in {r["visitorId"] for r in rows} if v in users}


def test_multi_app_company_and_end_user_series(sim, client, store):
    ds = sim.dataset
    apps = [{"id": "-323232", "prefix": ""}, {"id": str(MOBILE_APP_ID), "prefix": "Mobile"}]
    pull = [
        {"name": "agg", "kind": "aggregation", "multi_app": True, "columns": {"ev": "Ev"},
         "pipeline": agg("visitorId", "accountId", "appId")},
        {"name": "agg_eu", "kind": "aggregation", "multi_app": True, "object": "end_user",
         "columns": {"ev": "EvU"}, "pipeline": agg("visitorId", "accountId", "appId"),
         "auto_create_users": True},
    ]  # fmt: skip
    run_all(sim, client, store, pull, identity=OFF, apps=apps, pendo={"days_to_sync": 5})
    prefix = {-323232: "", MOBILE_APP_ID: "Mobile - ", LEGACY_APP_ID: "Other apps - "}
    companies = account_ids(ds)
    company: dict = defaultdict(float)
    end_user: dict = defaultdict(float)
    for r in activity_rows(ds, 5):
        vid, acc, day = r["visitorId"], r["accountId"], ds.day_of_ms(r["day"])
        if identified(vid) and acc in companies:
            company[(prefix[r["appId"]] + "Ev", "company", acc, day)] += r["numEvents"]
            end_user[(prefix[r["appId"]] + "EvU", "end_user", vid, day)] += r["numEvents"]
    assert len({k[0] for k in company}) >= 2
    assert stored_metrics(store, "agg") == dict(company)  # global auto-create off
    assert stored_metrics(store, "agg_eu") == dict(end_user)  # the mapping's own toggle


def test_dry_run_says_most_visitors_would_be_skipped(sim, client, store):
    ds = sim.dataset
    feat = ds.features[0]
    pull = [
        {"name": "feat_eu", "kind": "feature", "id": feat["id"], "object": "end_user"},
        {"name": "feat", "kind": "feature", "id": feat["id"], "object": "company"},
    ]
    config = make_config(sim, pull, identity=OFF)
    eng = PullEngine(config, client, store, today=ds.today)
    total = len(ds.visitors)
    named = sum(1 for v in ds.visitors if identified(v["visitorId"]))
    plan = eng.plan(config.pull[0])
    assert f"{named} of {total} visitors would be skipped: {AUTO_OFF_LINE}" in plan["warnings"]
    assert eng.plan(config.pull[1])["warnings"] == []  # company metrics count them
    preview = eng.preview_identity()
    assert (
        f"{named} of {total} visitors would get no end user: {AUTO_OFF_LINE}"
        in (preview["warnings"])
    )
    assert count(store, schema.companies) == 0  # a preview writes nothing
