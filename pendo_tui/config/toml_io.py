"""Read, validate and save the TOML config file.

Reading uses ``tomllib`` (the reference parser, exact line/column on syntax errors);
saving goes through ``tomlkit`` so the comments and key order a user wrote survive.
A save validates the text it is about to write and replaces the file atomically
(temp file in the same folder, fsync, ``os.replace``, mode 0600): a failed validation
or a crash never leaves a half-written or invalid config behind.
"""

from __future__ import annotations

import os
import re
import tempfile
import tomllib
from pathlib import Path
from typing import Any

import platformdirs
import tomlkit
from pydantic import ValidationError
from tomlkit.exceptions import TOMLKitError

from pendo_tui.config.model import Config
from pendo_tui.config.toml_merge import merge_table
from pendo_tui.config.validation_errors import (
    ConfigValidationError,
    format_validation_error,
)
from pendo_tui.errors import ConfigError

__all__ = [
    "ENV_CONFIG_PATH",
    "ConfigDocument",
    "ConfigValidationError",
    "default_config_path",
    "format_validation_error",
    "load_config",
    "validate_data",
]

ENV_CONFIG_PATH = "PENDO_TUI_CONFIG"
FILE_MODE = 0o600
DIR_MODE = 0o700
NEW_FILE_HEADER = (
    "pendo-tui configuration. Every key is documented in config.example.toml.\n"
    "Secrets are not stored here: they live in the OS keyring or the environment."
)
_LINE_COL = re.compile(r"\(at line (\d+), column (\d+)\)")


def default_config_path() -> Path:
    """``$PENDO_TUI_CONFIG`` if set, else ``config.toml`` in the user config dir."""
    override = os.environ.get(ENV_CONFIG_PATH)
    if override:
        return Path(override).expanduser()
    return platformdirs.user_config_path("pendo-tui") / "config.toml"


def _read_text(path: Path) -> str:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(
            f"No config file at {path}",
            "Run `pendo-tui` to create one with the set-up screens, or copy "
            f"config.example.toml to {path} and edit it.",
        ) from None
    except IsADirectoryError:
        raise ConfigError(
            f"Config path {path} is a folder, not a file",
            f"Point --config or {ENV_CONFIG_PATH} at a .toml file.",
        ) from None
    except OSError as exc:
        raise ConfigError(
            f"Cannot read config file {path}: {exc.strerror}",
            "Check the file's permissions (pendo-tui saves it with mode 0600).",
        ) from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"Config file {path} is not UTF-8 text (bad byte at offset {exc.start})",
            "Save it as UTF-8; TOML files must be UTF-8.",
        ) from None


def _syntax_error(path: Path | None, text: str, exc: Exception) -> ConfigError:
    detail = str(exc)
    match = _LINE_COL.search(detail)
    line = int(match.group(1)) if match else getattr(exc, "lineno", None)
    col = int(match.group(2)) if match else getattr(exc, "colno", None)
    if line is None and "at end of document" in detail:  # e.g. an unclosed [ or """
        line = max(text.count("\n") + (0 if text.endswith("\n") else 1), 1)
        col = len(text.splitlines()[line - 1]) + 1 if text.strip() else 1
    what = _LINE_COL.sub("", detail).replace("(at end of document)", "").strip()
    what = what or "invalid TOML"
    where = str(path) if path is not None else "the configuration"
    if line is None:
        return ConfigError(f"TOML syntax error in {where}: {what}", "Fix the file's TOML syntax.")
    lines = text.splitlines()
    shown = lines[line - 1] if 0 < line <= len(lines) else ""
    pointer = f"\n    {shown}\n    {' ' * max((col or 1) - 1, 0)}^" if shown else ""
    return ConfigError(
        f"TOML syntax error in {where} at line {line}, column {col}: {what}{pointer}",
        'Fix the syntax there: text values need quotes ("..."), sections are [name], '
        "lists of sections [[name]], one key = value per line.",
    )


def parse_toml(text: str, path: Path | None = None) -> dict[str, Any]:
    """Parse TOML text; a syntax error becomes a ``ConfigError`` with line and column."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise _syntax_error(path, text, exc) from None


def validate_data(data: dict[str, Any], path: Path | str | None = None) -> Config:
    """Validate parsed TOML strictly (TOML is typed: ``"90"`` is not a number)."""
    try:
        return Config.model_validate(data, strict=True)
    except ValidationError as exc:
        raise format_validation_error(exc, path, data) from None


def load_config(path: Path) -> Config:
    """Read and validate one config file; every failure is a ``ConfigError``."""
    path = Path(path)
    text = _read_text(path)
    return validate_data(parse_toml(text, path), path)


def _dump(config: Config) -> dict[str, Any]:
    return config.model_dump(mode="json")


def _write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` via a 0600 temp file in the same folder + ``os.replace``."""
    target = Path(os.path.realpath(path))  # keep a symlinked config a symlink
    folder = target.parent
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise ConfigError(
            f"Cannot write config file {path}: {exc.strerror} ({folder})",
            "Choose a writable location with --config or PENDO_TUI_CONFIG.",
        ) from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            os.fchmod(handle.fileno(), FILE_MODE)
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, target)
    except OSError as exc:
        Path(tmp_name).unlink(missing_ok=True)
        raise ConfigError(
            f"Cannot write config file {path}: {exc.strerror}",
            "Check free disk space and the folder's permissions.",
        ) from None
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    try:  # make the rename itself durable
        dir_fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)


class ConfigDocument:
    """A config file held as a tomlkit document, for edits that keep the user's text.

    ``config`` is the validated model; ``update`` writes a changed model back into the
    document (only what changed); ``save`` validates the resulting text and replaces the
    file atomically — on any validation problem nothing is written.
    """

    def __init__(self, document: tomlkit.TOMLDocument, config: Config, path: Path | None) -> None:
        self.document = document
        self.config = config
        self.path = path
        # What the document means now: the baseline ``update`` compares against.
        self._written: dict[str, Any] = _dump(config)

    @classmethod
    def load(cls, path: Path) -> ConfigDocument:
        path = Path(path)
        text = _read_text(path)
        config = validate_data(parse_toml(text, path), path)
        try:
            document = tomlkit.parse(text)
        except TOMLKitError as exc:  # tomllib accepted it; tomlkit should too
            raise _syntax_error(path, text, exc) from None
        return cls(document, config, path)

    @classmethod
    def new(cls, config: Config, path: Path | None = None) -> ConfigDocument:
        """A fresh document holding only the settings that differ from the defaults."""
        document = tomlkit.document()
        for line in NEW_FILE_HEADER.splitlines():
            document.add(tomlkit.comment(line))
        document.add(tomlkit.nl())
        doc = cls(document, Config(), path)
        doc.update(config)
        return doc

    def update(self, config: Config) -> None:
        """Write ``config``'s values into the document, keeping comments and order."""
        new = _dump(config)
        merge_table(self.document, new, self._written)
        self._written = new
        self.config = config

    def text(self) -> str:
        return tomlkit.dumps(self.document)

    def save(self, path: Path | None = None) -> Path:
        """Validate and atomically write the document; returns the path written."""
        target = Path(path) if path is not None else self.path
        if target is None:
            target = default_config_path()
        text = self.text()
        self.config = validate_data(parse_toml(text, target), target)
        _write_atomic(target, text)
        self.path = target
        return target
