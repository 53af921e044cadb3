"""Pull engine against the simulator over loopback HTTP, into SQLite and PostgreSQL.

Every expected value is computed from the simulator's raw dataset (``pull_expect``),
never through the aggregation evaluator the engine talks to.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta

from pull_expect import dump, make_config, placed, stored_activities, stored_metrics, usage
from sqlalchemy import select

from pendo_tui.sim.keys import LEGACY_APP_ID, MOBILE_APP_ID
from pendo_tui.store import schema
from pendo_tui.sync.pull.engine import PullEngine


def engine(sim, client, store, pull, **sections):
    config = make_config(sim, pull, **sections)
    return config, PullEngine(config, client, store, today=sim.dataset.today)


def test_page_mapping_matches_raw_events(sim, client, store):
    ds = sim.dataset
    page = ds.find("pages", "Dashboard")
    config, eng = engine(sim, client, store, [{"name": "dash", "kind": "page", "id": page["id"]}])
    result = eng.sync(config.pull[0])

    first, last = ds.today - timedelta(days=20), ds.today - timedelta(days=1)
    acts, metric = usage(ds, "pageId", page["id"], first, last)
    assert acts, "the dataset must have usage in the window for this test to mean anything"
    assert stored_activities(store, "dash") == acts
    expected = {("dash", "company", acc, day): float(v) for (acc, day), v in metric.items()}
    assert stored_metrics(store, "dash") == expected
    assert result.activities_written == len(acts)
    assert result.metrics_written == len(expected)  # the driver's count, on both stores
    assert result.rows_written == len(acts) + len(expected)
    assert result.skipped["anonymous"] >= 1 and result.skipped["no_company_id"] >= 1
    assert result.first_day == first.isoformat() and result.last_day == last.isoformat()


def test_feature_mapping_per_end_user(sim, client, store):
    ds = sim.dataset
    feat = ds.features[0]
    pull = [{"name": "feat", "kind": "feature", "id": feat["id"], "object": "end_user"}]
    config, eng = engine(sim, client, store, pull)
    eng.sync(config.pull[0])
    first, last = ds.today - timedelta(days=20), ds.today - timedelta(days=1)
    acts, _ = usage(ds, "featureId", feat["id"], first, last)
    per_user: dict = defaultdict(int)
    for (vid, _app, day), (events, _m) in acts.items():
        per_user[("feat", "end_user", vid, day)] += events
    assert stored_activities(store, "feat") == acts
    assert stored_metrics(store, "feat") == {k: float(v) for k, v in per_user.items()}


def test_segment_limits_visitors(sim, client, store):
    ds = sim.dataset
    seg = ds.segments[0]
    members = set(seg["visitorIds"])
    page = ds.find("pages", "Dashboard")
    pull = [{"name": "seg", "kind": "page", "id": page["id"], "segment": seg["id"]}]
    config, eng = engine(sim, client, store, pull, segments=[{"id": seg["id"], "name": "s"}])
    eng.sync(config.pull[0])
    first, last = ds.today - timedelta(days=20), ds.today - timedelta(days=1)
    acts, _ = usage(ds, "pageId", page["id"], first, last, members)
    all_acts, _ = usage(ds, "pageId", page["id"], first, last)
    assert acts and len(acts) < len(all_acts)
    assert stored_activities(store, "seg") == acts


def test_multi_app_aggregation_one_series_per_app(sim, client, store):
    ds = sim.dataset
    pipeline = [
        {
            "source": {
                "events": {"appId": 'expandAppIds("*")'},
                "timeSeries": {"period": "dayRange", "first": "now()", "count": -1},
            }
        },
        {"identified": "visitorId"},
        {"group": {"group": ["accountId", "appId"], "fields": {"ev": {"sum": "numEvents"}}}},
    ]
    pull = [
        {
            "name": "agg",
            "kind": "aggregation",
            "object": "company",
            "pipeline": pipeline,
            "columns": {"ev": "Events"},
            "multi_app": True,
        }
    ]
    apps = [{"id": "-323232", "prefix": ""}, {"id": str(MOBILE_APP_ID), "prefix": "Mobile"}]
    config, eng = engine(sim, client, store, pull, apps=apps, pendo={"days_to_sync": 5})
    result = eng.sync(config.pull[0])
    assert result.calls == 5  # one substituted one-day window per day

    prefix = {
        -323232: "Events",
        MOBILE_APP_ID: "Mobile - Events",
        LEGACY_APP_ID: "Other apps - Events",  # not in the table: the `unknown` row's prefix
    }
    expected: dict = defaultdict(float)
    first = ds.today - timedelta(days=5)
    for row in ds.activity:
        day = ds.day_of_ms(row["day"])
        if first <= day < ds.today and placed(row):
            expected[(prefix[row["appId"]], "company", row["accountId"], day)] += row["numEvents"]
    assert len({k[0] for k in expected}) >= 2  # at least two apps' series in the window
    assert stored_metrics(store, "agg") == dict(expected)


def test_account_report_recorded_for_yesterday(sim, client, store):
    ds = sim.dataset
    report = ds.find("reports", "Account usage - last 7 days")
    pull = [
        {
            "name": "rep",
            "kind": "report",
            "id": report["id"],
            "columns": {"numEvents": "Events 7d", "daysActive": "Days active 7d"},
        }
    ]
    config, eng = engine(sim, client, store, pull)
    eng.sync(config.pull[0])
    yesterday = ds.today - timedelta(days=1)
    events: dict = defaultdict(int)
    days: dict = defaultdict(set)
    for row in ds.activity:
        day = ds.day_of_ms(row["day"])
        if ds.today - timedelta(days=7) <= day < ds.today and placed(row):
            events[row["accountId"]] += row["numEvents"]
            days[row["accountId"]].add(day)
    expected = {("Events 7d", "company", a, yesterday): float(v) for a, v in events.items()}
    expected |= {
        ("Days active 7d", "company", a, yesterday): float(len(d)) for a, d in days.items()
    }
    assert stored_metrics(store, "rep") == expected


def test_rerun_is_idempotent_and_cursor_advances(sim, client, store):
    ds = sim.dataset
    page = ds.find("pages", "Dashboard")
    config, eng = engine(sim, client, store, [{"name": "dash", "kind": "page", "id": page["id"]}])
    eng.sync(config.pull[0])
    before = dump(store)
    again = eng.sync(config.pull[0])
    assert again.calls == 0 and again.days == 0  # nothing new since the cursor
    resync = eng.sync(config.pull[0], resync=True)
    assert resync.calls == 1
    assert dump(store) == before
    assert before["pull_state"][0][1] == ds.today - timedelta(days=1)


def test_resync_drops_data_older_than_window(sim, client, store):
    ds = sim.dataset
    page = ds.find("pages", "Dashboard")
    pull = [{"name": "dash", "kind": "page", "id": page["id"]}]
    config, eng = engine(sim, client, store, pull)
    eng.sync(config.pull[0])
    config, eng = engine(sim, client, store, pull, pendo={"days_to_sync": 3})
    assert eng.check_fingerprints(config.pull) == ["dash"]
    eng.resync_all(config.pull)
    days = {k[2] for k in stored_activities(store, "dash")}
    assert min(days) == ds.today - timedelta(days=3)
    assert eng.check_fingerprints(config.pull) == []


def test_passive_mapping_does_not_move_last_seen(sim, client, store):
    page = sim.dataset.find("pages", "Dashboard")
    pull = [{"name": "quiet", "kind": "page", "id": page["id"], "passive": True}]
    config, eng = engine(sim, client, store, pull)
    eng.sync(config.pull[0])
    state = dump(store)
    assert state["activities"] and all(r[-1] for r in state["activities"])  # passive flag
    assert all(r[-2] is None and r[-1] is None for r in state["end_users"])
    assert all(r[-2] is None for r in state["companies"])


def test_visitors_sharing_an_end_user_are_summed(sim, client, store):
    """end_user_external_id = accountId: every visitor of an account is one end user, so
    several staged rows share an activity key and must be added up, not overwritten."""
    ds = sim.dataset
    page = ds.find("pages", "Dashboard")
    pull = [{"name": "dash", "kind": "page", "id": page["id"], "object": "end_user"}]
    config, eng = engine(sim, client, store, pull, identity={"end_user_external_id": "accountId"})
    eng.sync(config.pull[0])
    first, last = ds.today - timedelta(days=20), ds.today - timedelta(days=1)
    acts, metric = usage(ds, "pageId", page["id"], first, last)
    per_account: dict = defaultdict(lambda: [0, 0])
    for (vid, app, day), (events, minutes) in acts.items():
        account = next(v["accountId"] for v in ds.visitors if v["visitorId"] == vid)
        per_account[(account, app, day)][0] += events
        per_account[(account, app, day)][1] += minutes
    assert len(per_account) < len(acts)  # some keys really were shared
    assert stored_activities(store, "dash") == {k: tuple(v) for k, v in per_account.items()}
    expected = {("dash", "end_user", acc, day): float(v) for (acc, day), v in metric.items()}
    assert stored_metrics(store, "dash") == expected


def test_plan_writes_nothing_and_counts_calls(sim, client, store):
    page = sim.dataset.find("pages", "Dashboard")
    pull = [{"name": "dash", "kind": "page", "id": page["id"]}]
    config, eng = engine(sim, client, store, pull, pendo={"days_to_sync": 75})
    before = dump(store)
    plan = eng.plan(config.pull[0])
    assert (plan["days"], plan["calls"]) == (75, 3)  # 30 + 30 + 15 days
    assert dump(store) == before
    eng.sync(config.pull[0])
    assert eng.plan(config.pull[0])["calls"] == 0


def test_multi_app_empty_prefixes_stay_separate_series(sim, client, store):
    pipeline = [
        {
            "source": {
                "events": {"appId": 'expandAppIds("*")'},
                "timeSeries": {"period": "dayRange", "first": "now()", "count": -1},
            }
        },
        {"group": {"group": ["accountId", "appId"], "fields": {"ev": {"sum": "numEvents"}}}},
    ]
    pull = [
        {
            "name": "agg",
            "kind": "aggregation",
            "pipeline": pipeline,
            "columns": {"ev": "Events"},
            "multi_app": True,
        }
    ]
    apps = [{"id": "-323232", "prefix": ""}, {"id": str(MOBILE_APP_ID), "prefix": ""}]
    config, eng = engine(sim, client, store, pull, apps=apps, pendo={"days_to_sync": 3})
    eng.sync(config.pull[0])
    m = schema.metrics
    with store.connect() as conn:
        rows = conn.execute(select(m.c.metric, m.c.app_id).distinct()).all()
    assert {r[0] for r in rows} == {"Events"}  # no prefix...
    assert {"-323232", str(MOBILE_APP_ID)} <= {r[1] for r in rows}  # ...but own series


def test_visitor_report_lands_on_end_users(sim, client, store):
    ds = sim.dataset
    report = ds.find("reports", "Visitor activity - last 30 days")
    pull = [{"name": "vr", "kind": "report", "id": report["id"], "columns": {"numEvents": "Ev"}}]
    config, eng = engine(sim, client, store, pull)
    eng.sync(config.pull[0])
    yesterday = ds.today - timedelta(days=1)
    expected: dict = defaultdict(float)
    for row in ds.activity:
        if ds.today - timedelta(days=30) <= ds.day_of_ms(row["day"]) < ds.today and placed(row):
            expected[("Ev", "end_user", row["visitorId"], yesterday)] += row["numEvents"]
    assert stored_metrics(store, "vr") == dict(expected)


def test_asset_object_from_a_visitor_metadata_field(sim, client, store):
    ds = sim.dataset
    page = ds.find("pages", "Dashboard")
    pull = [{"name": "assets", "kind": "page", "id": page["id"], "object": "asset"}]
    config, eng = engine(sim, client, store, pull, identity={"asset_id": "agent.firstname"})
    eng.sync(config.pull[0])
    first, last = ds.today - timedelta(days=20), ds.today - timedelta(days=1)
    name = {v["visitorId"]: v["metadata"]["agent"].get("firstname") for v in ds.visitors}
    expected: dict = defaultdict(float)
    # The asset id field alone decides: identified visitors without a company (so without
    # an end user) still count on their asset.
    for row in ds.events:
        day = ds.day_of_ms(row["day"])
        vid = row["visitorId"]
        in_window = row.get("pageId") == page["id"] and first <= day <= last
        if in_window and name.get(vid) and not vid.startswith("_PENDO_T_"):
            expected[("assets", "asset", name[vid], day)] += row["numEvents"]
    assert any(not v["accountId"] and name.get(v["visitorId"]) for v in ds.visitors)
    assert stored_metrics(store, "assets") == dict(expected)


def test_active_mapping_moves_last_seen_forward_only(sim, client, store):
    ds = sim.dataset
    page = ds.find("pages", "Dashboard")
    pull = [{"name": "dash", "kind": "page", "id": page["id"]}]
    config, eng = engine(sim, client, store, pull)
    eng.sync(config.pull[0])
    u = schema.end_users
    with store.connect() as conn:
        seen = dict(conn.execute(select(u.c.external_id, u.c.last_seen)).all())
    last_day: dict = {}
    for vid, _app, day in stored_activities(store, "dash"):
        last_day[vid] = max(day, last_day.get(vid, day))
    assert {k: v.date() for k, v in seen.items()} == last_day
    # A later sync over older days (a re-sync of a shorter window) never moves it back.
    config, eng = engine(sim, client, store, pull, pendo={"days_to_sync": 2})
    eng.resync_all(config.pull)
    with store.connect() as conn:
        assert dict(conn.execute(select(u.c.external_id, u.c.last_seen)).all()) == seen


def test_without_timezone_days_still_match_and_last_two_are_reread(sim, client, store):
    ds = sim.dataset
    page = ds.find("pages", "Dashboard")
    pull = [{"name": "dash", "kind": "page", "id": page["id"]}]
    config, eng = engine(sim, client, store, pull, pendo={"timezone": None})
    eng.sync(config.pull[0])  # the window crosses the March DST change in New York
    first, last = ds.today - timedelta(days=20), ds.today - timedelta(days=1)
    acts, _ = usage(ds, "pageId", page["id"], first, last)
    assert stored_activities(store, "dash") == acts
    again = eng.sync(config.pull[0])
    assert (again.first_day, again.days) == ((ds.today - timedelta(days=2)).isoformat(), 2)
    assert stored_activities(store, "dash") == acts


def test_sqlite_with_a_low_parameter_limit_stages_everything(sim, client, tmp_path):
    """SQLite before 3.32 takes at most 999 parameters a statement (and a build may take
    fewer): the staging inserts fit under whatever limit the linked SQLite has, and store
    the same rows. 200 here: 20 staged rows a statement, several statements."""
    import sqlite3

    from sqlalchemy import event

    from pendo_tui.store.db import open_store

    page = sim.dataset.find("pages", "Dashboard")
    pull = [{"name": "dash", "kind": "page", "id": page["id"], "object": "end_user"}]
    stores = {}
    for label, limit in (("default", None), ("low", 200)):
        store = open_store(f"sqlite:///{tmp_path / label / 'pendo.db'}")
        if limit is not None:
            event.listen(
                store.engine,
                "connect",
                lambda dbapi, _rec, n=limit: dbapi.setlimit(
                    sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, n
                ),
            )
            store.engine.dispose()  # connections made before the listener go
        config, eng = engine(sim, client, store, pull)
        result = eng.sync(config.pull[0])
        assert result.activities_written > 40, "enough rows for several statements"
        stores[label] = (stored_activities(store, "dash"), stored_metrics(store, "dash"))
        store.close()
    assert stores["low"] == stores["default"]
