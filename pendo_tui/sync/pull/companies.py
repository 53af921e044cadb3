"""Where companies come from: Pendo accounts (default), a SQL query or a CSV.

The identity rules that use them: docs/pendo-reference.md#identity-rules.

Companies gate auto-creation of end users (a visitor's company must exist), so the pull
engine refreshes them once per run before any mapping. Rows are upserted, never deleted:
a company that disappears from the source keeps its history.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.exc import SQLAlchemyError

from pendo_tui.config.model import Config
from pendo_tui.errors import ConfigError
from pendo_tui.store import schema
from pendo_tui.sync.ports import PendoApi, StoreApi
from pendo_tui.sync.pull.identity import field_value

NAME_FIELDS = ("agent.name", "agent.companyname", "custom.name", "auto.name", "salesforce.name")
ID_COLUMNS = ("external_id", "id", "accountId", "account_id")
NAME_COLUMNS = ("name", "company", "company_name")
BATCH = 5_000


def account_name(record: dict[str, Any]) -> str | None:
    """Account metadata fields commonly holding the name, first non-empty wins."""
    for path in NAME_FIELDS:
        value = field_value(record, path)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def pendo_companies(config: Config, client: PendoApi) -> Iterator[dict[str, Any]]:
    id_field = config.identity.company_external_id
    for rec in client.aggregate([{"source": {"accounts": None}}], name="pendo-tui-companies"):
        ext = field_value(rec, id_field) if id_field != "accountId" else rec.get("accountId")
        ext = ext or rec.get("accountId")
        if ext:
            yield {"external_id": str(ext), "name": account_name(rec), "source": "pendo"}


def _pick(row: dict[str, Any], names: tuple[str, ...]) -> Any:
    for n in names:
        if row.get(n) not in (None, ""):
            return row[n]
    return None


def _from_rows(rows: Iterator[dict[str, Any]], source: str, where: str) -> Iterator[dict[str, Any]]:
    for i, row in enumerate(rows):
        if i == 0 and _pick(row, ID_COLUMNS) is None and not any(c in row for c in ID_COLUMNS):
            raise ConfigError(
                f"companies {source} {where} has no id column (columns: {', '.join(row)})",
                f"Return a column named one of {', '.join(ID_COLUMNS)} (and optionally 'name').",
            )
        ext = _pick(row, ID_COLUMNS)
        if ext is not None:
            yield {"external_id": str(ext), "name": _pick(row, NAME_COLUMNS), "source": source}


def sql_companies(url: str, query: str) -> Iterator[dict[str, Any]]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            result = conn.execution_options(stream_results=True).execute(text(query))
            yield from _from_rows((dict(r._mapping) for r in result), "sql", "query")
    except SQLAlchemyError as exc:
        raise ConfigError(
            f"companies query failed against {engine.url.render_as_string(hide_password=True)}: "
            f"{exc.__class__.__name__}: {str(exc).splitlines()[0]}",
            "Check [companies] url and query.",
        ) from None
    finally:
        engine.dispose()


def csv_companies(path: str) -> Iterator[dict[str, Any]]:
    p = Path(path).expanduser()
    if not p.is_file():
        raise ConfigError(f"companies CSV {p} does not exist", "Fix [companies] path.")
    with p.open(newline="", encoding="utf-8-sig") as f:
        yield from _from_rows(csv.DictReader(f), "csv", str(p))


def company_rows(config: Config, client: PendoApi) -> Iterator[dict[str, Any]]:
    c = config.companies
    if c.source == "sql":
        return sql_companies(c.url or "", c.query or "")
    if c.source == "csv":
        return csv_companies(c.path or "")
    return pendo_companies(config, client)


def refresh_companies(config: Config, client: PendoApi, store: StoreApi) -> int:
    """Upsert every company of the configured source; returns how many were read.

    Names are refreshed from the source; last_seen/last_active belong to the pull engine.
    """
    total = 0
    batch: list[dict[str, Any]] = []
    with store.begin() as conn:
        for row in company_rows(config, client):
            batch.append(row)
            if len(batch) >= BATCH:
                store.upsert(conn, schema.companies, batch, ["external_id"])
                total += len(batch)
                batch = []
        if batch:
            store.upsert(conn, schema.companies, batch, ["external_id"])
            total += len(batch)
    return total
