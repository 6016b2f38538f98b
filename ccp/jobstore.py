"""Jobs in SQL through SQLAlchemy: SQLite by default, PostgreSQL for several servers.

The table is the durable queue: a job is `accepted` until one worker claims it with a
conditional UPDATE (only one can win, on both databases), and a running job proves it is alive
by its heartbeat. The tables below are what the code reads and writes; the schema itself is
made and changed by the Alembic revisions in ccp/migrations, applied when a JobStore starts.
"""

from __future__ import annotations

import json
import time
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    event,
    func,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection, Engine

from ccp.jobfilters import conditions_of
from ccp.jobs import ACTIVE, BRIEF_SKIPS, Job, JobFilter, JobStatus
from ccp.migrations import upgrade
from ccp.runtimes.base import now_iso

JSON_COLUMNS = ("request", "inputs", "claims", "instance", "outputs", "method",
                "infrastructure", "input_references")

metadata = MetaData()

jobs = Table(
    "ccp_jobs", metadata,
    Column("identifier", String(64), primary_key=True),
    Column("process_id", String(128), nullable=False, index=True),
    Column("process_version", String(64), nullable=False, default=""),
    Column("infrastructure_id", String(128), nullable=False, default=""),
    Column("status", String(16), nullable=False, index=True),
    Column("message", Text, nullable=False, default=""),
    Column("progress", Integer, nullable=False, default=0),
    Column("created", String(40), nullable=False, index=True),
    Column("started", String(40)),
    Column("finished", String(40)),
    Column("updated", String(40), nullable=False),
    Column("request", Text, nullable=False, default="{}"),
    Column("inputs", Text, nullable=False, default="{}"),
    Column("owner", String(256), index=True),
    Column("claims", Text, nullable=False, default="{}"),
    Column("worker", String(64)),
    Column("heartbeat", Float),
    Column("instance", Text),
    Column("dismiss_requested", Boolean, nullable=False, default=False),
    Column("stored", Boolean, nullable=False, default=False),
    Column("outputs", Text),
    Column("derived_from", String(64)),
    Column("method", Text, nullable=False, default="{}"),
    Column("infrastructure", Text, nullable=False, default="{}"),
    # sha256:<hex> of the Method that ran; where it came from: file, deployed or archive
    Column("method_digest", String(80)),
    Column("method_source", String(16)),
    Column("archive_bytes", BigInteger),
    # job control (ccp/jobcontrol): the suspension asked for, the one in force since when,
    # every second spent suspended before it, seconds added to the time limit
    Column("suspend_requested", Boolean, nullable=False, default=False),
    Column("suspended_since", String(40)),
    Column("suspended_seconds", Float, nullable=False, default=0.0),
    Column("extended_seconds", Integer, nullable=False, default=0),
    # the inputs given by reference (ccp.references), checked for the owner at submission
    Column("input_references", Text),
    # sha256:<hex> of Method digest + inputs + image digest, for successful executions of
    # deterministic Methods (what the cache looks up); the execution a cache hit reused
    Column("cache_key", String(80), index=True),
    Column("cache_of", String(64)),
)
BRIEF = [column for column in jobs.c if column.name not in BRIEF_SKIPS]

# Who asked for which suspend, resume or extend of a job, and when (for its PROV record).
job_controls = Table(
    "ccp_job_controls", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("job_id", String(64), nullable=False, index=True),
    Column("at", String(40), nullable=False),
    Column("action", String(16), nullable=False),
    Column("requester", String(256)),
    Column("seconds", Integer),
)

# Health checks and verify runs of the Infrastructures: recent history, per server.
infrastructure_checks = Table(
    "ccp_infrastructure_checks", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("infrastructure_id", String(128), nullable=False, index=True),
    Column("kind", String(16), nullable=False),  # health or verify
    Column("checked", String(40), nullable=False),
    Column("server", String(64), nullable=False),
    Column("ok", Boolean, nullable=False),
    Column("latency_ms", Float),
    Column("message", Text, nullable=False, default=""),
    Column("detail", Text),
)

# When each owner last had a job claimed: workers serve owners round-robin from it.
dispatch = Table(
    "ccp_dispatch", metadata,
    Column("owner", String(256), primary_key=True),
    Column("last_claimed", Float, nullable=False),
)


# Subscriber callbacks waiting to be sent, or sent and kept a while (ccp.callbacks).
callbacks = Table(
    "ccp_callbacks", metadata,
    Column("identifier", String(64), primary_key=True),
    Column("job_id", String(64), nullable=False, index=True),
    Column("event", String(16), nullable=False),  # success, failed or inProgress
    Column("uri", Text, nullable=False),
    Column("body", Text, nullable=False),
    Column("state", String(16), nullable=False, index=True),  # pending, sent or failed
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt", Float, nullable=False, index=True),
    Column("last_error", Text),
    Column("created", String(40), nullable=False),
    Column("updated", String(40), nullable=False),
)


method_versions = Table(
    "ccp_method_versions", metadata,
    Column("method_id", String(128), primary_key=True),
    Column("version", String(64), primary_key=True),
    Column("document", Text, nullable=False),
    Column("owner", String(256)),
    Column("context", String(256)),
    Column("created", String(40), nullable=False),
    # Exactly one version of a deployed Method is current; undeploy clears it, and old
    # versions stay for the Executions that used them.
    Column("current", Boolean, nullable=False, default=False, index=True),
)


# What running executions use (ccp.metrics): one row per replica per sampling round, with
# cumulative counters as the runtime reports them; times are epoch seconds.
metric_samples = Table(
    "ccp_metric_samples", metadata,
    Column("job_id", String(64), primary_key=True),
    Column("seq", Integer, primary_key=True),
    Column("replica", Integer, primary_key=True),
    Column("at", Float, nullable=False),
    Column("phase", String(16), nullable=False),
    Column("cpu_seconds", Float),
    Column("memory_bytes", BigInteger),
    Column("memory_limit_bytes", BigInteger),
    Column("network_rx_bytes", BigInteger),
    Column("network_tx_bytes", BigInteger),
    Column("block_read_bytes", BigInteger),
    Column("block_write_bytes", BigInteger),
    Column("processes", Integer),
)

# The lifecycle phases of executions as they happen (ccp.metrics), epoch seconds.
phases = Table(
    "ccp_phases", metadata,
    Column("job_id", String(64), primary_key=True),
    Column("seq", Integer, primary_key=True),
    Column("phase", String(16), nullable=False),
    Column("started", Float, nullable=False),
    Column("finished", Float),
)


class JobNotFound(KeyError):
    pass


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")  # readers never wait for the writer
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)


def _stale(older_than: float) -> Any:
    """Running, with no heartbeat for `older_than` seconds: its worker or server died."""
    limit = time.time() - older_than
    return (jobs.c.status == JobStatus.RUNNING.value) & (
        (jobs.c.heartbeat < limit) | jobs.c.heartbeat.is_(None))


def _owner_is(owner: str | None) -> Any:
    return jobs.c.owner.is_(None) if owner is None else jobs.c.owner == owner


def _decode(row: Any) -> Job:
    values = dict(row._mapping)
    for key in JSON_COLUMNS:
        if values.get(key) is not None:
            values[key] = json.loads(values[key])
    return Job.from_mapping(values)


def _encode(values: dict[str, Any]) -> dict[str, Any]:
    encoded = {key: value.value if isinstance(value, JobStatus) else value
               for key, value in values.items()}
    for key in JSON_COLUMNS:
        if key in encoded and encoded[key] is not None:
            encoded[key] = json.dumps(encoded[key], default=str)
    return encoded


class JobStore:
    def __init__(self, url: str) -> None:
        self.engine = make_engine(url)
        upgrade(self.engine)

    @staticmethod
    def decode(row: Any) -> Job:
        """A row of ccp_jobs as a Job (for modules with queries of their own)."""
        return _decode(row)

    def add(self, job: dict[str, Any]) -> Job:
        """Store a new job; returns it as stored (its status document needs no read)."""
        now = now_iso()
        values = {"status": JobStatus.ACCEPTED, "progress": 0, "created": now, "updated": now,
                  "message": "Accepted: waiting for a worker", **job}
        with self.engine.begin() as connection:  # parameters, not values: compiled once
            connection.execute(jobs.insert(), _encode(values))
        return Job.from_mapping(values)

    def get(self, job_id: str, brief: bool = False) -> Job:
        with self.engine.connect() as connection:
            row = connection.execute(select(*(BRIEF if brief else jobs.c))
                                     .where(jobs.c.identifier == job_id)).first()
        if row is None:
            raise JobNotFound(job_id)
        return _decode(row)

    def exists(self, job_id: str) -> bool:
        with self.engine.connect() as connection:
            return bool(connection.scalar(
                select(func.count()).select_from(jobs).where(jobs.c.identifier == job_id)))

    def update(self, job_id: str, **values: Any) -> bool:
        values["updated"] = now_iso()
        with self.engine.begin() as connection:
            result = connection.execute(
                update(jobs).where(jobs.c.identifier == job_id).values(**_encode(values)))
        return result.rowcount == 1

    def update_in_status(self, job_id: str, expected: JobStatus, **values: Any) -> bool:
        """Update a job only while its status is `expected` (of several writers, one wins)."""
        values["updated"] = now_iso()
        with self.engine.begin() as connection:
            return connection.execute(
                update(jobs).where(jobs.c.identifier == job_id,
                                   jobs.c.status == expected.value)
                .values(**_encode(values))).rowcount == 1

    def update_running(self, job_id: str, durable: bool = True, **values: Any) -> bool:
        """Update a job only while it is running (a dismissed or reaped job stays final).

        `durable=False` is for progress and heartbeats: they skip the fsync (a crash may
        lose the latest one, which the next write or the reaper corrects): SQLite's
        synchronous=NORMAL, PostgreSQL's synchronous_commit off, for that commit only.
        """
        values["updated"] = now_iso()
        statement = (update(jobs).where(jobs.c.identifier == job_id,
                                        jobs.c.status == JobStatus.RUNNING.value)
                     .values(**_encode(values)))
        dialect = self.engine.dialect.name
        fast = not durable and dialect == "sqlite"
        with self.engine.connect() as connection:
            if fast:
                connection.exec_driver_sql("PRAGMA synchronous=NORMAL")
                connection.commit()
            try:
                if not durable and dialect == "postgresql":
                    connection.exec_driver_sql("SET LOCAL synchronous_commit TO OFF")
                result = connection.execute(statement)
                connection.commit()
            finally:
                if fast:
                    connection.exec_driver_sql("PRAGMA synchronous=FULL")
                    connection.commit()
        return result.rowcount == 1

    def delete(self, job_id: str) -> bool:
        with self.engine.begin() as connection:
            result = connection.execute(jobs.delete().where(jobs.c.identifier == job_id))
        return result.rowcount == 1

    def find(self, *, status: list[str] | None = None, process_id: list[str] | None = None,
             owner: str | None = None, stored: bool | None = None, limit: int = 10,
             offset: int = 0, where: JobFilter | None = None, brief: bool = False
             ) -> tuple[list[Job], int]:
        query = select(*(BRIEF if brief else jobs.c))
        count = select(func.count()).select_from(jobs)
        conditions = conditions_of(where, jobs) if where else []
        if status:
            conditions.append(jobs.c.status.in_(status))
        if process_id:
            conditions.append(jobs.c.process_id.in_(process_id))
        if owner is not None:
            conditions.append(jobs.c.owner == owner)
        if stored is not None:
            conditions.append(jobs.c.stored.is_(stored))
        for condition in conditions:
            query = query.where(condition)
            count = count.where(condition)
        query = query.order_by(jobs.c.created.desc(), jobs.c.identifier).limit(limit).offset(offset)
        with self.engine.connect() as connection:
            rows = connection.execute(query).all()
            total = connection.scalar(count)
        return [_decode(row) for row in rows], int(total or 0)

    def claim_next(self, worker: str, skip: frozenset[str] = frozenset()) -> Job | None:
        """Take the next accepted job for `worker`, or None. Never gives a job out twice.

        Owners are served round-robin: the job chosen is the oldest of the owner whose last
        claim is the longest ago, so one user's thousand queued jobs delay another user's
        single job by at most one slot per worker. On PostgreSQL, `FOR UPDATE SKIP LOCKED`
        lets several servers claim side by side; on SQLite the clause is dropped and the
        database's single writer serialises claims. Either way the UPDATE re-checks
        `accepted`. Jobs of the Infrastructures in `skip` (unhealthy ones) are left queued;
        the others are served as if those were not there.
        """
        owner_key = func.coalesce(jobs.c.owner, "")
        last_claimed = (select(dispatch.c.last_claimed)
                        .where(dispatch.c.owner == owner_key).scalar_subquery())
        for _attempt in range(8):
            with self.engine.begin() as connection:
                row = connection.execute(
                    select(jobs.c.identifier, owner_key.label("owner_key"))
                    .where(jobs.c.status == JobStatus.ACCEPTED.value,
                           jobs.c.dismiss_requested.is_(False),
                           jobs.c.infrastructure_id.not_in(sorted(skip)))
                    .order_by(func.coalesce(last_claimed, 0.0), jobs.c.created,
                              jobs.c.identifier)
                    .limit(1).with_for_update(skip_locked=True)).first()
                if row is None:
                    return None
                now = now_iso()
                won = connection.execute(
                    update(jobs)
                    .where(jobs.c.identifier == row.identifier,
                           jobs.c.status == JobStatus.ACCEPTED.value)
                    .values(status=JobStatus.RUNNING.value, worker=worker, heartbeat=time.time(),
                            started=now, updated=now, progress=5,
                            message="Running: claimed by a worker")).rowcount == 1
                if won:
                    self._record_claim(connection, row.owner_key)
            if won:
                return self.get(row.identifier)
        return None

    def _record_claim(self, connection: Connection, owner: str) -> None:
        insert = postgresql_insert if self.engine.dialect.name == "postgresql" else sqlite_insert
        statement = insert(dispatch).values(owner=owner, last_claimed=time.time())
        connection.execute(statement.on_conflict_do_update(
            index_elements=[dispatch.c.owner],
            set_={"last_claimed": statement.excluded.last_claimed}))

    def active_count(self, owner: str | None) -> int:
        """Accepted and running jobs of one owner (None: the anonymous user)."""
        with self.engine.connect() as connection:
            return int(connection.scalar(
                select(func.count()).select_from(jobs).where(
                    jobs.c.status.in_([status.value for status in ACTIVE]),
                    _owner_is(owner))) or 0)

    def stored_bytes(self, owner: str | None) -> int:
        """Bytes of every stored archive of one owner."""
        with self.engine.connect() as connection:
            return int(connection.scalar(
                select(func.coalesce(func.sum(jobs.c.archive_bytes), 0)).where(
                    jobs.c.stored.is_(True), _owner_is(owner))) or 0)

    def dismiss_if_waiting(self, job_id: str, message: str) -> bool:
        """Dismiss a job no worker has claimed (accepted, or created and never started)."""
        now = now_iso()
        with self.engine.begin() as connection:
            return connection.execute(
                update(jobs).where(jobs.c.identifier == job_id, jobs.c.status.in_(
                    [JobStatus.ACCEPTED.value, JobStatus.CREATED.value]))
                .values(status=JobStatus.DISMISSED.value, message=message, finished=now,
                        updated=now, progress=100, dismiss_requested=True)).rowcount == 1

    def request_dismiss(self, job_id: str) -> bool:
        with self.engine.begin() as connection:
            return connection.execute(
                update(jobs).where(jobs.c.identifier == job_id,
                                   jobs.c.status == JobStatus.RUNNING.value)
                .values(dismiss_requested=True, updated=now_iso())).rowcount == 1

    def stale_running(self, older_than: float) -> list[Job]:
        """Running jobs whose heartbeat stopped: their worker or server died."""
        with self.engine.connect() as connection:
            rows = connection.execute(select(jobs).where(_stale(older_than))).all()
        return [_decode(row) for row in rows]

    def take_over_if_stale(self, job_id: str, worker: str, older_than: float) -> bool:
        """Make `worker` the owner of a stale running job; only one taker can win."""
        with self.engine.begin() as connection:
            return connection.execute(
                update(jobs).where(jobs.c.identifier == job_id, _stale(older_than))
                .values(worker=worker, heartbeat=time.time(), updated=now_iso())
            ).rowcount == 1

    def find_cached(self, cache_key: str, owner: str | None, seeing_all: bool) -> Job | None:
        """The newest stored successful execution with this cache key that the owner (or
        anyone, for `seeing_all`) may see."""
        query = select(jobs).where(jobs.c.cache_key == cache_key,
                                   jobs.c.status == JobStatus.SUCCESSFUL.value,
                                   jobs.c.stored.is_(True))
        if not seeing_all:
            query = query.where(_owner_is(owner))
        with self.engine.connect() as connection:
            row = connection.execute(query.order_by(jobs.c.finished.desc()).limit(1)).first()
        return None if row is None else _decode(row)

    def is_orphan(self, job_id: str) -> bool:
        """True for a job this store knows to be over; unknown ids belong to someone else."""
        try:
            return self.get(job_id).is_final
        except JobNotFound:
            return False
