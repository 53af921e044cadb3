"""One run: the entry point both front ends (CLI and TUI) call.

A run takes the store's lock, records itself in ``runs``, persists its HTTP calls in
``requests``, runs the selected pull mappings and then the push syncs, sends alerts and
returns a ``RunSummary`` whose ``exit_code`` is one of ``errors.ExitCode``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import threading
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from pendo_tui.config.model import Config, PullMapping, PushSync
from pendo_tui.errors import ConfigError, ExitCode, PendoTuiError, UsageError
from pendo_tui.pendo.requestlog import RequestLog, RequestRecord, request_source
from pendo_tui.store import schema
from pendo_tui.store.db import open_reader, open_store
from pendo_tui.sync.alerts import alert_reason, send_alerts
from pendo_tui.sync.interrupted import mark_interrupted_runs
from pendo_tui.sync.ports import PendoApi, StoreApi
from pendo_tui.sync.progress import ProgressCallback, ProgressEvent, emit

if TYPE_CHECKING:
    from pendo_tui.config.secrets import SecretProvider
    from pendo_tui.sync.pull.engine import PullEngine, PullResult
    from pendo_tui.sync.push.engine import PushEngine, PushResult

RunKind = Literal["sync", "resync_all"]

# The requests table keeps at most this many calls per run; the rest are counted.
MAX_STORED_REQUESTS = 5_000
# Calls waiting to be written; flushed after each mapping. Oldest dropped beyond this.
PENDING_REQUESTS = 2_000


@dataclass
class RunSummary:
    """What a run did, as printed by ``--json`` and stored in ``runs.summary``."""

    run_id: int | None
    kind: str
    dry_run: bool
    status: str = "running"  # ok | failed | rejected | planned
    started_at: str = ""
    finished_at: str | None = None
    items: list[dict[str, Any]] = field(default_factory=list)
    totals: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    # Dry runs: how Pendo's visitors would be matched, created or skipped
    # (docs/pendo-reference.md#identity-rules).
    identity_preview: dict[str, Any] | None = None
    # Dry runs with pull mappings: the calls the whole pull plan sends, each once
    # (PullEngine.plan_many: calls, aggregations, setup, mappings, reads).
    plan: dict[str, Any] | None = None
    # Earlier runs found still 'running' (killed, or their store was lost): now 'interrupted'.
    interrupted_runs: list[dict[str, Any]] = field(default_factory=list)
    alerts: list[str] = field(default_factory=list)
    exit_code: int = ExitCode.OK
    # Where the data went, in full (an absolute SQLite path; a PostgreSQL URL's password
    # masked): cron and the TUI must be seen to use the same store.
    store: str = ""

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


class RequestPersister:
    """Collects a run's HTTP calls from the request log and writes them in batches."""

    def __init__(self, store: StoreApi, run_id: int) -> None:
        self.store = store
        self.run_id = run_id
        self.pending: deque[RequestRecord] = deque(maxlen=PENDING_REQUESTS)
        self.stored = 0
        self.seen = 0
        self._lock = threading.Lock()

    def __call__(self, record: RequestRecord) -> None:
        with self._lock:
            self.seen += 1
            self.pending.append(record)

    def flush(self) -> None:
        with self._lock:
            batch = list(self.pending)
            self.pending.clear()
        room = MAX_STORED_REQUESTS - self.stored
        batch = batch[:room]
        if not batch:
            return
        rows = [self._row(self.stored + i + 1, r) for i, r in enumerate(batch)]
        with self.store.begin() as conn:
            conn.execute(schema.requests.insert(), rows)
        self.stored += len(rows)

    @property
    def dropped(self) -> int:
        return self.seen - self.stored - len(self.pending)

    def _row(self, seq: int, r: RequestRecord) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "seq": seq,
            "at": r.at,
            "method": r.method,
            "url": r.url,
            "status": r.status,
            "duration_ms": r.duration_ms,
            "request_size": r.request_size,
            "response_size": r.response_size,
            "request_headers": r.request_headers,
            "response_headers": r.response_headers,
            "request_body": r.request_body,
            "response_body": r.response_body,
            "error": r.error,
            "attempt": r.attempt,
            "kind": r.kind,
            "source": r.source[:200] or None,
            "request_body_size": r.request_body_size,
            "response_body_size": r.response_body_size,
        }


def select_work(
    config: Config, names: Iterable[str] | None
) -> tuple[list[PullMapping], list[PushSync]]:
    """Enabled mappings and syncs, or exactly the named ones (named = run even if disabled)."""
    if not names:
        return [m for m in config.pull if m.enabled], [s for s in config.push if s.enabled]
    wanted = list(dict.fromkeys(names))
    known = {m.name for m in config.pull} | {s.name for s in config.push}
    unknown = [n for n in wanted if n not in known]
    if unknown:
        listed = ", ".join(sorted(known)) or "none configured"
        raise UsageError(
            f"no pull mapping or push sync named {', '.join(map(repr, unknown))}",
            f"Known names: {listed}.",
        )
    return (
        [m for m in config.pull if m.name in wanted],
        [s for s in config.push if s.name in wanted],
    )


def run(
    config: Config,
    secrets: SecretProvider,
    *,
    kind: RunKind = "sync",
    mappings: Iterable[str] | None = None,
    dry_run: bool = False,
    progress: ProgressCallback | None = None,
    request_log: RequestLog | None = None,
    store: StoreApi | None = None,
    client: PendoApi | None = None,
) -> RunSummary:
    """Run pull mappings then push syncs under the store's lock; never raises for a
    per-mapping failure (it is in the summary), raises ``PendoTuiError`` for set-up ones
    (bad names, lock held, store unreachable, missing key)."""
    pulls, pushes = select_work(config, mappings)
    if kind == "resync_all":
        if mappings and pushes:
            raise UsageError(
                f"--resync-all rebuilds pull mappings; {pushes[0].name!r} is a push sync",
                "Run push syncs with --sync (they send only what changed).",
            )
        pushes = []
    own_store = store is None
    if store is None:
        # A dry run writes nothing, so it must not create or migrate a store either: it
        # reads an existing one as it is, or plans against an empty stand-in in memory.
        store = (
            (open_reader(config.store.url) or open_store("sqlite://"))
            if dry_run
            else open_store(config.store.url)
        )
    try:
        with contextlib.nullcontext() if dry_run else store.lock():
            return _run_locked(
                config, secrets, store, client, request_log, progress,
                kind=kind, pulls=pulls, pushes=pushes, dry_run=dry_run,
            )  # fmt: skip
    finally:
        if own_store:
            store.close()


def _run_locked(
    config: Config,
    secrets: SecretProvider,
    store: StoreApi,
    client: PendoApi | None,
    request_log: RequestLog | None,
    progress: ProgressCallback | None,
    *,
    kind: RunKind,
    pulls: list[PullMapping],
    pushes: list[PushSync],
    dry_run: bool,
) -> RunSummary:
    from pendo_tui.pendo.client import PendoClient
    from pendo_tui.sync.pull.engine import PullEngine
    from pendo_tui.sync.pull.ids import check_ids
    from pendo_tui.sync.push.engine import PushEngine

    request_log = request_log or RequestLog()
    own_client = client is None
    if client is None:
        client = PendoClient.from_config(config, secrets, request_log=request_log)
    started = datetime.now(UTC)
    summary = RunSummary(run_id=None, kind=kind, dry_run=dry_run, started_at=started.isoformat())
    summary.store = store.location
    names = [m.name for m in pulls] + [s.name for s in pushes]
    persister: RequestPersister | None = None
    unsubscribe = None
    try:
        pull_engine = PullEngine(config, client, store, progress=progress)
        if kind == "sync" and not dry_run:
            changed = pull_engine.check_fingerprints(pulls)
            if changed:
                raise ConfigError(
                    "configuration changed for "
                    + ", ".join(map(repr, changed))
                    + ": run --resync-all",
                    "Settings that shape old data (identity, apps, windows or the mapping) "
                    "changed; a normal sync would mix old and new shapes.",
                )
        if not dry_run:
            summary.interrupted_runs = mark_interrupted_runs(store, started)
            with store.begin() as conn:
                summary.run_id = conn.execute(
                    schema.runs.insert().values(
                        kind=kind, mappings=names, started_at=started, status="running"
                    )
                ).inserted_primary_key[0]
            persister = RequestPersister(store, summary.run_id)
            unsubscribe = request_log.subscribe(persister)
        # Unknown page/feature/report/segment/app ids: exit 2 before any pull writes or
        # cursor moves; after the runs row, so the failure and its calls are recorded.
        if pulls:
            with request_source("id check " + ", ".join(m.name for m in pulls)):
                check_ids(config, client, pulls)
        push_engine = PushEngine(config, client, store, progress=progress, run_id=summary.run_id)
        if pushes and not dry_run:
            for s in pushes:  # auth problems surface before the first write of any sync
                with request_source(f"push {s.name} (pre-flight)"):
                    push_engine.preflight(s)
        _run_pulls(summary, pull_engine, pulls, kind, dry_run, persister, progress)
        _run_pushes(summary, push_engine, pushes, dry_run, persister, progress)
        _finish(summary, config)
    except PendoTuiError as err:
        summary.status = "failed"
        summary.error = str(err)
        summary.exit_code = err.exit_code
        if summary.run_id is None:
            raise
    finally:
        summary.finished_at = datetime.now(UTC).isoformat()
        if unsubscribe:
            unsubscribe()
        if persister:
            _safe(persister.flush)
            summary.totals["requests_not_stored"] = persister.dropped
        if summary.run_id is not None:
            _record_run(store, summary)
        if own_client:
            client.close()
    if not dry_run:
        reason = alert_reason(config.alerts, summary.status, _problem_rows(summary))
        if reason:
            summary.alerts = send_alerts(config.alerts, reason, summary.to_dict())
    return summary


def _run_pulls(
    summary: RunSummary,
    engine: PullEngine,
    pulls: list[PullMapping],
    kind: RunKind,
    dry_run: bool,
    persister: RequestPersister | None,
    progress: ProgressCallback | None,
) -> None:
    if not pulls:
        return
    if dry_run:
        auto = next((m for m in pulls if m.auto_create_users), None)
        with request_source("dry run " + ", ".join(m.name for m in pulls)):
            summary.identity_preview = engine.preview_identity(mapping=auto)
            items, summary.plan = engine.plan_many(pulls, resync=kind == "resync_all")
        for m, plan in zip(pulls, items, strict=True):
            summary.items.append({"type": "pull", "name": m.name, "status": "planned", **plan})
        return
    if kind == "resync_all":
        try:
            with request_source("re-sync all"):  # each mapping's fetch names itself
                results = engine.resync_all(pulls)
            for m, res in zip(pulls, results, strict=True):
                summary.items.append(_item("pull", m.name, "ok", res))
        except PendoTuiError as err:
            for m in pulls:
                summary.items.append(_item("pull", m.name, "failed", None, err))
            _note_failure(summary, err)
        finally:
            if persister:
                _safe(persister.flush)
        return
    # Sync now: the mappings are read together (shared calls); those whose calls all
    # succeeded commit in one transaction, a failed one is left out untouched.
    try:
        # calls not made for one scan (report definitions …) name the whole batch
        with request_source("pull " + ", ".join(m.name for m in pulls)):
            outcomes = engine.sync_many(pulls)
    except PendoTuiError as err:  # a failure of the whole batch (e.g. auth): every item
        outcomes = [err] * len(pulls)
    for m, outcome in zip(pulls, outcomes, strict=True):
        _run_item(summary, "pull", m.name, lambda o=outcome: _outcome(o), persister, progress)


def _outcome(outcome: Any) -> Any:
    if isinstance(outcome, PendoTuiError):
        raise outcome
    return outcome


def _run_pushes(
    summary: RunSummary,
    engine: PushEngine,
    pushes: list[PushSync],
    dry_run: bool,
    persister: RequestPersister | None,
    progress: ProgressCallback | None,
) -> None:
    for s in pushes:
        if dry_run:
            plan = engine.plan(s)
            summary.items.append({"type": "push", "name": s.name, "status": "planned", **plan})
            continue
        _run_item(summary, "push", s.name, lambda s=s: engine.sync(s), persister, progress)


def _run_item(
    summary: RunSummary,
    kind: str,
    name: str,
    work: Callable[[], PullResult | PushResult],
    persister: RequestPersister | None,
    progress: ProgressCallback | None,
) -> None:
    """Run one mapping or sync; its failure is recorded and the run goes on, except an
    auth failure, which would fail every later item the same way."""
    try:
        with request_source(f"{kind} {name}"):  # the debugger's "made by" column
            result = work()
        summary.items.append(_item(kind, name, "ok", result))
    except PendoTuiError as err:
        summary.items.append(_item(kind, name, "failed", None, err))
        _note_failure(summary, err)
        emit(progress, ProgressEvent(mapping=name, phase="failed", message=str(err)))
        if err.exit_code == ExitCode.AUTH:
            raise
    finally:
        if persister:
            _safe(persister.flush)


def _item(
    kind: str,
    name: str,
    status: str,
    result: PullResult | PushResult | None,
    err: PendoTuiError | None = None,
) -> dict[str, Any]:
    item: dict[str, Any] = {"type": kind, "name": name, "status": status}
    if result is not None:
        item.update(result.to_dict())
    if err is not None:
        item["error"] = str(err)
    return item


def _note_failure(summary: RunSummary, err: PendoTuiError) -> None:
    if summary.exit_code == ExitCode.OK:
        summary.exit_code = err.exit_code
        summary.error = str(err)


def _count(value: Any) -> int:
    if isinstance(value, dict):
        return sum(_count(v) for v in value.values())
    if isinstance(value, list):
        return len(value)
    return int(value or 0)


# Per-item count keys summed into the run totals.
_TOTAL_KEYS = (
    "rows_fetched", "rows_read", "rows_written", "sent", "delivered", "unchanged",
    "skipped", "rejected", "missing", "calls", "requests", "retries", "splits",
)  # fmt: skip


def _problem_rows(summary: RunSummary) -> int:
    return int(summary.totals.get("skipped", 0)) + int(summary.totals.get("rejected", 0))


def _finish(summary: RunSummary, config: Config) -> None:
    totals: dict[str, Any] = {}
    for item in summary.items:
        for key in _TOTAL_KEYS:
            if key in item:
                totals[key] = totals.get(key, 0) + _count(item[key])
    summary.totals.update(totals)
    if summary.dry_run:
        summary.status = "planned"
        return
    if any(i["status"] == "failed" for i in summary.items):
        summary.status = "failed"
        return
    threshold = config.alerts.rejected_threshold
    if threshold is not None and _problem_rows(summary) > threshold:
        summary.status = "rejected"
        summary.exit_code = ExitCode.THRESHOLD
        summary.error = (
            f"{_problem_rows(summary)} rows skipped or rejected, above "
            f"[alerts] rejected_threshold = {threshold}"
        )
        return
    summary.status = "ok"


def _record_run(store: StoreApi, summary: RunSummary) -> None:
    def write() -> None:
        with store.begin() as conn:
            conn.execute(
                schema.runs.update()
                .where(schema.runs.c.id == summary.run_id)
                .values(
                    finished_at=datetime.fromisoformat(summary.finished_at or ""),
                    status=summary.status if summary.status != "running" else "failed",
                    summary=summary.to_dict(),
                    error=summary.error,
                )
            )

    _safe(write)


def _safe(fn: Callable[[], object]) -> None:
    """Bookkeeping after a failure must not hide the failure itself."""
    with contextlib.suppress(Exception):
        fn()
