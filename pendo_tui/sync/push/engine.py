"""The push engine (reverse ETL): a model's rows into Pendo, as track events or metadata.

``PushEngine.sync(push_sync)`` checks the model (columns, unique keys) before anything is
sent, diffs each row against ``push_state``, sends what changed and records what Pendo did
with it. ``plan`` is the dry run: the same reading and diffing, no writes anywhere.
The moving parts live in ``models`` (reading), ``state`` (memory),
``events`` / ``objects`` (the two destinations).
"""

from __future__ import annotations

import time
from itertools import islice
from typing import Any, Literal

from pendo_tui.config.model import Config, PushSync
from pendo_tui.errors import PendoTuiError, SecretError
from pendo_tui.pendo.errors import TRACK_HINT, WRITE_HINT, AuthError, PendoError, ReadOnlyKeyError
from pendo_tui.sync.ports import PendoApi, StoreApi
from pendo_tui.sync.progress import ProgressCallback
from pendo_tui.sync.push.checks import check_property_names
from pendo_tui.sync.push.common import PushContext, client_retries
from pendo_tui.sync.push.events import EventBuilder, plan_events, push_events
from pendo_tui.sync.push.models import ModelError, ModelReader
from pendo_tui.sync.push.objects import (
    API_KIND,
    check_delete_supported,
    clear_vanished,
    object_columns,
    payload_row,
    plan_objects,
    push_objects,
)
from pendo_tui.sync.push.prefetch import prefetched
from pendo_tui.sync.push.result import PushResult
from pendo_tui.sync.push.state import DELIVERED, PushState

__all__ = ["ModelError", "PushEngine", "PushResult"]

PLAN_EXAMPLES = 5  # payload rows shown by a dry run
PLAN_REJECTS = 20


class PushEngine:
    """Runs push syncs for one run: ``preflight`` → ``sync`` (or ``plan`` for a dry run)."""

    def __init__(
        self,
        config: Config,
        client: PendoApi,
        store: StoreApi,
        progress: ProgressCallback | None = None,
        run_id: int | None = None,
        *,
        in_flight: Literal["resend", "skip"] = "resend",
    ) -> None:
        self.config = config
        self.in_flight = in_flight
        self.client = client
        self.store = store
        self.progress = progress
        self.run_id = run_id
        self._checked: set[str] = set()  # syncs whose preflight passed

    # -- checks before the first write -------------------------------------------------
    def preflight(self, sync: PushSync) -> None:
        """Raise before any write if the credentials cannot do this sync (exit 3)."""
        if sync.name in self._checked:
            return
        if sync.kind == "events":
            if not self.client.has_track_secret:
                raise SecretError(
                    f"push sync {sync.name!r} sends track events but no track event shared "
                    "secret is set",
                    TRACK_HINT,
                )
        else:
            info = self.client.verify()
            if not info.valid:
                raise AuthError(
                    f"Pendo did not accept the integration key (push sync {sync.name!r})",
                    "Check the key and [pendo] domain.",
                )
            if info.write_access is False:  # None: Pendo did not say; its own 403 decides
                raise ReadOnlyKeyError(
                    f"push sync {sync.name!r} writes {sync.kind} metadata but the integration "
                    "key is read-only",
                    WRITE_HINT,
                )
        self._checked.add(sync.name)

    def _context(self, sync: PushSync, *, dry_run: bool) -> tuple[PushContext, ModelReader]:
        reader = ModelReader(sync.model, sync.name, self.store.engine)
        if sync.kind == "events":
            required = EventBuilder(sync).required_columns()
            check_property_names(sync)
        else:
            required = object_columns(sync)
            check_delete_supported(sync)
        ctx = PushContext(
            sync=sync,
            client=self.client,
            store=self.store,
            state=PushState(self.store, sync.name, self.run_id),
            result=PushResult(sync=sync.name, kind=sync.kind),
            progress=self.progress,
            run_id=self.run_id,
            dry_run=dry_run,
            in_flight_policy=self.in_flight,
        )
        if sync.skip_checks:
            ctx.result.warn(
                f"push sync {sync.name!r}: row checks turned off by skip_checks "
                f"({', '.join(sync.skip_checks)}); rows failing them are sent as they are"
            )
        ctx.report("check", 0, f"checking model ({reader.label})", force=True)
        ctx.total_rows = reader.check(sync.primary_key, required)
        return ctx, reader

    # -- the sync ----------------------------------------------------------------------
    def sync(self, sync: PushSync) -> PushResult:
        started = time.monotonic()
        retries_before = client_retries(self.client)
        self.preflight(sync)
        ctx, reader = self._context(sync, dry_run=False)
        res = ctx.result
        try:
            known = ctx.state.load()
            ctx.state.migrate(known)
            seen: set[str] | None = set() if sync.on_delete == "delete" else None
            if sync.kind == "events":
                push_events(ctx, plan_events(ctx, prefetched(reader.rows()), known, seen))
                vanished = _vanished(known, seen)
                if vanished:
                    res.vanished = len(vanished)
                    res.warn(
                        f"push sync {sync.name!r}: {len(vanished)} delivered event(s) left the "
                        "model; track events cannot be deleted from Pendo, nothing was changed"
                    )
            else:
                push_objects(ctx, plan_objects(ctx, reader.rows(), known, seen))
                vanished = _vanished(known, seen)
                res.vanished = len(vanished)
                if vanished:
                    clear_vanished(ctx, vanished)
        finally:
            if ctx.pending_rejects:
                with self.store.begin() as conn:
                    ctx.flush_rejects(conn)
            res.requests = ctx.calls.value
            res.retries = client_retries(self.client) - retries_before
            res.duration_s = round(time.monotonic() - started, 3)
        ctx.report("done", res.rows_read, f"{res.delivered} delivered", force=True)
        return res

    # -- the dry run -------------------------------------------------------------------
    def plan(self, sync: PushSync) -> dict[str, Any]:
        """What ``sync`` would send: counts and the first payload rows. Sends nothing and
        writes no state (reads Pendo's field schema only for objects with rows to send)."""
        ctx, reader = self._context(sync, dry_run=True)
        res = ctx.result
        try:
            self.preflight(sync)
        except PendoTuiError as err:
            res.warn(f"the sync itself would stop before sending: {err.message}")
        known = ctx.state.load()
        seen: set[str] | None = set() if sync.on_delete == "delete" else None
        examples: list[dict[str, Any]] = []
        would_send = 0
        plan: dict[str, Any] = {"kind": sync.kind}
        if sync.kind == "events":
            for event in plan_events(ctx, reader.rows(), known, seen):
                would_send += 1
                if len(examples) < PLAN_EXAMPLES:
                    examples.append(event.payload)
            plan["destination"] = "track events (POST /data/track)"
            plan["requests_estimate"] = would_send
        else:
            writes = plan_objects(ctx, reader.rows(), known, seen)
            first = list(islice(writes, PLAN_EXAMPLES))
            examples = [payload_row(sync, w) for w in first]
            would_send = len(first) + sum(1 for _ in writes)
            kind = API_KIND[sync.kind]
            plan["destination"] = f"{kind} {sync.group} metadata"
            plan["requests_estimate"] = -(-would_send // sync.batch_size)
            if would_send:
                plan["fields_to_create"] = self._missing_fields(sync, res)
        vanished = _vanished(known, seen)
        plan.update(
            rows_read=res.rows_read,
            would_send=would_send,
            unchanged=res.unchanged,
            skipped=dict(res.skipped),
            rejected=dict(res.rejected),
            rejected_reasons=res.rejected_reasons(),
            rejects=[r.__dict__ for r in res.rejects[:PLAN_REJECTS]],
            missing=res.missing,
            old_events=res.old_events,
            in_flight_found=res.in_flight_found,
            vanished=len(vanished),
            would_clear=len(vanished) if sync.kind != "events" else 0,
            first_payloads=examples,
            warnings=res.warnings,
        )
        return plan

    def _missing_fields(self, sync: PushSync, res: PushResult) -> list[str]:
        try:
            schema = self.client.metadata_schema(API_KIND[sync.kind]) or {}
        except PendoError as err:
            res.warn(f"could not read Pendo's field list: {err.message}")
            return []
        existing = {n.lower() for n in (schema.get(sync.group) or {})}
        missing = [f for f in sync.fields if f.lower() not in existing]
        if missing and not sync.create_missing_fields:
            res.warn(
                f"field(s) {', '.join(missing)} do not exist in Pendo; the sync will stop "
                "unless create_missing_fields = true"
            )
        return missing


def _vanished(known: dict[str, Any], seen: set[str] | None) -> list[str]:
    if seen is None:
        return []
    return [k for k, st in known.items() if st.status == DELIVERED and k not in seen]
