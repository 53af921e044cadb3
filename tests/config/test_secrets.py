"""Secrets: environment → keyring → a clear error; never a plaintext fallback."""

from __future__ import annotations

from pathlib import Path

import pytest
from keyring.backends import null

from pendo_tui.config.secrets import (
    SECRET_INTEGRATION_KEY,
    SECRET_TRACK,
    SERVICE,
    Secrets,
    StaticSecrets,
)
from pendo_tui.errors import ExitCode, SecretError

from .conftest import LockedKeyring, MemoryKeyring

KEY = "5e3b1f0c-aaaa-bbbb-cccc-0123456789ab"


@pytest.fixture
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point every per-user folder at an empty dir, to prove nothing lands on disk."""
    for var in ("HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME"):
        monkeypatch.setenv(var, str(tmp_path))
    return tmp_path


def test_environment_wins_over_the_keyring(memory_keyring: MemoryKeyring) -> None:
    memory_keyring.passwords[(SERVICE, "default:integration_key")] = "from-keyring"
    secrets = Secrets("default", env={"PENDO_INTEGRATION_KEY": " from-env \n"})
    assert secrets.integration_key() == "from-env"
    assert secrets.source(SECRET_INTEGRATION_KEY) == "env"


def test_empty_environment_variable_falls_through_to_the_keyring(
    memory_keyring: MemoryKeyring,
) -> None:
    memory_keyring.passwords[(SERVICE, "work:track_secret")] = "track-from-keyring"
    secrets = Secrets("work", env={"PENDO_TRACK_SECRET": ""})
    assert secrets.track_secret() == "track-from-keyring"
    assert secrets.source(SECRET_TRACK) == "keyring"


def test_store_get_delete_use_one_entry_per_profile_and_secret(
    memory_keyring: MemoryKeyring,
) -> None:
    work, home = Secrets("work", env={}), Secrets("home", env={})
    work.store(SECRET_INTEGRATION_KEY, KEY)
    work.store(SECRET_TRACK, "tr4ck")
    assert memory_keyring.passwords == {
        (SERVICE, "work:integration_key"): KEY,
        (SERVICE, "work:track_secret"): "tr4ck",
    }
    assert work.integration_key() == KEY and work.get(SECRET_TRACK) == "tr4ck"
    assert home.get(SECRET_INTEGRATION_KEY) is None and home.source(SECRET_TRACK) is None
    work.delete(SECRET_INTEGRATION_KEY)
    work.delete(SECRET_INTEGRATION_KEY)  # deleting what is not there is fine
    assert work.get(SECRET_INTEGRATION_KEY) is None
    assert (SERVICE, "work:track_secret") in memory_keyring.passwords


def test_missing_key_names_both_ways_to_provide_it(memory_keyring: MemoryKeyring) -> None:
    secrets = Secrets("default", env={})
    with pytest.raises(SecretError) as err:
        secrets.integration_key()
    text = str(err.value)
    assert "No Pendo integration key for profile 'default'" in text
    assert "PENDO_INTEGRATION_KEY" in text
    assert "`pendo-tui`" in text and "keyring" in text and "'default:integration_key'" in text
    assert err.value.exit_code == ExitCode.AUTH
    assert err.value.hint is None and "\n" not in text  # the CLI prints it as one line
    with pytest.raises(SecretError, match="PENDO_TRACK_SECRET"):
        secrets.track_secret()


def test_no_keyring_backend_is_a_clear_error_and_nothing_is_written(
    no_keyring: object, isolated_home: Path
) -> None:
    secrets = Secrets("default", env={})
    assert secrets.get(SECRET_INTEGRATION_KEY) is None
    with pytest.raises(SecretError) as err:
        secrets.integration_key()
    text = str(err.value)
    assert "no keyring backend is available" in text and "\n" not in text
    assert "PENDO_INTEGRATION_KEY" in text and "never stores secrets in plain text" in text
    with pytest.raises(SecretError) as stored:
        secrets.store(SECRET_INTEGRATION_KEY, KEY)
    assert "Cannot save the Pendo integration key to the keyring" in str(stored.value)
    assert "PENDO_INTEGRATION_KEY" in str(stored.value)
    assert KEY not in str(stored.value)
    assert list(isolated_home.rglob("*")) == []  # no plaintext fallback anywhere


def test_the_null_backend_is_refused_rather_than_silently_dropping(
    _restore_keyring: None, isolated_home: Path
) -> None:
    import keyring

    keyring.set_keyring(null.Keyring())
    with pytest.raises(SecretError, match="no keyring backend"):
        Secrets("default", env={}).store(SECRET_TRACK, "tr4ck")
    assert list(isolated_home.rglob("*")) == []


def test_environment_works_without_any_keyring(no_keyring: object) -> None:
    secrets = Secrets("default", env={"PENDO_INTEGRATION_KEY": KEY})
    assert secrets.integration_key() == KEY
    assert secrets.source(SECRET_INTEGRATION_KEY) == "env"


def test_locked_keyring_says_so(locked_keyring: LockedKeyring) -> None:
    secrets = Secrets("default", env={})
    assert secrets.get(SECRET_INTEGRATION_KEY) is None
    with pytest.raises(SecretError) as err:
        secrets.integration_key()
    text = str(err.value)
    assert "the keyring is locked" in text and "unlock" in text
    assert "\n" not in text
    assert "PENDO_INTEGRATION_KEY" in text
    with pytest.raises(SecretError, match="locked"):
        secrets.store(SECRET_INTEGRATION_KEY, KEY)
    with pytest.raises(SecretError, match="locked"):
        secrets.delete(SECRET_INTEGRATION_KEY)


def test_an_injected_backend_is_used_instead_of_the_global_one(no_keyring: object) -> None:
    backend = MemoryKeyring()
    secrets = Secrets("p", env={}, backend=backend)
    secrets.store(SECRET_TRACK, "tr4ck")
    assert backend.passwords == {(SERVICE, "p:track_secret"): "tr4ck"}
    assert secrets.track_secret() == "tr4ck"


def test_empty_value_and_unknown_names_are_refused(memory_keyring: MemoryKeyring) -> None:
    secrets = Secrets("default", env={})
    with pytest.raises(SecretError, match="empty"):
        secrets.store(SECRET_INTEGRATION_KEY, "  ")
    with pytest.raises(ValueError, match="unknown secret"):
        secrets.get("password")
    assert memory_keyring.passwords == {}


def test_reprs_never_show_values(memory_keyring: MemoryKeyring) -> None:
    secrets = Secrets("default", env={"PENDO_INTEGRATION_KEY": KEY})
    static = StaticSecrets(integration_key=KEY, track_secret="tr4ck")
    assert KEY not in repr(secrets) and KEY not in repr(static) and "tr4ck" not in repr(static)


def test_static_secrets_share_the_interface() -> None:
    static = StaticSecrets(integration_key=KEY)
    assert static.integration_key() == KEY and static.source(SECRET_INTEGRATION_KEY) == "static"
    assert static.get(SECRET_TRACK) is None and static.source(SECRET_TRACK) is None
    with pytest.raises(SecretError, match="PENDO_TRACK_SECRET"):
        static.track_secret()
    static.store(SECRET_TRACK, "tr4ck")
    assert static.track_secret() == "tr4ck"
    static.delete(SECRET_TRACK)
    assert static.get(SECRET_TRACK) is None
