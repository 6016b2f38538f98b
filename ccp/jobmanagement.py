"""OGC API - Processes Part 4 (Job Management, draft 24-051): jobs defined now, started later.

`POST /jobs` validates a definition (`process` plus what an execute request holds) exactly as
an execution request and stores it as a job in status `created`, which no worker claims.
`PATCH /jobs/{id}` applies a JSON merge patch (RFC 7396) to its definition and validates the
result again; `POST /jobs/{id}/results` queues it (`accepted`). Once it is no longer `created`
it is locked (423). A created job lives in the job store, so it survives restarts; one not
changed for `created_job_ttl` seconds is deleted by the recovery loop.

Quotas: created jobs count against the role's `created_jobs` limit (they hold no runtime, but
they are rows someone stores); starting one counts it against `active_executions` like any
execution.
"""

from __future__ import annotations

import copy
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, func, select

from ccp import errors
from ccp.auth import Requester
from ccp.jobs import Job, JobStatus
from ccp.jobstore import JobStore, jobs
from ccp.model import Method
from ccp.policy import RETRY_AFTER_SECONDS

if TYPE_CHECKING:
    from ccp.manager import CCPManager

CREATED_MESSAGE = ("Created: change it with PATCH /jobs/{id}, start it with "
                   "POST /jobs/{id}/results")
DEFAULT_TTL = 7 * 24 * 3600
# What a stored definition change rewrites (the record of ccp.admission.Admission.prepare).
DEFINITION_COLUMNS = ("process_id", "process_version", "infrastructure_id", "request",
                      "inputs", "input_references", "method", "method_digest",
                      "method_source", "infrastructure")


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7396 JSON merge patch: objects merge key by key, `null` removes, the rest
    replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


class JobManagement:
    def __init__(self, manager: CCPManager, ttl: float = DEFAULT_TTL) -> None:
        self.manager = manager
        self.store: JobStore = manager.store
        self.ttl = ttl

    def create(self, method: Method, definition: dict[str, Any], requester: Requester) -> str:
        """Validate a definition and store it as a created job; returns its id."""
        record = self.manager.admission.prepare(method.id, definition, requester, method=method)
        self._check_created_quota(requester)
        self.store.add({**record, "status": JobStatus.CREATED, "progress": 0,
                        "message": CREATED_MESSAGE})
        return str(record["identifier"])

    def update(self, job: Job, method: Method, definition: dict[str, Any],
               requester: Requester) -> None:
        """Replace the definition of a created job with `definition`, validated anew."""
        self.check_created(job)
        record = self.manager.admission.prepare(method.id, definition, requester, method=method)
        values = {column: record[column] for column in DEFINITION_COLUMNS}
        if not self.store.update_in_status(job.identifier, JobStatus.CREATED, **values):
            self.check_created(self.manager.get_job(job.identifier))

    def start(self, job: Job, requester: Requester) -> None:
        """Queue a created job."""
        self.check_created(job)
        self.manager.admission.check_quota(requester)
        if not self.store.update_in_status(job.identifier, JobStatus.CREATED,
                                           status=JobStatus.ACCEPTED,
                                           message="Accepted: waiting for a worker"):
            self.check_created(self.manager.get_job(job.identifier))
        self.manager.workers.wake()

    def expire(self) -> list[str]:
        """Delete the created jobs left unchanged for longer than the time to live."""
        cutoff = datetime.fromtimestamp(time.time() - self.ttl, UTC).isoformat(
            timespec="milliseconds").replace("+00:00", "Z")
        condition = (jobs.c.status == JobStatus.CREATED.value) & (jobs.c.updated < cutoff)
        with self.store.engine.begin() as connection:
            expired = list(connection.scalars(select(jobs.c.identifier).where(condition)))
            if expired:
                connection.execute(delete(jobs).where(condition,
                                                      jobs.c.identifier.in_(expired)))
        return expired

    def check_created(self, job: Job) -> None:
        """Locked (423) unless the job is still `created`."""
        if job.status != JobStatus.CREATED:
            raise errors.Locked(f"job '{job.identifier}' is {job.status}: only a created job "
                                "can be changed or started")

    def _check_created_quota(self, requester: Requester) -> None:
        limit = self.manager.policy.limits_of(requester).created_jobs
        if not limit:
            return
        owner = jobs.c.owner.is_(None) if requester.subject is None \
            else jobs.c.owner == requester.subject
        with self.store.engine.connect() as connection:
            count = int(connection.scalar(select(func.count()).select_from(jobs).where(
                jobs.c.status == JobStatus.CREATED.value, owner)) or 0)
        if count >= limit:
            raise errors.TooManyJobs(
                f"you have {limit} created jobs that were never started, the most your role "
                "may have: start or delete some (DELETE /jobs/{id})",
                retry_after=RETRY_AFTER_SECONDS)
