"""Every bad config input gives a clear ConfigError and writes nothing.

Each case is checked twice: ``load_config`` on a file holding the bad text (message
content), and ``ConfigDocument.save`` of the same text over a good file (refused; the
good file and its folder stay byte-identical, no temp file is left behind).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import tomlkit

from pendo_tui.config.model import Config
from pendo_tui.config.toml_io import ConfigDocument, load_config
from pendo_tui.errors import ConfigError, ExitCode

GOOD = '# my settings\nprofile = "work"\n\n[pendo]\ndomain = "eu"  # region\n'

PULL_PAGE = '[[pull]]\nname = "Views"\nkind = "page"\nid = "p1"\n'


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def _rejected(tmp_path: Path, bad_text: str) -> ConfigError:
    """Load ``bad_text`` and try to save it over a good file; both must refuse."""
    good = tmp_path / "config.toml"
    good.write_text(GOOD)
    bad = tmp_path / "bad.toml"
    bad.write_text(bad_text)
    before = _snapshot(tmp_path)
    with pytest.raises(ConfigError) as loaded:
        load_config(bad)
    try:
        document = tomlkit.parse(bad_text)
    except tomlkit.exceptions.TOMLKitError:
        document = None
    if document is not None:
        with pytest.raises(ConfigError) as saved:
            ConfigDocument(document, Config(), good).save()
        assert str(saved.value) == str(loaded.value).replace(str(bad), str(good))
    assert _snapshot(tmp_path) == before
    assert loaded.value.exit_code == ExitCode.USAGE
    return loaded.value


def test_missing_file_says_how_to_create_one(tmp_path: Path) -> None:
    path = tmp_path / "nowhere" / "config.toml"
    with pytest.raises(ConfigError) as err:
        load_config(path)
    text = str(err.value)
    assert f"No config file at {path}" in text
    assert "`pendo-tui`" in text and "config.example.toml" in text
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(ConfigError):
        ConfigDocument.load(path)
    assert list(tmp_path.iterdir()) == []


def test_toml_syntax_error_names_line_and_column(tmp_path: Path) -> None:
    err = _rejected(tmp_path, "[pendo]\ndays_to_sync = 30\ndomain = eu\n")
    assert "bad.toml" in err.message
    assert "line 3, column 10" in err.message
    assert "domain = eu" in err.message  # the offending line is shown
    assert "quotes" in (err.hint or "")


def test_unclosed_array_at_end_of_document_still_gets_a_line(tmp_path: Path) -> None:
    err = _rejected(tmp_path, '[alerts]\nurls = ["slack://a",\n')
    assert "line 2" in err.message and "column" in err.message


@pytest.mark.parametrize(
    ("text", "path", "shown", "allowed"),
    [
        ('[pendo]\ndays_to_sync = "90"\n', "pendo.days_to_sync", '"90"', "whole number"),
        ("profile = 7\n", "profile", "7", "text value in quotes"),
        (PULL_PAGE + 'multi_app = "yes"\n', "pull[0].multi_app", '"yes"', "true or false"),
        ('[alerts]\nurls = "slack://x"\n', "alerts.urls", '"slack://x"', "must be a list"),
        ('pendo = "us"\n', "pendo", None, "must be a table"),
        (PULL_PAGE + "pipeline = 5\n", "pull[0].pipeline", "5", "JSON array"),
    ],
)
def test_wrong_types(tmp_path: Path, text: str, path: str, shown: str | None, allowed: str) -> None:
    err = _rejected(tmp_path, text)
    line = f"{path} = {shown}: " if shown else f"{path}"
    assert line in err.message
    assert allowed in err.message
    assert path in err.field_errors  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("text", "path", "suggestion"),
    [
        ("[pendo]\ndays_to_snyc = 30\n", "pendo.days_to_snyc", "days_to_sync"),
        ('profle = "x"\n', "profle", "profile"),
        (PULL_PAGE + 'segmnet = "s"\n', "pull[0].segmnet", "segment"),
        ("[alert]\nurls = []\n", "alert", "alerts"),
    ],
)
def test_unknown_keys_suggest_the_close_name(
    tmp_path: Path, text: str, path: str, suggestion: str
) -> None:
    err = _rejected(tmp_path, text)
    assert f"{path}" in err.message
    assert "unknown key" in err.message
    assert f"did you mean {suggestion!r}?" in err.message
    assert f"did you mean {suggestion!r}?" in (err.hint or "")


def test_unknown_key_without_close_match_lists_the_allowed_ones(tmp_path: Path) -> None:
    err = _rejected(tmp_path, "[store]\nflavour = 1\n")
    assert "store.flavour = 1: unknown key (allowed here: url)" in err.message


def test_a_pasted_secret_is_refused_and_not_echoed(tmp_path: Path) -> None:
    err = _rejected(tmp_path, '[pendo]\nintegration_key = "c0ffee-very-secret"\n')
    assert "c0ffee-very-secret" not in str(err)
    assert "c0ffee-very-secret" not in repr(err.field_errors)  # type: ignore[attr-defined]
    assert "pendo.integration_key" in err.message
    assert "PENDO_INTEGRATION_KEY" in err.message and "keyring" in err.message


@pytest.mark.parametrize("days", [0, 366])
def test_days_to_sync_out_of_range(tmp_path: Path, days: int) -> None:
    err = _rejected(tmp_path, f"[pendo]\ndays_to_sync = {days}\n")
    assert f"pendo.days_to_sync = {days}: must be between 1 and 365" in err.message
    assert err.field_errors == {  # type: ignore[attr-defined]
        "pendo.days_to_sync": "must be between 1 and 365"
    }


@pytest.mark.parametrize("calls", [0, 17])
def test_max_concurrent_calls_out_of_range(tmp_path: Path, calls: int) -> None:
    err = _rejected(tmp_path, f"[pendo]\nmax_concurrent_calls = {calls}\n")
    assert f"pendo.max_concurrent_calls = {calls}: {calls} is out of range" in err.message
    assert "from 1 to 16" in err.message and "in flight at once" in err.message


def test_max_concurrent_calls_default_and_bounds() -> None:
    assert Config().pendo.max_concurrent_calls == 4
    assert Config.model_validate({"pendo": {"max_concurrent_calls": 16}})
    assert Config.model_validate({"pendo": {"max_concurrent_calls": 1}})


def test_duplicate_mapping_names(tmp_path: Path) -> None:
    err = _rejected(tmp_path, PULL_PAGE + "\n" + PULL_PAGE.replace('"p1"', '"p2"'))
    assert "pull[1].name" in err.message
    assert "'Views' duplicates pull[0]" in err.message
    assert "pull[1].name" in err.field_errors  # type: ignore[attr-defined]


def test_duplicate_push_names(tmp_path: Path) -> None:
    push = (
        '[[push]]\nname = "Plans"\nkind = "visitor"\nmodel = { csv = "a.csv" }\n'
        'primary_key = "id"\nmatch = "id"\nfields = { plan = "plan" }\n'
    )
    err = _rejected(tmp_path, push + "\n" + push)
    assert "push[1].name" in err.message and "duplicates push[0]" in err.message


def test_push_name_clashing_with_a_pull_name(tmp_path: Path) -> None:
    push = (
        '[[push]]\nname = "Views"\nkind = "visitor"\nmodel = { csv = "a.csv" }\n'
        'primary_key = "id"\nmatch = "id"\nfields = { plan = "plan" }\n'
    )
    err = _rejected(tmp_path, PULL_PAGE + "\n" + push)
    assert "push[0].name: 'Views' is also the name of pull[0]" in err.message
    assert "push[0].name" in err.field_errors  # type: ignore[attr-defined]


@pytest.mark.parametrize("domain", ["moon", "app.pendo.io", "ftp://app.pendo.io"])
def test_domain_neither_region_nor_url(tmp_path: Path, domain: str) -> None:
    err = _rejected(tmp_path, f'[pendo]\ndomain = "{domain}"\n')
    assert f'pendo.domain = "{domain}"' in err.message
    assert "must be one of us, us1, eu, jp, au or a base URL" in err.message


def test_plain_http_to_a_remote_host_is_refused(tmp_path: Path) -> None:
    err = _rejected(tmp_path, '[pendo]\ndomain = "http://pendo.example.com"\n')
    assert 'pendo.domain = "http://pendo.example.com"' in err.message
    assert "only allowed for loopback" in err.message and "https://" in err.message


@pytest.mark.parametrize("url", ["http://127.0.0.1:8080", "http://localhost:9000/", "https://x.io"])
def test_loopback_http_and_https_urls_are_fine(tmp_path: Path, url: str) -> None:
    path = tmp_path / "config.toml"
    path.write_text(f'[pendo]\ndomain = "{url}"\n')
    config = load_config(path)
    assert config.pendo.base_url == url.rstrip("/")


def test_nonexistent_timezone(tmp_path: Path) -> None:
    err = _rejected(tmp_path, '[pendo]\ntimezone = "Mars/Olympus_Mons"\n')
    assert 'pendo.timezone = "Mars/Olympus_Mons"' in err.message
    assert "not an IANA timezone name" in err.message


def test_model_rules_name_the_entry(tmp_path: Path) -> None:
    err = _rejected(tmp_path, '[[pull]]\nname = "Views"\nkind = "page"\n')
    assert "pull[0]: a page mapping needs id" in err.message


def test_several_problems_are_all_listed(tmp_path: Path) -> None:
    err = _rejected(
        tmp_path, '[pendo]\ndays_to_sync = 0\ntimezone = "Nope/Nope"\n\n[alerts]\non = ["x"]\n'
    )
    assert "(3 problems)" in err.message
    assert set(err.field_errors) == {  # type: ignore[attr-defined]
        "pendo.days_to_sync",
        "pendo.timezone",
        "alerts.on[0]",
    }


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_bytes(b'profile = "caf\xe9"\n')
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_config(path)


def test_folder_instead_of_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is a folder"):
        load_config(tmp_path)


def test_format_validation_error_works_without_the_raw_data() -> None:
    """The TUI validates its own dicts; key paths and suggestions must not need ours."""
    from pydantic import ValidationError

    from pendo_tui.config.toml_io import format_validation_error

    data = {"pendo": {"days_to_snyc": 3}, "pull": [{"name": "a", "kind": "page", "id": 5}]}
    with pytest.raises(ValidationError) as exc:
        Config.model_validate(data)
    err = format_validation_error(exc.value, None)
    assert err.field_errors == {
        "pendo.days_to_snyc": "unknown key; did you mean 'days_to_sync'?",
        "pull[0].id": 'must be a text value in quotes, e.g. "abc"',
    }
    assert err.message.startswith("Invalid settings (2 problems):")
