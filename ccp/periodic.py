"""A background thread that runs a tick on a schedule until it is stopped: the shape of the
server's housekeeping (recovery, Infrastructure health, verify)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable

LOGGER = logging.getLogger(__name__)


class Periodic:
    def __init__(self, name: str, interval: float, tick: Callable[[], object]) -> None:
        self.name = name
        self.interval = interval
        self.tick = tick
        self.stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Tick every `interval` seconds from now on (the first tick after one interval)."""
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def stop(self, timeout: float) -> None:
        self.stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _run(self) -> None:
        while not self.stopping.wait(self.interval):
            self.tick()


def run_each(tasks: Iterable[Callable[[], object]]) -> None:
    """Run every task; one that fails is logged and the others still run."""
    for task in tasks:
        try:
            task()
        except Exception:
            LOGGER.exception("%s failed", getattr(task, "__name__", task))
