"""Objects push: model rows → visitor / account / parent account metadata, in batches.

Metadata writes are idempotent (setting a value twice is harmless), so unlike events no
"in flight" marking is needed: state is written after each batch's answer, and a crash
only means the next run re-sends the batches that were not recorded.

Split retries: Pendo may reject a whole batch for one bad record. The batch is then cut in
halves, recursively, until each bad record stands alone; the good halves are delivered.
With k bad records in a batch of B, that costs at most 2·k·⌈log₂ B⌉ extra requests (each
of the ⌈log₂ B⌉ levels of the bisection tree re-sends at most the 2 halves of k bad nodes).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass, field
from itertools import chain, islice
from operator import attrgetter
from typing import Any, NamedTuple

from pendo_tui.config.model import PushSync
from pendo_tui.errors import ConfigError
from pendo_tui.pendo.errors import AuthError, BadRequestError, PendoError
from pendo_tui.sync.push.checks import MAX_REQUEST_CHARS, NUMERIC_TYPES, BadValue, RowChecks
from pendo_tui.sync.push.common import PushContext, as_id, keyed_rows, sending_pool
from pendo_tui.sync.push.state import (
    DELIVERED,
    MISSING,
    REJECTED,
    KeyState,
    StateUpdate,
    value_hash,
)

API_KIND = {"visitor": "visitor", "account": "account", "parent_account": "parentAccount"}
ID_FIELD = {"visitor": "visitorId", "account": "accountId", "parent_account": "accountId"}


class PlannedWrite(NamedTuple):
    key: str  # the model's primary key
    pendo_id: str
    value_hash: str
    values: dict[str, Any]
    chars: int = 0  # characters of the id and text values: batches stay under a cap


@dataclass
class BatchOutcome:
    delivered: list[PlannedWrite] = field(default_factory=list)
    missing: list[PlannedWrite] = field(default_factory=list)
    rejected: list[tuple[PlannedWrite, str]] = field(default_factory=list)
    unattributed: list[str] = field(default_factory=list)  # errors naming no row we know
    requests: int = 0


def object_columns(sync: PushSync) -> list[str]:
    return [sync.match or "", *sync.fields.values()]


def payload_row(sync: PushSync, write: PlannedWrite) -> dict[str, Any]:
    return {ID_FIELD[sync.kind]: write.pendo_id, "values": write.values}


def plan_objects(
    ctx: PushContext,
    rows: Iterator[dict[str, Any]],
    known: dict[str, KeyState],
    seen: set[str] | None,
) -> Iterator[PlannedWrite]:
    """Validate and diff rows; yield those whose mapped values changed since last delivered."""
    s, res = ctx.sync, ctx.result
    checks = RowChecks(s)
    numeric: list[str] | None = None  # fields Pendo types as numbers, read on first need
    # (field, column, label for messages): labels built once, not per row
    fields = [(name, col, f"field {name!r}") for name, col in s.fields.items()]
    clean = checks.clean
    for key, row in keyed_rows(ctx, rows, seen, known):
        pendo_id = as_id(row.get(s.match or ""))
        if pendo_id is None:
            ctx.reject(key, "empty_match_id", f"row {key!r}: column {s.match!r} is empty")
            continue
        checks.chars = len(pendo_id)
        try:
            values = {name: clean(row.get(col), label) for name, col, label in fields}
        except BadValue as bad:
            ctx.reject(key, bad.reason, f"row {key!r}: {bad}")
            continue
        digest = value_hash([pendo_id, values])
        prior = known.get(key)
        if prior is not None and prior.value_hash == digest:
            if prior.status == DELIVERED:
                res.unchanged += 1
                continue
            if prior.status == MISSING:  # never retried forever: only when values change
                res.missing += 1
                res.skipped["missing"] += 1
                continue
        if checks.numeric_fields:
            if numeric is None:
                numeric = numeric_fields(ctx)
            try:
                for name in numeric:
                    checks.numeric(values[name], name)
            except BadValue as bad:
                ctx.reject(key, bad.reason, f"row {key!r}: {bad}")
                continue
        # No SENT_THIS_RUN mark (unlike events): writing one record twice is harmless.
        yield PlannedWrite(key, pendo_id, digest, values, checks.chars)


def numeric_fields(ctx: PushContext) -> list[str]:
    """The mapped fields Pendo's schema types as integer / float (a dry run that cannot
    read the schema warns and checks none)."""
    s = ctx.sync
    try:
        schema = ctx.metadata_schema(API_KIND[s.kind])
    except PendoError as err:
        if not ctx.dry_run:
            raise
        ctx.result.warn(f"could not read Pendo's field types, numbers not checked: {err.message}")
        return []
    types = {
        str(name).lower(): str((d or {}).get("Type") or (d or {}).get("type") or "").lower()
        for name, d in (schema.get(s.group) or {}).items()
        if isinstance(d, dict) or d is None
    }
    return [f for f in s.fields if types.get(f.lower()) in NUMERIC_TYPES]


def _field_type(values: list[Any]) -> str:
    sample = next((v for v in values if v is not None), None)
    if isinstance(sample, bool):
        return "boolean"
    if isinstance(sample, int | float):
        return "number"
    return "string"


def ensure_fields(ctx: PushContext, first: list[PlannedWrite]) -> None:
    """Check the mapped fields exist in Pendo; create them if the sync allows it."""
    s = ctx.sync
    kind = API_KIND[s.kind]
    schema = ctx.metadata_schema(kind)
    existing = {name.lower() for name in (schema.get(s.group) or {})}
    missing = [f for f in s.fields if f.lower() not in existing]
    if not missing:
        return
    if not s.create_missing_fields:
        raise ConfigError(
            f"push sync {s.name!r}: field(s) {', '.join(missing)} do not exist in Pendo's "
            f"{kind} {s.group} metadata",
            "Create them in Pendo (Settings → Data mappings) or set create_missing_fields = "
            "true on the sync. Nothing was sent.",
        )
    specs = [
        {"name": f, "displayname": f, "type": _field_type([w.values.get(f) for w in first])}
        for f in missing
    ]
    ctx.calls.add()
    ctx.client.create_metadata_fields(kind, s.group, specs)
    ctx.result.fields_created.extend(missing)


def send_batch(ctx: PushContext, batch: list[PlannedWrite]) -> BatchOutcome:
    """One batch, bisected on whole-batch rejection when split retries are on."""
    s = ctx.sync
    out = BatchOutcome()
    stack = [batch]
    while stack:
        part = stack.pop()
        out.requests += 1
        ctx.calls.add()
        try:
            answer = ctx.client.update_metadata(
                API_KIND[s.kind], s.group, [payload_row(s, w) for w in part]
            )
        except BadRequestError as err:
            if isinstance(err, AuthError):
                raise
            if s.split_retries and len(part) > 1:
                mid = len(part) // 2
                stack.extend([part[mid:], part[:mid]])
            else:
                reason = err.server_message or err.message
                out.rejected.extend((w, reason) for w in part)
            continue
        missing = {str(m) for m in (answer.missing or [])}
        failed = _row_errors(part, answer.errors or [])
        for i, w in enumerate(part):
            if i in failed:
                out.rejected.append((w, failed[i]))
            elif w.pendo_id in missing:
                out.missing.append(w)
            else:
                out.delivered.append(w)
        if len(failed) < len(answer.errors or []):
            out.unattributed.extend(e for e in answer.errors if e not in failed.values())
    return out


_ROW_REF = re.compile(r"\brow (\d+)\b")
_ID_TOKEN = re.compile(r"[\w.@+-]+")


def _row_errors(part: list[PlannedWrite], errors: list[str]) -> dict[int, str]:
    """Pendo's per-row errors of a 200 answer, by row index ("row 3 (v-17): ..." or the id)."""
    out: dict[int, str] = {}
    by_id = {w.pendo_id: i for i, w in enumerate(part)}
    for error in errors:
        m = _ROW_REF.search(error)
        if m and int(m.group(1)) < len(part):
            out[int(m.group(1))] = error
            continue
        # Otherwise the first whole id named in the text (no substring: v-1 is not v-10).
        tokens = (t.rstrip(".") for t in _ID_TOKEN.findall(error))
        hit = next((by_id[t] for t in tokens if t in by_id), None)
        if hit is not None:
            out[hit] = error
    return out


def push_objects(ctx: PushContext, writes: Iterator[PlannedWrite]) -> None:
    """Send changed rows in batches with bounded concurrency; record each batch's fate."""
    s, res = ctx.sync, ctx.result
    first = list(islice(writes, s.batch_size))
    if not first:
        return
    ensure_fields(ctx, first)
    batches = _batches(first, writes, s.batch_size)
    pending: dict[Future[BatchOutcome], list[PlannedWrite]] = {}
    fatal: BaseException | None = None
    with sending_pool(s.concurrency, "push-meta") as pool:
        while True:
            while fatal is None and len(pending) < s.concurrency:
                try:
                    batch = next(batches, None)
                except Exception as exc:  # model read failed: record the batches in flight
                    fatal, batch = exc, None
                if batch is None:
                    break
                res.sent += len(batch)
                pending[pool.submit(send_batch, ctx, batch)] = batch
            if not pending:
                break
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for fut in done:
                pending.pop(fut)
                err = fut.exception()
                if err is not None:
                    fatal = fatal or err
                    continue
                _record(ctx, fut.result())
            ctx.report("send", res.sent)
    ctx.report("send", res.sent, force=True)
    if fatal is not None:
        raise fatal


def _batches(
    first: list[PlannedWrite], rest: Iterator[PlannedWrite], size: int
) -> Iterator[list[PlannedWrite]]:
    """Batches of at most ``size`` rows, cut early before MAX_REQUEST_CHARS characters of
    ids and text values (a lone row over it still goes alone)."""
    rows = chain(first, rest)
    pending: list[PlannedWrite] = []
    while True:
        if len(pending) < size:
            pending.extend(islice(rows, size - len(pending)))
        if not pending:
            return
        if sum(map(_chars, pending)) <= MAX_REQUEST_CHARS:  # the usual case
            yield pending
            pending = []
            continue
        n, chars = 0, 0
        for w in pending:
            if n and chars + w.chars > MAX_REQUEST_CHARS:
                break
            n, chars = n + 1, chars + w.chars
        yield pending[:n]
        pending = pending[n:]


_chars = attrgetter("chars")


def _record(ctx: PushContext, out: BatchOutcome) -> None:
    res = ctx.result
    res.delivered += len(out.delivered)
    if out.missing:
        res.missing += len(out.missing)
        res.skipped["missing"] += len(out.missing)
    for w, error in out.rejected:
        ctx.reject(w.key, "pendo_rejected", f"{ID_FIELD[ctx.sync.kind]} {w.pendo_id!r}: {error}")
    for error in out.unattributed[:5]:
        res.warn(f"push sync {ctx.sync.name!r}: Pendo reported an error for no known row: {error}")
    updates = [StateUpdate(w.key, w.value_hash, DELIVERED) for w in out.delivered]
    updates += [StateUpdate(w.key, w.value_hash, MISSING) for w in out.missing]
    updates += [StateUpdate(w.key, w.value_hash, REJECTED) for w, _ in out.rejected]
    with ctx.store.begin() as conn:
        if updates:
            ctx.state.write(conn, updates)
        ctx.flush_rejects(conn)


def check_delete_supported(sync: PushSync) -> None:
    """Clearing a vanished row needs its Pendo id, which state keeps only as the key."""
    if sync.on_delete == "delete" and sync.primary_key != sync.match:
        raise ConfigError(
            f"push sync {sync.name!r}: on_delete = 'delete' needs primary_key to be the match "
            f"column ({sync.match!r}), not {sync.primary_key!r}",
            "Set primary_key to the column holding the Pendo id, or on_delete = 'nothing'.",
        )


def clear_vanished(ctx: PushContext, keys: list[str]) -> None:
    """on_delete = "delete": set the fields this sync wrote to null on records whose row
    left the model, then forget them. Records are never deleted: Pendo's only record
    deletion is the irreversible GDPR bulk delete of all of a visitor's data."""
    s = ctx.sync
    empty = dict.fromkeys(s.fields)
    for i in range(0, len(keys), s.batch_size):
        chunk = [PlannedWrite(k, k, "", empty) for k in keys[i : i + s.batch_size]]
        ctx.result.sent += len(chunk)
        out = send_batch(ctx, chunk)
        ctx.result.cleared += len(out.delivered)
        for w, error in out.rejected:
            ctx.reject(w.key, "clear_rejected", f"{ID_FIELD[s.kind]} {w.pendo_id!r}: {error}")
        done = [w.key for w in out.delivered + out.missing]
        with ctx.store.begin() as conn:
            ctx.state.forget(conn, done)
            ctx.flush_rejects(conn)
