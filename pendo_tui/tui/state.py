"""The TUI's working state: the config being edited, unsaved secrets, and flags.

Panes never hold their own copy of the settings: they read ``AppState.config`` and
propose changes through ``AppState.propose``, which validates the *whole* config (so
cross-field rules such as "PES needs accountId" fire too) and returns errors keyed by
dotted path, ready to be shown next to the field that caused them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:  # pydantic, the config model and the engine load after the first paint
    from pydantic import ValidationError

    from pendo_tui.config.model import Config
    from pendo_tui.config.secrets import SecretProvider

SECRET_INTEGRATION_KEY = "integration_key"
SECRET_TRACK = "track_secret"


@dataclass
class ConnectionStatus:
    state: Literal["unknown", "checking", "ok", "error"] = "unknown"
    message: str = "Not checked yet"
    write_access: bool = False


def dotted(key_path: str) -> str:
    """TOML key path ``pull[2].segment`` → the widgets' form ``pull.2.segment``."""
    return re.sub(r"\[(\d+)\]", r".\1", key_path)


def errors_by_path(exc: ValidationError, data: Any = None) -> dict[str, str]:
    """Validation errors → {"pendo.days_to_sync": "must be between 1 and 365"}, in the
    config package's words (the same the CLI prints)."""
    from pendo_tui.config.validation_errors import format_validation_error

    field_errors = format_validation_error(exc, None, data).field_errors
    if field_errors:
        return {dotted(k): v for k, v in field_errors.items()}
    out: dict[str, str] = {}
    for err in exc.errors():
        path = ".".join(str(p) for p in err["loc"]) or "config"
        msg = str(err["msg"]).removeprefix("Value error, ")
        out.setdefault(path, msg)
    return out


@dataclass(frozen=True)
class FieldIssue:
    """A field whose on-screen value is not in the config because it does not validate."""

    label: str  # the field's label, or the pane's title for a message no field claimed
    message: str
    pane: str  # pane id, to go there


@dataclass
class AppState:
    config: Config
    secrets: SecretProvider
    config_path: Path | None = None
    document: Any = None  # config.toml_io.ConfigDocument when loaded from a file
    demo: bool = False
    sim_url: str | None = None
    dirty: bool = False
    pending_secrets: dict[str, str] = field(default_factory=dict)
    connection: ConnectionStatus = field(default_factory=ConnectionStatus)
    # key path → what is wrong with the value on screen; while any, Save and Check refuse
    invalid: dict[str, FieldIssue] = field(default_factory=dict)
    # what the last save did with each secret: {"integration_key": "stored" | "removed"}
    secrets_saved: dict[str, str] = field(default_factory=dict)
    # The engine's fingerprints of the settings the data was last built with (on load,
    # after a Re-sync): changing what shapes stored data asks for a Re-sync.
    _built_with: dict[str, str | None] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.mark_resynced()

    # -- secrets -------------------------------------------------------------------------
    def secret(self, name: str) -> str | None:
        """A typed-but-unsaved value wins over the stored one."""
        return self.engine_secrets().get(name)

    def engine_secrets(self) -> SecretProvider:
        """The secrets the engine uses now: typed-but-unsaved values over saved ones."""
        from pendo_tui.config.secrets import OverlaySecrets

        return OverlaySecrets(self.secrets, self.pending_secrets)

    def set_secret(self, name: str, value: str) -> None:
        if self.secret(name) == (value or None):
            return
        self.pending_secrets[name] = value
        self.dirty = True

    # -- config --------------------------------------------------------------------------
    def validate(self, patch: dict[str, Any]) -> dict[str, str]:
        """Errors the config would have with ``patch`` applied; applies nothing."""
        return self._validated(patch)[1]

    def _validated(self, patch: dict[str, Any]) -> tuple[Config | None, dict[str, str]]:
        from pydantic import ValidationError

        from pendo_tui.config.model import Config

        data = self.config.model_dump()
        data.update(patch)
        try:
            return Config.model_validate(data), {}
        except ValidationError as exc:
            return None, errors_by_path(exc, data)

    def propose(self, patch: dict[str, Any]) -> dict[str, str]:
        """Apply top-level sections in ``patch`` if the result validates; else return errors."""
        new, errors = self._validated(patch)
        if new is None:
            return errors
        if new != self.config:
            self.config = new
            self.dirty = True
        return {}

    def set_issues(self, pane: str, scope: str, issues: dict[str, FieldIssue]) -> None:
        """Replace ``pane``'s issues under ``scope`` (all of the pane's when empty)."""
        for path, issue in list(self.invalid.items()):
            if issue.pane == pane and (not scope or path == scope or path.startswith(scope + ".")):
                del self.invalid[path]
        self.invalid.update(issues)

    def refusal(self, action: str) -> str | None:
        """Why ``action`` (Save, Check) cannot run now: the fields that do not validate."""
        if not self.invalid:
            return None
        lines = [f"{i.label}: {i.message}" for i in self.invalid.values()]
        return (
            f"{action} refused — fix {'this field' if len(lines) == 1 else 'these fields'} "
            "first (the config still holds the last valid values):\n" + "\n".join(lines)
        )

    @property
    def resync_needed(self) -> bool:
        from pendo_tui.sync.session import stale_since

        return bool(stale_since(self.config, self._built_with))

    def mark_resynced(self) -> None:
        from pendo_tui.sync.session import fingerprints

        self._built_with = dict(fingerprints(self.config))

    def _follow_profile(self) -> None:
        """Keyring entries are named after the profile: a renamed profile stores anew."""
        profile = self.secrets.profile
        if profile is not None and profile != self.config.profile:
            for name in (SECRET_INTEGRATION_KEY, SECRET_TRACK):
                source = self.secrets.source(name)
                if name not in self.pending_secrets and source == "keyring":  # carry it over
                    value = self.secret(name)
                    if value:
                        self.pending_secrets[name] = value
            self.secrets = self.secrets.for_profile(self.config.profile)

    def save(self) -> Path:
        """Write the TOML (comments kept) and the secrets (keyring). Raises PendoTuiError."""
        from pendo_tui.config.toml_io import ConfigDocument  # lazy: start-up speed
        from pendo_tui.errors import ConfigError

        if self.config_path is None:
            raise ConfigError(
                "This session has no config file to save to",
                "Start pendo-tui with --config PATH (the demo's config is throw-away).",
            )
        if self.document is None:
            self.document = ConfigDocument.new(self.config)
        else:
            self.document.update(self.config)
        self.document.save(self.config_path)
        self._follow_profile()
        self.secrets_saved = {}
        for name, value in list(self.pending_secrets.items()):
            if value:
                self.secrets.store(name, value)
                self.secrets_saved[name] = "stored"
            else:
                self.secrets.delete(name)
                self.secrets_saved[name] = "removed"
            del self.pending_secrets[name]
        self.dirty = False
        return self.config_path
