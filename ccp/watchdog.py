"""The thread beside a running Execution: it beats the job's heartbeat, turns a dismiss
request into cancel script + cancel(), and hands suspend/resume/extend requests to the
execution's job control (ccp.jobcontrol.controller)."""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING

from ccp.executionlog import ExecutionLog
from ccp.jobcontrol.controller import Controller
from ccp.runtimes.base import Instance, Runtime

if TYPE_CHECKING:  # the lifecycle imports this module
    from ccp.lifecycle import Reporter

LOGGER = logging.getLogger(__name__)

CANCEL_SCRIPT_TIMEOUT = 30
HEARTBEAT_SECONDS = 2.0


class Watchdog(threading.Thread):
    """Beats the job's heartbeat and turns a dismiss request into cancel script + cancel()."""

    def __init__(self, runtime: Runtime, reporter: Reporter, log: ExecutionLog,
                 control: Controller) -> None:
        super().__init__(daemon=True)
        self.runtime = runtime
        self.reporter = reporter
        self.log = log
        self.control = control  # suspend, resume and extend as the job store asks
        self.instance: Instance | None = None
        self.cancel_script: str | None = None
        self.cancel_requested = threading.Event()
        self._stopped = threading.Event()

    def run(self) -> None:
        last_beat = 0.0
        while not self._stopped.wait(0.25):
            try:
                if time.monotonic() - last_beat >= HEARTBEAT_SECONDS:
                    self.reporter.heartbeat()
                    last_beat = time.monotonic()
                requests = self.reporter.requests()
                if not self.cancel_requested.is_set() and (
                        self.reporter.stopping() or requests.dismiss):
                    self.cancel_requested.set()
                if self.cancel_requested.is_set() and self.instance is not None:
                    self.control.release(self.instance)
                    self._cancel(self.instance)
                    return
                self.control.apply(requests, self.instance)
            except Exception:
                LOGGER.exception("watchdog")

    def _cancel(self, instance: Instance) -> None:
        self.log.event("Cancel", "dismiss requested")
        if self.cancel_script:
            try:
                probe = Instance.from_dict(instance.to_dict())  # not cancelled: the script may run
                self.runtime.run(probe, self.cancel_script, CANCEL_SCRIPT_TIMEOUT,
                                 lambda r, s, t: self.log.line("Cancel", r, s, t))
            except Exception as err:
                self.log.event("Cancel", f"cancel script failed: {err}")
        self.runtime.cancel(instance)

    def stop(self) -> None:
        self._stopped.set()
        self.join(timeout=CANCEL_SCRIPT_TIMEOUT + 5)
