"""Waiting for a running script while watching for cancel() and the time limit."""

from __future__ import annotations

from collections.abc import Callable

from ccp.runtimes.base import Instance, RuntimeCancelled, RuntimeTimeout
from ccp.runtimes.runclock import Deadline

POLL_SECONDS = 0.05  # how late a cancel or the deadline may be noticed


def wait_for_script(ended: Callable[[float], bool], instance: Instance, timeout: float,
                    stop: Callable[[], None] | None = None) -> None:
    """Wait until `ended(seconds)` says the script is over.

    `ended` waits at most `seconds` and returns as soon as the script ends, so a script's
    end is seen at once; between waits, a cancel() of the instance or running past `timeout`
    seconds calls `stop` (which ends the script's processes) and raises RuntimeCancelled or
    RuntimeTimeout. The script has started: the instance may be suspended from now on, and
    `timeout` counts running time only (a suspension stops it, an extension adds to it).
    """
    instance.clock.let_go()
    deadline = Deadline(instance.clock, timeout)
    while not ended(POLL_SECONDS):
        if instance.cancelled.is_set():
            if stop:
                stop()
            raise RuntimeCancelled("cancelled")
        if deadline.passed():
            if stop:
                stop()
            raise RuntimeTimeout(f"still running after {timeout:.0f} s")
