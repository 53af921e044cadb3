"""The real client and store speak the seams the engine is typed against."""

from __future__ import annotations

from typing import Protocol

import pytest

from pendo_tui.pendo.client import PendoClient
from pendo_tui.store.db import Store
from pendo_tui.sync.ports import PendoApi, StoreApi


def _members(protocol: type[Protocol]) -> set[str]:  # type: ignore[valid-type]
    names = set(getattr(protocol, "__protocol_attrs__", set()))
    return names or {n for n in vars(protocol) if not n.startswith("_")}


@pytest.mark.parametrize(("protocol", "cls"), [(PendoApi, PendoClient), (StoreApi, Store)])
def test_real_classes_have_every_member_of_their_seam(protocol: type, cls: type) -> None:
    members = _members(protocol)
    assert members, "the protocol lists its members"
    attributes = {"engine", "dialect", "display_url", "label", "path"}  # set in __init__
    missing = [m for m in members if m not in attributes and not hasattr(cls, m)]
    assert missing == []
