"""warm-launch for the swarm runtime: services started ahead of any execution.

A warm service is the service an execution would get (same image, replicas, limits,
internal network), created before there is an execution: its tasks, network and the
service itself are labelled with a member id `warm-<hex>`, the service also with `ccp.warm.*`
(WarmTag). An execution that takes one relabels the service with its own id (a label-only
update: Swarm keeps the tasks running) and keeps the member id in `ccp.warm.member`, which
is how Destroy finds the tasks and network; every exec gets the execution's environment.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

from ccp.runtimes.base import (
    LABEL,
    WARM_PREFIX,
    Instance,
    RuntimeFailure,
    WarmTag,
    adopted,
)
from ccp.runtimes.docker.engine import DockerEngine
from ccp.runtimes.docker.runtime import RUNTIME_LABEL
from ccp.runtimes.docker.warm import WARM_LABEL

WARM_MEMBER_LABEL = "ccp.warm.member"  # on an adopted service: the member id it had


class WarmServices:
    """Mixed into SwarmRuntime: launch_warm, adopt and warm_members for services."""

    type: str
    docker: DockerEngine
    exec_env: dict[str, dict[str, str]]

    # SwarmRuntime's (annotations only: a method here would hide DockerRuntime's)
    start_service: Callable[[str, str, dict[str, str], int, dict[str, str]], Instance]
    environment: Callable[[dict[str, str], str], list[str]]
    targets: Callable[[Instance], list[tuple[int, str]]]

    def launch_warm(self, image: str, tag: WarmTag, replicas: int = 1) -> Instance:
        labels = {WARM_LABEL + key: value for key, value in tag.labels().items()}
        return self.start_service(f"{WARM_PREFIX}{uuid.uuid4().hex}", image, {}, replicas,
                                  labels)

    def adopt(self, member: Instance, execution_id: str, env: dict[str, str],
              main_script: str | None = None) -> Instance:
        self.environment(env, "1")  # refuse bad names before anything changes
        api = self.docker.api
        name = member.handle.get("name")
        with self.docker.errors(f"taking the warm service {name}"):
            for _replica, container_id in self.targets(member):
                state = api.inspect_container(container_id).get("State") or {}
                if not state.get("Running"):
                    raise RuntimeFailure(f"a task of the warm service {name} no longer runs")
            service = api.inspect_service(member.handle["service"])
            # The service's own spec with new labels, sent as it is: docker-py's
            # update_service(fetch_current_spec=True) rebuilds the task template, which Swarm
            # takes for a change and answers by replacing the running task (killing the
            # execution's script a few seconds in).
            spec = {**service["Spec"], "Labels": {
                LABEL: execution_id, RUNTIME_LABEL: self.type,
                WARM_MEMBER_LABEL: member.execution_id}}
            response = api._post_json(api._url("/services/{0}/update", service["ID"]),
                                      data=spec, params={"version": service["Version"]["Index"]})
            api._raise_for_status(response)
        self.exec_env[execution_id] = dict(env)
        return adopted(member, execution_id, {})

    def warm_members(self) -> list[tuple[Instance, WarmTag]]:
        with self.docker.errors("listing warm services"):
            services = self.docker.api.services(filters={"label": f"{WARM_LABEL}pool"})
        members = []
        for service in services:
            labels = (service.get("Spec") or {}).get("Labels") or {}
            tag = WarmTag.from_labels({key.removeprefix(WARM_LABEL): value
                                       for key, value in labels.items()})
            if tag and labels.get(LABEL, "").startswith(WARM_PREFIX):
                members.append((Instance(labels[LABEL], self.type, {
                    "service": service["ID"],
                    "name": (service.get("Spec") or {}).get("Name")}), tag))
        return members
