"""Store URLs: the default location, parsing and normalisation to the drivers we ship.

Only two back ends are supported: SQLite (built in) and PostgreSQL through psycopg 3.
Users paste PostgreSQL URLs in every spelling (``postgres://`` from Heroku-style
providers, bare ``postgresql://`` which SQLAlchemy maps to psycopg2); all become
``postgresql+psycopg://`` so the one installed driver is used.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import platformdirs
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from pendo_tui.errors import ConfigError

Dialect = Literal["sqlite", "postgresql"]

_PG_SCHEMES = {"postgres", "postgresql", "postgresql+psycopg", "postgresql+psycopg2"}
_SQLITE_SCHEMES = {"sqlite", "sqlite+pysqlite"}
_EXAMPLES = "sqlite:////path/to/pendo.db or postgresql+psycopg://user:password@host:5432/dbname"


def default_store_path() -> Path:
    return platformdirs.user_data_path("pendo-tui") / "pendo.db"


def default_store_url() -> str:
    return f"sqlite:///{default_store_path()}"


@dataclass(frozen=True)
class StoreUrl:
    """A parsed, normalised store URL."""

    url: URL
    dialect: Dialect

    @property
    def sqlite_path(self) -> Path | None:
        """The database file, or None for an in-memory SQLite store or PostgreSQL."""
        if self.dialect != "sqlite" or self.url.database in (None, "", ":memory:"):
            return None
        return Path(self.url.database).expanduser()

    @property
    def display(self) -> str:
        """The URL with its password masked: safe for messages and logs."""
        return self.url.render_as_string(hide_password=True)

    @property
    def pg_host_port(self) -> str:
        return f"{self.url.host or 'localhost'}:{self.url.port or 5432}"

    @property
    def label(self) -> str:
        """Short name of the store for user messages."""
        if self.dialect == "postgresql":
            return f"PostgreSQL database {self.url.database!r} on {self.pg_host_port}"
        path = self.sqlite_path
        return f"SQLite file {path}" if path else "in-memory SQLite store"

    @property
    def location(self) -> str:
        """The store as a person finds it again (TUI, run summary): the absolute SQLite
        path, or the PostgreSQL database (no password)."""
        path = self.sqlite_path
        return f"SQLite file {path.resolve()}" if path is not None else self.label


def parse_store_url(raw: str | None) -> StoreUrl:
    """Parse and normalise a store URL; ``None`` or empty means the default SQLite file.

    Raises ``ConfigError`` (exit 2) for a malformed URL or an unsupported database.
    """
    text = (raw or "").strip() or default_store_url()
    try:
        url = make_url(text)
    except (ArgumentError, ValueError) as exc:
        raise ConfigError(
            f"Store URL {_mask(text)!r} is not a valid database URL.",
            hint=f"Set [store] url to a URL such as {_EXAMPLES}.",
        ) from exc
    scheme = url.drivername.lower()
    if scheme in _PG_SCHEMES:
        if not url.database:
            raise ConfigError(
                f"Store URL {url.render_as_string(hide_password=True)!r} names no database.",
                hint="Add the database name after the host, e.g. postgresql://host:5432/pendo.",
            )
        return StoreUrl(url.set(drivername="postgresql+psycopg"), "postgresql")
    if scheme in _SQLITE_SCHEMES:
        return StoreUrl(url.set(drivername="sqlite"), "sqlite")
    raise ConfigError(
        f"Store URL {url.render_as_string(hide_password=True)!r} uses {url.drivername!r}, "
        "which pendo-tui does not support as its store.",
        hint=f"Use SQLite or PostgreSQL, e.g. {_EXAMPLES}.",
    )


def _mask(text: str) -> str:
    """Hide a password in a URL we could not parse (best effort: user:pass@ → user:***@)."""
    head, sep, tail = text.partition("://")
    if not sep or "@" not in tail:
        return text
    creds, _, rest = tail.rpartition("@")
    user = creds.split(":", 1)[0]
    return f"{head}://{user}:***@{rest}" if ":" in creds else text
