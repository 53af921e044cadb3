"""Staged rows → live tables, in one transaction per apply: new end users, filled-in
names, activities and metrics, last-seen dates and the cursor (``pull_state``)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

from sqlalchemy import Connection, bindparam, case, select, update

from pendo_tui.config.model import Config
from pendo_tui.store import schema
from pendo_tui.sync.ports import StoreApi
from pendo_tui.sync.progress import ProgressCallback, ProgressEvent, emit
from pendo_tui.sync.pull import stage as st
from pendo_tui.sync.pull.fingerprint import mapping_fingerprint
from pendo_tui.sync.pull.identity import IdentityIndex
from pendo_tui.sync.pull.result import Job

_USAGE = ("page", "feature")  # the kinds that write activities


class Applier:
    """Applies finished jobs; ``apply`` is one transaction (all of its jobs or none).

    The engine applies every mapping of a batch whose calls all succeeded in one call:
    one commit, and one last-seen pass over all of them. Per mapping, a commit costs a
    WAL checkpoint on SQLite that rewrites the index pages the mappings share, and a
    last-seen pass updates the same end users again (measured at 50 mappings × 1M rows:
    14 s of 27 s of apply; bench/RESULTS.md, "pull").
    """

    def __init__(
        self,
        config: Config,
        store: StoreApi,
        index: IdentityIndex,
        progress: ProgressCallback | None,
    ) -> None:
        self.config = config
        self.store = store
        self.index = index
        self.progress = progress

    def apply(self, conn: Connection, jobs: list[Job], resync: bool) -> None:
        conn.commit()
        with conn.begin():
            real = self._create_users(conn, jobs)
            st.reassign_users(conn, real)
            self._fill_empty(conn)
            usage = sum(j.result.rows_fetched for j in jobs if j.mapping.kind in _USAGE)
            values = sum(j.result.rows_fetched for j in jobs)  # about a metric value a row
            incoming = {schema.activities: usage, schema.metrics: values}
            with st.rebuilt_indexes(conn, incoming):
                if resync:
                    st.delete_mapping_data(conn, [j.name for j in jobs])
                for job in jobs:
                    emit(self.progress, ProgressEvent(job.name, "write", 0, 1))
                    self._apply_job(conn, job)
            self._touch_last_seen(conn, [j for j in jobs if _moves_last_seen(j)], real)

    def _create_users(self, conn: Connection, jobs: list[Job]) -> dict[int, int]:
        """End users made by this run's decisions that these jobs' rows refer to; each is
        credited to the first of the jobs (in mapping order) that refers to it."""
        owners: dict[int, Job] = {}
        for u in self.index.created:
            if u.id < 0:
                owner = next((j for j in jobs if u.id in j.user_visitor), None)
                if owner is not None:
                    owners[u.id] = owner
        users = [u for u in self.index.created if u.id in owners]
        if not users:
            return {}
        rows = [
            {
                "external_id": u.external_id,
                "email": u.email,
                "name": u.name,
                "surname": u.surname,
                "company_external_id": u.company_external_id,
                "created_by": f"pendo-tui:{owners[u.id].name}"[:64],
            }
            for u in users
        ]
        t = schema.end_users
        ids = conn.execute(t.insert().returning(t.c.id, sort_by_parameter_order=True), rows)
        real = {u.id: row[0] for u, row in zip(users, ids, strict=True)}
        for u in users:
            owners[u.id].result.users_created += 1
            u.id = real[u.id]
        return real

    def _fill_empty(self, conn: Connection) -> None:
        t = schema.end_users
        for column in ("name", "surname", "email"):
            rows = [
                {"uid": uid, "v": values[column]}
                for uid, values in self.index.updated.items()
                if column in values
            ]
            if rows:
                col = t.c[column]
                stmt = (
                    update(t)
                    .where(t.c.id == bindparam("uid"), (col.is_(None)) | (col == ""))
                    .values({column: bindparam("v")})
                )
                conn.execute(stmt, rows)
        self.index.updated.clear()  # written once; later applies would change nothing

    def _apply_job(self, conn: Connection, job: Job) -> None:
        m, res = job.mapping, job.result
        if not job.window.empty:
            if m.kind in _USAGE:
                w = job.window
                fresh = conn.dialect.name == "postgresql" and st.no_activities_between(
                    conn, m.name, w.first_day, w.last_day
                )
                acts, mets = st.apply_activities(
                    conn, m.name, m.object, m.passive, job.merge, fresh=fresh
                )
                res.activities_written, res.metrics_written = acts, mets
            res.metrics_written += st.apply_metrics(conn, m.name)
            res.rows_written = res.activities_written + res.metrics_written
        state = {
            "mapping": m.name,
            "cursor_day": None if job.window.empty else job.window.last_day,
            "fingerprint": mapping_fingerprint(self.config, m),
            "updated_at": datetime.now(UTC),
        }
        if job.window.empty:
            state["cursor_day"] = read_state(self.store, m.name, conn)[0]
        self.store.upsert(conn, schema.pull_state, [state], ["mapping"])

    def _touch_last_seen(self, conn: Connection, jobs: list[Job], real: dict[int, int]) -> None:
        """Non-passive activity moves last_seen/last_active forward, never back (one
        pass: the latest day of each end user and company over all these jobs)."""
        if not jobs:
            return
        users, companies = latest_days(conn, jobs, real)
        for table, key, values in (
            (schema.end_users, "id", users),
            (schema.companies, "external_id", companies),
        ):
            if not values:
                continue
            ts = bindparam("ts", type_=table.c.last_seen.type)
            stmt = (
                update(table)
                .where(table.c[key] == bindparam("k"))
                .values(
                    last_seen=case(
                        ((table.c.last_seen.is_(None)) | (table.c.last_seen < ts), ts),
                        else_=table.c.last_seen,
                    ),
                    last_active=case(
                        ((table.c.last_active.is_(None)) | (table.c.last_active < ts), ts),
                        else_=table.c.last_active,
                    ),
                )
            )
            conn.execute(stmt, [{"k": k, "ts": _day_ts(d)} for k, d in values.items()])


def latest_days(
    conn: Connection, jobs: list[Job], real: dict[int, int]
) -> tuple[dict[int, date], dict[str, date]]:
    """Latest active day per end user and per company in these jobs' rows: from the days
    their routes kept (``Job.visitor_days``), and from the staged rows for a job whose
    failed call's rows were discarded. Reading them back from a million staged rows took
    1.4 s on SQLite (bench/RESULTS.md, "Key-ordered applies"). ``real``: the store's ids
    of users created from provisional ones."""
    routed = [j for j in jobs if j.visitor_days is not None and j.days_exact]
    kept = {id(j) for j in routed}
    staged = [j.name for j in jobs if id(j) not in kept]
    users: dict[int, date] = {}
    companies: dict[str, date] = {}
    if staged:
        users, companies = st.last_days(conn, staged)
    for job in routed:
        for parts in (job.visitor_days or {}).values():
            if parts is None:
                continue
            uid, company, _, day = parts
            if uid is not None:
                uid = real.get(uid, uid)
                if day > users.get(uid, date.min):
                    users[uid] = day
            if company is not None and day > companies.get(company, date.min):
                companies[company] = day
    return users, companies


def _moves_last_seen(job: Job) -> bool:
    m = job.mapping
    return m.kind in _USAGE and not m.passive and not job.window.empty


def _day_ts(day: date) -> datetime:
    return datetime.combine(day, time(0), UTC)


def read_state(
    store: StoreApi, name: str, conn: Connection | None = None
) -> tuple[date | None, str | None]:
    """A mapping's cursor and fingerprint (None, None before its first sync)."""
    t = schema.pull_state
    stmt = select(t.c.cursor_day, t.c.fingerprint).where(t.c.mapping == name)
    if conn is not None:
        row = conn.execute(stmt).first()
    else:
        with store.connect() as c:
            row = c.execute(stmt).first()
    return (row[0], row[1]) if row else (None, None)
