"""The Swarm runtime: one Swarm service per execution, one task (container) per replica.

The service `ccp-<execution id>` runs the same keep-alive as the Docker runtime in `replicas`
tasks, restart condition none; each task gets `ccptaskid` = its slot (1..N) through Swarm's
`{{.Task.Slot}}` template. Scripts are exec'd in every task container in parallel, and each
replica's `/ccp_data` is fetched into `replica-<slot>/` (flat when there is one replica, as
for every runtime).

CCP reaches the task containers through the engine it talks to (`settings.engine`, a Swarm
manager): exec and fetch work when the tasks run on that engine, i.e. on a single-node swarm
or with `settings.constraints` placing the tasks on the manager. A task on another node is
reported as a clear launch failure.

Isolation as in the Docker runtime (no mounts, capabilities, pids/memory/CPU limits), with
two Swarm differences: network `none` does not exist for services, so by default every
execution gets its own *internal* overlay network `ccp-<execution id>` (replicas reach each
other, nothing else; removed with the service); and no-new-privileges is only settable on
engines with API >= 1.46 (set the daemon's `--no-new-privileges` on older ones).

Settings in addition to the Docker runtime's: `maxReplicas`, `startTimeout` (seconds for all
tasks to run, default 60), `constraints` (Swarm placement constraints), `network` ("none":
the per-execution internal network; any other value: an existing swarm-scope network).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import docker.errors
from docker.types import (
    ContainerSpec,
    Placement,
    Resources,
    RestartPolicy,
    ServiceMode,
    TaskTemplate,
)
from docker.utils import version_gte

from ccp.runtimes.base import (
    LABEL,
    WARM_LAUNCH,
    WARM_PREFIX,
    Instance,
    Runtime,
    RuntimeFailure,
    now_iso,
)
from ccp.runtimes.docker import (
    CAPABILITIES,
    KEEP_ALIVE,
    RUNTIME_LABEL,
    SWARM_SERVICE_LABEL,
    DockerRuntime,
    runs_as_root,
)
from ccp.runtimes.docker.engine import DockerEngine
from ccp.runtimes.settings import SwarmSettings
from ccp.runtimes.swarmwarm import WARM_MEMBER_LABEL, WarmServices

SLOT_TEMPLATE = "{{.Task.Slot}}"
DESTROY_TIMEOUT = 30.0
STOP_GRACE_NS = 2 * 10**9
FINAL_TASK_STATES = ("complete", "shutdown", "failed", "rejected", "remove", "orphaned")


class SwarmRuntime(WarmServices, DockerRuntime):
    type = "swarm"
    # not run-once: a task is kept alive
    capabilities = frozenset({WARM_LAUNCH, "suspend", "verify", "health-probe", "memory-limit",
                              "cpu-limit", "replicas", "metrics", "stage-inputs"})
    settings: SwarmSettings
    launch_once = Runtime.launch_once  # refuses

    # --- launch -----------------------------------------------------------------------------

    def launch(self, execution_id: str, image: str, env: dict[str, str], replicas: int = 1
               ) -> Instance:
        return self.start_service(execution_id, image, env, replicas, {})

    def start_service(self, execution_id: str, image: str, env: dict[str, str], replicas: int,
                      labels: dict[str, str]) -> Instance:
        """Create the service `ccp-<execution id>` of `replicas` tasks, labelled with the
        execution (the service also with `labels`), and wait until every task runs."""
        if replicas < 1 or replicas > self.settings.max_replicas:
            raise RuntimeFailure(f"replicas must be 1..{self.settings.max_replicas} on "
                                 f"infrastructure '{self.infrastructure.id}', got {replicas}")
        image_attrs = self.docker.ensure_image(image)
        name = f"ccp-{execution_id}"
        instance = Instance(
            execution_id=execution_id,
            runtime=self.type,
            handle={"engine": self.docker.address, "name": name, "image": image,
                    "imageId": image_attrs.get("Id"), "imageDigest": image_attrs.get("Id")},
            replicas=replicas,
        )
        try:
            with self.docker.errors(f"creating service {name}"):
                network = self._network(instance)
                service = self.docker.api.create_service(
                    self._task_template(image, execution_id, env, network),
                    name=name,
                    labels={**self._labels(execution_id), **labels},
                    mode=ServiceMode("replicated", replicas=replicas),
                )
                instance.handle["service"] = service["ID"]
            instance.handle["containers"] = self._wait_running(instance)
            instance.handle["makeDataDir"] = runs_as_root(image_attrs)
            if not instance.handle["makeDataDir"]:
                with self.docker.errors("preparing /ccp_data"):
                    for _replica, container_id in self.targets(instance):
                        self.docker.make_data_dir(container_id)
        except BaseException:
            try:
                self.destroy(instance)
            except Exception:
                pass  # the orphan clean-up retries: the service is labelled
            raise
        return instance

    def _labels(self, execution_id: str) -> dict[str, str]:
        return {LABEL: execution_id, RUNTIME_LABEL: self.type}

    def _network(self, instance: Instance) -> str:
        network = self.settings.network
        if network != "none":
            return network
        created = self.docker.api.create_network(
            instance.handle["name"], driver="overlay", internal=True,
            labels=self._labels(instance.execution_id))
        instance.handle["network"] = created["Id"]
        return created["Id"]

    def _task_template(self, image: str, execution_id: str, env: dict[str, str],
                       network: str) -> TaskTemplate:
        api = self.docker.api
        limits = self.limits()
        # Env values are Go templates for Swarm: keep `{{` of given values literal.
        literal = {key: str(value).replace("{{", '{{"{{"}}') for key, value in env.items()}
        privileges = None
        if version_gte(api.api_version, "1.46"):
            privileges = {"NoNewPrivileges": True}
        spec = ContainerSpec(
            image,
            command=["sh", "-c", KEEP_ALIVE],
            env=self.environment(literal, SLOT_TEMPLATE),
            labels=self._labels(execution_id),
            cap_drop=["ALL"],
            cap_add=list(CAPABILITIES),
            stop_grace_period=STOP_GRACE_NS,
            privileges=privileges,
        )
        resources = Resources(
            cpu_limit=int(limits.cpus * 1e9) if limits.cpus else None,
            mem_limit=limits.memory_bytes,
        )
        resources.setdefault("Limits", {})["Pids"] = self.settings.pids_limit
        constraints = self.settings.constraints
        return TaskTemplate(
            spec,
            resources=resources,
            restart_policy=RestartPolicy(condition="none"),
            networks=[{"Target": network}],
            placement=Placement(constraints=list(constraints)) if constraints else None,
        )

    def _wait_running(self, instance: Instance) -> list[dict[str, Any]]:
        """Wait for every task to run; returns replica → container/task/node."""
        timeout = self.settings.start_timeout
        deadline = time.monotonic() + timeout
        api = self.docker.api
        name = instance.handle["name"]
        while True:
            with self.docker.errors(f"listing the tasks of {name}"):
                tasks = api.tasks(filters={"service": instance.handle["service"]})
            by_slot = _latest_by_slot(tasks)
            failed = [task for task in by_slot.values()
                      if task["Status"]["State"] in FINAL_TASK_STATES]
            if failed:
                raise RuntimeFailure(f"service {name}: task(s) did not start: "
                                     f"{_task_problems(failed)}")
            running = [task for task in by_slot.values()
                       if task["Status"]["State"] == "running"
                       and (task["Status"].get("ContainerStatus") or {}).get("ContainerID")]
            if len(running) >= instance.replicas:
                break
            if time.monotonic() > deadline:
                raise RuntimeFailure(
                    f"service {name}: {len(running)} of {instance.replicas} tasks running "
                    f"after {timeout:.0f} s: {_task_problems(list(by_slot.values()))}")
            time.sleep(0.2)
        containers = []
        for task in sorted(running, key=lambda t: t["Slot"])[: instance.replicas]:
            container_id = task["Status"]["ContainerStatus"]["ContainerID"]
            with self.docker.errors(f"inspecting the container of task {task['ID']}"):
                try:
                    api.inspect_container(container_id)
                except docker.errors.NotFound as err:
                    raise RuntimeFailure(
                        f"task {task['Slot']} of {name} runs on node {task.get('NodeID')}, "
                        f"not on the engine at {self.docker.address}: CCP runs scripts in task "
                        "containers through this engine, so use a single-node swarm or "
                        "placement constraints that keep the tasks on it") from err
            containers.append({"replica": int(task["Slot"]), "container": container_id,
                               "task": task["ID"], "node": task.get("NodeID")})
        return containers

    # --- run and fetch: the Docker runtime's, on every replica --------------------------------

    def targets(self, instance: Instance) -> list[tuple[int, str]]:
        return [(int(c["replica"]), c["container"])
                for c in sorted(instance.handle.get("containers", []),
                                key=lambda c: int(c["replica"]))]

    # --- destroy ----------------------------------------------------------------------------

    def destroy(self, instance: Instance) -> None:
        api = self.docker.api
        execution_id = instance.execution_id
        # an adopted warm service: its tasks and network keep the member id as their label
        ids = {execution_id} | set(filter(None, [(instance.handle.get("warm") or {})
                                                 .get("member")]))
        with self.docker.errors(f"removing the service of {execution_id}"):
            found = api.services(filters={"label": f"{LABEL}={execution_id}"})
            ids |= {(s.get("Spec") or {}).get("Labels", {}).get(WARM_MEMBER_LABEL)
                    for s in found} - {None}
            services = {s["ID"] for s in found}
            if instance.handle.get("service"):
                services.add(instance.handle["service"])
            for service in services:
                try:
                    api.remove_service(service)
                except docker.errors.NotFound:
                    pass
        # Swarm stops the tasks by itself, but removing their containers at once is faster
        # and leaves nothing behind if its agent lags. Empty twice in a row: done.
        deadline = time.monotonic() + DESTROY_TIMEOUT
        empty_checks = 0
        while empty_checks < 2:
            with self.docker.errors(f"listing the containers of {execution_id}"):
                containers = [container for one in sorted(ids) for container in
                              api.containers(all=True, filters={"label": f"{LABEL}={one}"})]
            empty_checks = 0 if containers else empty_checks + 1
            for container in containers:
                self.docker.remove_container(container["Id"])
            if time.monotonic() > deadline:
                raise RuntimeFailure(f"the containers of {execution_id} are still there after "
                                     f"{DESTROY_TIMEOUT:.0f} s")
            if empty_checks < 2:
                time.sleep(0.2)
        _remove_networks(self.docker, instance, sorted(ids), deadline)
        self.exec_env.pop(execution_id, None)

    def destroy_orphans(self, is_orphan: Callable[[str], bool]) -> list[str]:
        cleaned = []
        for execution_id in sorted(self.executions()):
            # warm-...: a pool member (its pool's), or the tasks and network of an adopted
            # service, which go with the service's own execution
            if not execution_id.startswith(WARM_PREFIX) and is_orphan(execution_id):
                self.destroy(Instance(execution_id, self.type, {}))
                cleaned.append(execution_id)
        return cleaned

    def executions(self) -> set[str]:
        """The executions with a service, task container or network of this runtime."""
        api = self.docker.api
        selector = {"label": LABEL}
        with self.docker.errors("listing CCP services"):
            found = {(s.get("Spec") or {}).get("Labels", {}).get(LABEL)
                     for s in api.services(filters=selector)}
            found |= {(c.get("Labels") or {}).get(LABEL)
                      for c in api.containers(all=True, filters=selector)
                      if SWARM_SERVICE_LABEL in (c.get("Labels") or {})}
            found |= {(n.get("Labels") or {}).get(LABEL)
                      for n in api.networks(filters=selector)
                      if (n.get("Labels") or {}).get(RUNTIME_LABEL) == self.type}
        return {execution_id for execution_id in found if execution_id}

    # --- describe ---------------------------------------------------------------------------

    def describe(self, instance: Instance) -> dict[str, Any]:
        description: dict[str, Any] = {
            "runtime": self.type,
            "isolation": "Swarm service: no host mounts, capabilities dropped, "
                         "internal per-execution network",
            "engine": self.docker.describe(),
            "replicas": instance.replicas,
            "started": instance.started,
            "stopped": now_iso(),
            **_describe_service(self.docker.api, instance,
                                instance.handle.get("network") or self.settings.network),
        }
        targets = self.targets(instance)
        if targets:
            container, applied = self.docker.describe_container(targets[0][1])
            description["containers"] = [container] + [
                self.docker.describe_container(container_id)[0]
                for _, container_id in targets[1:]]
            description["limits"]["appliedToReplica1"] = applied
        description["image"] = self.docker.describe_image(instance.handle.get("image"),
                                                          instance.handle.get("imageId"))
        if instance.handle.get("fetchSkipped"):
            description["fetchSkipped"] = instance.handle["fetchSkipped"]
        return description


def _describe_service(api: Any, instance: Instance, network: str) -> dict[str, Any]:
    """The service, its tasks and the limits in its spec, for instance.json."""
    described: dict[str, Any] = {}
    service_id = instance.handle.get("service")
    try:
        service = api.inspect_service(service_id) if service_id else {}
    except Exception as err:
        service = {}
        described["serviceError"] = str(err)
    spec = service.get("Spec") or {}
    template = spec.get("TaskTemplate") or {}
    container_spec = template.get("ContainerSpec") or {}
    resources = (template.get("Resources") or {}).get("Limits") or {}
    described["service"] = {
        "id": service.get("ID", service_id),
        "name": spec.get("Name", instance.handle.get("name")),
        "replicas": ((spec.get("Mode") or {}).get("Replicated") or {}).get("Replicas"),
        "createdAt": service.get("CreatedAt"),
        "labels": spec.get("Labels"),
        "restartCondition": (template.get("RestartPolicy") or {}).get("Condition"),
        "network": network,
    }
    try:
        tasks = api.tasks(filters={"service": service_id}) if service_id else []
    except Exception:
        tasks = []
    described["tasks"] = [
        {"slot": task.get("Slot"), "id": task.get("ID"), "node": task.get("NodeID"),
         "container": (task["Status"].get("ContainerStatus") or {}).get("ContainerID"),
         "state": task["Status"].get("State"), "error": task["Status"].get("Err")}
        for task in sorted(_latest_by_slot(tasks).values(), key=lambda t: t["Slot"])
    ] or instance.handle.get("containers", [])
    nano_cpus = resources.get("NanoCPUs") or 0
    described["limits"] = {
        "memoryBytes": resources.get("MemoryBytes"),
        "cpus": nano_cpus / 1e9 if nano_cpus else None,
        "nanoCpus": nano_cpus or None,
        "pidsLimit": resources.get("Pids"),
        "capDrop": container_spec.get("CapabilityDrop"),
        "capAdd": container_spec.get("CapabilityAdd"),
        "noNewPrivileges": bool((container_spec.get("Privileges") or {})
                                .get("NoNewPrivileges")),
    }
    return described


def _labelled_networks(api: Any, ids: list[str]) -> set[str]:
    return {n["Id"] for one in ids for n in api.networks(filters={"label": f"{LABEL}={one}"})}


def _remove_networks(engine: DockerEngine, instance: Instance, ids: list[str],
                     deadline: float) -> None:
    """Remove the networks labelled with `ids`, waiting while the last task detaches."""
    api = engine.api
    with engine.errors("listing networks"):
        networks = _labelled_networks(api, ids)
    if instance.handle.get("network"):
        networks.add(instance.handle["network"])
    for network in networks:
        while True:
            try:
                with engine.errors(f"removing network {network[:12]}"):
                    try:
                        api.remove_network(network)
                    except docker.errors.NotFound:
                        pass
                break
            except RuntimeFailure:
                # "has active endpoints" while the last task detaches
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
    # A removed swarm network lingers on the node for a moment: wait until it is gone.
    while networks:
        with engine.errors("listing networks"):
            networks = _labelled_networks(api, ids)
        if networks and time.monotonic() > deadline:
            raise RuntimeFailure(f"the network of {instance.execution_id} is still there")
        if networks:
            time.sleep(0.1)


def _latest_by_slot(tasks: list[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    """The newest task of every slot (a replaced task keeps its slot)."""
    latest: dict[int, dict[str, Any]] = {}
    for task in tasks:
        slot = int(task.get("Slot") or 0)
        if slot not in latest or task.get("CreatedAt", "") > latest[slot].get("CreatedAt", ""):
            latest[slot] = task
    return latest


def _task_problems(tasks: list[dict[str, Any]]) -> str:
    problems = []
    for task in sorted(tasks, key=lambda t: int(t.get("Slot") or 0)):
        status = task.get("Status") or {}
        text = f"task {task.get('Slot')}: {status.get('State')}"
        if status.get("Err"):
            text += f" ({status['Err']})"
        elif status.get("Message"):
            text += f" ({status['Message']})"
        problems.append(text)
    return "; ".join(problems) or "no tasks yet"
