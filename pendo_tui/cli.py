"""Headless command line: flags, exit codes (``errors.ExitCode``) and plain output.

The CLI and the TUI are two thin front ends over the same engine calls. Every user error
is a ``PendoTuiError``: printed as one or two lines (what, then how to fix), mapped to its
exit code; a traceback only with ``--debug``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import sys
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pendo_tui import __version__
from pendo_tui.errors import PendoTuiError, UsageError

if TYPE_CHECKING:
    from pendo_tui.config.model import Config
    from pendo_tui.config.secrets import Secrets, StaticSecrets

EXIT_CODES_HELP = """\
exit codes:
  0  ok
  1  unexpected internal error (a bug: rerun with --debug and report it)
  2  usage or configuration error
  3  authentication or permission (bad key, wrong region, read-only key, missing secret)
  4  Pendo, store or network failure after retries
  5  finished, but rejected or skipped rows are above [alerts] rejected_threshold
  6  another run holds the lock on this store

secrets come from the environment (PENDO_INTEGRATION_KEY, PENDO_TRACK_SECRET) or the OS
keyring (saved by the set-up screens); never from the config file.

examples:
  pendo-tui --demo                      open the UI on the built-in simulator
  pendo-tui --demo --sync --json        sync the demo, print a JSON summary
  pendo-tui --check                     preflight: key, secrets, store, models, mapping ids
  pendo-tui --sync                      run every enabled pull mapping and push sync
  pendo-tui --sync --mapping "Logins"   run one mapping
  pendo-tui --resync-all                rebuild every pull mapping's history
"""


class _Parser(argparse.ArgumentParser):
    """argparse that raises ``UsageError`` instead of exiting, so a bad flag still gets
    one line (and one JSON object under --json) like every other usage error."""

    def error(self, message: str) -> Any:
        raise UsageError(f"{message}", f"Run {self.prog} --help for the flags.")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="pendo-tui",
        description=(
            "Pull Pendo usage into a database you own, push warehouse rows back into Pendo. "
            "With no action flag, opens the set-up UI."
        ),
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = p.add_argument_group("actions")
    actions.add_argument(
        "--demo",
        action="store_true",
        help="use the built-in Pendo simulator, a throw-away config and a temporary SQLite "
        "store (combine with --sync, --check or nothing for the UI)",
    )
    actions.add_argument(
        "--sync",
        action="store_true",
        help="run all enabled pull mappings and push syncs headless, then exit",
    )
    actions.add_argument(
        "--resync-all",
        action="store_true",
        help="rebuild every pull mapping from days_to_sync days ago (atomic: old data stays "
        "if it fails; data older than the window is removed)",
    )
    actions.add_argument(
        "--check",
        action="store_true",
        help="preflight everything --sync needs (key and region, write access, track secret, "
        "store, push models, pull mapping ids and reports); one line per check; then exit",
    )
    opts = p.add_argument_group("options")
    opts.add_argument(
        "--mapping",
        action="append",
        metavar="NAME",
        default=None,
        help="limit --sync/--resync-all to this pull mapping or push sync (repeatable)",
    )
    opts.add_argument(
        "--dry-run",
        action="store_true",
        help="with --sync/--resync-all: print what would be fetched, written and sent; "
        "change nothing",
    )
    opts.add_argument(
        "--json", action="store_true", help="print one machine-readable JSON summary on stdout"
    )
    opts.add_argument(
        "--config",
        metavar="PATH",
        type=Path,
        default=None,
        help="config file (default: $PENDO_TUI_CONFIG, else the user config dir)",
    )
    opts.add_argument(
        "--debug",
        action="store_true",
        help="print every API call (secrets redacted) on stderr, and tracebacks on errors",
    )
    opts.add_argument("--version", action="version", version=f"pendo-tui {__version__}")
    return p


@dataclass
class Context:
    """What a command needs: the config, its path (None in demo), secrets, demo server."""

    config: Config
    config_path: Path | None
    secrets: Secrets | StaticSecrets
    demo: Any = None  # running Simulator in --demo mode


def _validate_args(args: argparse.Namespace) -> None:
    if args.sync and args.resync_all:
        raise UsageError(
            "--sync and --resync-all are two different runs", "Give one of them, not both."
        )
    if args.check and (args.sync or args.resync_all):
        raise UsageError("--check runs alone", "Run --check first, then --sync.")
    runs = args.sync or args.resync_all
    if args.dry_run and not runs:
        raise UsageError("--dry-run needs --sync or --resync-all", "Add --sync.")
    if args.mapping and not runs:
        raise UsageError("--mapping needs --sync or --resync-all", "Add --sync.")
    if args.json and not (runs or args.check):
        raise UsageError("--json needs --sync, --resync-all or --check", "Add one of them.")


@contextlib.contextmanager
def _context(args: argparse.Namespace) -> Iterator[Context]:
    if args.demo:
        with _demo_context() as ctx:
            yield ctx
        return
    from pendo_tui.config.secrets import Secrets
    from pendo_tui.config.toml_io import default_config_path, load_config

    path = args.config or default_config_path()
    config = load_config(path)
    yield Context(config=config, config_path=path, secrets=Secrets(config.profile))


@contextlib.contextmanager
def _demo_context() -> Iterator[Context]:
    from pendo_tui.sim.demo import demo_config, demo_secrets, demo_simulator

    # The demo dataset is dated at the current hour so sync windows (real clock) find data.
    with tempfile.TemporaryDirectory(prefix="pendo-tui-demo-") as tmp, demo_simulator() as sim:
        store_url = f"sqlite:///{Path(tmp) / 'demo.db'}"
        config = demo_config(sim.base_url, store_url)
        yield Context(config=config, config_path=None, secrets=demo_secrets(), demo=sim)


def _print_error(err: BaseException, debug: bool, as_json: bool = False) -> None:
    if debug:
        import traceback

        traceback.print_exception(err, file=sys.stderr)
    if isinstance(err, PendoTuiError):
        message, hint, code = err.message, err.hint, err.exit_code
    else:
        message = f"unexpected error: {type(err).__name__}: {err}"
        hint = None if debug else "Rerun with --debug for the traceback, and please report it."
        code = 1
    print(f"pendo-tui: {message}", file=sys.stderr)
    if hint:
        print(f"  {hint}", file=sys.stderr)
    if as_json:  # --json promises exactly one JSON object on stdout, failures included
        print(json.dumps(error_summary(message, hint, code, err), indent=2))


def error_summary(message: str, hint: str | None, code: int, err: BaseException) -> dict[str, Any]:
    """The --json object of a run or check that failed before it could start."""
    return {
        "run_id": None,
        "status": "failed",
        "error": message,
        "hint": hint,
        "error_type": getattr(err, "title", type(err).__name__),
        "exit_code": code,
    }


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    as_json = "--json" in argv
    debug = "--debug" in argv
    _configure_logging(debug)
    try:
        args = build_parser().parse_args(argv)
        _validate_args(args)
        if not (args.sync or args.resync_all or args.check):
            return _open_tui(args)
        with _context(args) as ctx:
            if args.check:
                from pendo_tui.commands import check

                return check(ctx, as_json=args.json)
            from pendo_tui.commands import sync

            return sync(
                ctx,
                kind="resync_all" if args.resync_all else "sync",
                mappings=args.mapping,
                dry_run=args.dry_run,
                as_json=args.json,
                debug=args.debug,
            )
    except PendoTuiError as err:
        _print_error(err, debug, as_json)
        return err.exit_code
    except KeyboardInterrupt:
        print("pendo-tui: interrupted", file=sys.stderr)
        return 130
    except Exception as err:  # the last line of defence: one line, not a traceback
        _print_error(err, debug, as_json)
        return 1


def _configure_logging(debug: bool) -> None:
    """stderr carries our words only: pendo-tui's own log lines (one per retry, …) as
    ``pendo-tui: …``; libraries' records (database drivers, the HTTP server of --demo) only
    with --debug. Without a root handler Python would print them raw (its last resort)."""
    root = logging.getLogger()
    if not any(isinstance(h, logging.NullHandler) for h in root.handlers):
        root.addHandler(logging.NullHandler())
    ours = logging.getLogger("pendo_tui")
    if not any(getattr(h, "_pendo_tui", False) for h in ours.handlers):
        handler = logging.StreamHandler()  # resolves sys.stderr at each write
        handler.setFormatter(logging.Formatter("pendo-tui: %(message)s"))
        handler._pendo_tui = True  # type: ignore[attr-defined]
        ours.addHandler(handler)
    ours.setLevel(logging.DEBUG if debug else logging.INFO)
    ours.propagate = False
    if debug and not any(isinstance(h, logging.StreamHandler) for h in root.handlers):
        noisy = logging.StreamHandler()
        noisy.setFormatter(logging.Formatter("%(name)s: %(levelname)s: %(message)s"))
        root.addHandler(noisy)
        root.setLevel(logging.WARNING)


def _open_tui(args: argparse.Namespace) -> int:
    # The app draws its frame first, then loads the config / starts the demo (start-up).
    if args.demo:
        from pendo_tui.tui.launch import launch_demo

        return launch_demo(_demo_context, debug=args.debug)
    from pendo_tui.tui.launch import launch_path

    # None: the platform's default path, found by the app after its first paint
    return launch_path(args.config, debug=args.debug)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
