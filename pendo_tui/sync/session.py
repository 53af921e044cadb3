"""The one typed door to the engine, for the CLI and the TUI alike.

An ``EngineSession`` is built from a ``Config`` and a ``SecretProvider``. It builds Pendo
clients (always through ``PendoClient.from_config``), holds one read-only store handle for
the read queries (``store/queries.py``) and offers everything a front end does: check,
plan (dry run), run, identity and push previews, pipeline and mapping validation, model
columns, stale-mapping detection, Re-sync impact, run history and metrics. The rules live
in the engine modules it calls; the front ends only show what it returns.

Reading never locks or migrates: the read handle comes from ``store.db.open_reader``, and
a store that does not exist yet reads as empty. Writes happen only inside ``run`` (and the
store opening of ``check``). Every method blocks (network, disk): the TUI calls them from
worker threads. Engine modules are imported lazily so importing this module is cheap (the
TUI's first paint).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from pendo_tui.config.model import Config, ModelSource, PullMapping, PushSync
from pendo_tui.errors import PendoTuiError
from pendo_tui.pendo.har import to_curl, to_har
from pendo_tui.pendo.requestlog import RequestLog, RequestRecord

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from pendo_tui.config.secrets import SecretProvider
    from pendo_tui.pendo.client import PendoClient
    from pendo_tui.store.db import Store
    from pendo_tui.sync.ports import PendoApi
    from pendo_tui.sync.preflight import Check
    from pendo_tui.sync.progress import ProgressCallback, ProgressEvent
    from pendo_tui.sync.runner import RunSummary

__all__ = [
    "CatalogKind",
    "ConnectionReport",
    "EngineSession",
    "ProgressEvent",
    "RequestLog",
    "RequestRecord",
    "RunSummary",
    "fingerprints",
    "stale_since",
    "to_curl",
    "to_har",
]

CatalogKind = Literal["page", "feature", "segment", "report", "app"]
RunKind = Literal["sync", "resync_all"]
# A person waits on interactive calls: they retry little and say why, fast.
INTERACTIVE_RETRIES = 2
INTERACTIVE_RETRY_SECONDS = 20.0
T = TypeVar("T")


@dataclass(frozen=True)
class ConnectionReport:
    """One verify call, in a sentence a person can act on."""

    ok: bool
    message: str
    write_access: bool = False


def fingerprints(config: Config) -> dict[str, str]:
    """{pull mapping: fingerprint of the settings that shape its data} (no I/O)."""
    from pendo_tui.sync.pull.fingerprint import fingerprints as compute

    return compute(config)


def stale_since(config: Config, before: dict[str, str | None]) -> list[str]:
    """Mappings whose data, built with the fingerprints ``before``, would need a Re-sync
    under ``config`` (the same rule ``--sync`` applies to the stored fingerprints)."""
    from pendo_tui.sync.pull.fingerprint import stale_mappings

    return stale_mappings(config, config.pull, before)


class EngineSession:
    """Config + secrets → clients, one read-only store handle, and the engine's calls."""

    def __init__(
        self,
        config: Config,
        secrets: SecretProvider,
        *,
        request_log: RequestLog | None = None,
        interactive: bool = False,
    ) -> None:
        self.config = config
        self.secrets = secrets
        self.request_log = request_log if request_log is not None else RequestLog()
        self.interactive = interactive
        self._lock = threading.Lock()
        self._reader: Store | None = None
        self._reader_url: str | None = None

    # -- lifecycle ------------------------------------------------------------------------
    def update(self, config: Config, secrets: SecretProvider) -> None:
        """Follow edited settings (the TUI); the read handle follows a changed store URL."""
        self.config, self.secrets = config, secrets

    def close(self) -> None:
        with self._lock:
            if self._reader is not None:
                self._reader.close()
            self._reader, self._reader_url = None, None

    def __enter__(self) -> EngineSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- clients --------------------------------------------------------------------------
    @contextmanager
    def client(self, *, retries: int | None = None) -> Iterator[PendoClient]:
        """A client for the current settings, closed on exit. Interactive sessions cap
        retries (``retries`` caps them further, e.g. 0 for the connection check)."""
        from pendo_tui.pendo.client import PendoClient

        cap = INTERACTIVE_RETRIES if self.interactive else None
        if retries is not None:
            cap = retries if cap is None else min(cap, retries)
        client = PendoClient.from_config(
            self.config,
            self.secrets,
            self.request_log,
            max_retries=cap,
            max_retry_seconds=INTERACTIVE_RETRY_SECONDS if self.interactive else None,
        )
        try:
            yield client
        finally:
            client.close()

    # -- check ----------------------------------------------------------------------------
    def check(self) -> list[Check]:
        """The ``--check`` preflight (sync/preflight.py): one result per thing a ``--sync``
        needs — key, write access, track secret, push models, store, mapping ids."""
        from pendo_tui.sync.preflight import preflight

        return preflight(self.config, self.secrets, request_log=self.request_log)

    def connection_report(self) -> ConnectionReport:
        """One verify call (no retries) → what the key can do, or the reason it cannot."""

        try:
            with self.client(retries=0) as client:
                info = client.verify()
        except PendoTuiError as exc:
            return ConnectionReport(False, str(exc))
        if not info.valid:
            return ConnectionReport(
                False, f"Pendo says the key is not valid for {self.config.pendo.base_url}"
            )
        if info.write_access:
            return ConnectionReport(True, "Connection is active — read & write", True)
        if info.write_access is None:
            return ConnectionReport(
                True, "Connection is active — Pendo did not say whether the key may write"
            )
        pushes = [p.name for p in self.config.push if p.enabled]
        if pushes:
            return ConnectionReport(
                True,
                "Connection is active — read only: enough for pull, but push syncs "
                f"({', '.join(pushes)}) need a key with write access",
            )
        return ConnectionReport(True, "Connection is active — read only (enough for pull)")

    # -- runs -----------------------------------------------------------------------------
    def run(
        self,
        kind: RunKind = "sync",
        mappings: list[str] | None = None,
        *,
        progress: ProgressCallback | None = None,
        dry_run: bool = False,
    ) -> RunSummary:
        """A run (``runner.run``): takes the store's lock, writes, records itself."""
        from pendo_tui.sync import runner

        return runner.run(
            self.config,
            self.secrets,
            kind=kind,
            mappings=mappings,
            dry_run=dry_run,
            progress=progress,
            request_log=self.request_log,
        )

    def plan(
        self,
        kind: RunKind = "sync",
        mappings: list[str] | None = None,
        *,
        progress: ProgressCallback | None = None,
    ) -> RunSummary:
        """The dry run: what a run would fetch, write and send; changes nothing."""
        return self.run(kind, mappings, progress=progress, dry_run=True)

    # -- previews and validation ----------------------------------------------------------
    def identity_preview(self, mapping: PullMapping | None = None) -> dict[str, Any]:
        """How Pendo's visitors would match, be created or be skipped (writes nothing)."""
        from pendo_tui.sync.pull.engine import PullEngine

        with self._preview_store() as store, self.client() as client:
            return PullEngine(self.config, client, store).preview_identity(mapping=mapping)

    def push_preview(self, sync: PushSync) -> dict[str, Any]:
        """What a push sync would send (``PushEngine.plan``): sends and writes nothing."""
        from pendo_tui.sync.push.engine import PushEngine

        with self._preview_store() as store, self.client() as client:
            return PushEngine(self.config, client, store, lambda _e: None).plan(sync)

    @staticmethod
    def validate_pipeline(
        text: str, object_type: str, columns: list[str] | None = None
    ) -> list[str]:
        """Problems with an aggregation pipeline as sentences (empty list = fine)."""
        from pendo_tui.pendo.pipelines import validate_pipeline

        return list(validate_pipeline(text, object_type, columns))

    def validate_mapping(self, mapping: PullMapping) -> list[str]:
        """An aggregation mapping's static checks, then a trial run for yesterday."""
        from pendo_tui.sync.pull.engine import PullEngine

        with self._preview_store() as store, self.client() as client:
            return PullEngine(self.config, client, store).validate_aggregation(mapping)

    def model_columns(self, model: ModelSource, sync_name: str = "(editing)") -> list[str]:
        """Column names of a push model, with the engine's reader (``ModelError`` says why
        it cannot be read)."""
        from pendo_tui.sync.push.models import ModelReader

        with self._preview_store() as store:
            return ModelReader(model, sync_name, store.engine).columns()

    # -- Pendo catalogues for pickers -----------------------------------------------------
    def catalog(self, kind: CatalogKind) -> list[dict[str, Any]]:
        """Rows for a picker: ``[{"id", "name", "note"}]`` (reports: compatible ones only,
        with their numeric ``columns``)."""
        with self.client() as client:
            if kind == "report":
                return _compatible_reports(client, client.reports())
            if kind == "app":
                return [{"id": str(a), "name": str(a), "note": ""} for a in client.apps()]
            calls = {"page": client.pages, "feature": client.features, "segment": client.segments}
            items = calls[kind]()
        return [
            {"id": str(i.get("id")), "name": str(i.get("name") or i.get("id")), "note": ""}
            for i in items
        ]

    def pull_mapping_problems(self, data: dict[str, Any]) -> dict[str, str]:
        """What Pendo says about a report or PES mapping before it is saved: {field: message}.

        Report: the id is a shared report, its window can sync daily, every mapped column
        exists and is numeric (rows are sampled when the definition does not settle it).
        PES: the app id is an app of the subscription. Raises when Pendo cannot be asked."""
        from pendo_tui.config.model import DEFAULT_APP_ID
        from pendo_tui.sync.pull.ids import Catalog
        from pendo_tui.sync.pull.reports import (
            column_problems,
            needs_rows,
            numeric_columns,
            sample_rows,
            window_problem,
        )

        kind = data.get("kind")
        if kind not in ("report", "pes"):
            return {}
        with self.client() as client:
            catalog = Catalog(client)
            if kind == "pes":
                app = str(data.get("app") or DEFAULT_APP_ID)
                apps = catalog.apps()
                if apps and app not in apps:
                    return {"app": f"{app!r} is not an app id of this subscription "
                            f"(apps: {', '.join(sorted(apps))})"}  # fmt: skip
                return {}
            report_id = str(data.get("id") or "")
            report = catalog.report(report_id)
            if report is None:
                return {"id": f"report {report_id!r} is not among the subscription's shared "
                        "reports; pick one with F4"}  # fmt: skip
            reason, _ = window_problem(report)
            if reason:
                return {"id": f"report {report.get('name')!r} {reason}"}
            columns = list(data.get("columns") or {})
            evidence = sample_rows(client, report_id) if needs_rows(report, columns) else None
            problems = column_problems(report, columns, evidence)
            if problems:
                numeric = ", ".join(numeric_columns(report, evidence)) or "none"
                return {"columns": "; ".join(problems) + f" (numeric columns: {numeric})"}
        return {}

    def metadata_fields(self) -> list[str]:
        """Visitor and account metadata paths (``agent.email``) for identity suggestions."""
        fields: list[str] = []
        with self.client() as client:
            for kind in ("visitor", "account"):
                schema = client.metadata_schema(kind)
                for group, members in sorted(schema.items()):
                    if isinstance(members, dict):
                        fields.extend(f"{group}.{name}" for name in sorted(members))
        return sorted(set(fields))

    # -- stale mappings, Re-sync ----------------------------------------------------------
    def stale_mappings(self) -> list[str]:
        """Mappings whose stored data was built with other settings (Re-sync needed)."""
        from pendo_tui.store import queries

        stored = self._read(queries.stored_fingerprints, {})
        return stale_since(self.config, stored)

    def resync_first_day(self) -> date:
        """The first day Re-sync all rebuilds: ``days_to_sync`` days ending yesterday, in
        the subscription's timezone. Stored rows before it are deleted."""
        from pendo_tui.sync.windows import full_window, today_in

        return full_window(self.config, today_in(self.config.pendo.timezone)).first_day

    def resync_impact(self) -> dict[str, int]:
        """How many stored rows fall before the Re-sync window (they will be deleted)."""
        from pendo_tui.store import queries

        first = self.resync_first_day()
        empty = {"old_metrics": 0, "all_metrics": 0, "old_activities": 0}
        return self._read(lambda conn: queries.rows_before(conn, first), empty)

    # -- read queries ---------------------------------------------------------------------
    def run_history(self, limit: int = 50) -> list[dict[str, Any]]:
        from pendo_tui.store import queries

        return self._read(lambda conn: queries.run_history(conn, limit), [])

    def run_requests(self, run_id: int, limit: int = 5000) -> list[dict[str, Any]]:
        from pendo_tui.store import queries

        return self._read(lambda conn: queries.run_requests(conn, run_id, limit), [])

    def pull_cursors(self) -> dict[str, date | None]:
        from pendo_tui.store import queries

        return self._read(queries.pull_cursors, {})

    def metric_names(self) -> list[tuple[str, str]]:
        from pendo_tui.store import queries

        return self._read(queries.metric_names, [])

    def metric_objects(self, metric: str, object_type: str, limit: int = 500) -> list[str]:
        from pendo_tui.store import queries

        return self._read(lambda c: queries.metric_objects(c, metric, object_type, limit), [])

    def metric_series(
        self, metric: str, object_type: str, object_id: str
    ) -> list[tuple[date, float]]:
        from pendo_tui.store import queries

        return self._read(
            lambda conn: queries.metric_series(conn, metric, object_type, object_id), []
        )

    # -- the read handle ------------------------------------------------------------------
    def _reader_store(self) -> Store | None:
        """The one read-only handle (opened once; reopened when the store URL changes)."""
        from pendo_tui.store.db import open_reader

        url = self.config.store.url
        with self._lock:
            if self._reader is not None and self._reader_url != url:
                self._reader.close()
                self._reader = None
            if self._reader is None:
                self._reader = open_reader(url)  # None while no store exists there
                self._reader_url = url if self._reader is not None else None
            return self._reader

    def _read(self, query: Callable[[Connection], T], empty: T) -> T:
        """Run a read query; a store that does not exist yet reads as ``empty``."""
        store = self._reader_store()
        if store is None:
            return empty
        with store.connect() as conn:
            return query(conn)

    @contextmanager
    def _preview_store(self) -> Iterator[Store]:
        """The read handle for previews, or an empty in-memory store while none exists
        (a preview then sees what a first run would see)."""
        store = self._reader_store()
        if store is not None:
            yield store
            return
        from pendo_tui.store.db import open_store

        with open_store("sqlite://") as empty:
            yield empty


def _compatible_reports(client: PendoApi, reports: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Reports a mapping can use; windows over 30 days carry a warning note. A report that
    does not declare its columns is judged from its first rows (one call per such report)."""
    from pendo_tui.sync.pull.reports import (
        needs_rows,
        numeric_columns,
        report_compatibility,
        sample_rows,
        window_problem,
    )

    out = []
    for r in reports:
        evidence = None
        if window_problem(r)[0] is None and needs_rows(r):
            try:
                evidence = sample_rows(client, str(r.get("id")))
            except PendoTuiError:  # rows unreadable: its columns stay unknown, not offered
                evidence = None
        ok, _reason, warning = report_compatibility(r, evidence)
        if ok:
            out.append(
                {
                    "id": str(r.get("id")),
                    "name": str(r.get("name") or r.get("id")),
                    "note": warning or "",
                    "columns": list(numeric_columns(r, evidence)),
                }
            )
    return out
