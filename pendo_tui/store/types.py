"""Column types that behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, Dialect
from sqlalchemy.types import TypeDecorator


class UtcDateTime(TypeDecorator[datetime]):
    """A moment in time: stored in UTC, always read back timezone-aware in UTC.

    SQLite has no timezone type: plain ``DateTime(timezone=True)`` there drops the offset
    and stores wall-clock time (a New York 09:00 and a UTC 09:00 would look equal), and
    reads back naive values while PostgreSQL returns aware ones. Normalising to UTC makes
    both back ends store comparable values and hand the engine the same Python objects.
    Naive values given to it are taken as UTC. The DDL is unchanged (TIMESTAMPTZ / TEXT).
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
