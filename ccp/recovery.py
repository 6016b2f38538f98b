"""What keeps a server honest over time: jobs of dead servers failed and their runtimes
destroyed, orphan runtimes removed, archives the store refused stored again, and which
Infrastructures can be reached (checked in the background, so listing never waits on an
engine)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from ccp.archive import Archives
from ccp.executor import Executor
from ccp.jobs import FINAL_VALUES
from ccp.jobstore import JobStore
from ccp.logs import concise
from ccp.registry import Registry
from ccp.runtimepool import RuntimePool

LOGGER = logging.getLogger(__name__)


class Recovery:
    def __init__(self, store: JobStore, registry: Registry, runtimes: RuntimePool,
                 archives: Archives, executor: Executor, worker_id: str,
                 heartbeat_timeout: float) -> None:
        self.store = store
        self.registry = registry
        self.runtimes = runtimes
        self.archives = archives
        self.executor = executor
        self.worker_id = worker_id
        self.heartbeat_timeout = heartbeat_timeout
        # infrastructure id -> problem (None when reachable)
        self.reachability: dict[str, str | None] = {}
        # more periodic clean-ups (e.g. expiring created Part 4 jobs), run with the others
        self.tasks: list[Callable[[], object]] = []
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Check once now, then keep checking in the background."""
        self.check_infrastructures()
        self.recover()
        self._thread = threading.Thread(target=self._reap, name="ccp-reaper", daemon=True)
        self._thread.start()

    def stop(self, timeout: float) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

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
                self.runtimes.get(infrastructure).destroy_orphans(self.store.is_orphan)
            except Exception as err:
                LOGGER.warning("orphan clean-up on %s failed: %s", infrastructure.id, err)

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
        for infrastructure in list(self.registry.infrastructures.values()):
            try:
                self.runtimes.get(infrastructure).check()
                problem, summary = None, ""
            except Exception as err:
                problem, summary = str(err) or type(err).__name__, concise(err)
            if problem != self.reachability.get(infrastructure.id, "unchecked"):
                if problem:  # said once when it happens, in one line, not at every check
                    LOGGER.warning("infrastructure %s unreachable: %s", infrastructure.id,
                                   summary)
                elif infrastructure.id in self.reachability:
                    LOGGER.warning("infrastructure %s reachable again", infrastructure.id)
            self.reachability[infrastructure.id] = problem

    def _reap(self) -> None:
        while not self._stopping.wait(max(1.0, self.heartbeat_timeout / 2)):
            for task in (self.recover, self.retry_storage, self.check_infrastructures,
                         *self.tasks):
                try:
                    task()
                except Exception:
                    LOGGER.exception("%s failed", task.__name__)
