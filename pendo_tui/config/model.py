"""Typed model of every setting in the TOML file (``config.example.toml`` shows them all).

Pydantic does the type checks; the validators here add the product's rules. Key names
are a user-facing contract: people edit this file by hand and script against it.
Every model forbids unknown keys so a typo is an error (with a "did you mean" hint
added by ``toml_io``), never a silently ignored setting.
"""

from __future__ import annotations

import codecs
import json
from typing import Any, Literal
from urllib.parse import urlparse
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

# Region → (API base URL, track base URL): docs/pendo-reference.md#regions-and-hosts; Japan is
# `jpn`, not `jp`, in hosts.
REGIONS: dict[str, tuple[str, str]] = {
    "us": ("https://app.pendo.io", "https://app.pendo.io"),
    "us1": ("https://us1.app.pendo.io", "https://us1.data.pendo.io"),
    "eu": ("https://app.eu.pendo.io", "https://data.eu.pendo.io"),
    "jp": ("https://app.jpn.pendo.io", "https://data.jpn.pendo.io"),
    "au": ("https://app.au.pendo.io", "https://data.au.pendo.io"),
}
REGION_LABELS: dict[str, str] = {
    "us": "US (app.pendo.io)",
    "us1": "US1 (us1.app.pendo.io)",
    "eu": "EU (app.eu.pendo.io)",
    "jp": "Japan (app.jpn.pendo.io)",
    "au": "Australia (app.au.pendo.io)",
}
DEFAULT_APP_ID = "-323232"
UNKNOWN_APP_ID = "unknown"
LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "::1", "[::1]"}

ObjectType = Literal["company", "end_user", "asset", "project"]
PullKind = Literal["page", "feature", "report", "aggregation", "pes"]
PushKind = Literal["events", "visitor", "account", "parent_account"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


def is_loopback(host: str | None) -> bool:
    if not host:
        return False
    return host in LOOPBACK_HOSTS or host.startswith("127.")


class PendoSettings(_Strict):
    domain: str = "us"
    timezone: str | None = None
    days_to_sync: int = Field(default=90, ge=1, le=365)
    request_timeout: float = Field(default=30.0, gt=0, le=3600)
    aggregation_timeout: float = Field(default=300.0, gt=0, le=3600)
    max_retries: int = Field(default=7, ge=0, le=20)
    max_retry_seconds: float = Field(default=600.0, ge=0, le=7200)
    track_url: str | None = None  # override of the track host; default derived from the domain
    # Pull: how many Pendo calls are in flight at once (docs/pull.md, "Concurrency").
    max_concurrent_calls: int = 4

    @field_validator("max_concurrent_calls")
    @classmethod
    def _check_concurrency(cls, v: int) -> int:
        if not 1 <= v <= 16:
            raise ValueError(
                f"{v} is out of range: set a whole number from 1 to 16 (how many Pendo "
                "calls a pull keeps in flight at once; 1 = one after another, default 4)"
            )
        return v

    @field_validator("domain")
    @classmethod
    def _check_domain(cls, v: str) -> str:
        v = v.strip()
        if v.lower() in REGIONS:
            return v.lower()
        parsed = urlparse(v)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            allowed = ", ".join(REGIONS)
            raise ValueError(
                f"must be one of {allowed} or a base URL like https://pendo.example.com"
            )
        if parsed.scheme == "http" and not is_loopback(parsed.hostname):
            raise ValueError(
                f"plain http:// is only allowed for loopback hosts, not {parsed.hostname!r}; "
                "use https://"
            )
        return v.rstrip("/")

    @field_validator("timezone")
    @classmethod
    def _check_timezone(cls, v: str | None) -> str | None:
        if v is None or v == "":
            return None
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"{v!r} is not an IANA timezone name (e.g. America/New_York, Europe/Berlin)"
            ) from None
        return v

    @property
    def base_url(self) -> str:
        return REGIONS[self.domain][0] if self.domain in REGIONS else self.domain

    @property
    def track_base_url(self) -> str:
        if self.track_url:
            return self.track_url.rstrip("/")
        return REGIONS[self.domain][1] if self.domain in REGIONS else self.domain


class StoreSettings(_Strict):
    url: str | None = None  # SQLAlchemy URL; None = SQLite file in the user data dir


class IdentitySettings(_Strict):
    company_external_id: str = "accountId"
    end_user_external_id: str = "visitorId"  # "-" = match end users by email only
    end_user_email: str | None = None  # e.g. "agent.email" (visitor metadata path)
    end_user_name: str | None = None
    end_user_surname: str | None = None
    asset_id: str | None = None
    project_id: str | None = None
    auto_create_end_users: bool = False

    @model_validator(mode="after")
    def _email_only_needs_email(self) -> IdentitySettings:
        if self.end_user_external_id == "-" and not self.end_user_email:
            raise ValueError(
                "end_user_external_id is '-' (match by email only) but end_user_email is not set"
            )
        return self


class CompaniesSettings(_Strict):
    source: Literal["pendo", "sql", "csv"] = "pendo"
    url: str | None = None
    query: str | None = None
    path: str | None = None

    @model_validator(mode="after")
    def _source_fields(self) -> CompaniesSettings:
        if self.source == "sql" and not (self.url and self.query):
            raise ValueError("source 'sql' needs both url and query")
        if self.source == "csv" and not self.path:
            raise ValueError("source 'csv' needs path")
        return self


class AppRow(_Strict):
    id: str
    prefix: str = ""

    @field_validator("id", mode="before")
    @classmethod
    def _id_as_text(cls, v: Any) -> Any:
        return str(v) if isinstance(v, int) and not isinstance(v, bool) else v


class SegmentRow(_Strict):
    id: str
    name: str = ""


class PullMapping(_Strict):
    name: str = Field(min_length=1)
    kind: PullKind
    id: str | None = None  # page / feature / report id
    object: ObjectType = "company"
    metric: str | None = None  # metric name (page/feature); default = mapping name
    columns: dict[str, str] = Field(default_factory=dict)  # source column -> metric name
    pipeline: str | list[dict[str, Any]] | None = None  # aggregation pipeline (JSON text or list)
    app: str | None = None  # pes: the one app it covers
    multi_app: bool = False
    segment: str | None = None
    passive: bool = False
    auto_create_users: bool = False
    enabled: bool = True

    @field_validator("app", mode="before")
    @classmethod
    def _app_as_text(cls, v: Any) -> Any:
        return str(v) if isinstance(v, int) and not isinstance(v, bool) else v

    @model_validator(mode="after")
    def _kind_fields(self) -> PullMapping:
        if self.kind in ("page", "feature", "report") and not self.id:
            raise ValueError(f"a {self.kind} mapping needs id (the {self.kind}'s Pendo id)")
        if self.kind in ("report", "aggregation") and not self.columns:
            raise ValueError(f"a {self.kind} mapping needs columns (column = metric name)")
        if self.kind == "aggregation":
            if self.pipeline is None:
                raise ValueError("an aggregation mapping needs pipeline (JSON array of steps)")
            steps = self.pipeline_steps()
            if not steps or not isinstance(steps, list):
                raise ValueError("pipeline must be a non-empty JSON array of steps")
            # the one pipeline check (the TUI editor and the engine use it too); imported
            # here because pendo_tui.pendo imports this module
            from pendo_tui.pendo.pipelines import validate_pipeline

            problems = validate_pipeline(steps, self.object, list(self.columns))
            if problems:
                raise ValueError(
                    f"aggregation mapping {self.name!r}: pipeline is not usable: "
                    + "; ".join(problems)
                )
        if self.kind == "pes" and self.multi_app:
            raise ValueError("PES has no multi-app: make one pes mapping per app (set app)")
        return self

    def pipeline_steps(self) -> list[dict[str, Any]]:
        if self.pipeline is None:
            return []
        if isinstance(self.pipeline, str):
            try:
                steps = json.loads(self.pipeline)
            except json.JSONDecodeError as exc:
                raise ValueError(
                    f"pipeline is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
                ) from None
        else:
            steps = self.pipeline
        if isinstance(steps, dict) and "request" in steps:  # a whole request envelope was pasted
            steps = steps["request"].get("pipeline", [])
        return steps

    @property
    def metric_name(self) -> str:
        return self.metric or self.name


class ModelSource(_Strict):
    url: str | None = None
    query: str | None = None
    csv: str | None = None
    encoding: str | None = None  # CSV only; default UTF-8 (with or without a BOM)

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, v: str | None) -> str | None:
        if v is None:
            return None
        try:
            codecs.lookup(v)
        except LookupError:
            raise ValueError(
                f"{v!r} is not a text encoding Python knows (e.g. 'utf-8', 'utf-16', "
                "'cp1252', 'latin-1')"
            ) from None
        return v

    @model_validator(mode="after")
    def _one_source(self) -> ModelSource:
        if self.csv and (self.url or self.query):
            raise ValueError("give either csv or url+query, not both")
        if not self.csv and not (self.url and self.query):
            raise ValueError("needs csv = 'path.csv' or both url and query")
        if self.encoding and not self.csv:
            raise ValueError("encoding applies to a csv model only (a database decodes its own)")
        return self


# Row checks of push syncs (docs/push.md, "Rejected rows"); ``skip_checks`` turns one off.
PushCheck = Literal[
    "non_finite",
    "numeric_fields",
    "timestamp_range",
    "properties_size",
    "property_names",
    "value_size",
]


class PushSync(_Strict):
    name: str = Field(min_length=1)
    kind: PushKind
    model: ModelSource
    primary_key: str
    # events
    event: str | None = None  # static event name
    event_column: str | None = None
    timestamp: str | None = None  # column; absent = Pendo's arrival time
    visitor_id: str | None = None  # column
    account_id: str | None = None  # column
    # columns sent as properties, or property name -> column
    properties: list[str] | dict[str, str] = Field(default_factory=list)
    send_old_events: bool = False  # send events older than 7 days (Pendo ignores them)
    # objects
    match: str | None = None  # model column holding the Pendo id
    group: Literal["agent", "custom"] = "custom"
    fields: dict[str, str] = Field(default_factory=dict)  # Pendo field -> model column
    create_missing_fields: bool = False
    # both
    split_retries: bool = True
    on_delete: Literal["nothing", "delete"] = "nothing"
    batch_size: int = Field(default=500, ge=1, le=1000)
    concurrency: int = Field(default=8, ge=1, le=64)
    # row checks turned off for this sync; rows failing them are sent as they are
    skip_checks: list[PushCheck] = Field(default_factory=list)
    enabled: bool = True

    @field_validator("skip_checks")
    @classmethod
    def _no_repeats(cls, v: list[str]) -> list[str]:
        repeated = sorted({c for c in v if v.count(c) > 1})
        if repeated:
            raise ValueError(f"{', '.join(repeated)} listed more than once")
        return v

    @model_validator(mode="after")
    def _kind_fields(self) -> PushSync:
        if self.kind == "events":
            if bool(self.event) == bool(self.event_column):
                raise ValueError("an events sync needs exactly one of event or event_column")
            if not self.visitor_id:
                raise ValueError("an events sync needs visitor_id (the model column)")
        else:
            if not self.match:
                raise ValueError(f"a {self.kind} sync needs match (model column with the Pendo id)")
            if not self.fields:
                raise ValueError(f"a {self.kind} sync needs fields (Pendo field = model column)")
        return self

    def property_columns(self) -> dict[str, str]:
        """Property name -> model column."""
        if isinstance(self.properties, dict):
            return dict(self.properties)
        return {c: c for c in self.properties}


class AlertSettings(_Strict):
    urls: list[str] = Field(default_factory=list)  # apprise URLs
    on: list[Literal["failure", "rejected"]] = Field(default_factory=lambda: ["failure"])
    # Exit 5 and a "rejected" alert when skipped + rejected rows of a run exceed this;
    # unset = no threshold (skipped anonymous visitors are normal in most subscriptions).
    rejected_threshold: int | None = Field(default=None, ge=0)


class Config(_Strict):
    profile: str = "default"
    pendo: PendoSettings = Field(default_factory=PendoSettings)
    store: StoreSettings = Field(default_factory=StoreSettings)
    identity: IdentitySettings = Field(default_factory=IdentitySettings)
    companies: CompaniesSettings = Field(default_factory=CompaniesSettings)
    apps: list[AppRow] = Field(default_factory=list, validate_default=True)
    segments: list[SegmentRow] = Field(default_factory=list)
    pull: list[PullMapping] = Field(default_factory=list)
    push: list[PushSync] = Field(default_factory=list)
    alerts: AlertSettings = Field(default_factory=AlertSettings)

    @field_validator("apps")
    @classmethod
    def _default_apps(cls, rows: list[AppRow]) -> list[AppRow]:
        """The two default rows always exist: restored if missing, never an error."""
        ids = {r.id for r in rows}
        out = list(rows)
        if DEFAULT_APP_ID not in ids:
            out.insert(0, AppRow(id=DEFAULT_APP_ID, prefix=""))
        if UNKNOWN_APP_ID not in ids:
            out.append(AppRow(id=UNKNOWN_APP_ID, prefix="Other apps"))
        seen: set[str] = set()
        for r in out:
            if r.id in seen:
                raise ValueError(f"app id {r.id!r} is listed twice")
            seen.add(r.id)
        return out

    @model_validator(mode="after")
    def _unique_names(self) -> Config:
        for section, items in (("pull", self.pull), ("push", self.push)):
            seen: dict[str, int] = {}
            for i, item in enumerate(items):
                if item.name in seen:
                    raise ValueError(
                        f"{section}[{i}].name {item.name!r} duplicates {section}[{seen[item.name]}]"
                        "; mapping names must be unique"
                    )
                seen[item.name] = i
        pull_index = {m.name: i for i, m in enumerate(self.pull)}
        for i, s in enumerate(self.push):
            if s.name in pull_index:
                raise ValueError(
                    f"push[{i}].name {s.name!r} is also the name of pull[{pull_index[s.name]}]"
                    "; pull and push names must be unique together"
                )
        seg_ids = {s.id for s in self.segments}
        for i, m in enumerate(self.pull):
            if m.segment and seg_ids and m.segment not in seg_ids:
                raise ValueError(
                    f"pull[{i}].segment {m.segment!r} is not in [[segments]] "
                    f"(known: {', '.join(sorted(seg_ids))})"
                )
            if m.kind == "pes" and self.identity.company_external_id != "accountId":
                raise ValueError(
                    f"pull[{i}] is a pes mapping, but PES can be mapped only while "
                    "identity.company_external_id is 'accountId'"
                )
        return self

    def prefix_for_app(self, app_id: str | int) -> str:
        """Metric prefix for an app id; ids not in the table use the `unknown` row."""
        key = str(app_id)
        by_id = {a.id: a.prefix for a in self.apps}
        return by_id.get(key, by_id.get(UNKNOWN_APP_ID, ""))

    def app_series_key(self, app_id: str | int) -> str:
        """Which apps-table row an app id falls into (its own id, or `unknown`)."""
        key = str(app_id)
        return key if any(a.id == key for a in self.apps) else UNKNOWN_APP_ID


def multi_app_metric_name(prefix: str, metric: str) -> str:
    """Spec §3: ``"<prefix> - <metric>"``; an empty prefix gives the bare metric name."""
    return f"{prefix} - {metric}" if prefix else metric
