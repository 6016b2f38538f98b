"""The metrics of one execution while it runs: its phases as the lifecycle enters them and,
on a runtime with the "metrics" capability, a sample of every replica every `interval`
seconds, taken by a thread of its own beside the lifecycle.

Nothing here may slow or break an execution: the lifecycle never waits for a sample (at
Destroy sampling just stops, and what a runtime answers after that is dropped), a sample
that fails is skipped (said once in the server log), a sink that fails loses what it was
given, and a runtime call that hangs only holds the sampling thread. So the last sample is
at most `interval` before the scripts ended, and an execution shorter than the interval may
have only the sample taken as it started.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Protocol

from ccp.logs import concise
from ccp.metrics.samples import Phase, Sample
from ccp.runtimes.base import Instance, Runtime

LOGGER = logging.getLogger(__name__)


class Sink(Protocol):
    """Where samples and phases go while the execution runs (the job store, counters)."""

    def add_samples(self, job_id: str, samples: list[Sample]) -> None: ...
    def start_phase(self, job_id: str, phase: Phase) -> None: ...
    def finish_phase(self, job_id: str, phase: Phase) -> None: ...
    def sample_failed(self) -> None: ...


class Meter:
    def __init__(self, job_id: str, runtime: Runtime, sink: Sink | None = None,
                 interval: float = 1.0, max_rounds: int = 3600) -> None:
        self.job_id = job_id
        self.runtime = runtime
        self.sink = sink
        self.interval = interval
        self.max_rounds = max_rounds  # every max_rounds rounds the interval doubles
        self.samples: list[Sample] = []
        self.phases: list[Phase] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._instance: Instance | None = None
        self._failures = 0

    @property
    def current_phase(self) -> str:
        with self._lock:
            return self.phases[-1].name if self.phases else "Launch"

    # --- called by the lifecycle --------------------------------------------------------------

    def phase(self, name: str) -> None:
        """The execution enters phase `name` (the one before it ends now). Entering Destroy
        ends sampling: the instance is about to go."""
        now = round(time.time(), 3)  # milliseconds, as the archive keeps them
        with self._lock:
            ended = self.phases[-1] if self.phases else None
            if ended is not None and ended.finished is None:
                ended.finished = now
            started = Phase(len(self.phases) + 1, name, now)
            self.phases.append(started)
        if ended is not None:
            self._tell("finish_phase", lambda sink: sink.finish_phase(self.job_id, ended))
        self._tell("start_phase", lambda sink: sink.start_phase(self.job_id, started))
        if name == "Destroy":
            self.stop_sampling()

    def watch(self, instance: Instance) -> None:
        """Start sampling the launched instance, if its runtime can be sampled."""
        if "metrics" not in self.runtime.capabilities or self._thread is not None:
            return
        self._instance = instance
        self._thread = threading.Thread(target=self._sample_until_stopped, daemon=True,
                                        name=f"ccp-metrics-{self.job_id[:8]}")
        self._thread.start()

    def stop_sampling(self) -> None:
        self._stop.set()  # not waited for: the sampling thread ends on its own

    def finish(self) -> None:
        """The execution is over: sampling ends and the last phase with it."""
        self.stop_sampling()
        with self._lock:
            ended = self.phases[-1] if self.phases else None
            if ended is not None and ended.finished is None:
                ended.finished = round(time.time(), 3)
            else:
                ended = None
        if ended is not None:
            self._tell("finish_phase", lambda sink: sink.finish_phase(self.job_id, ended))

    def collected(self) -> tuple[list[Sample], list[Phase]]:
        with self._lock:
            return list(self.samples), [Phase(p.seq, p.name, p.started, p.finished)
                                        for p in self.phases]

    # --- the sampling thread --------------------------------------------------------------------

    def _sample_until_stopped(self) -> None:
        interval, seq = self.interval, 0
        due = time.monotonic()
        while True:
            seq += 1
            self._take(seq)
            if seq % self.max_rounds == 0:
                interval *= 2  # long executions: fewer samples, the whole run still seen
            # rounds start `interval` apart, however long the runtime took to answer
            due = max(due + interval, time.monotonic())
            if self._stop.wait(due - time.monotonic()):
                break

    def _take(self, seq: int) -> None:
        instance = self._instance
        if instance is None:
            return
        try:
            usages = self.runtime.sample(instance)
        except Exception as err:
            if self._stop.is_set():
                return  # the instance is being destroyed: not a failure
            self._failures += 1
            if self._failures == 1:  # once per execution; the counter tells how often
                LOGGER.warning("metrics of job %s: a sample failed: %s", self.job_id,
                               concise(err))
            self._tell("sample_failed", lambda sink: sink.sample_failed())
            return
        at, phase = round(time.time(), 3), self.current_phase  # as metrics.csv keeps it
        taken = [Sample.of(usage, seq, at, phase) for usage in usages]
        with self._lock:
            if self._stop.is_set():
                return  # answered after Destroy began: the instance may be half gone
            self.samples.extend(taken)
        self._tell("add_samples", lambda sink: sink.add_samples(self.job_id, taken))

    def _tell(self, what: str, action: Callable[[Sink], None]) -> None:
        if self.sink is None:
            return
        try:
            action(self.sink)
        except Exception as err:
            LOGGER.warning("metrics of job %s: %s failed: %s", self.job_id, what, concise(err))
