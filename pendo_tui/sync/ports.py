"""What the sync engine needs from Pendo and from the store, as typed Protocols.

The engine is written against these two seams, not against ``PendoClient`` and ``Store``
themselves: the surface it depends on is visible in one place, and anything else that
speaks it (a client with other retry settings, a read-only store handle) fits.
``PendoClient`` and ``Store`` satisfy them (``tests/sync/test_ports.py`` checks the
method names; a type checker also sees the ``_check`` function at the bottom).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

from sqlalchemy import ColumnElement, Connection, Engine, Table

if TYPE_CHECKING:
    from pendo_tui.pendo.client import MetadataKind, MetadataResult, TokenInfo
    from pendo_tui.pendo.transport import Stats


class PendoApi(Protocol):
    """The Pendo calls a pull, a push or a preview makes."""

    @property
    def stats(self) -> Stats:
        """Calls, retries and errors so far (read before and after a sync)."""
        ...

    @property
    def has_track_secret(self) -> bool:
        """Whether ``track()`` can work (the secret itself is never exposed)."""
        ...

    def close(self) -> None: ...
    def verify(self) -> TokenInfo: ...
    def pages(self) -> list[dict]: ...
    def features(self) -> list[dict]: ...
    def track_types(self) -> list[dict]: ...
    def reports(self) -> list[dict]: ...
    def segments(self) -> list[dict]: ...
    def apps(self) -> list[str]: ...
    def metadata_schema(self, kind: MetadataKind) -> dict: ...
    def aggregate(self, pipeline: list[dict], *, name: str = ...) -> Iterator[dict]: ...
    def report_results(self, report_id: str) -> Iterator[dict]: ...
    def update_metadata(
        self, kind: MetadataKind, group: str, rows: list[dict], *, create: bool = ...
    ) -> MetadataResult: ...
    def create_metadata_fields(
        self, kind: MetadataKind, group: str, fields: list[dict]
    ) -> None: ...
    def track(self, event: dict) -> None: ...


Where = ColumnElement[bool] | Mapping[str, Any]


class StoreApi(Protocol):
    """The store a run reads and writes: transactions, upserts, its lock."""

    engine: Engine
    dialect: Literal["sqlite", "postgresql"]
    display_url: str
    label: str
    path: Path | None

    def begin(self) -> AbstractContextManager[Connection]: ...
    def connect(self) -> AbstractContextManager[Connection]: ...
    def upsert(
        self,
        conn: Connection,
        table: Table | str,
        rows: Iterable[Mapping[str, Any]],
        key_cols: Sequence[str] | None = ...,
    ) -> int: ...
    def delete_where(self, conn: Connection, table: Table | str, where: Where) -> int: ...
    def replace_rows(
        self,
        conn: Connection,
        table: Table | str,
        where: Where,
        rows: Iterable[Mapping[str, Any]],
    ) -> int: ...
    def lock(self, name: str = ...) -> AbstractContextManager[None]: ...
    def close(self) -> None: ...


if TYPE_CHECKING:  # the real classes speak these seams
    from pendo_tui.pendo.client import PendoClient
    from pendo_tui.store.db import Store

    def _check(client: PendoClient, store: Store) -> tuple[PendoApi, StoreApi]:
        return client, store
