"""The installed pendo-tui version, for the User-Agent header and HAR's creator field."""

from __future__ import annotations

from functools import cache
from importlib.metadata import PackageNotFoundError, version


@cache
def package_version() -> str:
    try:
        return version("pendo-tui")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "0+unknown"
