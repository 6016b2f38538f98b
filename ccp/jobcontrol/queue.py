"""Queued executions of an unhealthy Infrastructure: they wait, saying why, then fail.

Workers leave them queued (JobStore.claim_next skips their Infrastructure); this module keeps
their message true and fails those that waited `unhealthyWait` seconds (counted from when
they were queued or when the Infrastructure became unhealthy, whichever is later). Once the
Infrastructure is healthy again, their message says so and workers take them in the usual
fair order.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

from ccp.jobcontrol.records import Records
from ccp.jobs import JobStatus
from ccp.model import Infrastructure
from ccp.runtimes.base import now_iso

WAITING = "Waiting: "
ACCEPTED_AGAIN = "Accepted: waiting for a worker (infrastructure '{}' is healthy again)"


def epoch(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def iso(seconds: float) -> str:
    return (datetime.fromtimestamp(seconds, UTC).isoformat(timespec="seconds")
            .replace("+00:00", "Z"))


class HeldQueue:
    def __init__(self, records: Records) -> None:
        self.records = records

    def hold(self, infrastructure: Infrastructure, problem: str, unhealthy_since: float
             ) -> list[str]:
        """Update the queued executions of an unhealthy Infrastructure; returns the ids of
        those failed now."""
        wait = infrastructure.settings.unhealthy_wait
        failed = []
        for job in self.records.accepted_on(infrastructure.id):
            waiting_since = max(epoch(job.created), unhealthy_since)
            if time.time() - waiting_since >= wait:
                message = (f"Failed: infrastructure '{infrastructure.id}' stayed unhealthy "
                           f"for {wait} s while this execution waited in the queue "
                           f"({problem}); it never started")
                if self.records.update_if_accepted(
                        job.identifier, status=JobStatus.FAILED.value, message=message,
                        finished=now_iso(), progress=100):
                    failed.append(job.identifier)
                continue
            message = (f"{WAITING}infrastructure '{infrastructure.id}' is unhealthy "
                       f"({problem}); this execution stays queued until it is healthy, and "
                       f"fails if it is not by {iso(waiting_since + wait)}")
            if job.message != message:
                self.records.update_if_accepted(job.identifier, message=message)
        return failed

    def released(self, infrastructure_id: str) -> None:
        """The Infrastructure is healthy again: its queued executions say so."""
        for job in self.records.accepted_on(infrastructure_id):
            if job.message.startswith(WAITING):
                self.records.update_if_accepted(
                    job.identifier, message=ACCEPTED_AGAIN.format(infrastructure_id))
