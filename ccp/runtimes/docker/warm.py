"""warm-launch for the docker runtime: containers started ahead of any execution.

A warm container is the container an execution would get (same image, limits, isolation,
keep-alive), started before there is an execution: its execution label is a member id
`warm-<hex>` and `ccp.warm.*` labels say which pool and server it belongs to and when it
expires (WarmTag). Labels cannot change on a container, so an execution that takes one
renames it `ccp-<execution id>` (what Destroy and the orphan clean-up read for it) and gives
its environment to every exec instead of the container's.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from typing import Any

import docker.errors

from ccp.runtimes.base import (
    LABEL,
    WARM_PREFIX,
    Instance,
    RuntimeFailure,
    WarmTag,
    adopted,
)
from ccp.runtimes.docker.engine import SWARM_SERVICE_LABEL, DockerEngine
from ccp.runtimes.docker.once import script_digest

LOGGER = logging.getLogger(__name__)
WARM_LABEL = "ccp.warm."  # + pool, owner, expires: a runtime launched ahead (WarmTag)
RENAME_WAIT = 30.0


class WarmContainers:
    """Mixed into DockerRuntime: launch_warm, adopt, warm_members and image_digest."""

    type: str
    docker: DockerEngine
    exec_env: dict[str, dict[str, str]]
    # execution id -> (container id, the thread renaming it)
    renames: dict[str, tuple[str, threading.Thread]]

    # DockerRuntime's (annotations only: a method here would hide the runtime's)
    start_container: Callable[..., Instance]
    environment: Callable[[dict[str, str], str], list[str]]

    def launch_warm(self, image: str, tag: WarmTag, replicas: int = 1) -> Instance:
        if replicas != 1:
            raise RuntimeFailure("the docker runtime runs exactly one replica")
        labels = {WARM_LABEL + key: value for key, value in tag.labels().items()}
        # PID 1 waits for a script (an execution with only an execute script gives it its
        # script so: no exec), and is a keep-alive otherwise
        return self.start_container(f"{WARM_PREFIX}{uuid.uuid4().hex}", image, {}, labels,
                                    script_marker=f"ccp-script-end-{uuid.uuid4().hex}")

    def adopt(self, member: Instance, execution_id: str, env: dict[str, str],
              main_script: str | None = None) -> Instance:
        self.environment(env, "1")  # refuse bad names before anything changes
        container_id, name = member.handle["container"], f"ccp-{execution_id}"
        with self.docker.errors(f"taking the warm container {member.handle.get('name')}"):
            state = self.docker.api.inspect_container(container_id).get("State") or {}
            if not state.get("Running"):
                raise RuntimeFailure(f"the warm container {member.handle.get('name')} no "
                                     f"longer runs ({state.get('Status')})")
        # The name is what still changes on a container: orphan clean-up reads it. Renamed
        # while the first script starts (describe and destroy wait for it); should the
        # server die before, the container keeps its member name and its dead owner's
        # label, and the next server destroys it as a leftover.
        rename = threading.Thread(target=self._rename, args=(container_id, name),
                                  name=f"ccp-rename-{execution_id}", daemon=True)
        self.renames[execution_id] = (container_id, rename)
        rename.start()
        self.exec_env[execution_id] = dict(env)
        handle: dict[str, str] = {"name": name}
        if main_script is not None and member.handle.get("scriptMarker"):
            handle["mainScript"] = script_digest(main_script)
        return adopted(member, execution_id, handle)

    def _rename(self, container_id: str, name: str) -> None:
        try:
            self.docker.api.rename(container_id, name)
        except Exception as err:  # gone already (destroyed, say): nothing to name
            LOGGER.debug("renaming warm container %s to %s: %s", container_id[:12], name, err)

    def settle(self, execution_id: str) -> None:
        """Wait for the rename of an adopted container (describe and destroy read it)."""
        renaming = self.renames.get(execution_id)
        if renaming is not None:
            renaming[1].join(RENAME_WAIT)
            self.renames.pop(execution_id, None)

    def warm_members(self) -> list[tuple[Instance, WarmTag]]:
        with self.docker.errors("listing warm containers"):
            containers = self.docker.api.containers(
                all=True, filters={"label": f"{WARM_LABEL}pool"})
        taken = {container_id for container_id, _ in list(self.renames.values())}
        members = []
        for container in containers:
            labels = container.get("Labels") or {}
            member_id = labels.get(LABEL, "")
            if container["Id"] in taken:
                continue  # adopted here, its new name on the way
            tag = WarmTag.from_labels({key.removeprefix(WARM_LABEL): value
                                       for key, value in labels.items()})
            if tag and container_name(container) == f"ccp-{member_id}" \
                    and SWARM_SERVICE_LABEL not in labels:
                members.append((Instance(member_id, self.type, {
                    "container": container["Id"], "name": container_name(container)}), tag))
        return members

    def image_digest(self, image: str) -> str | None:
        try:
            with self.docker.errors(f"looking up image '{image}'"):
                return self.docker.api.inspect_image(image).get("Id")
        except (RuntimeFailure, docker.errors.ImageNotFound):
            return None


def container_name(container: dict[str, Any]) -> str:
    """The name of a container as the engine lists it (`/ccp-...`), without the slash."""
    return ((container.get("Names") or [""])[0]).lstrip("/")


def adopted_execution(container: dict[str, Any]) -> str | None:
    """The execution a labelled container belongs to: its label, or for a warm container
    the name it got when an execution took it; None for a pool member not yet taken."""
    labels = container.get("Labels") or {}
    execution_id = labels.get(LABEL)
    if not execution_id or f"{WARM_LABEL}pool" not in labels:
        return execution_id
    name = container_name(container)
    return None if name == f"ccp-{execution_id}" else name.removeprefix("ccp-")
