"""Property: whatever the set-up screens change, saving then loading gives the same Config,
and every comment of the example survives unless its entry was removed."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pendo_tui.config.model import AppRow, Config, PullMapping, SegmentRow
from pendo_tui.config.toml_io import ConfigDocument, load_config

from .conftest import EXAMPLE

BASE = load_config(EXAMPLE)
EXAMPLE_TEXT = EXAMPLE.read_text()
COMMENTS = [line for line in EXAMPLE_TEXT.splitlines() if line.startswith("#")]
# A minimal hand-written start: dotted keys, a split table, no [[apps]] at all.
MINIMAL_TEXT = """\
# minimal
pendo.domain = "eu"  # region
[identity]
end_user_email = "agent.email"
[[pull]]
name = "Dashboard views"
kind = "page"
id = "p1"
"""

texts = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x7f"),
    min_size=1,
    max_size=30,
)


@st.composite
def edited_configs(draw: st.DrawFn) -> tuple[Config, bool]:
    config = BASE.model_copy(deep=True)
    removed = False
    if draw(st.booleans()):
        config.pendo.days_to_sync = draw(st.integers(1, 365))
    if draw(st.booleans()):
        config.pendo.timezone = draw(st.sampled_from([None, "UTC", "Asia/Tokyo", "Europe/Paris"]))
    if draw(st.booleans()):
        config.pendo.domain = draw(st.sampled_from(["us", "eu", "http://127.0.0.1:8123"]))
    if draw(st.booleans()):
        config.identity.end_user_name = draw(st.one_of(st.none(), texts))
    if draw(st.booleans()):
        config.profile = draw(texts)
    for mapping in config.pull:
        if draw(st.booleans()):
            mapping.enabled = draw(st.booleans())
            mapping.metric = draw(st.one_of(st.none(), texts))
    if draw(st.booleans()):
        config.apps = [
            *config.apps,
            AppRow(id=str(draw(st.integers(1, 10**15))), prefix=draw(texts)),
        ]
    if draw(st.booleans()):
        config.segments = [*config.segments, SegmentRow(id="seg-new", name=draw(texts))]
    extra = draw(st.integers(0, 2))
    for i in range(extra):
        config.pull.append(PullMapping(name=f"extra {i}", kind="feature", id=draw(texts)))
    if draw(st.booleans()):
        drop = draw(st.integers(0, len(config.push) - 1))
        config.push = [s for i, s in enumerate(config.push) if i != drop]
        removed = True
    if draw(st.booleans()):
        config.alerts.urls = draw(st.lists(texts, max_size=3))
    return Config.model_validate(config.model_dump()), removed


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(edited_configs(), st.sampled_from(["example", "minimal"]))
def test_save_then_load_gives_back_the_config(case: tuple[Config, bool], start: str) -> None:
    config, removed = case
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "config.toml"
        path.write_text(EXAMPLE_TEXT if start == "example" else MINIMAL_TEXT)
        doc = ConfigDocument.load(path)
        doc.update(config)
        doc.save()
        assert load_config(path) == config
        text = path.read_text()
        if start == "example" and not removed:
            assert [line for line in text.splitlines() if line.startswith("#")] == COMMENTS
        # a second save of the same config changes nothing
        again = ConfigDocument.load(path)
        again.update(config)
        again.save()
        assert path.read_text() == text
