"""Suspend, resume and extend requests, as the API takes them.

A request is checked against the job and its Infrastructure's manifest, recorded in the job
store with who asked, and (for suspend and resume) waited for a little, so that most answers
already show the new state; the execution's own watchdog makes the change (see controller).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any, NoReturn

from ccp import errors
from ccp.auth import Requester
from ccp.jobcontrol import manifest
from ccp.jobcontrol.records import Records
from ccp.jobs import Job, JobStatus
from ccp.jobstore import JobStore
from ccp.model import Infrastructure

CCP_REL = "https://ccp.example.org/rel/"
MAX_EXTENSION_SECONDS = 10**7  # one request; the Infrastructure's maxTime bounds the sum
POLL_SECONDS = 0.1


class JobControl:
    def __init__(self, store: JobStore, records: Records) -> None:
        self.store = store
        self.records = records

    def suspend(self, job: Job, requester: Requester, wait: float = 10.0) -> tuple[Job, bool]:
        """Ask a running execution to be suspended; (the job now, whether it is in force)."""
        infrastructure = self._running(job, "suspended")
        manifest.require(infrastructure, "suspend")
        if job.suspended_since:
            return job, True
        allowed = infrastructure.settings.max_suspend
        if job.suspended_seconds >= allowed:
            raise errors.Conflict(
                f"job '{job.identifier}' has been suspended for {job.suspended_seconds:.0f} s, "
                f"the most infrastructure '{infrastructure.id}' allows ({allowed} s)",
                title="Suspension used up")
        if not self.records.request_suspend(job.identifier, True, requester.subject):
            self._changed_meanwhile(job.identifier, "suspended")
        return self._wait_for(job.identifier, lambda j: bool(j.suspended_since), wait)

    def resume(self, job: Job, requester: Requester, wait: float = 10.0) -> tuple[Job, bool]:
        """Ask a suspended execution to run on; (the job now, whether it runs again)."""
        infrastructure = self._running(job, "resumed")
        manifest.require(infrastructure, "suspend")
        if not job.suspend_requested and not job.suspended_since:
            return job, True
        if not self.records.request_suspend(job.identifier, False, requester.subject):
            self._changed_meanwhile(job.identifier, "resumed")
        return self._wait_for(job.identifier, lambda j: not j.suspended_since, wait)

    def extend(self, job: Job, seconds: Any, requester: Requester) -> Job:
        """Add `seconds` to a queued or running execution's time limit, within maxTime."""
        if isinstance(seconds, bool) or not isinstance(seconds, int) \
                or not 1 <= seconds <= MAX_EXTENSION_SECONDS:
            raise errors.InvalidParameter(
                f"'seconds' must be an integer from 1 to {MAX_EXTENSION_SECONDS}")
        while True:
            if job.is_final:
                raise errors.Conflict(f"job '{job.identifier}' is {job.status}: only a queued "
                                      "or running execution can be extended",
                                      title="Job not active")
            infrastructure = Infrastructure.from_dict(job.infrastructure)
            manifest.require(infrastructure, "extend")
            limit = time_limit(job)
            maximum = infrastructure.settings.max_time
            if limit + seconds > maximum:
                raise errors.Conflict(
                    f"extending job '{job.identifier}' by {seconds} s would make its time limit "
                    f"{limit + seconds:.0f} s, over the maximum of infrastructure "
                    f"'{infrastructure.id}' ({maximum} s): it may be extended by at most "
                    f"{max(0, maximum - limit):.0f} s more",
                    title="Time limit beyond the maximum", maximum=maximum,
                    timeLimit=limit)
            if self.records.request_extension(job, seconds, requester.subject):
                return self.store.get(job.identifier)
            job = self.store.get(job.identifier)  # changed meanwhile: decide again

    def _running(self, job: Job, what: str) -> Infrastructure:
        if job.status != JobStatus.RUNNING:
            raise errors.Conflict(f"job '{job.identifier}' is {job.status}: only a running "
                                  f"execution can be {what}", title="Job not running")
        return Infrastructure.from_dict(job.infrastructure)

    def _changed_meanwhile(self, job_id: str, what: str) -> NoReturn:
        job = self.store.get(job_id)
        raise errors.Conflict(f"job '{job_id}' is {job.status}: only a running execution "
                              f"can be {what}", title="Job not running")

    def _wait_for(self, job_id: str, done: Any, wait: float) -> tuple[Job, bool]:
        deadline = time.monotonic() + wait
        while True:
            job = self.store.get(job_id)
            if done(job) or job.is_final:
                return job, done(job)
            if time.monotonic() > deadline:
                return job, False
            time.sleep(POLL_SECONDS)


def time_limit(job: Job) -> float:
    """ccpmaxtime plus every extension granted."""
    return float(job.inputs.get("ccpmaxtime") or 0) + job.extended_seconds


def status_fields(job: Job) -> dict[str, Any]:
    """CCP's job control fields of a job's status; the status itself stays OGC's."""
    fields: dict[str, Any] = {}
    if "ccpmaxtime" in job.inputs:  # an imported job may not say
        fields["timeLimit"] = time_limit(job)
    if job.extended_seconds:
        fields["extendedSeconds"] = job.extended_seconds
    if job.status == JobStatus.RUNNING:
        fields["suspended"] = bool(job.suspended_since)
        if job.suspended_since:
            fields["suspendedSince"] = job.suspended_since
            fields["message"] = (f"Suspended since {job.suspended_since}; the time limit is "
                                 f"paused. {job.message}")
        elif job.suspend_requested:
            fields["message"] = f"Suspend requested, not yet in force. {job.message}"
    if job.suspended_seconds or job.suspended_since:
        fields["suspendedSeconds"] = round(suspended_seconds(job), 3)
    return fields


def suspended_seconds(job: Job) -> float:
    """Every second the job has spent suspended, the suspension in force included."""
    total = job.suspended_seconds
    if job.suspended_since:
        since = datetime.fromisoformat(job.suspended_since.replace("Z", "+00:00"))
        total += max(0.0, (datetime.now(UTC) - since).total_seconds())
    return total


def links(job: Job, url: str) -> list[dict[str, Any]]:
    """Links to the job control an active job's Infrastructure offers (POST to use them)."""
    if job.is_final or not job.infrastructure:
        return []
    offered = manifest.features(Infrastructure.from_dict(job.infrastructure))
    found = []
    if offered["extend"]:
        found.append(("extend", 'POST {"seconds": N}: a longer time limit'))
    if offered["suspend"] and job.status == JobStatus.RUNNING:
        if job.suspended_since or job.suspend_requested:
            found.append(("resume", "POST: run on"))
        else:
            found.append(("suspend", "POST: freeze it; its time limit stands still"))
    return [{"rel": f"{CCP_REL}{name}", "type": "application/json", "href": f"{url}/{name}",
             "title": title} for name, title in found]
