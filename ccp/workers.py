"""The worker threads: each claims the next job from the store (round-robin across owners)
and runs it to its end."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from ccp.jobs import Job
from ccp.jobstore import JobStore

LOGGER = logging.getLogger(__name__)
IDLE_POLL_SECONDS = 1.0  # another server may queue jobs without waking this one


class WorkerPool:
    def __init__(self, store: JobStore, worker_id: str, concurrency: int,
                 run: Callable[[Job, threading.Event], None],
                 skip: Callable[[], set[str]] = set) -> None:
        self.store = store
        self.skip = skip  # Infrastructures whose jobs wait (unhealthy ones)
        self.worker_id = worker_id
        self.concurrency = concurrency
        self.run = run
        self.stopping = threading.Event()
        self._wake = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        for number in range(self.concurrency):
            thread = threading.Thread(target=self._work, name=f"ccp-worker-{number + 1}",
                                      daemon=True)
            thread.start()
            self._threads.append(thread)

    def wake(self) -> None:
        """A job was queued: an idle worker looks at once."""
        self._wake.set()

    def stop(self, deadline: float) -> None:
        """Stop taking jobs; running executions see `stopping` and end (cancelled,
        destroyed and archived) before `deadline` (time.monotonic)."""
        self.stopping.set()
        self._wake.set()
        for thread in self._threads:
            thread.join(timeout=max(0.1, deadline - time.monotonic()))
        self._threads = []

    def _work(self) -> None:
        while not self.stopping.is_set():
            try:
                job = self.store.claim_next(self.worker_id, frozenset(self.skip()))
            except Exception:
                LOGGER.exception("claiming a job failed")
                job = None
            if job is None:
                self._wake.wait(IDLE_POLL_SECONDS)
                self._wake.clear()
                continue
            self._wake.set()  # there may be more: let another idle worker look
            self.run(job, self.stopping)
