"""Every client call against the simulator over loopback, checked against its dataset."""

from __future__ import annotations

import pytest

from pendo_tui.errors import SecretError
from pendo_tui.pendo import PendoClient
from pendo_tui.pendo.pipelines import usage_pipeline
from pendo_tui.sim.server import Simulator


def test_verify_reports_write_access(sim: Simulator, make_client) -> None:
    read = make_client(sim.keys.read)
    write = make_client(sim.keys.write)
    assert read.write_access is None  # unknown until verified
    assert (read.verify().valid, read.verify().write_access) == (True, False)
    assert (write.verify().valid, write.verify().write_access) == (True, True)
    assert read.write_access is False and write.write_access is True


def test_lists_cover_all_apps(sim: Simulator, client: PendoClient) -> None:
    ds = sim.dataset
    assert {p["id"] for p in client.pages()} == {p["id"] for p in ds.pages}
    assert {f["id"] for f in client.features()} == {f["id"] for f in ds.features}
    assert {t["id"] for t in client.track_types()} == {t["id"] for t in ds.track_types}
    assert {r["id"] for r in client.reports()} == {r["id"] for r in ds.reports}
    assert {s["id"] for s in client.segments()} == {s["id"] for s in ds.segments}
    # ?expand=* was sent: pages of more than the default app came back
    assert len({p["appId"] for p in client.pages()}) > 1
    assert all(
        "expand=%2A" in r.url or "expand=*" in r.url for r in client.request_log.records()[:3]
    )


def test_apps_derived_from_pages_and_features(sim: Simulator, client: PendoClient) -> None:
    ds = sim.dataset
    expected = {str(o["appId"]) for o in [*ds.pages, *ds.features]}
    apps = client.apps()
    assert apps[0] == "-323232"
    assert set(apps) == expected and len(apps) == len(expected) >= 2


def test_metadata_schema_kinds(client: PendoClient) -> None:
    for kind in ("visitor", "account", "parentAccount"):
        schema = client.metadata_schema(kind)
        assert "agent" in schema and isinstance(schema["agent"], dict)
    with pytest.raises(ValueError, match="metadata kind"):
        client.metadata_schema("user")  # type: ignore[arg-type]


def test_visitor_and_account_with_unsafe_ids(sim: Simulator, client: PendoClient) -> None:
    visitor = sim.dataset.visitors[0]["visitorId"]
    account = sim.dataset.accounts[0]["accountId"]
    assert client.visitor(visitor)["id"] == visitor
    assert client.account(account)["id"] == account
    client.request_log.clear()
    from pendo_tui.pendo.errors import NotFoundError

    with pytest.raises(NotFoundError):
        client.visitor("a/b c?d#e")
    # the id went out percent-encoded as one path segment
    assert client.request_log.records()[-1].url.endswith("/visitor/a%2Fb%20c%3Fd%23e")


def test_aggregate_streams_grouped_rows(sim: Simulator, client: PendoClient) -> None:
    ds = sim.dataset
    page = ds.pages[0]["id"]
    starts = ds.day_starts()
    first, count = starts[-31], 30  # the 30 days before today
    rows = list(client.aggregate(usage_pipeline("page", [page], first, count)))
    expected: dict[tuple, int] = {}
    for e in ds.events:
        if e.get("pageId") == page and first <= e["day"] < starts[-1]:
            key = (e["visitorId"], e["appId"], e["day"])
            expected[key] = expected.get(key, 0) + e["numEvents"]
    got = {(r["visitorId"], r["appId"], r["day"]): r["events"] for r in rows}
    assert got == expected and len(got) > 0
    assert {r["pageId"] for r in rows} == {page}


def test_report_results_stream(sim: Simulator, client: PendoClient) -> None:
    report = sim.dataset.reports[0]
    rows = list(client.report_results(report["id"]))
    assert rows == sim.dataset.report_rows(report["id"])


def test_update_metadata_missing_and_create(sim: Simulator, client: PendoClient) -> None:
    v = sim.dataset.visitors[0]["visitorId"]
    rows = [
        {"visitorId": v, "values": {"email": "x@example.com"}},
        {"visitorId": "nobody-1", "values": {"email": "n@example.com"}},
    ]
    res = client.update_metadata("visitor", "agent", rows)
    assert (res.total, res.updated, res.failed, res.missing) == (2, 1, 1, ["nobody-1"])
    assert sim.state.metadata[("visitor", "agent", v)]["email"] == "x@example.com"
    res = client.update_metadata("visitor", "agent", rows[1:], create=True)
    assert (res.updated, res.missing) == (1, [])
    assert "create=true" in client.request_log.records()[-1].url
    assert "nobody-1" in sim.state.created["visitor"]


def test_create_metadata_fields_then_write(sim: Simulator, client: PendoClient) -> None:
    a = sim.dataset.accounts[0]["accountId"]
    res = client.update_metadata(
        "account", "custom", [{"accountId": a, "values": {"renewal_q": "gold"}}]
    )
    assert res.updated == 0 and res.errors and "renewal_q" in res.errors[0]
    client.create_metadata_fields(
        "account",
        "custom",
        [{"name": "renewal_q", "displayname": "Renewal quarter", "type": "string"}],
    )
    assert "renewal_q" in client.metadata_schema("account")["custom"]
    res = client.update_metadata(
        "account", "custom", [{"accountId": a, "values": {"renewal_q": "gold"}}]
    )
    assert res.updated == 1 and not res.errors


def test_track_uses_track_secret_and_track_host(sim: Simulator, make_client) -> None:
    c = make_client(track_url=sim.base_url + "/")
    c.track(
        {
            "event": "Registered",
            "visitorId": "v-1",
            "accountId": "acme",
            "timestamp": 1_700_000_000_000,
        }
    )
    ev = sim.state.track_events[-1]
    assert (ev["event"], ev["type"], ev["context"], ev["appId"]) == (
        "Registered",
        "track",
        {},
        -323232,
    )
    rec = c.request_log.records()[-1]
    assert rec.kind == "track" and rec.url.endswith("/data/track") and rec.status == 200
    assert rec.request_headers["x-pendo-integration-key"] == "<redacted:track-secret>"


def test_track_without_secret_is_a_secret_error(sim: Simulator) -> None:
    with (
        PendoClient(sim.base_url, sim.keys.write) as c,
        pytest.raises(SecretError, match="PENDO_TRACK_SECRET"),
    ):
        c.track({"event": "x", "visitorId": "v", "timestamp": 1})


def test_bulk_delete_and_split(sim: Simulator, client: PendoClient, monkeypatch) -> None:
    job = client.bulk_delete("visitor", ["v-1", "v-2"])
    assert job and sim.state.bulk_deletes[-1]["ids"] == ["v-1", "v-2"]
    with pytest.raises(ValueError, match="at most 500"):
        client.bulk_delete("account", [f"a{i}" for i in range(501)])
    monkeypatch.setattr("pendo_tui.pendo.client.BULK_DELETE_PAUSE", 0.0)
    jobs = client.bulk_delete_all("account", [f"a{i}" for i in range(1001)])
    assert len(jobs) == 3 and [len(j["ids"]) for j in sim.state.bulk_deletes[-3:]] == [500, 500, 1]


def test_from_config_uses_region_and_secrets(sim: Simulator) -> None:
    from pendo_tui.config.model import Config

    class Secrets:
        def integration_key(self) -> str:
            return sim.keys.read

        def get(self, name: str) -> str | None:
            return sim.keys.track if name == "track_secret" else None

    cfg = Config.model_validate({"pendo": {"domain": sim.base_url, "request_timeout": 5}})
    with PendoClient.from_config(cfg, Secrets()) as c:
        assert c.verify().valid
        assert c.base_url == sim.base_url and c.track_url == sim.base_url
    eu = Config.model_validate({"pendo": {"domain": "eu"}})
    c = PendoClient.from_config(eu, Secrets())
    assert (c.base_url, c.track_url) == ("https://app.eu.pendo.io", "https://data.eu.pendo.io")
    assert c.region_label.startswith("EU")
    c.close()


def test_stats_count_calls(client: PendoClient) -> None:
    client.verify()
    client.pages()
    assert client.stats.calls == 2 and client.stats.retries == 0


def test_aggregate_counts_response_bytes_as_they_stream(
    sim: Simulator, client: PendoClient
) -> None:
    """``bytes_read`` grows while rows stream and ends at the body's length (measured
    apart, by a plain HTTP post of the same request)."""
    import httpx

    ds = sim.dataset
    starts = ds.day_starts()
    steps = usage_pipeline("page", [p["id"] for p in ds.pages], starts[-61], 60)
    stream = client.aggregate(steps, name="bytes")
    assert stream.bytes_read == 0  # nothing sent before the first row
    seen: list[int] = []
    for _ in stream:
        seen.append(stream.bytes_read)
    envelope = {
        "response": {"mimeType": "application/json"},
        "request": {"name": "bytes", "pipeline": steps},
    }
    body = httpx.post(
        f"{sim.base_url}/api/v1/aggregation",
        json=envelope,
        headers={"x-pendo-integration-key": sim.keys.read},
        timeout=60,
    ).content
    assert len(seen) > 1_000 and 0 < seen[0] < seen[-1]  # counted while it streamed
    assert stream.bytes_read == len(body)
    assert client.request_log.records()[-1].response_body_size == len(body)
