"""The headless CLI: flags, exit codes, one- or two-line errors."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pendo_tui.cli import build_parser, main

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "config.example.toml"


@pytest.fixture
def no_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    """No key in the environment and a keyring with no backend: nothing to find."""
    import keyring
    from keyring.backends import fail

    monkeypatch.delenv("PENDO_INTEGRATION_KEY", raising=False)
    monkeypatch.delenv("PENDO_TRACK_SECRET", raising=False)
    previous = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    yield
    keyring.set_keyring(previous)


def test_help_documents_every_flag_and_exit_code(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for flag in build_parser()._option_string_actions:
        assert flag in out
    for code in ("0  ok", "2  usage", "3  authentication", "4  Pendo", "5  finished", "6  another"):
        assert code in out
    assert "PENDO_INTEGRATION_KEY" in out


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.startswith("pendo-tui ")


@pytest.mark.parametrize(
    "argv, fragment",
    [
        (["--sync", "--resync-all"], "--sync and --resync-all"),
        (["--dry-run"], "--dry-run needs --sync"),
        (["--mapping", "x"], "--mapping needs --sync"),
        (["--check", "--sync"], "--check runs alone"),
        (["--json"], "--json needs"),
    ],
)
def test_usage_errors_exit_2(
    argv: list[str], fragment: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert fragment in err
    assert "Traceback" not in err
    assert 1 <= len(err.strip().splitlines()) <= 2


def test_unknown_flag_exits_2_with_one_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--nope"]) == 2
    err = capsys.readouterr().err
    assert "--nope" in err and "--help" in err
    assert len(err.strip().splitlines()) == 2, err


def test_missing_config_says_how_to_create_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nope.toml"
    assert main(["--config", str(missing), "--sync"]) == 2
    err = capsys.readouterr().err
    assert str(missing) in err
    assert "config.example.toml" in err or "pendo-tui" in err
    assert not missing.exists()


def test_check_without_key_exits_3_with_one_line(
    no_secrets: None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--config", str(EXAMPLE), "--check"]) == 3
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert "PENDO_INTEGRATION_KEY" in err


def test_demo_check_reports_active_connection(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--demo", "--check"]) == 0
    out = capsys.readouterr().out
    assert "✓ Pendo integration key: valid for" in out and "read and write" in out
    assert "✗" not in out


def test_demo_check_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--demo", "--check", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert isinstance(data, list) and all(c["ok"] for c in data)
    assert data[0]["label"] == "Pendo integration key" and "read and write" in data[0]["detail"]


def test_wrong_key_exits_3_and_names_the_region(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from pendo_tui.sim.server import Simulator

    with Simulator() as sim:
        cfg = tmp_path / "c.toml"
        cfg.write_text(
            f'[pendo]\ndomain = "{sim.base_url}"\n[store]\nurl = "sqlite:///{tmp_path}/s.db"\n'
        )
        monkeypatch.setenv("PENDO_INTEGRATION_KEY", "00000000-0000-0000-0000-000000000000")
        assert main(["--config", str(cfg), "--check"]) == 3
    err = capsys.readouterr().err
    assert "127.0.0.1" in err
    assert "region" in err.lower()
    assert "00000000-0000-0000-0000-000000000000" not in err


def test_unreachable_store_exits_4_naming_host(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from pendo_tui.sim.keys import DEMO_READ_KEY
    from pendo_tui.sim.server import Simulator

    with Simulator() as sim:
        cfg = tmp_path / "c.toml"
        cfg.write_text(
            f'[pendo]\ndomain = "{sim.base_url}"\n'
            '[store]\nurl = "postgresql+psycopg://u@127.0.0.1:1/db"\n'
        )
        monkeypatch.setenv("PENDO_INTEGRATION_KEY", DEMO_READ_KEY)
        assert main(["--config", str(cfg), "--check"]) == 4
    err = capsys.readouterr().err
    assert "127.0.0.1:1" in err
    assert "Traceback" not in err


def test_demo_sync_json_fills_every_mapping_kind(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["--demo", "--sync", "--json"])
    summary = json.loads(capsys.readouterr().out)
    assert code == 0, summary
    assert summary["status"] == "ok"
    pulls = {i["name"]: i for i in summary["items"] if i["type"] == "pull"}
    pushes = [i for i in summary["items"] if i["type"] == "push"]
    assert len(pulls) >= 5 and pushes
    assert all(i["status"] == "ok" for i in summary["items"])
    assert summary["totals"].get("rows_written", 0) > 0


def test_unknown_mapping_name_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--demo", "--sync", "--mapping", "no such mapping"]) == 2
    err = capsys.readouterr().err
    assert "no such mapping" in err and "Known names" in err


def test_second_concurrent_run_exits_6(tmp_path: Path) -> None:
    """A run holding the lock makes a second one exit 6 at once (real processes)."""
    from pendo_tui.store.db import open_store

    store_url = f"sqlite:///{tmp_path}/s.db"
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'[store]\nurl = "{store_url}"\n')
    store = open_store(store_url)
    env = {**os.environ, "PENDO_INTEGRATION_KEY": "k"}
    with store.lock():
        proc = subprocess.run(
            [sys.executable, "-m", "pendo_tui", "--config", str(cfg), "--sync"],
            capture_output=True,
            text=True,
            timeout=60,
            env=env,
        )
    store.close()
    assert proc.returncode == 6, proc.stderr
    assert "another run is in progress" in proc.stderr.lower()


def test_console_script_installed() -> None:
    exe = shutil.which("pendo-tui")
    assert exe, "pip install -e . must put pendo-tui on PATH"
    proc = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0


def test_resync_all_refuses_a_push_sync_name(capsys: pytest.CaptureFixture[str]) -> None:
    from pendo_tui.sim.demo import demo_config

    push_name = demo_config("http://127.0.0.1:1", "sqlite://").push[0].name
    assert main(["--demo", "--resync-all", "--mapping", push_name]) == 2
    assert "is a push sync" in capsys.readouterr().err
