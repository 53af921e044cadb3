"""Saving keeps what the user wrote: comments, key order, untouched entries, defaults."""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

import pytest
from pydantic import BaseModel

from pendo_tui.config.model import (
    AppRow,
    Config,
    ModelSource,
    PullMapping,
    PushSync,
    SegmentRow,
)
from pendo_tui.config.toml_io import ConfigDocument, default_config_path, load_config
from pendo_tui.errors import ConfigError

from .conftest import EXAMPLE


@pytest.fixture
def example_copy(tmp_path: Path) -> Path:
    path = tmp_path / "config.toml"
    path.write_bytes(EXAMPLE.read_bytes())
    return path


def _models(model: type[BaseModel]) -> list[type[BaseModel]]:
    found = [model]
    for field in model.model_fields.values():
        for candidate in (
            AppRow,
            SegmentRow,
            PullMapping,
            PushSync,
            ModelSource,
        ):
            if candidate not in found and candidate.__name__ in str(field.annotation):
                found.extend(m for m in _models(candidate) if m not in found)
        sub = field.annotation
        if isinstance(sub, type) and issubclass(sub, BaseModel) and sub not in found:
            found.extend(m for m in _models(sub) if m not in found)
    return found


def test_example_loads_cleanly() -> None:
    config = load_config(EXAMPLE)
    assert {m.kind for m in config.pull} == {"page", "feature", "report", "aggregation", "pes"}
    assert {s.kind for s in config.push} == {"events", "visitor"}
    assert config.pull[3].pipeline_steps()
    # copyable as it is: no live alert targets, no threshold every real run would cross
    assert config.alerts.urls == [] and config.alerts.rejected_threshold is None
    assert config.apps[0].id == "-323232" and config.apps[-1].id == "unknown"


def test_example_documents_every_key() -> None:
    text = EXAMPLE.read_text()
    keys = {name for model in _models(Config) for name in model.model_fields}
    assert len(keys) > 50
    undocumented = sorted(
        k
        for k in keys
        if not re.search(rf"^(# )?{k} = |[{{,] {k} = |^\[\[?{k}\]", text, re.MULTILINE)
    )
    assert undocumented == []
    # every key that is set is preceded by a comment somewhere in its section
    assert text.count("\n#") > 60


def test_changing_one_value_changes_only_that_value(example_copy: Path) -> None:
    original = example_copy.read_text()
    doc = ConfigDocument.load(example_copy)
    config = doc.config.model_copy(deep=True)
    config.pendo.days_to_sync = 30
    doc.update(config)
    doc.save()
    assert example_copy.read_text() == original.replace("days_to_sync = 90", "days_to_sync = 30")
    assert load_config(example_copy).pendo.days_to_sync == 30


def test_changing_a_value_inside_an_array_entry(example_copy: Path) -> None:
    original = example_copy.read_text()
    doc = ConfigDocument.load(example_copy)
    config = doc.config.model_copy(deep=True)
    config.pull[1].passive = False  # "Export clicks"
    config.push[1].fields = {"plan": "plan_name", "seats": "seat_count", "tier": "tier"}
    doc.update(config)
    doc.save()
    expected = original.replace(
        'object = "end_user"\npassive = true', 'object = "end_user"\npassive = false'
    ).replace(
        'fields = { plan = "plan_name", seats = "seat_count" }',
        'fields = { plan = "plan_name", seats = "seat_count", tier = "tier"}',
    )
    assert example_copy.read_text() == expected
    assert load_config(example_copy) == config


def test_a_trailing_comment_survives_a_change(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[pendo]\ndomain = "eu"   # we are in Frankfurt\n')
    doc = ConfigDocument.load(path)
    config = doc.config.model_copy(deep=True)
    config.pendo.domain = "us"
    doc.update(config)
    doc.save()
    assert path.read_text() == '[pendo]\ndomain = "us"   # we are in Frankfurt\n'


def _pull(name: str) -> PullMapping:
    return PullMapping(name=name, kind="feature", id="f-123", object="end_user", passive=True)


def test_adding_then_removing_a_pull_entry_restores_the_file(example_copy: Path) -> None:
    original = example_copy.read_text()
    doc = ConfigDocument.load(example_copy)
    config = doc.config.model_copy(deep=True)
    config.pull.append(_pull("Settings clicks"))
    doc.update(config)
    doc.save()
    added = example_copy.read_text()
    assert load_config(example_copy) == config
    block = (
        '[[pull]]\nname = "Settings clicks"\nkind = "feature"\nid = "f-123"\n'
        'object = "end_user"\npassive = true\n'
    )
    assert block in added
    # the new entry sits after the last [[pull]], before the comment introducing [[push]]
    assert added.index(block) < added.index("# Push syncs:")
    assert added.replace(block + "\n", "") == original

    reloaded = ConfigDocument.load(example_copy)
    smaller = reloaded.config.model_copy(deep=True)
    smaller.pull = [m for m in smaller.pull if m.name != "Settings clicks"]
    reloaded.update(smaller)
    reloaded.save()
    assert example_copy.read_text() == original


def test_removing_every_pull_entry_keeps_the_comments_about_push(example_copy: Path) -> None:
    doc = ConfigDocument.load(example_copy)
    config = doc.config.model_copy(deep=True)
    config.pull = []
    doc.update(config)
    doc.save()
    text = example_copy.read_text()
    assert "[[pull]]" not in text
    assert text.index('name = "Paying customers"') < text.index("# Push syncs:")
    assert text.index("# Push syncs:") < text.index("[[push]]")
    assert load_config(example_copy) == config


def test_removing_a_middle_entry_keeps_the_others_and_their_comments(example_copy: Path) -> None:
    doc = ConfigDocument.load(example_copy)
    config = doc.config.model_copy(deep=True)
    config.pull = [m for m in config.pull if m.name != "Export clicks"]
    doc.update(config)
    doc.save()
    text = example_copy.read_text()
    assert "Export clicks" not in text
    assert "# Passive activities don't move last-seen / last-active dates." in text
    assert "# The pipeline as JSON" in text
    assert load_config(example_copy) == config


def test_renaming_an_entry_keeps_its_comments(example_copy: Path) -> None:
    original = example_copy.read_text()
    doc = ConfigDocument.load(example_copy)
    config = doc.config.model_copy(deep=True)
    config.pull[0].name = "Dashboard page views"
    doc.update(config)
    doc.save()
    expected = original.replace('name = "Dashboard views"', 'name = "Dashboard page views"')
    assert example_copy.read_text() == expected


def test_reordering_entries_keeps_each_entry_intact(example_copy: Path) -> None:
    doc = ConfigDocument.load(example_copy)
    config = doc.config.model_copy(deep=True)
    config.pull = list(reversed(config.pull))
    doc.update(config)
    doc.save()
    assert [m.name for m in load_config(example_copy).pull] == [m.name for m in config.pull]
    text = example_copy.read_text()
    assert "# PES covers one app (no multi-app)" in text
    # the comment introducing [[push]] still comes after the last [[pull]] entry
    assert text.index('name = "Dashboard views"') < text.index("# Push syncs:")
    assert text.index("# Push syncs:") < text.index("[[push]]")


def test_new_push_and_segment_entries_are_written_without_defaults(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('# hand written\n[pendo]\ndomain = "eu"\n')
    doc = ConfigDocument.load(path)
    config = doc.config.model_copy(deep=True)
    config.segments.append(SegmentRow(id="seg1", name="Trials"))
    config.push.append(
        PushSync(
            name="Accounts",
            kind="account",
            model=ModelSource(url="sqlite:///w.db", query="select id, arr\nfrom accounts"),
            primary_key="id",
            match="id",
            fields={"arr": "arr"},
        )
    )
    doc.update(config)
    doc.save()
    text = path.read_text()
    assert text.startswith('# hand written\n[pendo]\ndomain = "eu"\n')
    assert "batch_size" not in text and "split_retries" not in text  # defaults left implicit
    assert "select id, arr\nfrom accounts" in text  # multi-line SQL stays readable
    assert load_config(path) == config


def test_default_app_rows_are_restored_and_not_forced_into_the_file(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[[apps]]\nid = "42"\nprefix = "Mobile"\n')
    doc = ConfigDocument.load(path)
    assert [a.id for a in doc.config.apps] == ["-323232", "42", "unknown"]
    doc.update(doc.config.model_copy(deep=True))
    doc.save()
    assert path.read_text() == '[[apps]]\nid = "42"\nprefix = "Mobile"\n'

    config = doc.config.model_copy(deep=True)
    config.apps[0].prefix = "Web"  # an edited default row is written, in its place
    doc.update(config)
    doc.save()
    text = path.read_text()
    assert text.index('id = "-323232"') < text.index('id = "42"')
    assert 'prefix = "Web"' in text and '"unknown"' not in text
    assert load_config(path) == config


def test_an_app_added_after_the_unknown_row_keeps_its_place(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[pendo]\ndomain = "eu"\n')
    doc = ConfigDocument.load(path)
    config = doc.config.model_copy(deep=True)
    config.apps = [*config.apps, AppRow(id="77", prefix="Beta")]  # after "unknown"
    doc.update(config)
    doc.save()
    assert [a.id for a in load_config(path).apps] == ["-323232", "unknown", "77"]
    assert '"-323232"' not in path.read_text()  # the first row still needs no line


def test_removing_default_app_rows_brings_them_back(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    doc = ConfigDocument.new(Config())
    config = Config()
    config.apps = [AppRow(id="42", prefix="Mobile")]  # validated: the defaults come back
    assert [a.id for a in config.apps] == ["-323232", "42", "unknown"]
    doc.update(config)
    doc.save(path)
    assert [a.id for a in load_config(path).apps] == ["-323232", "42", "unknown"]


def test_new_document_holds_only_non_default_settings(tmp_path: Path) -> None:
    config = load_config(EXAMPLE)
    path = tmp_path / "sub" / "fresh.toml"
    ConfigDocument.new(config).save(path)
    text = path.read_text()
    assert text.startswith("# pendo-tui configuration.")
    assert "request_timeout" not in text and "max_retries" not in text
    assert load_config(path) == config


def test_saved_file_is_private(example_copy: Path) -> None:
    os.chmod(example_copy, 0o644)
    doc = ConfigDocument.load(example_copy)
    doc.save()
    assert stat.S_IMODE(example_copy.stat().st_mode) == 0o600
    fresh = example_copy.parent / "new.toml"
    ConfigDocument.new(Config()).save(fresh)
    assert stat.S_IMODE(fresh.stat().st_mode) == 0o600


def test_failed_validation_leaves_the_file_byte_identical(example_copy: Path) -> None:
    before = example_copy.read_bytes()
    doc = ConfigDocument.load(example_copy)
    config = doc.config.model_copy(deep=True)
    config.pull.append(config.pull[0].model_copy())  # list append skips validation
    doc.update(config)
    with pytest.raises(ConfigError) as err:
        doc.save()
    assert "pull[5].name" in err.value.message and "duplicates pull[0]" in err.value.message
    assert example_copy.read_bytes() == before
    assert sorted(p.name for p in example_copy.parent.iterdir()) == ["config.toml"]


def test_duplicate_app_ids_are_reported_by_save_not_update(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[pendo]\ndomain = "eu"\n')
    doc = ConfigDocument.load(path)
    config = doc.config.model_copy(deep=True)
    config.apps.append(AppRow(id="unknown", prefix="again"))  # skips validation
    doc.update(config)
    with pytest.raises(ConfigError, match="app id 'unknown' is listed twice"):
        doc.save()
    assert path.read_text() == '[pendo]\ndomain = "eu"\n'


def test_unwritable_location_is_a_config_error(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    with pytest.raises(ConfigError, match="Cannot write config file") as err:
        ConfigDocument.new(Config()).save(blocker / "c.toml")
    assert "--config" in (err.value.hint or "")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["not-a-folder"]


def test_save_through_a_symlink_keeps_the_link(example_copy: Path) -> None:
    link = example_copy.parent / "link.toml"
    link.symlink_to(example_copy)
    doc = ConfigDocument.load(link)
    doc.save()
    assert link.is_symlink()


def test_default_path_follows_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PENDO_TUI_CONFIG", str(tmp_path / "x.toml"))
    assert default_config_path() == tmp_path / "x.toml"
    monkeypatch.delenv("PENDO_TUI_CONFIG")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    assert default_config_path() == tmp_path / "xdg" / "pendo-tui" / "config.toml"


def test_the_model_has_no_secret_fields() -> None:
    names = {name for model in _models(Config) for name in model.model_fields}
    assert not {n for n in names if "secret" in n or "password" in n or n.endswith("_key")} - {
        "primary_key"
    }


def test_example_store_is_one_absolute_path_for_cron_and_the_app() -> None:
    """A relative SQLite URL would give cron and the TUI two different stores."""
    from pendo_tui.store.urls import default_store_path, parse_store_url

    config = load_config(EXAMPLE)
    parsed = parse_store_url(config.store.url)
    assert config.store.url is None  # the default: the user data folder
    assert parsed.sqlite_path == default_store_path()
    assert parsed.sqlite_path is not None and parsed.sqlite_path.is_absolute()
    # the URLs the comments offer are absolute too
    for line in EXAMPLE.read_text().splitlines():
        if line.startswith('# url = "sqlite:'):
            url = line.split("=", 1)[1].strip().strip('"')
            path = parse_store_url(url).sqlite_path
            assert path is not None and path.is_absolute(), line
