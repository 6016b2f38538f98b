"""The running time of one execution: suspended periods do not count, extensions add.

The lifecycle's time limit (ccpmaxtime) and each script's deadline are `Deadline`s on the
execution's `RunClock`, so a suspended execution's limit stands still and an extension
granted while a script runs reaches that script at once.

The clock is also the gate between starting work in a runtime and suspending it: nothing can
be started in a suspended runtime (Docker refuses an exec in a paused container, LXD one in a
frozen container, and a local process started after SIGSTOP would run unstopped), and a
run-once container does not run before its script starts it. The lifecycle holds the clock
(`take()`) from Launch on, and again as each script ends; the runtime lets go once a script
runs (`wait_for_script`). `try_suspend` does nothing while it is held, and `take` waits while
the execution is suspended: a suspension is of a running script.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

WAIT_SLICE = 0.25  # how late a hold waiting on a suspension notices `give_up`


class RunClock:
    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._suspended_since: float | None = None
        self._suspended_total = 0.0
        self._extended = 0.0
        self._held = False

    # --- time -------------------------------------------------------------------------------

    def running_seconds(self) -> float:
        """A monotonic clock that stands still while the execution is suspended."""
        return time.monotonic() - self.suspended_seconds()

    def suspended_seconds(self) -> float:
        """Every second the execution has been suspended, the current suspension included."""
        with self._condition:
            current = 0.0
            if self._suspended_since is not None:
                current = time.monotonic() - self._suspended_since
            return self._suspended_total + current

    @property
    def extended(self) -> float:
        """Seconds added to the time limit since the clock was made."""
        with self._condition:
            return self._extended

    def extend(self, seconds: float) -> None:
        with self._condition:
            self._extended += seconds

    @property
    def suspended(self) -> bool:
        with self._condition:
            return self._suspended_since is not None

    # --- the gate between starting work and suspending --------------------------------------

    def take(self, give_up: Callable[[], bool] = lambda: False) -> None:
        """Hold until `let_go()` (a script that starts lets go); waits first while the
        execution is suspended (or until `give_up()` says to stop waiting)."""
        with self._condition:
            while self._suspended_since is not None and not give_up():
                self._condition.wait(WAIT_SLICE)
            self._held = True

    def let_go(self) -> None:
        """End the hold (the script started); harmless when nothing is held."""
        with self._condition:
            self._held = False
            self._condition.notify_all()

    def try_suspend(self, suspend: Callable[[], None]) -> bool:
        """Call `suspend` and stop the clock, unless something is being started; False when
        it was not the moment (try again later). `suspend`'s errors propagate."""
        with self._condition:
            if self._held or self._suspended_since is not None:
                return False
            suspend()
            self._suspended_since = time.monotonic()
            return True

    def resume(self, resume: Callable[[], None]) -> float:
        """Call `resume` and start the clock again; returns the seconds this suspension
        lasted (0 when it was not suspended)."""
        with self._condition:
            if self._suspended_since is None:
                return 0.0
            resume()
            lasted = time.monotonic() - self._suspended_since
            self._suspended_total += lasted
            self._suspended_since = None
            self._condition.notify_all()
            return lasted


class Deadline:
    """`seconds` of running time from now on `clock`, plus whatever is added by extensions."""

    def __init__(self, clock: RunClock, seconds: float) -> None:
        self.clock = clock
        self.seconds = seconds
        self._start = clock.running_seconds()
        self._extended = clock.extended

    def remaining(self) -> float:
        added = self.clock.extended - self._extended
        return self.seconds + added - (self.clock.running_seconds() - self._start)

    def passed(self) -> bool:
        return self.remaining() <= 0
