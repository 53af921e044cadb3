"""What the UI does with an error that is not a PendoTuiError: a bug message (and, with
--debug, the traceback in a file), never a crash or a traceback on screen."""

from __future__ import annotations

from pathlib import Path

import pytest

from pendo_tui.config.model import Config
from pendo_tui.config.secrets import StaticSecrets
from pendo_tui.errors import StoreError
from pendo_tui.sim.keys import DEMO_TRACK_SECRET, DEMO_WRITE_KEY
from pendo_tui.tui.app import DEBUG_LOG, PendoTuiApp

from .conftest import SIZE
from .helpers import wait_for

pytestmark = pytest.mark.anyio
SECRETS = StaticSecrets(integration_key=DEMO_WRITE_KEY, track_secret=DEMO_TRACK_SECRET)


def _messages(app: PendoTuiApp) -> list[str]:
    return [str(n.message) for n in app._notifications]


@pytest.mark.parametrize("debug", [False, True])
async def test_an_unexpected_error_in_a_worker_is_reported_as_a_bug(
    make_app,
    demo_cfg: Config,
    tmp_path: Path,
    debug: bool,  # type: ignore[no-untyped-def]
) -> None:
    app: PendoTuiApp = make_app(demo_cfg, SECRETS, demo=True, check_on_start=False, debug=debug)
    after: list[str] = []

    def broken() -> None:
        with app.guard():
            after.append("entered")
            raise ZeroDivisionError("oops in the engine")

    async with app.run_test(size=SIZE) as pilot:
        assert await wait_for(pilot, lambda: app.panes_ready)
        # in a thread worker, like the panes' engine calls
        worker = app.run_worker(broken, thread=True)
        await worker.wait()
        assert await wait_for(pilot, lambda: any("bug" in m for m in _messages(app)))
        text = next(m for m in _messages(app) if "bug" in m)
        assert "ZeroDivisionError: oops in the engine" in text
        assert app.is_running  # the app lives on
        with app.guard(), pytest.raises(StoreError):  # the project's errors pass through
            raise StoreError("store gone")
    log = tmp_path / DEBUG_LOG
    assert after == ["entered"]
    if debug:
        assert "ZeroDivisionError: oops in the engine" in log.read_text(encoding="utf-8")
        assert str(log) in text
    else:
        assert not log.exists() and "--debug" in text
