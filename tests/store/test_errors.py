"""Stores that cannot be opened give a StoreError naming the host or path, and the fix."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from pendo_tui.errors import ExitCode, StoreError
from pendo_tui.store.db import open_store


def _closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])  # closed again when the block ends


@pytest.mark.parametrize("scheme", ["postgresql", "postgres", "postgresql+psycopg"])
def test_unreachable_postgres_names_host_and_port(scheme: str) -> None:
    port = _closed_port()
    with pytest.raises(StoreError) as info:
        open_store(f"{scheme}://pendo:s3cret@127.0.0.1:{port}/pendo")
    err = info.value
    assert err.exit_code == ExitCode.REMOTE == 4
    assert f"127.0.0.1:{port}" in err.message
    assert f"127.0.0.1:{port}" in (err.hint or "") and "[store] url" in (err.hint or "")
    assert "s3cret" not in str(err)


@pytest.mark.postgres
def test_missing_postgres_database_says_how_to_create_it(pg_url: str) -> None:
    url = make_url(pg_url).set(database="pendo_tui_no_such_db").render_as_string(False)
    with pytest.raises(StoreError) as info:
        open_store(url)
    assert "'pendo_tui_no_such_db' does not exist" in info.value.message
    assert "createdb" in (info.value.hint or "")


def test_file_where_a_folder_is_expected(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    with pytest.raises(StoreError) as info:
        open_store(f"sqlite:///{blocker / 'sub' / 'pendo.db'}")
    assert str(blocker / "sub") in info.value.message
    assert info.value.hint


def test_store_path_that_is_a_folder(tmp_path: Path) -> None:
    with pytest.raises(StoreError) as info:
        open_store(f"sqlite:///{tmp_path}")
    assert "is a folder" in info.value.message and str(tmp_path) in info.value.message


def test_file_that_is_not_a_database(tmp_path: Path) -> None:
    path = tmp_path / "pendo.db"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError) as info:
        open_store(f"sqlite:///{path}")
    assert str(path) in info.value.message and "not a usable SQLite database" in info.value.message
    assert path.read_bytes() == b"this is not sqlite" * 100  # left as it was


OPEN_AND_REPORT = """
import sys
from pendo_tui.errors import PendoTuiError
from pendo_tui.store.db import open_store
try:
    open_store(sys.argv[1]).close()
except PendoTuiError as err:
    print(err)
    sys.exit(err.exit_code)
print("opened")
"""


def _open_without_write_permission(url: str) -> subprocess.CompletedProcess[str]:
    """Open the store in a process for which file permissions apply.

    Tests usually run as root (CI containers), and root's CAP_DAC_OVERRIDE ignores
    permission bits, so ``chmod 555`` alone would not make a folder read-only for it.
    As root we drop that capability (and DAC_READ_SEARCH) with ``setpriv`` — the process
    keeps uid 0, so it can still read our interpreter under /root.
    """
    cmd = [sys.executable, "-c", OPEN_AND_REPORT, url]
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("running as root without setpriv: cannot make a folder read-only")
        caps = "-dac_override,-dac_read_search"
        cmd = [setpriv, f"--inh-caps={caps}", f"--bounding-set={caps}", "--", *cmd]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60)


def test_read_only_folder_new_store(tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        result = _open_without_write_permission(f"sqlite:///{folder / 'pendo.db'}")
    finally:
        folder.chmod(0o755)
    assert result.returncode == ExitCode.REMOTE, result.stdout + result.stderr
    assert f"The folder {folder} of the SQLite store pendo.db is not writable" in result.stdout
    assert "chmod u+w" in result.stdout and "[store] url" in result.stdout
    assert list(folder.iterdir()) == []  # nothing was created


def test_read_only_folder_existing_store(tmp_path: Path) -> None:
    """An existing store in a folder that became read-only: WAL files cannot be created."""
    folder = tmp_path / "ro"
    folder.mkdir()
    url = f"sqlite:///{folder / 'pendo.db'}"
    open_store(url).close()
    folder.chmod(0o555)
    try:
        result = _open_without_write_permission(url)
    finally:
        folder.chmod(0o755)
    assert result.returncode == ExitCode.REMOTE, result.stdout + result.stderr
    assert str(folder) in result.stdout and "not writable" in result.stdout


def test_read_only_check_really_runs_unprivileged(tmp_path: Path) -> None:
    """Guard for the two tests above: the same process can open a writable folder."""
    result = _open_without_write_permission(f"sqlite:///{tmp_path / 'ok' / 'pendo.db'}")
    assert result.returncode == 0 and result.stdout.strip() == "opened", result.stderr


def test_read_only_store_file(tmp_path: Path) -> None:
    path = tmp_path / "pendo.db"
    open_store(f"sqlite:///{path}").close()
    for leftover in tmp_path.glob("pendo.db-*"):  # WAL files from the first open
        leftover.unlink()
    path.chmod(0o444)
    result = _open_without_write_permission(f"sqlite:///{path}")
    assert result.returncode == ExitCode.REMOTE, result.stdout + result.stderr
    assert f"The SQLite store {path} is read-only" in result.stdout
