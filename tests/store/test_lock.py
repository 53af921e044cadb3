"""One run per store: a second lock fails at once, in-process and across processes."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from pendo_tui.errors import ExitCode, LockHeldError
from pendo_tui.store.db import Store, open_store

# Holds the run lock until its stdin closes; says "locked" once it has it.
HOLDER = """
import sys
from pendo_tui.store.db import open_store
store = open_store(sys.argv[1])
with store.lock():
    print("locked", flush=True)
    sys.stdin.read()
store.close()
"""

# Tries the lock once; exits with the error's exit code.
TRIER = """
import sys
from pendo_tui.errors import PendoTuiError
from pendo_tui.store.db import open_store
store = open_store(sys.argv[1])
try:
    with store.lock():
        print("got it", flush=True)
except PendoTuiError as err:
    print(err, flush=True)
    sys.exit(err.exit_code)
finally:
    store.close()
"""


def _start_holder(url: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, url],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    ready, _, _ = select.select([proc.stdout], [], [], 30)
    line = proc.stdout.readline() if ready else ""  # type: ignore[union-attr]
    if line.strip() != "locked":
        proc.kill()
        _, err = proc.communicate(timeout=30)
        pytest.fail(f"lock holder did not start: {line!r} {err}")
    return proc


def _try_lock(store: Store) -> float:
    start = time.monotonic()
    with pytest.raises(LockHeldError) as info, store.lock():
        pass
    assert info.value.exit_code == ExitCode.LOCKED
    assert "Another run is in progress on the" in info.value.message
    return time.monotonic() - start


def test_second_lock_in_same_process_fails_at_once(store: Store) -> None:
    with store.lock():
        assert _try_lock(store) < 2.0
        with store.lock("other"):  # a differently named lock is independent
            pass
    with store.lock():  # released on exit
        pass


def test_lock_error_names_the_store(store: Store) -> None:
    with store.lock(), pytest.raises(LockHeldError) as info, store.lock():
        pass
    msg = info.value.message
    if store.dialect == "sqlite":
        assert str(store.path) in msg and f"pid {os.getpid()}" in msg
        assert f"{store.path}.lock" in (info.value.hint or "")
    else:
        assert str(store.engine.url.database) in msg and "backend pid" in msg


def test_lock_across_processes(store: Store, store_url: str) -> None:
    holder = _start_holder(store_url)
    try:
        assert _try_lock(store) < 2.0
        # And the other direction: a separate run process exits 6 with the message.
        trier = subprocess.run(
            [sys.executable, "-c", TRIER, store_url], capture_output=True, text=True, timeout=60
        )
        assert trier.returncode == ExitCode.LOCKED, trier.stderr
        assert "Another run is in progress on the" in trier.stdout
    finally:
        holder.communicate(timeout=30)  # closes its stdin: it releases the lock and exits
    with store.lock():  # released when the holder finished
        pass


def test_lock_of_a_killed_run_is_released(store: Store, store_url: str) -> None:
    """A crashed run never leaves a stale lock (kernel / server session releases it)."""
    holder = _start_holder(store_url)
    os.kill(holder.pid, signal.SIGKILL)
    holder.communicate(timeout=30)
    deadline = time.monotonic() + 10  # PostgreSQL notices the closed socket asynchronously
    while True:
        try:
            with store.lock():
                break
        except LockHeldError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def _sqlite_spellings(tmp_path: Path) -> tuple[str, list[str]]:
    """A store's canonical URL and other URLs naming the same file: through a file symlink,
    a folder symlink, ``..`` and ``./`` segments, and a path relative to the working dir."""
    real_dir = tmp_path / "real"
    real_dir.mkdir()
    (tmp_path / "link.db").symlink_to(real_dir / "pendo.db")
    (tmp_path / "linkdir").symlink_to(real_dir, target_is_directory=True)
    canonical = f"sqlite:///{real_dir / 'pendo.db'}"
    return canonical, [
        f"sqlite:///{tmp_path / 'link.db'}",
        f"sqlite:///{tmp_path / 'linkdir' / 'pendo.db'}",
        f"sqlite:///{real_dir / '..' / 'real' / '.' / 'pendo.db'}",
        "sqlite:///real/pendo.db",  # relative to the working directory (tmp_path)
        "sqlite:///./real/../real/pendo.db",
    ]


def test_sqlite_lock_meets_every_spelling_of_the_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    canonical, others = _sqlite_spellings(tmp_path)
    with open_store(canonical) as first, first.lock():
        for url in others:
            with open_store(url) as second:
                _try_lock(second)
    for url in others:  # and the other way round: any spelling first blocks the canonical
        with open_store(url) as first, first.lock(), open_store(canonical) as second:
            _try_lock(second)


def test_sqlite_symlinked_store_is_locked_across_processes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    canonical, others = _sqlite_spellings(tmp_path)
    open_store(canonical).close()
    holder = _start_holder(canonical)
    try:
        for url in others:
            trier = subprocess.run(
                [sys.executable, "-c", TRIER, url],
                capture_output=True,
                text=True,
                timeout=60,
                cwd=tmp_path,
            )
            assert trier.returncode == ExitCode.LOCKED, (url, trier.stdout, trier.stderr)
    finally:
        holder.communicate(timeout=30)


@pytest.mark.postgres
def test_postgres_lock_meets_every_spelling_of_the_url(fresh_pg_url: str) -> None:
    url = make_url(fresh_pg_url)
    host = url.host or "127.0.0.1"
    spellings = [
        url.set(drivername="postgres"),
        url.set(drivername="postgresql"),
        url.set(host="localhost" if host == "127.0.0.1" else host),
        url.set(query={"application_name": "another-spelling"}),
    ]
    with open_store(fresh_pg_url) as first, first.lock():
        for other in spellings:
            with open_store(other.render_as_string(hide_password=False)) as second:
                _try_lock(second)
