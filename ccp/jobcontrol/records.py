"""The SQL of job control: requests on a job's row, who asked (ccp_job_controls), and the
health checks and verify reports of the Infrastructures (ccp_infrastructure_checks).

The tables are defined with the others in ccp/jobstore.py (Alembic revision 0006).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select, update

from ccp.jobcontrol.controller import Requests
from ccp.jobs import ACTIVE, Job, JobStatus
from ccp.jobstore import JobStore, infrastructure_checks, job_controls, jobs
from ccp.runtimes.base import now_iso

HISTORY_KEPT = 200  # checks of each kind kept per Infrastructure


@dataclass(frozen=True)
class Check:
    """One health check or verify run, as stored."""

    infrastructure_id: str
    kind: str  # health or verify
    checked: str
    server: str
    ok: bool
    latency_ms: float | None
    message: str
    detail: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"checked": self.checked, "server": self.server, "ok": self.ok,
                "latencyMs": self.latency_ms, "message": self.message,
                **({"detail": self.detail} if self.detail is not None else {})}


class Records:
    def __init__(self, store: JobStore) -> None:
        self.store = store
        self.engine = store.engine

    # --- requests on a job --------------------------------------------------------------------

    def requests(self, job_id: str) -> Requests:
        """What is asked of a running job; a job that is gone is to be dismissed."""
        with self.engine.connect() as connection:
            row = connection.execute(
                select(jobs.c.dismiss_requested, jobs.c.suspend_requested,
                       jobs.c.extended_seconds).where(jobs.c.identifier == job_id)).first()
        if row is None:
            return Requests(dismiss=True)
        return Requests(bool(row.dismiss_requested), bool(row.suspend_requested),
                        int(row.extended_seconds or 0))

    def request_suspend(self, job_id: str, suspend: bool, requester: str | None) -> bool:
        """Ask a running job to be suspended (or resumed); False when it is not running."""
        with self.engine.begin() as connection:
            changed = connection.execute(
                update(jobs).where(jobs.c.identifier == job_id,
                                   jobs.c.status == JobStatus.RUNNING.value)
                .values(suspend_requested=suspend, updated=now_iso())).rowcount == 1
            if changed:
                self._record(connection, job_id, "suspend" if suspend else "resume",
                             requester, None)
        return changed

    def request_extension(self, job: Job, seconds: int, requester: str | None) -> bool:
        """Add `seconds` to an active job's time limit, unless its row changed since `job`
        was read (then read it again and decide again)."""
        with self.engine.begin() as connection:
            changed = connection.execute(
                update(jobs).where(jobs.c.identifier == job.identifier,
                                   jobs.c.status.in_([status.value for status in ACTIVE]),
                                   jobs.c.extended_seconds == job.extended_seconds)
                .values(extended_seconds=job.extended_seconds + seconds,
                        updated=now_iso())).rowcount == 1
            if changed:
                self._record(connection, job.identifier, "extend", requester, seconds)
        return changed

    def _record(self, connection: Any, job_id: str, action: str, requester: str | None,
                seconds: int | None) -> None:
        connection.execute(job_controls.insert().values(
            job_id=job_id, at=now_iso(), action=action, requester=requester, seconds=seconds))

    def controls(self, job_id: str) -> list[dict[str, Any]]:
        """Every suspend, resume and extend request of a job, oldest first."""
        with self.engine.connect() as connection:
            rows = connection.execute(
                select(job_controls).where(job_controls.c.job_id == job_id)
                .order_by(job_controls.c.id)).all()
        return [{"at": row.at, "action": row.action, "requester": row.requester,
                 "seconds": row.seconds} for row in rows]

    def forget_controls(self, job_id: str) -> None:
        with self.engine.begin() as connection:
            connection.execute(delete(job_controls).where(job_controls.c.job_id == job_id))

    # --- the queue of an unhealthy Infrastructure ------------------------------------------------

    def accepted_on(self, infrastructure_id: str) -> list[Job]:
        """Queued executions of one Infrastructure (not being dismissed)."""
        with self.engine.connect() as connection:
            rows = connection.execute(select(jobs).where(
                jobs.c.status == JobStatus.ACCEPTED.value,
                jobs.c.infrastructure_id == infrastructure_id,
                jobs.c.dismiss_requested.is_(False))).all()
        return [self.store.decode(row) for row in rows]

    def update_if_accepted(self, job_id: str, **values: Any) -> bool:
        """Change a job only while it is still queued (a worker may claim it meanwhile)."""
        values["updated"] = now_iso()
        with self.engine.begin() as connection:
            return connection.execute(
                update(jobs).where(jobs.c.identifier == job_id,
                                   jobs.c.status == JobStatus.ACCEPTED.value)
                .values(**values)).rowcount == 1

    # --- Infrastructure checks ------------------------------------------------------------------

    def add_check(self, check: Check) -> None:
        with self.engine.begin() as connection:
            connection.execute(infrastructure_checks.insert().values(
                infrastructure_id=check.infrastructure_id, kind=check.kind,
                checked=check.checked, server=check.server, ok=check.ok,
                latency_ms=check.latency_ms, message=check.message,
                detail=json.dumps(check.detail) if check.detail is not None else None))
            old = select(infrastructure_checks.c.id).where(
                infrastructure_checks.c.infrastructure_id == check.infrastructure_id,
                infrastructure_checks.c.kind == check.kind,
            ).order_by(infrastructure_checks.c.id.desc()).offset(HISTORY_KEPT).limit(1)
            oldest_kept = connection.scalar(old)
            if oldest_kept is not None:
                connection.execute(delete(infrastructure_checks).where(
                    infrastructure_checks.c.infrastructure_id == check.infrastructure_id,
                    infrastructure_checks.c.kind == check.kind,
                    infrastructure_checks.c.id <= oldest_kept))

    def checks(self, infrastructure_id: str, kind: str, limit: int = 20) -> list[Check]:
        """The newest checks of one kind, newest first."""
        with self.engine.connect() as connection:
            rows = connection.execute(
                select(infrastructure_checks).where(
                    infrastructure_checks.c.infrastructure_id == infrastructure_id,
                    infrastructure_checks.c.kind == kind)
                .order_by(infrastructure_checks.c.id.desc()).limit(limit)).all()
        return [Check(row.infrastructure_id, row.kind, row.checked, row.server, bool(row.ok),
                      row.latency_ms, row.message,
                      json.loads(row.detail) if row.detail else None) for row in rows]
