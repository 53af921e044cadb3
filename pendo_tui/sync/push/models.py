"""Reading a push sync's model: a SQL query (any SQLAlchemy URL) or a CSV file.

Rows stream — a server-side cursor for SQL (``stream_results`` + ``yield_per``), the csv
module for files — so a model of millions of rows never sits in memory. Before anything is
sent the model is checked: required columns present, primary keys unique (examples listed).
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, column, create_engine, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError

from pendo_tui.config.model import ModelSource
from pendo_tui.errors import ConfigError, PendoTuiError

# A model URL of "store" reads from the pull store itself (push computed metrics back).
STORE_URL_ALIAS = "store"
YIELD_PER = 1_000
MAX_DUPLICATE_EXAMPLES = 5


class ModelError(PendoTuiError):
    """The push model cannot be read or is not valid for its sync (exit 2: fix the model)."""

    exit_code = ConfigError.exit_code
    title = "Push model error"


def _db_message(exc: SQLAlchemyError) -> str:
    orig = getattr(exc, "orig", None)
    return str(orig if orig is not None else exc).strip().splitlines()[0]


class ModelReader:
    """One model, opened for one sync. ``columns`` is known before the first row is read."""

    def __init__(self, source: ModelSource, sync_name: str, store_engine: Engine | None = None):
        self.source = source
        self.sync_name = sync_name
        self._store_engine = store_engine

    # -- description -------------------------------------------------------------------
    @property
    def label(self) -> str:
        if self.source.csv:
            return f"CSV {self.source.csv}"
        return f"query on {self._safe_url()}"

    def _safe_url(self) -> str:
        url = self.source.url or ""
        if url == STORE_URL_ALIAS:
            return "the pendo-tui store"
        try:
            return make_url(url).render_as_string(hide_password=True)
        except ArgumentError:
            return "<unparsable URL>"

    # -- SQL ---------------------------------------------------------------------------
    @contextmanager
    def _engine(self) -> Iterator[Engine]:
        url = self.source.url or ""
        if url == STORE_URL_ALIAS:
            if self._store_engine is None:
                raise ModelError(f"push[{self.sync_name}]: model url 'store' needs an open store")
            yield self._store_engine
            return
        try:
            engine = create_engine(url)
        except (ArgumentError, NoSuchModuleError) as exc:
            raise ModelError(
                f"push sync {self.sync_name!r}: model url {url!r} is not a usable database URL: "
                f"{exc}",
                "Use a SQLAlchemy URL such as sqlite:///warehouse.db or "
                "postgresql+psycopg://user@host/db (install the driver for other databases).",
            ) from None
        try:
            yield engine
        finally:
            engine.dispose()

    def _query_error(self, exc: SQLAlchemyError) -> ModelError:
        return ModelError(
            f"push sync {self.sync_name!r}: the model query failed on {self._safe_url()}: "
            f"{_db_message(exc)}",
            "Fix model.query (run it in your database client first); nothing was sent.",
        )

    # -- CSV ---------------------------------------------------------------------------
    def _csv_path(self) -> Path:
        path = Path(self.source.csv or "").expanduser()
        if not path.is_file():
            raise ModelError(
                f"push sync {self.sync_name!r}: CSV file {str(path)!r} does not exist",
                "Check model.csv (relative paths are resolved from the current directory).",
            )
        return path

    @contextmanager
    def _csv_reader(self) -> Iterator[csv.DictReader[str]]:
        path = self._csv_path()
        with path.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            header = reader.fieldnames
            if not header or not any(h.strip() for h in header):
                raise ModelError(
                    f"push sync {self.sync_name!r}: CSV file {str(path)!r} has no header row",
                    "The first line of the CSV must name the columns.",
                )
            blank = [i + 1 for i, h in enumerate(header) if not h.strip()]
            if blank:
                raise ModelError(
                    f"push sync {self.sync_name!r}: CSV file {str(path)!r} has an empty "
                    f"column name in its header (column {blank[0]})",
                    "Give every column a name in the first line.",
                )
            yield reader

    # -- public ------------------------------------------------------------------------
    def check(self, primary_key: str, required: list[str]) -> int | None:
        """Check columns and key uniqueness; return the row count when it is cheap to know.

        Raises ModelError naming the missing columns or listing duplicate keys.
        """
        if self.source.csv:
            return self._check_csv(primary_key, required)
        return self._check_sql(primary_key, required)

    def columns(self, required: list[str] | None = None) -> list[str]:
        """The model's columns without reading its rows — SQL: the query runs with a false
        WHERE (proves the connection and the query); CSV: the header. With ``required``,
        raises ModelError naming the missing ones (the ``--check`` preflight)."""
        if self.source.csv:
            with self._csv_reader() as reader:
                cols = list(reader.fieldnames or [])
        else:
            query = (self.source.query or "").strip().rstrip(";")
            with self._engine() as engine:
                try:
                    with engine.connect() as conn:
                        probe = text(f"SELECT * FROM ({query}) AS m WHERE 1 = 0")
                        cols = list(conn.execute(probe).keys())
                except SQLAlchemyError as exc:
                    raise self._query_error(exc) from None
        if required:
            self._require(cols, required)
        return cols

    def _require(self, columns: list[str], required: list[str]) -> None:
        missing = [c for c in dict.fromkeys(required) if c not in columns]
        if missing:
            raise ModelError(
                f"push sync {self.sync_name!r}: the model ({self.label}) has no column "
                + ", ".join(repr(c) for c in missing),
                f"Columns found: {', '.join(columns) or '(none)'}. Fix the sync's column "
                "settings or the model.",
            )

    def _duplicates(self, examples: list[tuple[Any, int]], total_dupes: int) -> ModelError:
        listed = ", ".join(f"{k!r} ×{n}" for k, n in examples)
        return ModelError(
            f"push sync {self.sync_name!r}: the primary key is not unique in the model "
            f"({total_dupes} duplicated key(s), e.g. {listed})",
            "Each row needs its own primary key; deduplicate the model or pick another "
            "primary_key. Nothing was sent.",
        )

    def _check_sql(self, primary_key: str, required: list[str]) -> int | None:
        # The model becomes a subquery, where a trailing ";" would be a syntax error.
        query = (self.source.query or "").strip().rstrip(";")
        with self._engine() as engine:
            try:
                with engine.connect() as conn:
                    # A false WHERE gives the model's columns without reading its rows.
                    probe = text(f"SELECT * FROM ({query}) AS m WHERE 1 = 0")
                    cols = list(conn.execute(probe).keys())
                    self._require(cols, [primary_key, *required])
                    sub = text(query).columns(column(primary_key)).subquery("m")
                    pk = sub.c[primary_key]
                    total, distinct = conn.execute(
                        select(func.count(), func.count(pk.distinct())).select_from(sub)
                    ).one()
                    non_null = conn.execute(select(func.count(pk)).select_from(sub)).scalar_one()
                    if distinct != non_null:
                        rows = conn.execute(
                            select(pk, func.count())
                            .select_from(sub)
                            .where(pk.is_not(None))
                            .group_by(pk)
                            .having(func.count() > 1)
                            .order_by(func.count().desc(), pk)
                            .limit(MAX_DUPLICATE_EXAMPLES)
                        ).all()
                        dupes = conn.execute(
                            select(func.count()).select_from(
                                select(pk)
                                .where(pk.is_not(None))
                                .group_by(pk)
                                .having(func.count() > 1)
                                .subquery()
                            )
                        ).scalar_one()
                        raise self._duplicates([(r[0], r[1]) for r in rows], dupes)
                    return int(total)
            except SQLAlchemyError as exc:
                raise self._query_error(exc) from None

    def _check_csv(self, primary_key: str, required: list[str]) -> int:
        seen: set[str] = set()
        dupes: dict[str, int] = {}
        total = 0
        with self._csv_reader() as reader:
            self._require(list(reader.fieldnames or []), [primary_key, *required])
            for row in reader:
                total += 1
                key = (row.get(primary_key) or "").strip()
                if not key:
                    continue
                if key in seen:
                    dupes[key] = dupes.get(key, 1) + 1
                else:
                    seen.add(key)
        if dupes:
            top = sorted(dupes.items(), key=lambda kv: (-kv[1], kv[0]))[:MAX_DUPLICATE_EXAMPLES]
            raise self._duplicates(top, len(dupes))
        return total

    def rows(self) -> Iterator[dict[str, Any]]:
        """Stream the model's rows as dicts (CSV: empty cells become None)."""
        if self.source.csv:
            yield from self._csv_rows()
        else:
            yield from self._sql_rows()

    def _csv_rows(self) -> Iterator[dict[str, Any]]:
        with self._csv_reader() as reader:
            for row in reader:
                yield {k: (v if v != "" else None) for k, v in row.items() if k is not None}

    def _sql_rows(self) -> Iterator[dict[str, Any]]:
        with self._engine() as engine:
            try:
                with engine.connect() as conn:
                    result = conn.execution_options(
                        stream_results=True, yield_per=YIELD_PER
                    ).execute(text(self.source.query or ""))
                    for mapping in result.mappings():
                        yield dict(mapping)
            except SQLAlchemyError as exc:
                raise self._query_error(exc) from None
