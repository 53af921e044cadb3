"""Reading a push sync's model: a SQL query (any SQLAlchemy URL) or a CSV file.

Rows stream — a server-side cursor for SQL (``stream_results`` + ``yield_per``), the csv
module for files — so a model of millions of rows never sits in memory. Before anything is
sent the model is checked: required columns present, primary keys unique under the one key
function of ``keys.py`` (examples listed), a CSV file decodable and within the field limit.
"""

from __future__ import annotations

import codecs
import csv
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, column, create_engine, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError

from pendo_tui.config.model import ModelSource
from pendo_tui.errors import ConfigError, PendoTuiError
from pendo_tui.sync.push import csvcheck
from pendo_tui.sync.push.checks import MAX_VALUE_BYTES
from pendo_tui.sync.push.common import ROW_PROBLEM
from pendo_tui.sync.push.keys import InvalidKey, canonical_key

# A model URL of "store" reads from the pull store itself (push computed metrics back).
STORE_URL_ALIAS = "store"
YIELD_PER = 1_000
KEY_YIELD_PER = 10_000  # the key pass reads one column
MAX_DUPLICATE_EXAMPLES = 5
MAX_FORMS_LISTED = 4
DEFAULT_CSV_ENCODING = "utf-8-sig"  # UTF-8, with or without a byte-order mark


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

    @property
    def _encoding(self) -> str:
        chosen = self.source.encoding or DEFAULT_CSV_ENCODING
        # "utf-8" also reads a file that starts with a byte-order mark (Excel writes one).
        return DEFAULT_CSV_ENCODING if codecs.lookup(chosen).name == "utf-8" else chosen

    @contextmanager
    def _csv_records(self) -> Iterator[tuple[list[str], Iterator[tuple[int, list[str]]]]]:
        """The header and the records (first line number, cells) of the CSV model.

        Undecodable bytes and over-long cells raise ModelError naming the line and column.
        """
        path = self._csv_path()
        with path.open(newline="", encoding=self._encoding) as fh:
            reader = csv.reader(fh)
            try:
                header = next(reader, None)
            except (UnicodeDecodeError, csv.Error) as exc:
                raise self._csv_error(path, exc, 0, None) from None
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

            def records() -> Iterator[tuple[int, list[str]]]:
                before = reader.line_num
                while True:
                    try:
                        cells = next(reader)
                    except StopIteration:
                        return
                    except (UnicodeDecodeError, csv.Error) as exc:
                        raise self._csv_error(path, exc, before, header) from None
                    if cells:  # a blank line is no record
                        yield before + 1, cells
                    before = reader.line_num

            yield header, records()

    def _csv_error(
        self, path: Path, exc: Exception, before: int, header: list[str] | None
    ) -> ModelError:
        where = f"push sync {self.sync_name!r}: CSV file {str(path)!r}"
        if isinstance(exc, UnicodeDecodeError):
            found = csvcheck.locate_undecodable(path, self._encoding)
            if header is None and found is not None and found[0] > 1:
                header = csvcheck.header_of(path, self._encoding)
            place = csvcheck.describe_place(found, header)
            return ModelError(
                f"{where} is not valid {self.source.encoding or 'UTF-8'} text: {place}",
                csvcheck.encoding_hint(path, self.source.encoding),
            )
        if "field larger than field limit" in str(exc):
            line, col = csvcheck.locate_long_field(path, self._encoding, before)
            place = csvcheck.describe_place((line, col), header)
            limit = csv.field_size_limit()
            return ModelError(
                f"{where}: a cell is over the CSV field limit of {limit:,} characters: {place}",
                "A value that long cannot go to Pendo (a value is limited to "
                f"{MAX_VALUE_BYTES // 1024} KiB, track properties to 512 bytes): shorten it "
                "or leave the column out of the model.",
            )
        hint = "Check the file's quoting"
        if "NUL" in str(exc):
            hint = csvcheck.encoding_hint(path, self.source.encoding)
        return ModelError(f"{where}: line {before + 1}: {exc}", hint)

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
            with self._csv_records() as (header, _):
                cols = list(header)
        else:
            with self._engine() as engine:
                try:
                    with engine.connect() as conn:
                        cols = self._probe_columns(conn)
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

    def _duplicates(self, examples: list[tuple[str, int, list[Any]]], total: int) -> ModelError:
        listed = ", ".join(
            f"{k!r} ×{n}" + (f" ({', '.join(repr(f) for f in forms)})" if forms else "")
            for k, n, forms in examples
        )
        return ModelError(
            f"push sync {self.sync_name!r}: the primary key is not unique in the model "
            f"({total} duplicated key(s), e.g. {listed}); keys are compared trimmed, in "
            "Unicode NFC, and numbers by value (12, 12.0 and '12' are one key)",
            "Each row needs its own primary key (see 'Primary keys' in docs/push.md): "
            "deduplicate the model (e.g. TRIM the key in the query) or pick another "
            "primary_key. Nothing was sent.",
        )

    def _check_keys(self, primary_key: str, read_keys: Callable[[], Iterator[Any]]) -> int:
        """One pass over the model's key column through ``canonical_key``; on collisions a
        second pass collects the raw forms of the first ones. Returns the row count."""
        seen: set[str] = set()
        dupes: dict[str, int] = {}
        total = 0
        for raw in read_keys():
            total += 1
            try:
                key = canonical_key(raw)
            except InvalidKey:
                continue  # rejected row by row when the rows are read
            if key is None:
                continue
            if key in seen:
                dupes[key] = dupes.get(key, 1) + 1
            else:
                seen.add(key)
        if not dupes:
            return total
        del seen
        top = sorted(dupes.items(), key=lambda kv: (-kv[1], kv[0]))[:MAX_DUPLICATE_EXAMPLES]
        forms: dict[str, list[Any]] = {k: [] for k, _ in top}
        for raw in read_keys():
            try:
                key = canonical_key(raw)
            except InvalidKey:
                continue
            listed = forms.get(key) if key is not None else None
            if listed is not None and raw not in listed and len(listed) < MAX_FORMS_LISTED:
                listed.append(raw)
        examples = [(k, n, forms[k] if any(f != k for f in forms[k]) else []) for k, n in top]
        raise self._duplicates(examples, len(dupes))

    def _subquery(self) -> str:
        """The model's query as a subquery: a trailing ";" would be a syntax error there."""
        return (self.source.query or "").strip().rstrip(";")

    def _probe_columns(self, conn: Any) -> list[str]:
        """The model's columns: a false WHERE runs the query without reading its rows."""
        probe = text(f"SELECT * FROM ({self._subquery()}) AS m WHERE 1 = 0")
        return list(conn.execute(probe).keys())

    def _check_sql(self, primary_key: str, required: list[str]) -> int | None:
        query = self._subquery()
        with self._engine() as engine:
            try:
                with engine.connect() as conn:
                    self._require(self._probe_columns(conn), [primary_key, *required])
                    sub = text(query).columns(column(primary_key)).subquery("m")
                    keys_only = select(sub.c[primary_key])

                    def read_keys() -> Iterator[Any]:
                        raw = self._driver_keys(conn, query, primary_key)
                        if raw is not None:
                            yield from raw
                            return
                        result = conn.execution_options(
                            stream_results=True, yield_per=KEY_YIELD_PER
                        ).execute(keys_only)
                        for part in result.partitions():
                            for row in part:
                                yield row[0]

                    return self._check_keys(primary_key, read_keys)
            except SQLAlchemyError as exc:
                raise self._query_error(exc) from None

    def _driver_keys(self, conn: Connection, query: str, primary_key: str) -> Iterator[Any] | None:
        """The key column straight from the driver's cursor (SQLite; PostgreSQL through a
        server-side psycopg cursor): no SQLAlchemy row per key, half the cost of the pass.
        None for other drivers (the caller streams through SQLAlchemy)."""
        dialect = conn.dialect
        if (dialect.name, dialect.driver) not in (
            ("sqlite", "pysqlite"),
            ("postgresql", "psycopg"),
        ):
            return None
        sql = f"SELECT m.{dialect.identifier_preparer.quote(primary_key)} FROM ({query}) AS m"
        dbapi_conn: Any = conn.connection.dbapi_connection
        errors = dialect.loaded_dbapi.Error

        def keys() -> Iterator[Any]:
            try:
                if dialect.name == "postgresql":
                    cursor = dbapi_conn.cursor(name="pendo_tui_push_keys")
                else:
                    cursor = dbapi_conn.cursor()
                try:
                    cursor.execute(sql)
                    while rows := cursor.fetchmany(KEY_YIELD_PER):
                        for row in rows:
                            yield row[0]
                finally:
                    cursor.close()
            except errors as exc:
                raise ModelError(
                    f"push sync {self.sync_name!r}: the model query failed on "
                    f"{self._safe_url()}: {str(exc).strip().splitlines()[0]}",
                    "Fix model.query (run it in your database client first); nothing was sent.",
                ) from None

        return keys()

    def _check_csv(self, primary_key: str, required: list[str]) -> int:
        with self._csv_records() as (header, _):
            self._require(header, [primary_key, *required])
        index = header.index(primary_key)

        def read_keys() -> Iterator[Any]:
            with self._csv_records() as (_, records):
                for _, cells in records:
                    yield cells[index] if index < len(cells) else None

        return self._check_keys(primary_key, read_keys)

    def rows(self) -> Iterator[dict[str, Any]]:
        """Stream the model's rows as dicts (CSV: empty cells become None)."""
        if self.source.csv:
            yield from self._csv_rows()
        else:
            yield from self._sql_rows()

    def _csv_rows(self) -> Iterator[dict[str, Any]]:
        with self._csv_records() as (header, records):
            width = len(header)
            for line, cells in records:
                if len(cells) == width:
                    yield {k: (v if v != "" else None) for k, v in zip(header, cells, strict=True)}
                    continue
                row: dict[str, Any] = {k: (v or None) for k, v in zip(header, cells, strict=False)}
                row[ROW_PROBLEM] = (
                    "ragged_row",
                    f"line {line} has {len(cells)} cell(s), the header has {width}",
                )
                yield row

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
