"""The runtimes of a server: one (with its engine client) per Infrastructure descriptor."""

from __future__ import annotations

import json
import threading

from ccp.model import Infrastructure
from ccp.runtimes import runtime_for
from ccp.runtimes.base import Runtime


class RuntimePool:
    def __init__(self) -> None:
        self._runtimes: dict[str, Runtime] = {}
        self._lock = threading.Lock()

    def get(self, infrastructure: Infrastructure) -> Runtime:
        """The runtime of this descriptor, made on first use; a changed descriptor gets a
        new one."""
        key = json.dumps(infrastructure.raw, sort_keys=True)
        with self._lock:
            if key not in self._runtimes:
                self._runtimes[key] = runtime_for(infrastructure)
            return self._runtimes[key]
