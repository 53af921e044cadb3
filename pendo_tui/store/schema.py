"""The store's tables (README, "The store"), as SQLAlchemy Core.

Users point BI tools at these tables: names and columns are a contract. Add columns and
tables freely; rename or drop only through a migration (see ``migrations.py``) and a
note in the README. Bump ``SCHEMA_VERSION`` with every migration.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

from .types import UtcDateTime

# History: 1 = first layout; 2 = requests.kind, request_body_size, response_body_size.
SCHEMA_VERSION = 2

metadata = MetaData()

# One row: the schema version this store is at.
schema_info = Table(
    "schema_info",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("version", Integer, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("migrated_at", UtcDateTime(), nullable=True),
)

companies = Table(
    "companies",
    metadata,
    Column("external_id", String(512), primary_key=True),
    Column("name", String(1024)),
    Column("source", String(32), nullable=False, default="pendo"),  # pendo | sql | csv
    Column("last_seen", UtcDateTime()),
    Column("last_active", UtcDateTime()),
)

end_users = Table(
    "end_users",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("external_id", String(512), unique=True, nullable=True),
    Column("email", String(512), unique=True, nullable=True),
    Column("name", String(512)),
    Column("surname", String(512)),
    Column("company_external_id", String(512), index=True),
    Column("created_by", String(64)),  # "pendo-tui:<mapping>" when auto-created, else origin
    Column("last_seen", UtcDateTime()),
    Column("last_active", UtcDateTime()),
)

assets = Table(
    "assets",
    metadata,
    Column("external_id", String(512), primary_key=True),
    Column("company_external_id", String(512), index=True),
)

projects = Table(
    "projects",
    metadata,
    Column("external_id", String(512), primary_key=True),
    Column("company_external_id", String(512), index=True),
)

# Daily metric values. `app_id` is '' for a mapping without multi-app; with multi-app it
# keeps apps whose prefix is empty apart (their own series, no prefix).
metrics = Table(
    "metrics",
    metadata,
    Column("metric", String(512), primary_key=True),
    Column("object_type", String(16), primary_key=True),  # company|end_user|asset|project
    Column("object_id", String(512), primary_key=True),
    Column("day", Date, primary_key=True),  # calendar day in the subscription timezone
    Column("app_id", String(64), primary_key=True, default=""),
    Column("value", Float, nullable=False),
    Column("mapping", String(256), nullable=False, index=True),
)

activities = Table(
    "activities",
    metadata,
    Column("mapping", String(256), primary_key=True),
    Column("end_user_id", Integer, primary_key=True),
    Column("app_id", String(64), primary_key=True),
    Column("day", Date, primary_key=True),
    Column("company_external_id", String(512), index=True),
    Column("events", BigInteger, nullable=False, default=0),
    Column("minutes", BigInteger, nullable=False, default=0),
    Column("passive", Boolean, nullable=False, default=False),
)

runs = Table(
    "runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(32), nullable=False),  # sync | resync_all | dry_run | check
    Column("mappings", JSON),  # list of mapping/sync names the run covered
    Column("started_at", UtcDateTime(), nullable=False),
    Column("finished_at", UtcDateTime()),
    Column("status", String(16), nullable=False),  # running | ok | failed | rejected | interrupted
    Column("summary", JSON),
    Column("error", Text),
)

requests = Table(
    "requests",
    metadata,
    Column("run_id", Integer, ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    Column("seq", Integer, primary_key=True),
    Column("at", UtcDateTime(), nullable=False),
    Column("method", String(8), nullable=False),
    Column("url", Text, nullable=False),
    Column("status", Integer),  # NULL = no response (network error)
    Column("duration_ms", Float),
    Column("request_size", BigInteger),
    Column("response_size", BigInteger),
    Column("request_headers", JSON),  # secrets redacted
    Column("response_headers", JSON),
    Column("request_body", Text),  # truncated above the log's limit
    Column("response_body", Text),
    Column("error", Text),
    Column("attempt", Integer, default=1),
    # Added in schema 2 (migrations.py): what kind of call, and body sizes before truncation.
    Column("kind", String(32)),  # verify | list | aggregation | report | metadata | track ...
    Column("request_body_size", BigInteger),
    Column("response_body_size", BigInteger),
)

pull_state = Table(
    "pull_state",
    metadata,
    Column("mapping", String(256), primary_key=True),
    Column("cursor_day", Date),  # last day whose data is committed
    Column("fingerprint", String(128)),
    Column("updated_at", UtcDateTime()),
)

push_state = Table(
    "push_state",
    metadata,
    Column("sync", String(256), primary_key=True),
    Column("key", String(1024), primary_key=True),
    Column("value_hash", String(128)),
    Column("status", String(16), nullable=False),  # in_flight | delivered | rejected | missing
    Column("delivered_at", UtcDateTime()),
    Column("run_id", Integer),
)

push_rejects = Table(
    "push_rejects",
    metadata,
    Column("run_id", Integer, primary_key=True),
    Column("sync", String(256), primary_key=True),
    Column("key", String(1024), primary_key=True),
    Column("error", Text, nullable=False),
)

Index("ix_metrics_object", metrics.c.object_type, metrics.c.object_id, metrics.c.day)
Index("ix_activities_day", activities.c.day)
