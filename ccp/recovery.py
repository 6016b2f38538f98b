"""What keeps a server honest over time: jobs of dead servers failed and their runtimes
destroyed, orphan runtimes removed, archives the store refused stored again. Which
Infrastructures can be reached is the health monitor's (ccp.jobcontrol.health), checked in
the background, so listing never waits on an engine."""

from __future__ import annotations

import logging
from collections.abc import Callable

from ccp.archive import Archives
from ccp.executor import Executor
from ccp.jobcontrol.health import HealthMonitor, is_stale_probe
from ccp.jobs import FINAL_VALUES
from ccp.jobstore import JobStore
from ccp.periodic import Periodic, run_each
from ccp.registry import Registry
from ccp.runtimepool import RuntimePool

LOGGER = logging.getLogger(__name__)


class Recovery:
    def __init__(self, store: JobStore, registry: Registry, runtimes: RuntimePool,
                 archives: Archives, executor: Executor, worker_id: str,
                 heartbeat_timeout: float, health: HealthMonitor) -> None:
        self.store = store
        self.registry = registry
        self.runtimes = runtimes
        self.archives = archives
        self.executor = executor
        self.worker_id = worker_id
        self.heartbeat_timeout = heartbeat_timeout
        self.health = health
        # more periodic clean-ups (e.g. expiring created Part 4 jobs), run with the others
        self.tasks: list[Callable[[], object]] = []
        self._schedule = Periodic("ccp-reaper", max(1.0, self.heartbeat_timeout / 2),
                                  lambda: run_each((self.recover, self.retry_storage,
                                                    *self.tasks)))

    def start(self) -> None:
        """Check once now, then keep checking in the background."""
        self.check_infrastructures()
        self.recover()
        self._schedule.start()

    @property
    def reachability(self) -> dict[str, str | None]:
        """Infrastructure id -> problem (None when reachable)."""
        return self.health.reachability

    def stop(self, timeout: float) -> None:
        self._schedule.stop(timeout)

    def recover(self) -> None:
        """Fail jobs whose server died and destroy their runtimes; clean orphans."""
        for job in self.store.stale_running(self.heartbeat_timeout):
            if self.store.take_over_if_stale(job.identifier, self.worker_id,
                                             self.heartbeat_timeout):
                self.executor.fail_lost(job)
        for infrastructure in self.registry.infrastructures.values():
            if self.reachability.get(infrastructure.id):
                continue  # unreachable: its orphans are cleaned once it is back
            try:
                self.runtimes.get(infrastructure).destroy_orphans(self.is_orphan)
            except Exception as err:
                LOGGER.warning("orphan clean-up on %s failed: %s", infrastructure.id, err)

    def is_orphan(self, execution_id: str) -> bool:
        """An instance of an execution that is over, or of a probe that should be."""
        return is_stale_probe(execution_id) or self.store.is_orphan(execution_id)

    def retry_storage(self) -> list[str]:
        """Store the archives a store could not take; return the job ids now stored.

        A job whose archive was kept on disk ended `failed`; once stored, it gets back the
        status its execution really had.
        """
        stored = []
        for job in self.store.find(status=list(FINAL_VALUES), stored=False, limit=1000)[0]:
            record = self.archives.pending_status(job.identifier)
            if job.stored or record is None:
                continue
            try:
                self.archives.store_pending(job.identifier)
            except Exception as err:
                LOGGER.warning("archive of %s still not stored: %s", job.identifier, err)
                continue
            self.store.update(job.identifier, stored=True, status=record["status"],
                              message=f"{record['message']} (archive stored on retry)")
            stored.append(job.identifier)
        return stored

    def check_infrastructures(self) -> None:
        """Ask every engine now whether it answers (the health monitor's schedule does it
        in the background)."""
        self.health.check_engines()
