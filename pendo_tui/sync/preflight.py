"""The ``--check`` preflight: everything a ``--sync`` needs, checked without moving data.

One ``Check`` per question a cron user would ask — is the key valid here, may it write
(for which syncs), is a track secret set, can every push model be read, can the store be
opened and written, does Pendo know every id the pull mappings name, do the reports still
fit their mappings, does the stored data match the settings. Each says what it found and,
when it failed, how to fix it and which exit code ``--sync`` would end with.

Nothing here writes to Pendo; the store check writes one row inside a transaction that is
rolled back. Core layer: no rich, no textual (``commands.check`` prints the results).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from pendo_tui.config.model import Config, PullMapping
from pendo_tui.errors import ExitCode, PendoTuiError, StoreError
from pendo_tui.pendo.errors import TRACK_HINT, WRITE_HINT

# Which failing class decides the exit code: auth/permission/secret, then configuration,
# then network/store (the README's table; the first class that failed wins).
EXIT_PRIORITY = (ExitCode.AUTH, ExitCode.USAGE, ExitCode.REMOTE)
OBJECT_KINDS = ("visitor", "account", "parent_account")


@dataclass(frozen=True)
class Check:
    ok: bool
    label: str
    detail: str
    fix: str = ""
    exit_code: int = ExitCode.OK  # what ``--sync`` would exit with when this fails

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def exit_code(checks: list[Check]) -> int:
    """0 when every check passed, else the first failing class in ``EXIT_PRIORITY``."""
    failed = {c.exit_code for c in checks if not c.ok}
    for code in EXIT_PRIORITY:
        if code in failed:
            return int(code)
    return int(next(iter(sorted(failed)), ExitCode.OK))


def _names(items: list[Any]) -> str:
    return ", ".join(repr(i.name) for i in items)


def _failed(label: str, err: PendoTuiError) -> Check:
    return Check(False, label, err.message, err.hint or "", err.exit_code)


class Preflight:
    """Runs the checks for one config; ``run()`` returns them in a fixed order."""

    def __init__(
        self,
        config: Config,
        secrets: Any,
        *,
        client: Any = None,
        request_log: Any = None,
    ) -> None:
        self.config = config
        self.secrets = secrets
        self.pulls = [m for m in config.pull if m.enabled]
        self.pushes = [s for s in config.push if s.enabled]
        self._client = client
        self._request_log = request_log

    # -- entry point -------------------------------------------------------------------
    def run(self) -> list[Check]:
        checks: list[Check] = []
        with self._open_client() as (client, key_check):
            checks.append(key_check)
            key_ok = key_check.ok
            write = client.write_access if key_ok else False  # None: Pendo did not say
            checks.append(self._write_access(key_ok, write))
            checks.append(self._track_secret())
            store, store_check = self._store()
            checks.append(store_check)
            try:
                checks.extend(self._models(store))
                checks.extend(self._pull_mappings(client if key_ok else None, store))
            finally:
                if store is not None:
                    store.close()
        return checks

    # -- Pendo key ---------------------------------------------------------------------
    @contextmanager
    def _open_client(self) -> Iterator[tuple[Any, Check]]:
        from pendo_tui.pendo.client import PendoClient

        label = "Pendo integration key"
        base = self.config.pendo.base_url
        own = self._client is None
        client = self._client
        try:
            if own:
                client = PendoClient.from_config(self.config, self.secrets, self._request_log)
            info = client.verify()
        except PendoTuiError as err:
            if own and client is not None:
                client.close()
            yield None, _failed(label, err)
            return
        if not info.valid:
            check = Check(
                False,
                label,
                f"Pendo says the key is not valid for {base}",
                "Check the key and [pendo] domain (a key works only in its own region).",
                ExitCode.AUTH,
            )
        else:
            access = {True: "read and write", False: "read-only"}.get(
                info.write_access, "Pendo did not say whether it may write"
            )
            region = getattr(client, "region_label", "") or base
            where = region if base in region else f"{region} ({base})"
            check = Check(True, label, f"valid for {where}, {access}")
        try:
            yield client, check
        finally:
            if own:
                client.close()

    def _write_access(self, key_ok: bool, write: bool | None) -> Check:
        label = "Write access for push syncs"
        writers = [s for s in self.pushes if s.kind in OBJECT_KINDS]
        if not writers:
            return Check(True, label, "not needed: no enabled push sync writes metadata")
        if not key_ok:
            return Check(
                False,
                label,
                f"not checked (the key check failed); needed by {_names(writers)}",
                "Fix the integration key first.",
                ExitCode.AUTH,
            )
        if write:
            return Check(True, label, f"the key may write, as {_names(writers)} need")
        if write is None:  # some answers omit writeAccess: the first write will tell
            return Check(
                True,
                label,
                f"Pendo did not say whether the key may write; {_names(writers)} will find "
                "out on their first write (a read-only key then fails them with exit 3)",
            )
        return Check(
            False,
            label,
            f"the key is read-only, but push syncs {_names(writers)} write Pendo metadata",
            WRITE_HINT,
            ExitCode.AUTH,
        )

    def _track_secret(self) -> Check:
        label = "Track event secret"
        senders = [s for s in self.pushes if s.kind == "events"]
        if not senders:
            return Check(True, label, "not needed: no enabled push sync sends track events")
        if self.secrets.get("track_secret"):
            source = _source(self.secrets, "track_secret")
            return Check(True, label, f"set{source}, for {_names(senders)}")
        return Check(
            False,
            label,
            f"not set, but push syncs {_names(senders)} send track events",
            TRACK_HINT,
            ExitCode.AUTH,
        )

    # -- store -------------------------------------------------------------------------
    def _store(self) -> tuple[Any, Check]:
        from sqlalchemy.exc import SQLAlchemyError

        from pendo_tui.store import schema
        from pendo_tui.store.db import open_store

        label = "Store"
        try:
            store = open_store(self.config.store.url)
        except PendoTuiError as err:
            return None, _failed(label, err)
        where = str(store.path) if getattr(store, "path", None) else store.display_url
        try:
            with store.connect() as conn, conn.begin() as tx:
                conn.execute(
                    schema.pull_state.insert().values(
                        mapping="pendo-tui --check (rolled back)",
                        updated_at=datetime.now(UTC),
                    )
                )
                tx.rollback()
        except (SQLAlchemyError, PendoTuiError) as exc:
            msg = getattr(exc, "orig", None) or exc
            return store, Check(
                False,
                label,
                f"{where} opens but cannot be written: {str(msg).strip().splitlines()[0]}",
                "Give this user write permission on the store (file and its folder for "
                "SQLite; INSERT/UPDATE/DELETE on the tables for PostgreSQL).",
                StoreError.exit_code,
            )
        return store, Check(True, label, f"{where} ({store.dialect}) opens and is writable")

    # -- push models -------------------------------------------------------------------
    def _models(self, store: Any) -> list[Check]:
        from pendo_tui.sync.push.events import EventBuilder
        from pendo_tui.sync.push.models import ModelReader
        from pendo_tui.sync.push.objects import check_delete_supported, object_columns

        out = []
        for sync in self.pushes:
            label = f"Push model of {sync.name!r}"
            reader = ModelReader(sync.model, sync.name, getattr(store, "engine", None))
            try:
                if sync.kind == "events":
                    required = EventBuilder(sync).required_columns()
                else:
                    check_delete_supported(sync)
                    required = object_columns(sync)
                cols = reader.columns([sync.primary_key, *required])
            except PendoTuiError as err:
                out.append(_failed(label, err))
                continue
            out.append(
                Check(
                    True,
                    label,
                    f"{reader.label}: readable, {len(cols)} columns, "
                    "every column the sync uses is there",
                )
            )
        return out

    # -- pull mappings -----------------------------------------------------------------
    def _pull_mappings(self, client: Any, store: Any) -> list[Check]:
        from pendo_tui.sync.pull.ids import Catalog, mapping_ids, unknown_ids

        if not self.pulls:
            return []
        out = []
        if store is not None:
            out.append(self._fingerprints(store))
        if client is None:
            return [
                *out,
                Check(
                    False,
                    "Pendo ids of pull mappings",
                    f"not checked (the key check failed): {_names(self.pulls)}",
                    "Fix the integration key first.",
                    ExitCode.AUTH,
                ),
            ]
        catalog = Catalog(client)
        for m in self.pulls:
            label = f"Pull mapping {m.name!r}"
            try:
                unknown = unknown_ids(self.config, catalog, [m])
                problems = [u.sentence() for u in unknown] or self._mapping_problems(m, catalog)
            except PendoTuiError as err:
                out.append(_failed(label, err))
                continue
            if problems:
                out.append(
                    Check(
                        False,
                        label,
                        "; ".join(problems),
                        "Pick ids and columns from Pendo's lists in the TUI (F4 in the "
                        "mapping editor) or fix the config.",
                        ExitCode.USAGE,
                    )
                )
                continue
            named = [f"{kind} {ident}" for kind, ident, _ in mapping_ids(m)]
            detail = "ids known to Pendo: " + ", ".join(named) if named else "names no Pendo id"
            if m.kind == "report":
                detail += f"; {report_summary(catalog.report(m.id or '') or {}, m)}"
            elif m.kind == "aggregation":
                detail += "; the pipeline keeps the id and mapped columns"
            out.append(Check(True, label, detail))
        return out

    def _mapping_problems(self, m: PullMapping, catalog: Any) -> list[str]:
        """What the engine would refuse at run time, beyond ids (reports, pipelines)."""
        if m.kind == "report":
            return report_mapping_problems(catalog.report(m.id or ""), m, catalog.client)
        if m.kind == "aggregation":
            from pendo_tui.pendo.pipelines import validate_pipeline

            try:
                steps = m.pipeline_steps()
            except ValueError as exc:
                return [str(exc)]
            return validate_pipeline(steps, m.object, list(m.columns))
        return []

    def _fingerprints(self, store: Any) -> Check:
        from pendo_tui.sync.pull.engine import PullEngine

        label = "Stored pull data matches the settings"
        changed = PullEngine(self.config, None, store).check_fingerprints(self.pulls)
        if changed:
            return Check(
                False,
                label,
                f"settings that shape old data changed for {', '.join(map(repr, changed))}",
                "Run pendo-tui --resync-all to rebuild them (a plain --sync refuses).",
                ExitCode.USAGE,
            )
        return Check(True, label, "no mapping needs a re-sync")


def report_mapping_problems(
    report: dict[str, Any] | None, mapping: PullMapping, client: Any
) -> list[str]:
    """Why a report mapping would fail: the window, then the mapped columns (the rows are
    sampled only when the definition does not settle a column)."""
    from pendo_tui.sync.pull.reports import (
        column_problems,
        needs_rows,
        sample_rows,
        window_problem,
    )

    if report is None:
        return [f"report {mapping.id!r} is not among the subscription's shared reports"]
    name = report.get("name") or mapping.id
    reason, _ = window_problem(report)
    if reason:
        return [f"report {name!r} {reason}"]
    evidence = None
    if needs_rows(report, mapping.columns):
        evidence = sample_rows(client, str(report.get("id")))
    return [f"report {name!r}: {p}" for p in column_problems(report, mapping.columns, evidence)]


def report_summary(report: dict[str, Any], mapping: PullMapping) -> str:
    from pendo_tui.sync.pull.reports import report_window

    window = report_window(report)
    return f"{window.detail}; columns {', '.join(mapping.columns)} are numeric"


def _source(secrets: Any, name: str) -> str:
    source: Callable[[str], str | None] | None = getattr(secrets, "source", None)
    where = source(name) if source else None
    labels = {"env": " (from the environment)", "keyring": " (from the keyring)"}
    return labels.get(str(where), "")


def preflight(config: Config, secrets: Any, **kw: Any) -> list[Check]:
    """Run every check for ``config``; see ``Preflight``."""
    return Preflight(config, secrets, **kw).run()


__all__ = ["Check", "Preflight", "exit_code", "preflight", "report_mapping_problems"]
