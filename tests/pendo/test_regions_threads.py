"""Region probing and resolution, and the client used from many threads at once."""

from __future__ import annotations

import threading

import httpx

from pendo_tui.config.model import Config
from pendo_tui.pendo import PendoClient
from pendo_tui.pendo.regions import label_for, probe_regions, resolve
from pendo_tui.sim.server import Simulator


class _EuIsTheSimulator(httpx.BaseTransport):
    """Real HTTP: requests for the EU host go to the simulator on loopback; any other
    region host is unreachable, as it would be for a key of another region's network."""

    def __init__(self, sim_url: str) -> None:
        self._inner = httpx.HTTPTransport()
        self._sim = httpx.URL(sim_url)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.host != "app.eu.pendo.io":
            raise httpx.ConnectError("unreachable in this test", request=request)
        request.url = request.url.copy_with(
            scheme=self._sim.scheme, host=self._sim.host, port=self._sim.port
        )
        request.headers["host"] = f"{self._sim.host}:{self._sim.port}"
        return self._inner.handle_request(request)

    def close(self) -> None:
        self._inner.close()


def test_probe_regions_finds_the_keys_region(sim: Simulator) -> None:
    transport = _EuIsTheSimulator(sim.base_url)
    assert probe_regions(sim.keys.read, transport=transport) == ["eu"]
    assert probe_regions("not-a-key", transport=_EuIsTheSimulator(sim.base_url)) == []


def test_resolve_and_labels() -> None:
    eu = resolve(Config.model_validate({"pendo": {"domain": "eu"}}).pendo)
    assert (eu.base_url, eu.track_url) == ("https://app.eu.pendo.io", "https://data.eu.pendo.io")
    assert eu.label == "EU (app.eu.pendo.io)"
    custom = resolve(
        Config.model_validate(
            {
                "pendo": {
                    "domain": "https://adopt.example.com",
                    "track_url": "https://t.example.com/",
                }
            }
        ).pendo
    )
    assert (custom.base_url, custom.track_url) == (
        "https://adopt.example.com",
        "https://t.example.com",
    )
    assert "adopt.example.com" in custom.label
    assert label_for("https://app.jpn.pendo.io/") == "Japan (app.jpn.pendo.io)"
    assert label_for("http://127.0.0.1:9") == "127.0.0.1:9"


def test_one_client_many_threads(sim: Simulator, client: PendoClient) -> None:
    errors: list[BaseException] = []

    def work(t: int) -> None:
        try:
            for i in range(10):
                client.track({"event": "thread", "visitorId": f"v-{t}-{i}", "timestamp": 1})
                assert client.verify().valid
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=60)
    assert not errors
    assert sorted(e["visitorId"] for e in sim.state.track_events) == sorted(
        f"v-{t}-{i}" for t in range(8) for i in range(10)
    )
    seqs = [r.seq for r in client.request_log.records()]
    assert len(seqs) == 160 == len(set(seqs)) and client.stats.calls == 160
    assert client.has_track_secret
