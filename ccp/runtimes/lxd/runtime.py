"""The LXD runtime: one ephemeral system container per execution, driven with pylxd.

The container is made from an image that is already in the LXD image store (alias or
fingerprint; no image server is contacted), gets the Infrastructure's memory/CPU limits and
the label `user.ccp.execution=<execution id>` (orphan clean-up finds it by that label), and is
removed by Destroy. Scripts run with `sh -c` through LXD's exec API; their output is streamed
over LXD's websockets line by line. `/ccp_data` is pulled back through LXD's file API.

Infrastructure settings (all optional; see LXDSettings and docs/remote-lxd.md): endpoint,
cert, key, verify (remote LXD), project, profile, target (cluster member), privileged,
memory (-> limits.memory, swap off), cpus (-> limits.cpu, a fraction also sets
limits.cpu.allowance), maxTime.
"""

from __future__ import annotations

import hashlib
import logging
import math
import re
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ws4py.exc import WebSocketException

from ccp.model import Infrastructure
from ccp.runtimes import usage
from ccp.runtimes.base import (
    DATA_PATH,
    WARM_LAUNCH,
    Instance,
    LogSink,
    Runtime,
    RuntimeCancelled,
    RuntimeFailure,
    now_iso,
)
from ccp.runtimes.deadline import wait_for_script
from ccp.runtimes.lxd import fetch as lxd_fetch
from ccp.runtimes.lxd.client import OPERATION_TIMEOUT, LXDServer
from ccp.runtimes.lxd.jobcontrol import ContainerControl
from ccp.runtimes.lxd.warm import EXECUTION_KEY, WarmContainers
from ccp.runtimes.output import guarded, splitters
from ccp.runtimes.settings import LXDSettings
from ccp.runtimes.usage import Usage

LOGGER = logging.getLogger(__name__)

NAME_PREFIX = "ccp-"
STOP_WAIT = 30.0              # seconds to wait for the exec thread after a forced stop
_NAME_ALLOWED = re.compile(r"[^a-z0-9-]+")
_HEX_ID = re.compile(r"^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$")
LIMIT_KEYS = ("limits.memory", "limits.memory.swap", "limits.cpu", "limits.cpu.allowance",
              "security.privileged")


def instance_name(execution_id: str) -> str:
    """A valid LXD instance name for an execution: `ccp-<short id>`.

    LXD names are at most 63 characters of letters, digits and hyphens, start with a letter
    and do not end with a hyphen. A UUID gives its first 12 hex digits; any other id its
    cleaned-up text plus a hash, so that different ids keep different names.
    """
    lowered = execution_id.lower()
    if _HEX_ID.match(lowered):
        return NAME_PREFIX + lowered.replace("-", "")[:12]
    digest = hashlib.sha256(execution_id.encode()).hexdigest()[:10]
    cleaned = _NAME_ALLOWED.sub("-", lowered).strip("-")[:46].strip("-")
    return f"{NAME_PREFIX}{cleaned}-{digest}" if cleaned else f"{NAME_PREFIX}{digest}"


def memory_limit(memory_bytes: int) -> str:
    """LXD's limits.memory for a byte count: MiB when it is whole MiB, else bytes."""
    mib = 1024 * 1024
    return f"{memory_bytes // mib}MiB" if memory_bytes % mib == 0 else f"{memory_bytes}B"


def cpu_limits(cpus: float) -> dict[str, str]:
    """limits.cpu as a CPU count (rounded up); a fraction also caps the CPU time."""
    config = {"limits.cpu": str(max(1, math.ceil(cpus)))}
    if cpus != math.ceil(cpus):
        config["limits.cpu.allowance"] = f"{max(1, round(cpus * 100))}ms/100ms"
    return config


def limits_of(config: dict[str, str]) -> dict[str, Any]:
    return {key: config[key] for key in LIMIT_KEYS if key in config}


class LXDRuntime(ContainerControl, WarmContainers, Runtime):
    type = "lxd"
    capabilities = frozenset({WARM_LAUNCH, "suspend", "verify", "health-probe", "memory-limit",
                              "cpu-limit", "metrics", "stage-inputs"})
    settings: LXDSettings

    def __init__(self, infrastructure: Infrastructure) -> None:
        super().__init__(infrastructure)
        self.lxd = LXDServer(self.settings)

    def check(self) -> None:
        with self.lxd.errors("answer"):
            self.lxd.client().api.get()

    def _client_of(self, instance: Instance) -> Any:
        return self.lxd.client(instance.handle.get("project") or self.settings.project)

    # --- Launch -----------------------------------------------------------------------------

    def launch(self, execution_id: str, image: str, env: dict[str, str], replicas: int = 1
               ) -> Instance:
        if replicas != 1:
            raise RuntimeFailure("the LXD runtime runs exactly one replica")
        return self.start_container(
            execution_id, image, {**env, "ccptaskname": env.get("ccptaskname", execution_id)},
            {})

    def start_container(self, execution_id: str, image: str, env: dict[str, str],
                        extra_config: dict[str, str]) -> Instance:
        """Create and start the container of `execution_id` with the Infrastructure's limits,
        its label, the environment `env` (and `extra_config`)."""
        settings = self.settings
        client = self.lxd.client()
        name = instance_name(execution_id)
        source, fingerprint = self.lxd.image_source(client, image)
        environment = {**env, "ccptaskid": "1", "CCP_DATA": DATA_PATH}
        config = {f"environment.{key}": str(value) for key, value in environment.items()}
        config[EXECUTION_KEY] = execution_id
        config.update(extra_config)
        config["security.privileged"] = "true" if settings.privileged else "false"
        if settings.memory:
            config["limits.memory"] = memory_limit(settings.memory)
            config["limits.memory.swap"] = "false"  # the limit is RAM, not RAM + swap
        if settings.cpus:
            config.update(cpu_limits(settings.cpus))
        request = {"name": name, "type": "container", "ephemeral": True, "source": source,
                   "config": config, "profiles": list(settings.profile)}
        action = f"create container {name} from image {image!r}"
        with self.lxd.errors(action):
            response = client.api.instances.post(json=request, target=settings.target)
        instance = Instance(
            execution_id=execution_id,
            runtime=self.type,
            handle={
                "name": name,
                "image": image,
                "fingerprint": fingerprint,
                "imageDigest": f"sha256:{fingerprint}",
                "endpoint": self.lxd.label,
                "project": settings.project,
                "profiles": list(settings.profile),
                "target": settings.target,
                "serverVersion": client.host_info.get("environment", {}).get("server_version"),
            },
        )
        try:
            self.lxd.wait_operation(client, response, action)
            with self.lxd.errors(f"start container {name}"):
                response = client.api.instances[name].state.put(
                    json={"action": "start", "timeout": int(OPERATION_TIMEOUT)})
            self.lxd.wait_operation(client, response, f"start container {name}")
            with self.lxd.errors(f"start container {name}"):
                self.lxd.wait_running(client, name)
                lxd_instance = client.instances.get(name)
                instance.handle["location"] = getattr(lxd_instance, "location", None)
                instance.handle["limits"] = limits_of(lxd_instance.expanded_config or {})
                lxd_instance.files.mk_dir(DATA_PATH, mode="0755")
        except BaseException:
            try:
                self.lxd.remove(client, name)
            except Exception as err:  # orphan clean-up finds it by its label later
                LOGGER.warning("removing LXD container %s after a failed start: %s", name, err)
            raise
        return instance

    # --- Run --------------------------------------------------------------------------------

    def run(self, instance: Instance, script: str, timeout: float, log: LogSink) -> int:
        if instance.cancelled.is_set():
            raise RuntimeCancelled("cancelled before the script started")
        client = self._client_of(instance)
        name = instance.handle["name"]
        with self.lxd.errors(f"find container {name}"):
            lxd_instance = client.instances.get(name)
        # The environment lives in the container's config only (LXD applies it to every
        # exec; it is passed again to be explicit), never in the handle: the handle goes to
        # the job store, and the environment may hold a callback token.
        environment = {key[len("environment."):]: value
                       for key, value in (lxd_instance.config or {}).items()
                       if key.startswith("environment.")}
        lines = splitters(guarded(log, f"execution {instance.execution_id}"))
        result: dict[str, Any] = {}

        def execute() -> None:
            from pylxd.exceptions import LXDAPIException

            try:
                while True:
                    try:
                        result["exit"] = lxd_instance.execute(
                            ["sh", "-c", script],
                            environment=environment,
                            decode=False,
                            stdout_handler=lines["stdout"].feed,
                            stderr_handler=lines["stderr"].feed,
                        ).exit_code
                        return
                    except LXDAPIException:
                        # Frozen by a suspend just as the exec was asked for: LXD refused
                        # it, so the script never started and may be started once resumed.
                        if not self._waited_while_frozen(client, name, instance):
                            raise
            except BaseException as err:  # reported below
                result["error"] = err

        thread = threading.Thread(target=execute, name=f"lxd-exec-{name}", daemon=True)
        thread.start()
        try:
            wait_for_script(lambda seconds: _ended(thread, seconds), instance, timeout,
                            stop=lambda: self._kill(client, name, thread))
        finally:
            lines["stdout"].close()
            lines["stderr"].close()
        if instance.cancelled.is_set():  # stopped by a cancel as the script ended
            raise RuntimeCancelled("cancelled")
        if "error" in result:
            error = result["error"]
            if isinstance(error, OSError | WebSocketException):
                # The exec's websocket broke (LXD busy or restarted): the script's fate is
                # unknown, so the phase fails rather than being run twice.
                raise RuntimeFailure(f"the connection to LXD at {self.lxd.label} broke "
                                     f"while the script ran in {name}: {error}") from error
            with self.lxd.errors(f"run a script in container {name}"):
                raise error
        return int(result["exit"])

    def _kill(self, client: Any, name: str, thread: threading.Thread) -> None:
        """Stop the container at once: every process in it dies and the exec returns."""
        try:
            self.lxd.stop(client, name)
        except Exception as err:
            LOGGER.warning("stopping LXD container %s failed: %s", name, err)
        thread.join(STOP_WAIT)
        if thread.is_alive():
            LOGGER.warning("the exec in LXD container %s did not return after a forced stop",
                           name)

    # --- Stage inputs, Fetch, Destroy -----------------------------------------------------

    def stage_inputs(self, instance: Instance, directory: Path) -> None:
        """Push the inputs into /ccp_data/inputs through LXD's file API (directories first;
        regular files only, streamed)."""
        name = instance.handle["name"]
        with self.lxd.errors(f"copy the inputs into container {name}"):
            files = self._client_of(instance).instances.get(name).files
            files.mk_dir(f"{DATA_PATH}/inputs", mode="0755")
            for path in sorted(directory.rglob("*")):  # a directory before what it holds
                remote = f"{DATA_PATH}/inputs/{path.relative_to(directory).as_posix()}"
                if path.is_symlink():
                    continue
                if path.is_dir():
                    files.mk_dir(remote, mode="0755")
                elif path.is_file():
                    with path.open("rb") as data:
                        files.put(remote, data, mode="0644")

    def fetch(self, instance: Instance, destination: Path) -> None:
        skipped = lxd_fetch.fetch(self.lxd, self._client_of(instance), instance.handle["name"],
                                  destination)
        if skipped:
            instance.handle["fetchSkipped"] = skipped[:100]

    def destroy(self, instance: Instance) -> None:
        name = instance.handle.get("name")
        if name:
            self.lxd.remove(self._client_of(instance), name)

    def destroy_orphans(self, is_orphan: Callable[[str], bool]) -> list[str]:
        client = self.lxd.client()
        cleaned = []
        for name, execution_id, member in self._labelled(client):
            if member:
                continue  # a warm pool member, not yet an execution's: its pool's
            if is_orphan(execution_id):
                LOGGER.warning("destroying LXD container %s left by execution %s",
                               name, execution_id)
                self.lxd.remove(client, name)
                cleaned.append(execution_id)
        return cleaned

    # --- Metrics ----------------------------------------------------------------------------

    def sample(self, instance: Instance) -> list[Usage]:
        """LXD's state of the container; block I/O from its cgroup when LXD is on this host."""
        name = instance.handle["name"]
        with self.lxd.errors(f"read the state of container {name}"):
            state = self._client_of(instance).api.instances[name].state.get().json()["metadata"]
        pid = state.get("pid")
        local = not self.settings.endpoint and isinstance(pid, int) and pid > 0
        block = usage.cgroup_block_io(pid) if local else None
        return [usage.from_lxd_state(state, 1, self.settings.memory, block)]

    # --- Describe ---------------------------------------------------------------------------

    def describe(self, instance: Instance) -> dict[str, Any]:
        handle = instance.handle
        description: dict[str, Any] = {
            "runtime": self.type,
            "isolation": "LXD system container (privileged)" if self.settings.privileged
            else "LXD system container (unprivileged, user namespace)",
            "instance": handle.get("name"),
            "image": handle.get("image"),
            "fingerprint": handle.get("fingerprint"),
            "endpoint": handle.get("endpoint"),
            "project": handle.get("project"),
            "profiles": handle.get("profiles"),
            "target": handle.get("target"),
            "location": handle.get("location"),
            "serverVersion": handle.get("serverVersion"),
            "limits": handle.get("limits", {}),
            "started": instance.started,
            "stopped": now_iso(),
        }
        if handle.get("fetchSkipped"):
            description["fetchSkipped"] = handle["fetchSkipped"]
        try:
            client = self._client_of(instance)
            description["serverVersion"] = client.host_info["environment"]["server_version"]
            lxd_instance = client.instances.get(handle["name"])
            description["limits"] = limits_of(lxd_instance.expanded_config or {})
            description["location"] = getattr(lxd_instance, "location", None)
            description["createdAt"] = getattr(lxd_instance, "created_at", None)
            description["architecture"] = getattr(lxd_instance, "architecture", None)
        except Exception as err:  # gone already (a forced stop deletes it): keep launch facts
            LOGGER.debug("describing LXD container %s: %s", handle.get("name"), err)
        return description


def _ended(thread: threading.Thread, seconds: float) -> bool:
    """Wait up to `seconds` for `thread` to end; True when it has."""
    thread.join(seconds)
    return not thread.is_alive()
