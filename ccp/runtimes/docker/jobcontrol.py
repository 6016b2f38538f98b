"""Job control for the docker runtime (and the swarm runtime's task containers): suspend
and resume with the engine's cgroup freezer (`docker pause`), container by container, all or
none; and the executions that have a container, for verify (ccp.jobcontrol.verify)."""

from __future__ import annotations

from collections.abc import Callable

from ccp.runtimes.base import LABEL, Instance, RuntimeFailure
from ccp.runtimes.docker.engine import SWARM_SERVICE_LABEL, DockerEngine
from ccp.runtimes.docker.warm import adopted_execution


class ContainerControl:
    """Mixed into DockerRuntime: suspend, resume and executions."""

    docker: DockerEngine
    # DockerRuntime's (annotations only: a method here would hide the runtime's)
    targets: Callable[[Instance], list[tuple[int, str]]]

    def suspend(self, instance: Instance) -> None:
        paused: list[str] = []
        try:
            for _replica, container_id in self.targets(instance):
                with self.docker.errors(f"pausing container {container_id[:12]}"):
                    self.docker.api.pause(container_id)
                paused.append(container_id)
        except RuntimeFailure:
            self._unpause(paused)  # all or none
            raise

    def resume(self, instance: Instance) -> None:
        self._unpause([container_id for _, container_id in self.targets(instance)])

    def _unpause(self, container_ids: list[str]) -> None:
        for container_id in container_ids:
            with self.docker.errors(f"unpausing container {container_id[:12]}"):
                state = self.docker.api.inspect_container(container_id).get("State") or {}
                if state.get("Paused"):
                    self.docker.api.unpause(container_id)

    def executions(self) -> set[str]:
        """Execution ids with a container; a warm container by the execution that took it
        (its name), or by its member id (a pool member, or one being renamed)."""
        with self.docker.errors("listing CCP containers"):
            containers = self.docker.api.containers(all=True, filters={"label": LABEL})
        return {adopted_execution(c) or c["Labels"][LABEL] for c in containers
                if (c.get("Labels") or {}).get(LABEL)
                and SWARM_SERVICE_LABEL not in c["Labels"]}
