"""The Pendo API client: one object per run, every call the product makes.

Call shapes follow Pendo's real dialect (docs/pendo-reference.md): bare JSON arrays for lists,
the aggregation envelope, bulk metadata results, ``/data/track`` with the track secret on
the track host. HTTP, retries, errors and the request log live in ``transport.py``.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import quote

import httpx

from pendo_tui.errors import SecretError
from pendo_tui.pendo import shapes
from pendo_tui.pendo.errors import MalformedResponseError
from pendo_tui.pendo.regions import label_for, resolve
from pendo_tui.pendo.requestlog import REDACTED_KEY, REDACTED_TRACK, RequestLog
from pendo_tui.pendo.streaming import ItemStream
from pendo_tui.pendo.transport import ROWS, Call, RetryPolicy, Stats, Transport
from pendo_tui.pendo.version import package_version

if TYPE_CHECKING:
    from pendo_tui.config.model import Config
    from pendo_tui.config.secrets import SecretProvider

DEFAULT_APP_ID = "-323232"
BULK_DELETE_MAX = 500  # Pendo's documented cap per bulk-delete request
BULK_DELETE_PAUSE = 1.0  # Pendo: more than ~1 bulk-delete call per second "likely errors"
MetadataKind = Literal["visitor", "account", "parentAccount"]
_META_KINDS = ("visitor", "account", "parentAccount")


@dataclass(frozen=True, slots=True)
class TokenInfo:
    valid: bool
    write_access: bool | None  # None: Pendo's answer did not say (see shapes.token_info)


@dataclass(slots=True)
class MetadataResult:
    total: int = 0
    updated: int = 0
    failed: int = 0
    missing: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


class PendoClient:
    def __init__(
        self,
        base_url: str,
        integration_key: str,
        *,
        track_secret: str | None = None,
        track_url: str | None = None,
        request_timeout: float = 30,
        aggregation_timeout: float = 300,
        connect_timeout: float = 15,
        max_retries: int = 7,
        max_retry_seconds: float = 600,
        backoff_initial: float = 1.0,
        backoff_max: float = 60.0,
        backoff_jitter: float = 1.0,
        request_log: RequestLog | None = None,
        region_label: str | None = None,
        http_transport: httpx.BaseTransport | None = None,
        max_connections: int = 64,
        prefetch_chunks: int = 16,
    ) -> None:
        if not integration_key:
            raise SecretError(
                "No Pendo integration key was given.",
                "Set PENDO_INTEGRATION_KEY or store the key with the TUI's connection screen.",
            )
        self.base_url = base_url.rstrip("/")
        self.track_url = (track_url or base_url).rstrip("/")
        self.region_label = region_label or label_for(self.base_url)
        self.request_log = request_log if request_log is not None else RequestLog()
        self.request_log.add_secret(integration_key, REDACTED_KEY)
        self.request_log.add_secret(track_secret, REDACTED_TRACK)
        self._has_track = bool(track_secret)
        self._object_timeout = httpx.Timeout(request_timeout, connect=connect_timeout)
        # Aggregations legitimately think for minutes before the first byte: long read timeout.
        self._agg_timeout = httpx.Timeout(
            request_timeout, connect=connect_timeout, read=aggregation_timeout
        )
        self._t = Transport(
            integration_key=integration_key,
            track_secret=track_secret,
            log=self.request_log,
            policy=RetryPolicy(
                max_retries=max_retries,
                max_retry_seconds=max_retry_seconds,
                backoff_initial=backoff_initial,
                backoff_max=backoff_max,
                backoff_jitter=backoff_jitter,
            ),
            timeout=self._object_timeout,
            region_label=self.region_label,
            http_transport=http_transport,
            user_agent=f"pendo-tui/{package_version()}",
            max_connections=max_connections,
            prefetch_chunks=prefetch_chunks,
        )

    @classmethod
    def from_config(
        cls,
        config: Config,
        secrets: SecretProvider,
        request_log: RequestLog | None = None,
        *,
        max_retries: int | None = None,
        max_retry_seconds: float | None = None,
    ) -> PendoClient:
        """The one way the product builds a client: hosts, timeouts and retries from
        ``[pendo]``. ``max_retries``/``max_retry_seconds`` only ever lower the configured
        values (an interactive screen, where a person waits, retries little)."""
        ep = resolve(config.pendo)
        p = config.pendo
        retries = p.max_retries if max_retries is None else min(p.max_retries, max_retries)
        seconds = p.max_retry_seconds
        if max_retry_seconds is not None:
            seconds = min(seconds, max_retry_seconds)
        return cls(
            ep.base_url,
            secrets.integration_key(),
            track_secret=secrets.get("track_secret"),
            track_url=ep.track_url,
            request_timeout=p.request_timeout,
            aggregation_timeout=p.aggregation_timeout,
            max_retries=retries,
            max_retry_seconds=seconds,
            request_log=request_log,
            region_label=ep.label,
        )

    # -- lifecycle -------------------------------------------------------------------------
    def close(self) -> None:
        self._t.close()

    def __enter__(self) -> PendoClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def stats(self) -> Stats:
        return self._t.stats

    @property
    def has_track_secret(self) -> bool:
        """Whether ``track()`` can work (the secret itself is never exposed)."""
        return self._has_track

    @property
    def write_access(self) -> bool | None:
        """``None`` until ``verify()`` ran."""
        return self._t.write_access

    # -- helpers ---------------------------------------------------------------------------
    def _api(self, path: str) -> str:
        return f"{self.base_url}/api/v1/{path}"

    def _get_json(
        self, path: str, kind: str, what: str, params: dict[str, str] | None = None
    ) -> Any:
        url = self._api(path)
        reply = self._t.fetch(Call("GET", url, kind, what, params=params))
        return reply.json(what, url)

    def _post_json(self, path: str, kind: str, what: str, payload: Any, **kw: Any) -> Any:
        url = self._api(path)
        body = _dumps(payload)
        reply = self._t.fetch(Call("POST", url, kind, what, body=body, **kw))
        if not reply.content.strip():
            return None
        return reply.json(what, url)

    def _list(self, path: str, what: str, params: dict[str, str] | None = None) -> list[dict]:
        """A bare JSON array; each object read leniently (``shapes.catalogue_object``)."""
        data = self._get_json(path, "list", what, params)
        if not isinstance(data, list):
            raise MalformedResponseError(
                f"Pendo sent {what} as {type(data).__name__}, expected a JSON array.",
                "Check that [pendo] domain points at Pendo's API, not its web app or a proxy.",
                url=self._api(path),
            )
        return [shapes.catalogue_object(obj, path) for obj in data]

    # -- calls -----------------------------------------------------------------------------
    def verify(self) -> TokenInfo:
        """``/token/verify``: does the key work here, and may it write?"""
        url = self._api("token/verify")
        what = "the key check (/token/verify)"
        reply = self._t.fetch(Call("GET", url, "verify", what))
        # 200 already means "accepted"; the body's shape varies (docs/pendo-reference.md).
        data = reply.json(what, url) if reply.content.strip() else None
        valid, write = shapes.token_info(data)
        info = TokenInfo(valid=valid, write_access=write)
        self._t.write_access = write
        return info

    def pages(self) -> list[dict]:
        return self._list("page", "the page list", {"expand": "*"})

    def features(self) -> list[dict]:
        return self._list("feature", "the feature list", {"expand": "*"})

    def track_types(self) -> list[dict]:
        return self._list("tracktype", "the track type list", {"expand": "*"})

    def reports(self) -> list[dict]:
        return self._list("report", "the report list")

    def segments(self) -> list[dict]:
        return self._list("segment", "the segment list")

    def apps(self) -> list[str]:
        """App ids seen on pages and features of all apps (Pendo has no app list endpoint).

        ``-323232`` (the subscription's first web app) comes first when present.
        """
        seen: dict[str, None] = {}
        for obj in [*self.pages(), *self.features()]:
            for app in [obj.get("appId"), *(obj.get("appIds") or [])]:
                if app is not None and app != "":
                    seen[str(app)] = None
        return sorted(seen, key=lambda a: (a != DEFAULT_APP_ID, _num(a), a))

    def metadata_schema(self, kind: MetadataKind) -> dict:
        _check_kind(kind)
        data = self._get_json(f"metadata/schema/{kind}", "schema", f"the {kind} metadata schema")
        return shapes.metadata_schema(data)

    def visitor(self, visitor_id: str) -> dict:
        """``{"id", "accountIds", "metadata", ...}`` whatever keys Pendo used for them."""
        data = self._get_json(
            f"visitor/{quote(str(visitor_id), safe='')}", "object", f"visitor {visitor_id!r}"
        )
        return shapes.entity(data, "visitor")

    def account(self, account_id: str) -> dict:
        """``{"id", "metadata", ...}`` whatever keys Pendo used for them."""
        data = self._get_json(
            f"account/{quote(str(account_id), safe='')}", "object", f"account {account_id!r}"
        )
        return shapes.entity(data, "account")

    def aggregate(self, pipeline: list[dict], *, name: str = "pendo-tui") -> ItemStream:
        """Stream the ``results`` rows of an aggregation, one dict at a time (an answer
        that is a bare array of rows is read too; ``startTime`` is not needed).

        The request is sent on the first ``next()``; ``bytes_read`` of the returned stream
        counts the response bytes read so far (the pull engine's byte budget reads it).
        A response cut off midway raises ``MalformedResponseError`` from the iterator:
        callers must drop what they read.
        """
        envelope = {
            "response": {"mimeType": "application/json"},
            "request": {"name": name, "pipeline": pipeline},
        }
        call = Call(
            "POST",
            self._api("aggregation"),
            "aggregation",
            f"the aggregation {name!r}",
            body=_dumps(envelope),
            timeout=self._agg_timeout,
        )
        return self._t.stream_items(call, ROWS)

    def report_results(self, report_id: str) -> ItemStream:
        """Stream the rows of a visitor- or account-level report (a JSON array, or rows
        under ``results``)."""
        call = Call(
            "GET",
            self._api(f"report/{quote(str(report_id), safe='')}/results.json"),
            "report",
            f"the results of report {report_id!r}",
            timeout=self._agg_timeout,
        )
        return self._t.stream_items(call, ROWS)

    def update_metadata(
        self, kind: MetadataKind, group: str, rows: list[dict], *, create: bool = False
    ) -> MetadataResult:
        """Bulk-set metadata values; ``rows`` are ``{"visitorId"|"accountId": id, "values": {}}``.

        Pendo answers 200 even when some rows failed: read ``missing``/``errors``. A whole
        batch rejected (4xx) raises ``BadRequestError`` with Pendo's message.
        """
        _check_kind(kind)
        data = self._post_json(
            f"metadata/{kind}/{quote(group, safe='')}/value",
            "metadata",
            f"the {kind} {group} metadata update ({len(rows)} rows)",
            rows,
            params={"create": "true"} if create else None,
            write=True,
        )
        return _metadata_result(data, len(rows))

    def create_metadata_fields(self, kind: MetadataKind, group: str, fields: list[dict]) -> None:
        """Create (or undelete) fields: ``[{"name", "displayname", "type"}]``."""
        _check_kind(kind)
        self._post_json(
            f"metadata/schema/{kind}/{quote(group, safe='')}",
            "schema",
            f"creating {kind} {group} fields {', '.join(str(f.get('name')) for f in fields)}",
            fields,
            write=True,
        )

    def track(self, event: dict) -> None:
        """Send one track event with the track secret. Pendo answers 200 with an empty body
        even for events it will drop, so the body is never parsed."""
        if not self._has_track:
            raise SecretError(
                "No Pendo track event secret was given; event pushes need it.",
                "Set PENDO_TRACK_SECRET or store the secret in the TUI (Pendo: Settings → "
                "Subscription settings → the app → Track Event shared secret).",
            )
        payload = {"type": "track", "context": {}, **event}
        self._t.fetch(
            Call(
                "POST",
                f"{self.track_url}/data/track",
                "track",
                f"the track event {payload.get('event')!r}",
                body=_dumps(payload),
                secret="track",
                write=True,
                idempotent=False,  # not deduplicated by Pendo: re-send only when surely unsent
            )
        )

    def bulk_delete(self, kind: Literal["visitor", "account"], ids: list[str]) -> str:
        """Queue a GDPR bulk delete of ≤ 500 ids; returns Pendo's job id. Irreversible."""
        if kind not in ("visitor", "account"):
            raise ValueError(f"bulk_delete kind must be 'visitor' or 'account', not {kind!r}")
        if len(ids) > BULK_DELETE_MAX:
            raise ValueError(
                f"bulk_delete takes at most {BULK_DELETE_MAX} ids per call, got {len(ids)}; "
                "use bulk_delete_all to split"
            )
        data = self._post_json(
            f"bulkdelete/{kind}",
            "bulkdelete",
            f"the bulk delete of {len(ids)} {kind}s",
            {f"{kind}s": list(ids)},
            write=True,
        )
        if isinstance(data, dict):
            return str(data.get("id") or data.get("jobId") or "")
        return "" if data is None else str(data)

    def bulk_delete_all(self, kind: Literal["visitor", "account"], ids: list[str]) -> list[str]:
        """``bulk_delete`` in chunks of 500, paced to Pendo's ~1 call/s."""
        jobs: list[str] = []
        for start in range(0, len(ids), BULK_DELETE_MAX):
            if jobs:
                time.sleep(BULK_DELETE_PAUSE)
            jobs.append(self.bulk_delete(kind, ids[start : start + BULK_DELETE_MAX]))
        return jobs


def _dumps(payload: Any) -> bytes:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


def _num(app: str) -> float:
    try:
        return float(app)
    except ValueError:
        return float("inf")


def _check_kind(kind: str) -> None:
    if kind not in _META_KINDS:
        raise ValueError(f"metadata kind must be one of {', '.join(_META_KINDS)}, not {kind!r}")


def _metadata_result(data: Any, sent: int) -> MetadataResult:
    """Lenient read of Pendo's ``{total, updated, failed, missing, errors}``.

    Any key may be absent or ``null``; counts may be numbers, numeric strings or lists
    of ids; ``missing`` entries ids or objects; ``errors`` strings or objects (rendered
    ``<id>: <reason>``). Absent ``total`` is what we sent; absent ``updated`` is what
    neither failed nor went missing (``failed`` may or may not count the missing ids).
    """
    if not isinstance(data, dict):
        return MetadataResult(total=sent, updated=sent)
    missing = [shapes.object_id(m) for m in shapes.as_list(data.get("missing"))]
    errors = [shapes.error_text(e) for e in shapes.as_list(data.get("errors"))]
    total = _counted(data.get("total"), sent)
    failed = _counted(data.get("failed"), len(errors) + len(missing))
    not_done = max(failed, len(errors) + len(missing))
    return MetadataResult(
        total=total,
        updated=_counted(data.get("updated"), max(0, total - not_done)),
        failed=failed,
        missing=missing,
        errors=errors,
    )


def _counted(value: Any, default: int) -> int:
    n = shapes.count(value)
    return default if n is None else n


__all__ = ["BULK_DELETE_MAX", "MetadataResult", "PendoClient", "TokenInfo"]
