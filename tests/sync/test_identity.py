"""Spec §2 identity rules, one test each, plus the engine applying them to a real store."""

from __future__ import annotations

from pull_expect import make_config
from sqlalchemy import insert, select

from pendo_tui.config.model import IdentitySettings
from pendo_tui.store import schema
from pendo_tui.sync.pull.engine import PullEngine
from pendo_tui.sync.pull.identity import (
    CREATED,
    MATCHED_EMAIL,
    MATCHED_ID,
    SKIP_ANONYMOUS,
    SKIP_AUTO_CREATE_OFF,
    SKIP_COMPANY_NOT_FOUND,
    SKIP_DO_NOT_PROCESS,
    SKIP_NO_COMPANY_ID,
    SKIP_NULL_KEY,
    SKIPPED,
    EndUser,
    IdentityIndex,
    field_value,
    visitor_facts,
)

EMAIL = IdentitySettings(end_user_email="agent.email", end_user_name="agent.firstname")


def index(settings=EMAIL, users=(), companies=("acme",)):
    return IdentityIndex.build(settings, list(users), companies)


def facts(settings=EMAIL, vid="v-1", account="acme", **agent):
    return visitor_facts(settings, {"visitorId": vid, "accountId": account}, {"agent": agent})


def test_field_paths_resolve_top_level_and_metadata():
    rec = {"visitorId": "v", "metadata": {"agent": {"email": "a@b"}}}
    assert field_value(rec, "visitorId") == "v"
    assert field_value(rec, "agent.email") == "a@b"
    assert field_value(rec, "metadata.agent.email") == "a@b"
    assert field_value(rec, "agent.missing") is None


def test_email_first_then_external_id():
    by_email = EndUser(1, "other-id", "ada@acme.io")
    by_id = EndUser(2, "v-1", None)
    idx = index(users=[by_email, by_id])
    d = idx.decide(facts(email="ada@acme.io"), mapping_auto_create=True)
    assert (d.outcome, d.end_user) == (MATCHED_EMAIL, by_email)
    d = idx.decide(facts(), mapping_auto_create=True)  # no email on the visitor
    assert (d.outcome, d.end_user) == (MATCHED_ID, by_id)


def test_email_used_only_with_auto_create_and_company():
    by_email = EndUser(1, "other-id", "ada@acme.io")
    idx = index(users=[by_email])
    off = idx.decide(facts(email="ada@acme.io"), mapping_auto_create=False)
    assert off.outcome == SKIPPED  # email ignored without auto-create: no id match either
    no_company = idx.decide(facts(account="", email="ada@acme.io"), mapping_auto_create=True)
    assert no_company.outcome == SKIPPED and no_company.reason == SKIP_NO_COMPANY_ID
    unknown = idx.decide(facts(account="zzz", email="ada@acme.io"), mapping_auto_create=True)
    assert unknown.reason == SKIP_COMPANY_NOT_FOUND


def test_auto_create_needs_company_id_and_existing_company():
    idx = index()
    assert idx.decide(facts(account=""), True).reason == SKIP_NO_COMPANY_ID
    assert idx.decide(facts(account="initech"), True).reason == SKIP_COMPANY_NOT_FOUND
    made = idx.decide(facts(email="new@acme.io", firstname="Ada"), True)
    assert made.outcome == CREATED and made.end_user is not None
    assert (made.end_user.external_id, made.end_user.email, made.end_user.name) == (
        "v-1",
        "new@acme.io",
        "Ada",
    )
    assert made.end_user.company_external_id == "acme" and made.end_user.id < 0
    assert idx.decide(facts(), True).outcome == MATCHED_ID  # created once, matched after


def test_auto_create_off_skips_unmatched():
    assert index().decide(facts(), mapping_auto_create=False).reason == SKIP_AUTO_CREATE_OFF


def test_global_toggle_enables_auto_create_for_every_mapping():
    settings = IdentitySettings(auto_create_end_users=True)
    d = index(settings).decide(facts(settings), mapping_auto_create=False)
    assert d.outcome == CREATED


def test_name_and_email_filled_only_when_empty():
    full = EndUser(1, "v-1", "keep@acme.io", name="Keep")
    d = index(users=[full]).decide(facts(email="other@acme.io", firstname="New"), True)
    assert d.updates == {} and (full.name, full.email) == ("Keep", "keep@acme.io")
    empty = EndUser(2, "v-1", None, name=None)
    d = index(users=[empty]).decide(facts(email="ada@acme.io", firstname="Ada"), True)
    assert d.updates == {"name": "Ada", "email": "ada@acme.io"}


def test_email_not_filled_without_auto_create():
    empty = EndUser(2, "v-1", None)
    d = index(users=[empty]).decide(facts(email="ada@acme.io", firstname="Ada"), False)
    assert d.updates == {"name": "Ada"}


def test_email_only_matching():
    settings = IdentitySettings(end_user_external_id="-", end_user_email="agent.email")
    user = EndUser(1, None, "ada@acme.io")
    idx = index(settings, users=[user])
    d = idx.decide(facts(settings, email="ADA@acme.io"), True)
    assert d.outcome == MATCHED_EMAIL and d.end_user.object_id == "ada@acme.io"
    assert idx.decide(facts(settings, vid="v-2"), True).outcome == SKIPPED  # no email


def test_anonymous_null_and_do_not_process_are_skipped():
    idx = index()
    assert idx.decide(facts(vid="_PENDO_T_abc"), True).reason == SKIP_ANONYMOUS
    assert idx.decide(facts(vid=None), True).reason == SKIP_NULL_KEY
    dnp = visitor_facts(
        EMAIL, {"visitorId": "v-9", "accountId": "acme"}, {"pendo": {"donotprocess": True}}
    )
    assert idx.decide(dnp, True).reason == SKIP_DO_NOT_PROCESS


def test_engine_fills_empty_fields_and_never_overwrites(sim, client, store):
    ds = sim.dataset
    visitors = [v for v in ds.visitors if v["accountId"] and v["metadata"]["agent"].get("email")]
    keep, fill = visitors[0], visitors[1]
    with store.begin() as conn:
        conn.execute(
            insert(schema.companies), [{"external_id": keep["accountId"], "source": "csv"}]
        )
        conn.execute(
            insert(schema.end_users),
            [
                {"external_id": keep["visitorId"], "name": "Local", "email": "local@x.io"},
                {"external_id": fill["visitorId"], "name": None, "email": None},
            ],
        )
    identity = {"end_user_email": "agent.email", "end_user_name": "agent.firstname"}
    page = ds.find("pages", "Dashboard")
    pull = [{"name": "dash", "kind": "page", "id": page["id"], "auto_create_users": True}]
    config = make_config(sim, pull, identity=identity, pendo={"days_to_sync": 90})
    PullEngine(config, client, store, today=ds.today).sync(config.pull[0])
    u = schema.end_users
    with store.connect() as conn:
        rows = {r.external_id: r for r in conn.execute(select(u))}
    assert (rows[keep["visitorId"]].name, rows[keep["visitorId"]].email) == ("Local", "local@x.io")
    agent = fill["metadata"]["agent"]
    assert rows[fill["visitorId"]].name == agent["firstname"]
    assert rows[fill["visitorId"]].email == agent["email"]
    created = [r for r in rows.values() if r.created_by == "pendo-tui:dash"]
    assert created and all(r.company_external_id for r in created)


def test_preview_counts_match_create_and_skip(sim, client, store):
    ds = sim.dataset
    config = make_config(sim, [], identity={"auto_create_end_users": False})
    preview = PullEngine(config, client, store, today=ds.today).preview_identity()
    anonymous = sum(1 for v in ds.visitors if v["anonymous"])
    assert preview["visitors"] == len(ds.visitors)
    assert preview["skipped"]["anonymous"] == anonymous
    assert preview["skipped"]["auto_create_off"] == len(ds.visitors) - anonymous
    assert preview["would_create"] == 0 and preview["examples"]["skipped:anonymous"]
    with store.connect() as conn:  # a preview writes nothing
        assert conn.execute(select(schema.end_users)).all() == []


def test_preview_before_first_sync_knows_the_source_companies(sim, client, store):
    ds = sim.dataset
    config = make_config(sim, [], identity={"auto_create_end_users": True})
    preview = PullEngine(config, client, store, today=ds.today).preview_identity()
    placeable = [v for v in ds.visitors if not v["anonymous"] and v["accountId"]]
    assert preview["would_create"] == len(placeable)
    assert preview["skipped"]["no_company_id"] == sum(
        1 for v in ds.visitors if not v["anonymous"] and not v["accountId"]
    )
    with store.connect() as conn:  # a preview writes nothing, not even companies
        assert conn.execute(select(schema.companies)).all() == []
