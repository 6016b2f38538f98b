"""Job control for the LXD runtime: suspend and resume with LXD's freezer (freeze,
unfreeze), an exec that waits while its container is frozen, and the executions that have a
container, for verify (ccp.jobcontrol.verify)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from ccp.runtimes.base import Instance
from ccp.runtimes.lxd.client import OPERATION_TIMEOUT, LXDServer
from ccp.runtimes.lxd.warm import EXECUTION_KEY, WARM_MEMBER_KEY


class ContainerControl:
    """Mixed into LXDRuntime: suspend, resume and executions."""

    lxd: LXDServer
    # LXDRuntime's (annotations only: a method here would hide the runtime's)
    _client_of: Callable[[Instance], Any]

    def _waited_while_frozen(self, client: Any, name: str, instance: Instance) -> bool:
        """If the container is frozen, wait until it is not (or the instance is cancelled);
        True when it was frozen and runs again."""
        frozen = False
        while not instance.cancelled.is_set():
            status = client.api.instances[name].state.get().json()["metadata"].get("status")
            if status not in ("Frozen", "Freezing"):
                return frozen
            frozen = True
            time.sleep(0.2)
        return False

    def suspend(self, instance: Instance) -> None:
        self._change_state(instance, "freeze")

    def resume(self, instance: Instance) -> None:
        client = self._client_of(instance)
        name = instance.handle["name"]
        with self.lxd.errors(f"look at container {name}"):
            status = client.api.instances[name].state.get().json()["metadata"].get("status")
        if status in ("Frozen", "Freezing"):
            self._change_state(instance, "unfreeze")

    def _change_state(self, instance: Instance, action: str) -> None:
        client = self._client_of(instance)
        name = instance.handle["name"]
        with self.lxd.errors(f"{action} container {name}"):
            response = client.api.instances[name].state.put(
                json={"action": action, "timeout": int(OPERATION_TIMEOUT)})
        self.lxd.wait_operation(client, response, f"{action} container {name}")

    def executions(self) -> set[str]:
        return {execution_id for _, execution_id, _ in self._labelled(self.lxd.client())}

    def _labelled(self, client: Any) -> list[tuple[str, str, bool]]:
        """(container name, execution id, whether it is a warm pool member not yet taken)
        of every container labelled with an execution."""
        with self.lxd.errors("list containers"):
            listed = client.api.instances.get(params={"recursion": "1"}).json()["metadata"]
        labelled = []
        for entry in listed:
            config = entry.get("config") or {}
            if config.get(EXECUTION_KEY):
                labelled.append((entry["name"], str(config[EXECUTION_KEY]),
                                 config[EXECUTION_KEY] == config.get(WARM_MEMBER_KEY)))
        return labelled
