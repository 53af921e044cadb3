"""Events push: model rows → Pendo track calls, each primary key delivered at most once.

Delivery protocol (why it survives SIGKILL):

1. Before a track call, its key is written ``in_flight`` and committed.
2. After Pendo's 200 the key becomes ``delivered`` (committed with the next state write).
3. A definite refusal (4xx/5xx answer) forgets the key: Pendo did not take the event.

At most ``concurrency`` keys are in flight at any moment, because new keys are marked only
when a worker slot is free. A key found ``in_flight`` by a later run may or may not have
reached Pendo (the process died between the commit and the answer). Pendo's track call is
not idempotent and cannot be queried, so the run must choose. By default we resend such
keys — no event is ever lost, and the only possible duplicates are those ≤ concurrency
events — and the run reports them (``in_flight_found`` / ``in_flight_keys``) so they can
be checked. ``PushEngine(in_flight="skip")`` makes the other choice: report them as
possibly delivered, never resend (no duplicate; an event that never left is lost).
Keys already ``delivered`` are never sent again.
"""

from __future__ import annotations

import datetime as dt
import queue
import re
import time
from collections.abc import Iterator
from typing import Any, NamedTuple

from pendo_tui.config.model import PushSync
from pendo_tui.errors import PendoTuiError
from pendo_tui.pendo.errors import AuthError, BadRequestError, NetworkError, ServerError
from pendo_tui.sync.push.checks import BadValue, RowChecks
from pendo_tui.sync.push.common import (
    SENT_THIS_RUN,
    PushContext,
    as_id,
    keyed_rows,
    sending_pool,
)
from pendo_tui.sync.push.state import (
    DELIVERED,
    IN_FLIGHT,
    KeyState,
    StateUpdate,
    value_hash,
)

# Pendo does not process events older than this, though it answers 200
# (docs/pendo-reference.md#track-events).
OLD_EVENT_MS = 7 * 24 * 3600 * 1000
# Epoch numbers at or above this are milliseconds (1e11 s is the year 5138; 1e11 ms is 1973).
MS_THRESHOLD = 100_000_000_000
MAX_LISTED_IN_FLIGHT = 1_000
# Gateway answers: the request never reached Pendo's application.
SURELY_UNSENT_5XX = frozenset({502, 503, 504})
_NUMERIC = re.compile(r"^[+-]?\d+(\.\d+)?$")


def parse_timestamp(value: Any) -> int:
    """ISO 8601 text, a datetime, or epoch seconds / milliseconds → epoch ms (UTC).

    Naive datetimes and ISO strings without an offset are taken as UTC.
    """
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a timestamp")
    if isinstance(value, dt.datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
        return int(moment.timestamp() * 1000)
    if isinstance(value, dt.date):
        return int(
            dt.datetime(value.year, value.month, value.day, tzinfo=dt.UTC).timestamp() * 1000
        )
    if isinstance(value, int | float):
        number = float(value)
    else:
        text = str(value).strip()
        if _NUMERIC.match(text):
            number = float(text)
        else:
            if text.endswith(("Z", "z")):
                text = text[:-1] + "+00:00"
            return parse_timestamp(dt.datetime.fromisoformat(text))
    if number != number or abs(number) == float("inf"):
        raise ValueError(f"{value!r} is not a timestamp")
    return int(number) if abs(number) >= MS_THRESHOLD else int(number * 1000)


class PlannedEvent(NamedTuple):
    key: str
    value_hash: str
    payload: dict[str, Any]


class EventBuilder:
    """Turns one model row into a track payload, or raises BadValue with a reason."""

    def __init__(self, sync: PushSync, now_ms: int | None = None) -> None:
        self.sync = sync
        self.props = sync.property_columns()
        self.now_ms = now_ms
        self.checks = RowChecks(sync)
        self.prop_labels = [
            (prop, col, f"property {prop!r} (column {col!r})") for prop, col in self.props.items()
        ]

    def required_columns(self) -> list[str]:
        s = self.sync
        cols = [c for c in (s.visitor_id, s.event_column, s.timestamp, s.account_id) if c]
        return cols + list(self.props.values())

    def build(self, row: dict[str, Any], key: str, now_ms: int) -> PlannedEvent:
        s, checks = self.sync, self.checks
        visitor = as_id(row.get(s.visitor_id or ""))
        if visitor is None:
            raise BadValue("empty_visitor_id", f"column {s.visitor_id!r} is empty")
        checks.clean(visitor, f"column {s.visitor_id!r}")
        name = s.event or as_id(row.get(s.event_column or ""))
        if not name:
            raise BadValue("empty_event_name", f"column {s.event_column!r} is empty")
        checks.clean(name, f"column {s.event_column!r}")
        payload: dict[str, Any] = {"type": "track", "event": name, "visitorId": visitor}
        if s.account_id:
            account = as_id(row.get(s.account_id))
            if account is not None:
                payload["accountId"] = checks.clean(account, f"column {s.account_id!r}")
        properties = {}
        for prop, col, label in self.prop_labels:
            raw = row.get(col)
            if raw is not None:
                properties[prop] = checks.clean(raw, label)
        checks.properties(properties)
        payload["properties"] = properties
        payload["context"] = {}
        digest = value_hash(payload)  # before the timestamp: a send-time stamp is not data
        if s.timestamp:
            raw = row.get(s.timestamp)
            if raw is None or (isinstance(raw, str) and not raw.strip()):
                raise BadValue("empty_timestamp", f"column {s.timestamp!r} is empty")
            try:
                stamp = parse_timestamp(raw)
            except (ValueError, OverflowError, OSError):
                raise BadValue(
                    "bad_timestamp",
                    f"column {s.timestamp!r} value {str(raw)[:60]!r} is not ISO 8601 or epoch "
                    "seconds/milliseconds",
                ) from None
            checks.timestamp(stamp, raw, s.timestamp, now_ms)
            payload["timestamp"] = stamp
            digest = value_hash([digest, stamp])
        else:
            # No timestamp column: stamp with the time of sending, which is what Pendo's
            # "arrival time" would be (its API requires the field).
            payload["timestamp"] = self.now_ms or int(time.time() * 1000)
        return PlannedEvent(key, digest, payload)


def plan_events(
    ctx: PushContext,
    rows: Iterator[dict[str, Any]],
    known: dict[str, KeyState],
    seen: set[str] | None = None,
) -> Iterator[PlannedEvent]:
    """Validate rows and yield those to send; count the rest in ``ctx.result``."""
    s, res = ctx.sync, ctx.result
    builder = EventBuilder(s)
    now_ms = int(time.time() * 1000)
    assumed: list[StateUpdate] = []
    if not s.account_id:
        res.warn(
            f"push sync {s.name!r}: account_id is not mapped, events carry no accountId "
            "(Pendo recommends one)"
        )
    for key, row in keyed_rows(ctx, rows, seen, known):
        prior = known.get(key)
        if prior is not None and prior.status == DELIVERED:
            res.unchanged += 1
            continue
        if prior is not None and prior.status == IN_FLIGHT:
            res.in_flight_found += 1
            if len(res.in_flight_keys) < MAX_LISTED_IN_FLIGHT:
                res.in_flight_keys.append(key)
            if ctx.in_flight_policy == "skip":
                res.skipped["possibly_delivered"] += 1
                assumed.append(StateUpdate(key, prior.value_hash, DELIVERED))
                continue
        try:
            event = builder.build(row, key, now_ms)
        except BadValue as bad:
            ctx.reject(key, bad.reason, f"row {key!r}: {bad}")
            continue
        if event.payload["timestamp"] < now_ms - OLD_EVENT_MS:
            res.old_events += 1
            if not s.send_old_events:
                res.skipped["old_event"] += 1
                continue
        known[key] = SENT_THIS_RUN
        yield event
    if res.old_events:
        verb = "sent anyway (send_old_events = true)" if s.send_old_events else "not sent"
        res.warn(
            f"push sync {s.name!r}: {res.old_events} event(s) are older than 7 days and {verb}; "
            "Pendo ignores such events although it answers 200"
        )
    if assumed and not ctx.dry_run:
        with ctx.store.begin() as conn:  # reported once, then taken as delivered
            ctx.state.write(conn, assumed)
    if res.in_flight_found:
        fate = (
            "they were not sent again and may be missing from Pendo"
            if ctx.in_flight_policy == "skip"
            else "they were sent again and may appear twice in Pendo"
        )
        res.warn(
            f"push sync {s.name!r}: {res.in_flight_found} event(s) were in flight when an earlier "
            f"run stopped; {fate} (keys: {', '.join(res.in_flight_keys[:10])})"
        )


class _Outcome(NamedTuple):
    event: PlannedEvent
    error: BaseException | None


def push_events(ctx: PushContext, events: Iterator[PlannedEvent]) -> None:
    """Send events with bounded concurrency, keeping ``push_state`` exact at every commit."""
    s, res = ctx.sync, ctx.result
    fatal: BaseException | None = None
    # Workers report each settled call here: one queue get per call, where
    # ``concurrent.futures.wait`` re-armed a waiter on every pending future each time.
    outcomes: queue.SimpleQueue[_Outcome] = queue.SimpleQueue()
    on_the_wire = 0
    finished: list[_Outcome] = []
    exhausted = False
    refill_at = max(1, s.concurrency // 2)

    def send(event: PlannedEvent) -> None:
        try:
            ctx.calls.add()
            ctx.client.track(event.payload)
        except BaseException as exc:  # reported to the main thread, which decides
            outcomes.put(_Outcome(event, exc))
        else:
            outcomes.put(_Outcome(event, None))

    with sending_pool(s.concurrency, "push-track") as pool:
        while True:
            fresh: list[PlannedEvent] = []
            # Refill only when a few slots are free: one state commit then covers several
            # events while most slots stay busy.
            refill = not on_the_wire or s.concurrency - on_the_wire >= refill_at
            while (
                refill
                and fatal is None
                and not exhausted
                and on_the_wire + len(fresh) < s.concurrency
            ):
                try:
                    nxt = next(events, None)
                except Exception as exc:  # model read failed: settle what is on the wire
                    fatal, nxt = exc, None
                if nxt is None:
                    exhausted = True
                else:
                    fresh.append(nxt)
            # Settled calls ride along with the next in-flight marks (one commit for both),
            # or are written on their own once nothing more will be marked.
            winding_down = exhausted or fatal is not None
            if fresh or (winding_down and (finished or ctx.pending_rejects)):
                _commit(ctx, finished, fresh)
                finished = []
            for event in fresh:
                res.sent += 1
                pool.submit(send, event)
            on_the_wire += len(fresh)
            if not on_the_wire:
                break
            try:
                done = [outcomes.get(timeout=60)]
            except queue.Empty:
                continue
            while True:
                try:
                    done.append(outcomes.get_nowait())
                except queue.Empty:
                    break
            on_the_wire -= len(done)
            for outcome in done:
                err = outcome.error
                if err is None:
                    res.delivered += 1
                elif isinstance(err, BadRequestError) and not isinstance(err, AuthError):
                    ctx.reject(
                        outcome.event.key, "pendo_rejected", err.server_message or err.message
                    )
                elif fatal is None:
                    fatal = err
            finished.extend(done)
            ctx.report("send", res.sent)
    ctx.report("send", res.sent, force=True)
    if fatal is not None:
        raise fatal


def _commit(
    ctx: PushContext,
    finished: list[_Outcome],
    fresh: list[PlannedEvent],
) -> None:
    """One transaction: settle finished calls and mark the next ones in flight."""
    delivered = [
        StateUpdate(o.event.key, o.event.value_hash, DELIVERED) for o in finished if not o.error
    ]
    # A definite "no" (4xx, 429, 502-504, no secret) means Pendo did not take the event:
    # forget the key so the next run sends it. A broken connection, another 5xx or a bug
    # leaves it in flight: it may have been processed, and the next run reports it.
    refused = [o.event.key for o in finished if o.error is not None and _surely_unsent(o.error)]
    in_flight = [StateUpdate(e.key, e.value_hash, IN_FLIGHT) for e in fresh]
    with ctx.store.begin() as conn:
        if delivered or in_flight:
            ctx.state.write(conn, [*delivered, *in_flight])
        if refused:
            ctx.state.forget(conn, refused)
        ctx.flush_rejects(conn)


def _surely_unsent(err: BaseException) -> bool:
    if isinstance(err, NetworkError):
        return False
    if isinstance(err, ServerError):
        return err.status in SURELY_UNSENT_5XX
    return isinstance(err, PendoTuiError)
