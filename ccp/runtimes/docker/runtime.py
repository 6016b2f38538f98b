"""The Docker runtime: one container per execution on a Docker engine, local or remote.

The container runs a keep-alive shell; every lifecycle script is an exec of `sh -c <script>`
in it, with the container's environment, its output streamed line by line. `/ccp_data` is a
plain directory in the container (mode 0777, made by the engine before any script runs), so
nothing of the host is mounted and removing the container removes the data.

Isolation (not configurable by a Method): no host mounts, no Docker socket, not privileged,
every capability dropped but CHOWN, DAC_OVERRIDE, FOWNER, SETUID, SETGID and KILL (what
package managers and `su`-style user switches in deploy scripts need), no-new-privileges, a
pids limit, memory (without extra swap) and CPU limits from the Infrastructure, and network
mode `none` unless the Infrastructure's `settings.network` names another one.

Settings: see DockerSettings and docs/remote-docker.md.
"""

from __future__ import annotations

import re
import tempfile
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from ccp.model import Infrastructure
from ccp.runtimes import tarcopy
from ccp.runtimes.base import (
    DATA_PATH,
    LABEL,
    RUN_ONCE,
    WARM_LAUNCH,
    Instance,
    LogSink,
    Runtime,
    RuntimeCancelled,
    RuntimeFailure,
    now_iso,
)
from ccp.runtimes.deadline import wait_for_script
from ccp.runtimes.docker import cgroups, localfetch
from ccp.runtimes.docker.engine import SWARM_SERVICE_LABEL, DockerEngine
from ccp.runtimes.docker.execs import ScriptExec, all_ended, interrupt, oom_kills
from ccp.runtimes.docker.jobcontrol import ContainerControl
from ccp.runtimes.docker.once import RunOnce, is_main_script, script_digest
from ccp.runtimes.docker.warm import WarmContainers, adopted_execution
from ccp.runtimes.output import guarded
from ccp.runtimes.settings import DockerSettings
from ccp.runtimes.usage import Usage

# PID 1 of every CCP container: sleeps until stopped. SIGTERM ends it at once (the trap runs
# as soon as `wait` is interrupted); `kill -9 -1` from a timed-out script only ends the
# current `sleep`, and the loop goes on.
KEEP_ALIVE = 'trap "exit 0" TERM INT; while :; do sleep 3600 & wait $!; done'


def awaiting_keep_alive(marker: str) -> str:
    """PID 1 of a warm container: reads a script from its standard input, up to a line
    `marker`, and becomes it (run-once, see once.py); without one it is the keep-alive, and
    scripts are execs as in any container."""
    return ('trap "exit 0" TERM INT; s=; while IFS= read -r l; do '
            f'[ "$l" = "{marker}" ] && break; s="$s$l\n"; done; '
            '[ -n "$s" ] && exec sh -c "$s"; ' + KEEP_ALIVE)
# Docker's default set minus FSETID, MKNOD, NET_RAW, NET_BIND_SERVICE, SETPCAP, SETFCAP,
# SYS_CHROOT and AUDIT_WRITE: enough for root to own/chmod files and switch users.
CAPABILITIES = ("CHOWN", "DAC_OVERRIDE", "FOWNER", "SETUID", "SETGID", "KILL")
REPLICA_LABEL = "ccp.replica"
RUNTIME_LABEL = "ccp.runtime"


class DockerRuntime(ContainerControl, WarmContainers, RunOnce, Runtime):
    type = "docker"
    capabilities = frozenset({WARM_LAUNCH, RUN_ONCE, "suspend", "verify", "health-probe",
                              "memory-limit", "cpu-limit", "metrics", "stage-inputs"})
    settings: DockerSettings

    def __init__(self, infrastructure: Infrastructure) -> None:
        super().__init__(infrastructure)
        self.docker = DockerEngine(self.settings, infrastructure.id)
        # execution id -> the environment of an adopted warm container, given to every exec
        # (its own environment predates the execution); never in the handle (job store)
        self.exec_env: dict[str, dict[str, str]] = {}
        self.renames: dict[str, tuple[str, threading.Thread]] = {}

    def check(self) -> None:
        with self.docker.errors("checking the engine"):
            self.docker.client.ping()

    # --- launch -----------------------------------------------------------------------------

    def launch(self, execution_id: str, image: str, env: dict[str, str], replicas: int = 1
               ) -> Instance:
        if replicas != 1:
            raise RuntimeFailure("the docker runtime runs exactly one replica; use a swarm "
                                 "infrastructure for more")
        return self.start_container(execution_id, image, env, {})

    def start_container(self, execution_id: str, image: str, env: dict[str, str],
                        labels: dict[str, str], main_script: str | None = None,
                        script_marker: str | None = None) -> Instance:
        """Create and start the container `ccp-<execution id>` with the Infrastructure's
        limits and isolation, labelled with the execution (and `labels`). With
        `main_script` (run-once) it is created only: `run` of that script starts it. With
        `script_marker` its PID 1 waits for a script on its standard input first."""
        image_attrs = self.docker.ensure_image(image)
        as_root = runs_as_root(image_attrs)
        limits = self.limits()
        name = f"ccp-{execution_id}"
        api = self.docker.api
        command = KEEP_ALIVE if main_script is None else \
            f"mkdir -p {DATA_PATH} 2>/dev/null; {main_script}" if as_root else main_script
        if script_marker is not None:
            command = awaiting_keep_alive(script_marker)
        with self.docker.errors(f"creating container {name}"):
            container = api.create_container(
                image_attrs.get("Id") or image,  # what was inspected is what runs
                entrypoint=["sh", "-c"],
                command=[command],
                name=name,
                labels={LABEL: execution_id, REPLICA_LABEL: "1", RUNTIME_LABEL: self.type,
                        **labels},
                environment=self.environment(env, "1"),
                detach=True,
                stdin_open=script_marker is not None,
                host_config=api.create_host_config(
                    network_mode=self.settings.network,
                    mem_limit=limits.memory_bytes,
                    memswap_limit=limits.memory_bytes,  # the same: no swap on top
                    nano_cpus=int(limits.cpus * 1e9) if limits.cpus else None,
                    pids_limit=self.settings.pids_limit,
                    privileged=False,
                    cap_drop=["ALL"],
                    cap_add=list(CAPABILITIES),
                    security_opt=["no-new-privileges"],
                ),
            )
        container_id = container["Id"]
        try:
            with self.docker.errors(f"starting container {name}"):
                if not as_root:
                    self.docker.make_data_dir(container_id)
                if main_script is None:
                    api.start(container_id)
        except BaseException:
            self.docker.remove_container(container_id)
            raise
        handle = {"engine": self.docker.address, "container": container_id, "name": name,
                  "image": image, "imageId": image_attrs.get("Id"),
                  "imageDigest": image_attrs.get("Id"), "makeDataDir": as_root}
        if main_script is not None:
            handle["mainScript"] = script_digest(main_script)
        if script_marker is not None:
            handle["scriptMarker"] = script_marker
        return Instance(execution_id=execution_id, runtime=self.type, handle=handle)

    def environment(self, env: dict[str, str], task_id: str) -> list[str]:
        merged = {**env, "ccptaskid": task_id, "CCP_DATA": DATA_PATH}
        for key in merged:
            if not key or "=" in key or "\0" in key:
                raise RuntimeFailure(f"invalid environment variable name {key!r}")
        return [f"{key}={value}" for key, value in merged.items()]

    # --- run --------------------------------------------------------------------------------

    def targets(self, instance: Instance) -> list[tuple[int, str]]:
        """(replica, container id) of every replica of the instance."""
        return [(1, instance.handle["container"])]

    def run(self, instance: Instance, script: str, timeout: float, log: LogSink) -> int:
        if instance.cancelled.is_set():
            raise RuntimeCancelled("cancelled before the script started")
        if is_main_script(instance, script):
            return self.run_main(instance, script, timeout, guarded(
                log, f"execution {instance.execution_id}"))
        targets = self.targets(instance)
        api = self.docker.api
        log = guarded(log, f"execution {instance.execution_id}")
        if instance.handle.get("makeDataDir"):
            script = f"mkdir -p {DATA_PATH} 2>/dev/null; {script}"  # same line: same numbering
        env = self.exec_env.get(instance.execution_id)
        execs: list[ScriptExec] = []
        try:
            with self.docker.errors("starting the script"):
                for replica, container_id in targets:
                    environment = None if env is None else self.environment(env, str(replica))
                    execs.append(ScriptExec(api, container_id, replica, script, log,
                                            environment))
            wait_for_script(lambda seconds: all_ended(execs, seconds), instance, timeout)
            with self.docker.errors("reading the exit code"):
                codes = [e.exit_code() for e in execs]
        except BaseException:
            interrupt(api, [container_id for _, container_id in targets], execs)
            raise
        finally:
            for running in execs:
                running.close()
        return next((code for code in codes if code != 0), 0)

    def exit_reason(self, instance: Instance, code: int) -> str | None:
        if code != 137:
            return None
        api = self.docker.api
        if instance.handle.get("mainScript"):
            killed = self.main_oom_killed(instance)
        else:
            killed = any(oom_kills(api, container_id)
                         for _, container_id in self.targets(instance))
        if killed:
            limit = self.limits().memory_bytes
            size = f" of {limit // 2**20} MiB" if limit else ""
            return f"killed by the out-of-memory killer: the memory limit{size} was exceeded"
        return "killed by SIGKILL"

    # --- stage inputs -----------------------------------------------------------------------

    def stage_inputs(self, instance: Instance, directory: Path) -> None:
        """Put the inputs in /ccp_data/inputs of every replica with the engine (a tar stream
        spooled once; modes open to whatever user the image runs as)."""
        with tempfile.TemporaryFile(dir=directory.parent, prefix=".ccp-stage-") as spool:
            tarcopy.write_tree(directory, DATA_PATH.strip("/") + "/inputs", spool,
                               dir_mode=0o777, file_mode=0o666)
            for replica, container_id in self.targets(instance):
                spool.seek(0)
                with self.docker.errors(f"copying the inputs into replica {replica}"):
                    self.docker.api.put_archive(container_id, "/", spool)

    # --- fetch ------------------------------------------------------------------------------

    def fetch(self, instance: Instance, destination: Path) -> None:
        targets = self.targets(instance)
        # a run-once container has stopped by now: its layer may be read here (localfetch)
        stopped = bool(instance.handle.get("mainStarted"))

        def copy(target: tuple[int, str]) -> list[str]:
            replica, container_id = target
            into = destination / f"replica-{replica}" if instance.replicas > 1 else destination
            return [f"replica {replica}: {problem}"
                    for problem in localfetch.copy_data(self.docker, container_id, into, stopped)]

        with ThreadPoolExecutor(max(1, len(targets))) as copies:  # every replica at once
            skipped = [problem for found in copies.map(copy, targets) for problem in found]
        if skipped:
            instance.handle["fetchSkipped"] = skipped[:tarcopy.MAX_SKIPPED_REPORTED]

    # --- destroy ----------------------------------------------------------------------------

    def destroy(self, instance: Instance) -> None:
        self.settle(instance.execution_id)
        ids = set()
        if instance.handle.get("container"):
            ids.add(instance.handle["container"])
        else:  # rebuilt without its container (orphan clean-up): by label, and an adopted
            # warm container (labelled with its member id) by its name
            selectors = [{"label": f"{LABEL}={instance.execution_id}"},
                         {"label": LABEL, "name": f"^/ccp-{re.escape(instance.execution_id)}$"}]
            with self.docker.errors(f"listing the containers of {instance.execution_id}"):
                for selector in selectors:
                    for container in self.docker.api.containers(all=True, filters=selector):
                        if SWARM_SERVICE_LABEL not in (container.get("Labels") or {}):
                            ids.add(container["Id"])
        for container_id in ids:
            self.docker.remove_container(container_id)
        self.exec_env.pop(instance.execution_id, None)

    def destroy_orphans(self, is_orphan: Callable[[str], bool]) -> list[str]:
        cleaned = set()
        with self.docker.errors("listing CCP containers"):
            containers = self.docker.api.containers(all=True, filters={"label": LABEL})
        for container in containers:
            labels = container.get("Labels") or {}
            execution_id = labels.get(LABEL)
            if not execution_id or SWARM_SERVICE_LABEL in labels:
                continue  # a Swarm task: the swarm runtime removes its service
            # a warm pool member not yet taken is its pool's (or the next server's) to remove
            execution_id = adopted_execution(container)
            if execution_id and is_orphan(execution_id):
                self.docker.remove_container(container["Id"])
                cleaned.add(execution_id)
        return sorted(cleaned)

    # --- metrics ----------------------------------------------------------------------------

    def sample(self, instance: Instance) -> list[Usage]:
        return cgroups.usages(self.docker, self.targets(instance))

    # --- describe ---------------------------------------------------------------------------

    def describe(self, instance: Instance) -> dict[str, Any]:
        self.settle(instance.execution_id)
        description: dict[str, Any] = {
            "runtime": self.type,
            "isolation": "container: no host mounts, capabilities dropped, no-new-privileges",
            "engine": self.docker.describe(),
            "started": instance.started,
            "stopped": now_iso(),
        }
        container_id = instance.handle.get("container")
        description["container"], description["limits"] = \
            self.docker.describe_container(container_id)
        description["image"] = self.docker.describe_image(instance.handle.get("image"),
                                                          instance.handle.get("imageId"))
        if instance.handle.get("fetchSkipped"):
            description["fetchSkipped"] = instance.handle["fetchSkipped"]
        return description


def runs_as_root(image_attrs: dict[str, Any]) -> bool:
    user = (image_attrs.get("Config") or {}).get("User") or ""
    return user.split(":")[0] in ("", "root", "0")
