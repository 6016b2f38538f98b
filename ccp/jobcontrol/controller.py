"""Inside one running execution: suspend, resume and extend as the job store asks.

The lifecycle's watchdog reads the job's `Requests` a few times a second and hands them to
its `Controller`, which changes the runtime and the execution's RunClock to match and writes
what it did to the execution log and the job store. It never waits on the lifecycle: when a
suspension cannot happen yet (a script is being started, a fetch runs), it tries again at the
next tick.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Protocol

from ccp.executionlog import ExecutionLog
from ccp.runtimes.base import Instance, Runtime, RuntimeFailure, now_iso
from ccp.runtimes.runclock import RunClock

LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True)
class Requests:
    """What the job store asks of a running execution."""

    dismiss: bool = False
    suspend: bool = False
    extended_seconds: int = 0


class SuspensionReporter(Protocol):
    def suspension(self, since: str | None, seconds: float, withdraw: bool = False) -> None:
        """Record the suspension in force (`since` None: none) and the seconds spent
        suspended; `withdraw` clears the suspend request (it ended without a resume)."""


class Controller:
    def __init__(self, runtime: Runtime, clock: RunClock, log: ExecutionLog,
                 reporter: SuspensionReporter, time_limit: float) -> None:
        self.runtime = runtime
        self.clock = clock
        self.log = log
        self.reporter = reporter
        self.time_limit = time_limit  # ccpmaxtime; extensions add to it
        self.max_suspend = runtime.settings.max_suspend
        self.phase = "Launch"
        self._applied_extension = 0
        self._waiting_said = False

    @property
    def limit(self) -> float:
        """The time limit now, extensions included."""
        return self.time_limit + self._applied_extension

    def apply(self, requests: Requests, instance: Instance | None) -> None:
        self._extend(requests.extended_seconds)
        if instance is None:
            return
        if requests.suspend and not self.clock.suspended:
            self._suspend(instance)
        elif self.clock.suspended and not requests.suspend:
            self._resume(instance, "resumed")
        elif self.clock.suspended and self.clock.suspended_seconds() >= self.max_suspend:
            self._resume(instance, f"resumed by CCP: the Infrastructure allows {self.max_suspend}"
                         " s of suspension per execution, all used", withdraw=True)

    def release(self, instance: Instance) -> None:
        """Resume before a dismiss: the cancel script and cancel() need a running instance."""
        if self.clock.suspended:
            self._resume(instance, "resumed to be dismissed", withdraw=True)

    def _extend(self, granted: int) -> None:
        added = granted - self._applied_extension
        if added <= 0:
            return
        self.clock.extend(added)
        self._applied_extension = granted
        self.log.event("Extend", f"the time limit grows by {added} s to {self.limit:.0f} s")

    def _suspend(self, instance: Instance) -> None:
        left = self.max_suspend - self.clock.suspended_seconds()
        if left <= 0:
            self.log.event("Suspend", f"refused: the {self.max_suspend} s of suspension this "
                           "Infrastructure allows per execution are used up")
            self.reporter.suspension(None, self.clock.suspended_seconds(), withdraw=True)
            return
        try:
            done = self.clock.try_suspend(lambda: self.runtime.suspend(instance))
        except RuntimeFailure as err:
            LOGGER.warning("suspending %s failed: %s", instance.execution_id, err)
            self.log.event("Suspend", f"failed: {err}")
            self.reporter.suspension(None, self.clock.suspended_seconds(), withdraw=True)
            return
        if not done:
            if not self._waiting_said:
                self.log.event("Suspend", f"requested; waiting for {self.phase} to let it")
                self._waiting_said = True
            return
        self._waiting_said = False
        self.log.event("Suspend", f"suspended during {self.phase}; the time limit is paused "
                       f"(at most {left:.0f} s more of suspension)")
        self.reporter.suspension(now_iso(), self.clock.suspended_seconds())

    def _resume(self, instance: Instance, why: str, withdraw: bool = False) -> None:
        try:
            lasted = self.clock.resume(lambda: self.runtime.resume(instance))
        except RuntimeFailure as err:
            LOGGER.warning("resuming %s failed: %s", instance.execution_id, err)
            self.log.event("Resume", f"failed (tried again): {err}")
            return
        self.log.event("Resume", f"{why} after {lasted:.1f} s suspended")
        self.reporter.suspension(None, self.clock.suspended_seconds(), withdraw=withdraw)
