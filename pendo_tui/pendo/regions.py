"""Which Pendo hosts a configuration talks to, and how to name them to a user.

There is no cross-region routing in Pendo: a key sent to another region's host fails like a
bad key (403). So every auth error names the host and region tried, and ``probe_regions``
can find the region a key belongs to by asking each host's ``/token/verify``.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

from pendo_tui.config.model import REGION_LABELS, REGIONS, PendoSettings


@dataclass(frozen=True, slots=True)
class Endpoints:
    base_url: str  # /api/v1/* lives here
    track_url: str  # /data/track lives here
    label: str  # "EU (app.eu.pendo.io)" or the custom host


def label_for(base_url: str) -> str:
    """Human name of a base URL: its region label when it is a region host, else the host."""
    base = base_url.rstrip("/")
    for region, (api, _track) in REGIONS.items():
        if base == api:
            return REGION_LABELS[region]
    return urlsplit(base).netloc or base


def resolve(settings: PendoSettings) -> Endpoints:
    """API and track base URLs for ``[pendo] domain`` / ``track_url``."""
    if settings.domain in REGIONS:
        label = REGION_LABELS[settings.domain]
    else:
        label = f"custom URL {settings.base_url}"
    return Endpoints(settings.base_url, settings.track_base_url, label)


def probe_regions(
    key: str, *, timeout: float = 10.0, transport: httpx.BaseTransport | None = None
) -> list[str]:
    """Regions (keys of ``REGIONS``) whose ``/api/v1/token/verify`` accepts ``key``.

    Network failures count as "not this region"; the caller reports an empty result.
    """
    found: list[str] = []
    with httpx.Client(timeout=timeout, transport=transport) as http:
        for region, (api, _track) in REGIONS.items():
            try:
                resp = http.get(
                    f"{api}/api/v1/token/verify", headers={"x-pendo-integration-key": key}
                )
            except httpx.HTTPError:
                continue
            if resp.status_code == 200:
                found.append(region)
    return found
