"""One error family for the whole product.

Every error a user can act on is a ``PendoTuiError``: a message (what went wrong), a hint
(how to fix it) and the CLI exit code it maps to (``ExitCode``). Front ends print
``str(err)`` — message and hint — and never a traceback unless ``--debug`` is given.
"""

from __future__ import annotations


class ExitCode:
    """Exit codes of the headless CLI (listed in ``--help`` and the README). A user-facing
    contract: never renumber."""

    OK = 0
    USAGE = 2  # usage or config error
    AUTH = 3  # authentication or permission
    REMOTE = 4  # Pendo, store or network failure after retries
    THRESHOLD = 5  # finished, but rejected/skipped rows above the configured threshold
    LOCKED = 6  # another run holds the store's lock


class PendoTuiError(Exception):
    """Base of every error meant for a user: ``message`` says what, ``hint`` says how to fix."""

    exit_code: int = ExitCode.REMOTE
    title: str = "Error"

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message}\n{self.hint}" if self.hint else self.message


class ConfigError(PendoTuiError):
    """The config file is missing, unparsable or invalid (exit 2)."""

    exit_code = ExitCode.USAGE
    title = "Configuration error"


class UsageError(PendoTuiError):
    """Bad command-line usage (exit 2)."""

    exit_code = ExitCode.USAGE
    title = "Usage error"


class SecretError(PendoTuiError):
    """A secret (integration key, track secret) could not be found or stored (exit 3)."""

    exit_code = ExitCode.AUTH
    title = "Secret not available"


class StoreError(PendoTuiError):
    """The store cannot be opened, created or written (exit 4)."""

    exit_code = ExitCode.REMOTE
    title = "Store error"


class LockHeldError(PendoTuiError):
    """Another run holds this store's lock (exit 6)."""

    exit_code = ExitCode.LOCKED
    title = "Another run is in progress"


class ThresholdExceeded(PendoTuiError):
    """The run finished but rejected/skipped rows passed the configured threshold (exit 5)."""

    exit_code = ExitCode.THRESHOLD
    title = "Too many rejected rows"
