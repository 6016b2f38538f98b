"""Verify: do the engine and the job store agree on what runs?

For one Infrastructure, the executions that have something on the engine (the runtime's
`executions()`) are set against the jobs of the store:
- an instance of a job that has ended, or of a probe long over, is an orphan: removed;
- a running job whose instance was recorded but is not on the engine (and that is not being
  destroyed as it ends) is lost: failed, with a message saying so;
- an instance of an execution the store does not know is left alone and reported (another
  server with another store may own it);
- a warm pool member (`warm-...`, launched ahead by ccp.warmpool) is its pool's, and a job
  that took one is found by the member id too while the engine still uses it;
- the rest match.
The report is returned, stored (the newest are kept) and logged. Verify runs on demand
(POST /infrastructures/{id}/verify, admins) and every `verify_interval` seconds.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from ccp import errors
from ccp.executor import Executor
from ccp.jobcontrol import manifest
from ccp.jobcontrol.health import is_stale_probe
from ccp.jobcontrol.records import Check, Records
from ccp.jobs import Job, JobStatus
from ccp.jobstore import JobNotFound, JobStore
from ccp.lifecycle import PROGRESS
from ccp.logs import concise
from ccp.model import Infrastructure
from ccp.periodic import Periodic
from ccp.registry import Registry
from ccp.runtimepool import RuntimePool
from ccp.runtimes.base import WARM_PREFIX, RuntimeFailure, now_iso

LOGGER = logging.getLogger(__name__)


class Verifier:
    def __init__(self, store: JobStore, records: Records, registry: Registry,
                 runtimes: RuntimePool, executor: Executor, server: str,
                 heartbeat_timeout: float, interval: float) -> None:
        self.store = store
        self.records = records
        self.registry = registry
        self.runtimes = runtimes
        self.executor = executor
        self.server = server
        self.heartbeat_timeout = heartbeat_timeout
        self.interval = interval  # seconds between scheduled runs; 0: on demand only
        self._schedule = Periodic("ccp-verify", interval, self._verify_all)

    def verify(self, infrastructure: Infrastructure) -> dict[str, Any]:
        manifest.require(infrastructure, "verify")
        started = time.monotonic()
        runtime = self.runtimes.get(infrastructure)
        running = self._running_on(infrastructure.id)  # read before the engine is listed
        try:
            on_engine = runtime.executions()
        except RuntimeFailure as err:
            message = f"the engine could not be listed: {concise(err)}"
            self.records.add_check(Check(infrastructure.id, "verify", now_iso(), self.server,
                                         False, None, message, None))
            raise errors.APIError(503, "Infrastructure unreachable",
                                  f"verify of '{infrastructure.id}': {message}") from err
        orphans, unknown, matched = set(), [], []
        for execution_id in sorted(on_engine):
            if is_stale_probe(execution_id):
                orphans.add(execution_id)
                continue
            if execution_id.startswith(WARM_PREFIX):
                continue  # a warm pool's member (ccp.warmpool), or the old name of a taken one
            try:
                job = self.store.get(execution_id)
            except JobNotFound:
                unknown.append(execution_id)
                continue
            if job.is_final:
                orphans.add(execution_id)
            else:
                matched.append(execution_id)
        removed = runtime.destroy_orphans(lambda execution_id: execution_id in orphans) \
            if orphans else []
        lost = [job.identifier for job in running
                if not {job.identifier, warm_member(job)} & on_engine
                and self._still_lost(job.identifier)
                and self._fail_lost(job, infrastructure)]
        checked, duration = now_iso(), round((time.monotonic() - started) * 1000, 1)
        report: dict[str, Any] = {
            "infrastructure": infrastructure.id,
            "checked": checked,
            "server": self.server,
            "durationMs": duration,
            "onEngine": len(on_engine),
            "runningInStore": len(running),
            "matched": matched,
            "orphansRemoved": sorted(removed),
            "lostJobsFailed": lost,
            "unknown": unknown,
        }
        agree = not removed and not lost
        message = ("engine and job store agree" if agree else
                   f"{len(removed)} orphan(s) removed, {len(lost)} lost job(s) failed")
        if unknown:
            message += f"; {len(unknown)} unknown instance(s) left alone"
        if removed or lost:
            LOGGER.warning("verify of %s: %s", infrastructure.id, message)
        self.records.add_check(Check(infrastructure.id, "verify", checked, self.server, agree,
                                     duration, message, report))
        return {**report, "ok": agree, "message": message}

    def reports(self, infrastructure: Infrastructure, limit: int = 10) -> list[dict[str, Any]]:
        """The newest verify reports of an Infrastructure, newest first."""
        return [{**(check.detail or {}), "ok": check.ok, "message": check.message}
                for check in self.records.checks(infrastructure.id, "verify", limit)]

    def _running_on(self, infrastructure_id: str) -> list[Job]:
        jobs, _ = self.store.find(status=[JobStatus.RUNNING.value], limit=100_000)
        return [job for job in jobs if job.infrastructure_id == infrastructure_id
                and job.instance]

    def _still_lost(self, job_id: str) -> bool:
        """Running, its instance recorded, and not yet being destroyed as it ends: then it
        was on the engine when the engine was listed, unless it was lost."""
        try:
            job = self.store.get(job_id)
        except JobNotFound:
            return False
        return (job.status == JobStatus.RUNNING and bool(job.instance)
                and job.progress < PROGRESS["Destroy"])

    def _fail_lost(self, job: Job, infrastructure: Infrastructure) -> bool:
        if self.store.take_over_if_stale(job.identifier, self.server, self.heartbeat_timeout):
            self.executor.fail_lost(job)  # its server is gone: archive what is known
            return True
        message = (f"Failed: verify found no runtime of this execution on infrastructure "
                   f"'{infrastructure.id}' (removed outside CCP, or the engine lost it)")
        return self.store.update_running(job.identifier, status=JobStatus.FAILED,
                                         message=message, progress=100, finished=now_iso(),
                                         suspended_since=None)

    # --- the schedule ------------------------------------------------------------------------

    def start(self) -> None:
        if self.interval > 0:
            self._schedule.start()

    def stop(self, timeout: float) -> None:
        self._schedule.stop(timeout)

    def _verify_all(self) -> None:
        for infrastructure in list(self.registry.infrastructures.values()):
            if not manifest.features(infrastructure)["verify"]:
                continue
            try:
                self.verify(infrastructure)
            except Exception as err:
                LOGGER.warning("verify of %s failed: %s", infrastructure.id, err)


def warm_member(job: Job) -> str | None:
    """The member id of the warm runtime a job took: what the engine may still call it
    while it is renamed (docker), or what its tasks and network keep (swarm)."""
    handle = (job.instance or {}).get("handle") or {}
    return (handle.get("warm") or {}).get("member")
