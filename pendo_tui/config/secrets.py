"""Where the integration key and the track secret come from.

Order: environment → OS keyring → a ``SecretError`` naming both ways to
provide the value. There is deliberately no plaintext fallback: a machine without a
usable keyring backend (headless Linux) gets a clear error, and a locked keyring says
it is locked. Values are never logged, and ``repr`` of these objects shows none.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Literal, Protocol

import keyring
import keyring.backend
import keyring.errors
from keyring.backends import fail as fail_backend
from keyring.backends import null as null_backend

from pendo_tui.errors import SecretError

SERVICE = "pendo-tui"
SECRET_INTEGRATION_KEY = "integration_key"
SECRET_TRACK = "track_secret"
ENV_VARS: dict[str, str] = {
    SECRET_INTEGRATION_KEY: "PENDO_INTEGRATION_KEY",
    SECRET_TRACK: "PENDO_TRACK_SECRET",
}
LABELS: dict[str, str] = {
    SECRET_INTEGRATION_KEY: "Pendo integration key",
    SECRET_TRACK: "Pendo track event shared secret",
}
SecretOrigin = Literal["env", "keyring", "static", "typed"]


class SecretProvider(Protocol):
    """The one secrets interface: what the engine, the CLI and the TUI need.

    Implemented by ``Secrets`` (environment, then keyring), ``StaticSecrets`` (demo,
    tests) and ``OverlaySecrets`` (values typed in the TUI but not saved yet).
    """

    @property
    def profile(self) -> str | None:
        """The profile keyring entries are named after; None when not keyring-backed."""
        ...

    def integration_key(self) -> str: ...
    def track_secret(self) -> str: ...
    def require(self, name: str) -> str: ...
    def get(self, name: str) -> str | None: ...
    def store(self, name: str, value: str) -> None: ...
    def delete(self, name: str) -> None: ...
    def source(self, name: str) -> SecretOrigin | None: ...
    def for_profile(self, profile: str) -> SecretProvider:
        """The same secrets for another profile (itself when not profile-scoped)."""
        ...


def _check_name(name: str) -> None:
    if name not in ENV_VARS:
        raise ValueError(f"unknown secret {name!r}; expected one of {', '.join(ENV_VARS)}")


def keyring_username(profile: str, name: str) -> str:
    return f"{profile}:{name}"


def _backend_name(backend: keyring.backend.KeyringBackend) -> str:
    cls = type(backend)
    return f"{cls.__module__.removeprefix('keyring.backends.')}.{cls.__name__}"


def _is_unusable(backend: keyring.backend.KeyringBackend) -> bool:
    # fail.Keyring raises on every call; null.Keyring silently drops what it is given.
    return isinstance(backend, fail_backend.Keyring | null_backend.Keyring)


class _KeyringProblem(Exception):
    """The keyring could not be asked: no backend, locked, or the backend failed."""

    def __init__(self, reason: str, fix: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.fix = fix


_NO_BACKEND_FIX = (
    "install and start a keyring service (GNOME Keyring or KWallet via Secret Service, "
    "macOS Keychain, Windows Credential Locker)"
)
_LOCKED_FIX = "unlock the keyring (log in to the desktop session, or unlock the login keyring)"
_FAILED_FIX = "check that the keyring service is running and unlocked"
_NO_PLAINTEXT = "pendo-tui never stores secrets in plain text"


class _NamedSecrets:
    """``integration_key()`` and ``track_secret()`` through the class's ``require``."""

    def require(self, name: str) -> str:
        raise NotImplementedError

    def integration_key(self) -> str:
        return self.require(SECRET_INTEGRATION_KEY)

    def track_secret(self) -> str:
        return self.require(SECRET_TRACK)


class Secrets(_NamedSecrets):
    """Secrets of one profile: ``env`` (default ``os.environ``) first, then the keyring.

    ``backend`` injects a keyring backend; by default the one ``keyring`` selects at
    call time (so ``keyring.set_keyring`` in tests takes effect).
    """

    def __init__(
        self,
        profile: str,
        env: Mapping[str, str] | None = None,
        *,
        backend: keyring.backend.KeyringBackend | None = None,
    ) -> None:
        self._profile = profile
        self._env = env
        self._backend = backend

    def __repr__(self) -> str:
        return f"Secrets(profile={self._profile!r})"

    @property
    def profile(self) -> str:
        return self._profile

    def for_profile(self, profile: str) -> Secrets:
        if profile == self._profile:
            return self
        return Secrets(profile, self._env, backend=self._backend)

    # -- lookups ---------------------------------------------------------------
    def _env_value(self, name: str) -> str | None:
        env = os.environ if self._env is None else self._env
        value = env.get(ENV_VARS[name], "")
        return value.strip() or None

    def _keyring(self) -> keyring.backend.KeyringBackend:
        backend = self._backend if self._backend is not None else keyring.get_keyring()
        if _is_unusable(backend):
            raise _KeyringProblem(
                f"no keyring backend is available on this machine ({_backend_name(backend)})",
                _NO_BACKEND_FIX,
            )
        return backend

    def _call_keyring(self, action: str, name: str, value: str | None = None) -> str | None:
        backend = self._keyring()
        user = keyring_username(self.profile, name)
        try:
            if action == "get":
                return backend.get_password(SERVICE, user)
            if action == "set":
                backend.set_password(SERVICE, user, value or "")
            else:
                backend.delete_password(SERVICE, user)
            return None
        except keyring.errors.KeyringLocked as exc:
            raise _KeyringProblem(
                f"the keyring is locked ({_backend_name(backend)}: {exc or 'locked'})",
                _LOCKED_FIX,
            ) from None
        except keyring.errors.NoKeyringError as exc:
            raise _KeyringProblem(
                f"no keyring backend is available ({exc})", _NO_BACKEND_FIX
            ) from None
        except keyring.errors.PasswordDeleteError:
            if action == "delete":
                return None  # nothing stored: deleting is already done
            raise
        except keyring.errors.KeyringError as exc:
            raise _KeyringProblem(
                f"the keyring failed ({_backend_name(backend)}: {type(exc).__name__}: {exc})",
                _FAILED_FIX,
            ) from None
        except Exception as exc:  # backends surface D-Bus and OS errors of their own
            raise _KeyringProblem(
                f"the keyring failed ({_backend_name(backend)}: {type(exc).__name__})",
                _FAILED_FIX,
            ) from None

    def _lookup(self, name: str) -> tuple[str | None, SecretOrigin | None, _KeyringProblem | None]:
        _check_name(name)
        value = self._env_value(name)
        if value:
            return value, "env", None
        try:
            stored = self._call_keyring("get", name)
        except _KeyringProblem as problem:
            return None, None, problem
        if stored:
            return stored, "keyring", None
        return None, None, None

    # -- public API ------------------------------------------------------------
    def get(self, name: str) -> str | None:
        """The secret's value, or ``None`` when it is not set or the keyring is unusable."""
        return self._lookup(name)[0]

    def source(self, name: str) -> SecretOrigin | None:
        return self._lookup(name)[1]

    def require(self, name: str) -> str:
        value, _, problem = self._lookup(name)
        if value:
            return value
        # One line (the CLI prints it as is): what is missing and both ways to fix it.
        label, var = LABELS[name], ENV_VARS[name]
        if problem is not None:
            raise SecretError(
                f"No {label}: {var} is not set and {problem.reason}; set {var}, or "
                f"{problem.fix} and save it with `pendo-tui` ({_NO_PLAINTEXT})"
            )
        raise SecretError(
            f"No {label} for profile {self.profile!r}: set {var}, or save it with `pendo-tui` "
            f"(Connection screen; keyring service {SERVICE!r}, "
            f"entry {keyring_username(self.profile, name)!r})"
        )

    def store(self, name: str, value: str) -> None:
        """Save to the keyring; ``SecretError`` when it cannot (never written elsewhere)."""
        _check_name(name)
        if not value.strip():
            raise SecretError(f"The {LABELS[name]} is empty", "Paste the full value.")
        try:
            self._call_keyring("set", name, value.strip())
        except _KeyringProblem as problem:
            raise SecretError(
                f"Cannot save the {LABELS[name]} to the keyring: {problem.reason}",
                f"{problem.fix[0].upper()}{problem.fix[1:]}, or set {ENV_VARS[name]} "
                f"in the environment instead; {_NO_PLAINTEXT}.",
            ) from None

    def delete(self, name: str) -> None:
        """Remove the keyring entry (the environment is not ours to change)."""
        _check_name(name)
        try:
            self._call_keyring("delete", name)
        except _KeyringProblem as problem:
            raise SecretError(
                f"Cannot remove the {LABELS[name]} from the keyring: {problem.reason}",
                f"{problem.fix[0].upper()}{problem.fix[1:]}.",
            ) from None


class StaticSecrets(_NamedSecrets):
    """Secrets given in code (demo mode, tests): same interface, kept in memory only."""

    def __init__(self, integration_key: str | None = None, track_secret: str | None = None):
        self._values: dict[str, str | None] = {
            SECRET_INTEGRATION_KEY: integration_key,
            SECRET_TRACK: track_secret,
        }

    def __repr__(self) -> str:
        return "StaticSecrets(<hidden>)"

    @property
    def profile(self) -> None:
        return None

    def for_profile(self, profile: str) -> StaticSecrets:
        return self

    def get(self, name: str) -> str | None:
        _check_name(name)
        return self._values.get(name) or None

    def source(self, name: str) -> SecretOrigin | None:
        return "static" if self.get(name) else None

    def require(self, name: str) -> str:
        value = self.get(name)
        if value:
            return value
        raise SecretError(
            f"No {LABELS[name]} was given: set {ENV_VARS[name]} or save it with `pendo-tui`"
        )

    def store(self, name: str, value: str) -> None:
        _check_name(name)
        self._values[name] = value

    def delete(self, name: str) -> None:
        _check_name(name)
        self._values[name] = None


class OverlaySecrets(_NamedSecrets):
    """Values typed on a screen but not saved yet, over the saved secrets (``base``).

    A typed value wins; an empty typed value means "removed". Nothing here is written to
    the keyring: ``store``/``delete`` change the overlay only.
    """

    def __init__(self, base: SecretProvider, typed: Mapping[str, str]) -> None:
        self._base = base
        self._typed = dict(typed)

    def __repr__(self) -> str:
        return f"OverlaySecrets({self._base!r}, <{len(self._typed)} typed>)"

    @property
    def profile(self) -> str | None:
        return self._base.profile

    def for_profile(self, profile: str) -> OverlaySecrets:
        return OverlaySecrets(self._base.for_profile(profile), self._typed)

    def get(self, name: str) -> str | None:
        _check_name(name)
        if name in self._typed:
            return self._typed[name].strip() or None
        return self._base.get(name)

    def source(self, name: str) -> SecretOrigin | None:
        if name in self._typed:
            return "typed" if self.get(name) else None
        return self._base.source(name)

    def require(self, name: str) -> str:
        value = self.get(name)
        if value:
            return value
        if name in self._typed:  # typed empty: the saved value is about to be removed
            raise SecretError(
                f"No {LABELS[name]} entered",
                f"Paste it on the Connection screen, or set {ENV_VARS[name]}.",
            )
        return self._base.require(name)

    def store(self, name: str, value: str) -> None:
        _check_name(name)
        self._typed[name] = value

    def delete(self, name: str) -> None:
        _check_name(name)
        self._typed[name] = ""
