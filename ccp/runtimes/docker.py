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

Infrastructure settings: `engine` (e.g. "unix:///var/run/docker.sock", "tcp://host:2376";
default: the DOCKER_HOST environment), `tls` {ca, cert, key, verify}, `network`, `memory`,
`cpus`, `pidsLimit` (default 512), `pull` (try `docker pull` of a missing image, default
true), `timeout` (seconds for one engine API call, default 60), `useSshClient` (for an
`ssh://` engine: use the `ssh` binary). See docs/remote-docker.md.
"""

from __future__ import annotations

import io
import os
import tarfile
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import docker
import docker.errors
import requests
from docker.utils import parse_repository_tag

from ccp.model import Infrastructure
from ccp.runtimes.base import (
    DATA_PATH,
    LABEL,
    Instance,
    LogSink,
    Runtime,
    RuntimeCancelled,
    RuntimeFailure,
    RuntimeTimeout,
    now_iso,
)
from ccp.runtimes.settings import DockerSettings

# PID 1 of every CCP container: sleeps until stopped. SIGTERM ends it at once (the trap runs
# as soon as `wait` is interrupted); `kill -9 -1` from a timed-out script only ends the
# current `sleep`, and the loop goes on.
VERSION_CACHE_SECONDS = 60
KEEP_ALIVE = 'trap "exit 0" TERM INT; while :; do sleep 3600 & wait $!; done'
# Docker's default set minus FSETID, MKNOD, NET_RAW, NET_BIND_SERVICE, SETPCAP, SETFCAP,
# SYS_CHROOT and AUDIT_WRITE: enough for root to own/chmod files and switch users.
CAPABILITIES = ("CHOWN", "DAC_OVERRIDE", "FOWNER", "SETUID", "SETGID", "KILL")
REPLICA_LABEL = "ccp.replica"
RUNTIME_LABEL = "ccp.runtime"
SWARM_SERVICE_LABEL = "com.docker.swarm.service.id"
POLL_SECONDS = 0.1
MAX_LINE_BYTES = 64 * 1024  # longer output without a newline is logged in pieces
EXIT_CODE_WAIT = 10.0
MAX_SKIPPED_REPORTED = 100


class DockerRuntime(Runtime):
    type = "docker"

    settings: DockerSettings

    def __init__(self, infrastructure: Infrastructure) -> None:
        super().__init__(infrastructure)
        self._client: docker.DockerClient | None = None
        self._client_lock = threading.Lock()
        self._version_cache: tuple[float, dict[str, Any]] | None = None

    # --- the engine -------------------------------------------------------------------------

    @property
    def engine(self) -> str:
        """The engine address, for messages and metadata."""
        return (self.settings.engine or os.environ.get("DOCKER_HOST")
                or "unix:///var/run/docker.sock")

    @property
    def client(self) -> docker.DockerClient:
        """One client per runtime object, made on first use."""
        with self._client_lock:
            if self._client is None:
                self._client = self._connect()
            return self._client

    def _connect(self) -> docker.DockerClient:
        timeout = self.settings.timeout
        # Parallel replicas each hold a connection while their script streams.
        pool = max(10, 2 * self.settings.max_replicas + 4)
        try:
            if not self.settings.engine:
                return docker.from_env(timeout=timeout, max_pool_size=pool)
            return docker.DockerClient(
                base_url=self.settings.engine, tls=self._tls(), timeout=timeout,
                max_pool_size=pool,
                # ssh://user@host: with the `ssh` binary, as the docker CLI does
                use_ssh_client=self.settings.use_ssh_client)
        except (docker.errors.DockerException, requests.exceptions.RequestException,
                OSError) as err:
            raise self._failure(err, "connecting") from err

    def check(self) -> None:
        with self._engine("checking the engine"):
            self.client.ping()

    def _tls(self) -> docker.tls.TLSConfig | bool:
        tls = self.settings.tls
        if tls is None:
            return False
        try:
            return docker.tls.TLSConfig(
                client_cert=(tls.cert, tls.key) if tls.cert and tls.key else None,
                ca_cert=tls.ca,
                verify=tls.verify,
            )
        except docker.errors.TLSParameterError as err:
            raise RuntimeFailure(f"the TLS settings of infrastructure "
                                 f"'{self.infrastructure.id}' are invalid: {err}") from err

    def _failure(self, err: BaseException, action: str) -> RuntimeFailure:
        if isinstance(err, docker.errors.APIError):
            return RuntimeFailure(f"{action}: the Docker engine at {self.engine} answered: "
                                  f"{err.explanation or err}")
        return RuntimeFailure(f"Docker engine at {self.engine} is unreachable: {err}")

    @contextmanager
    def _engine(self, action: str) -> Iterator[None]:
        """Turn engine and connection errors into RuntimeFailure with a clear message."""
        try:
            yield
        except (docker.errors.DockerException, requests.exceptions.RequestException,
                OSError) as err:
            raise self._failure(err, action) from err

    # --- launch -----------------------------------------------------------------------------

    def launch(self, execution_id: str, image: str, env: dict[str, str], replicas: int = 1
               ) -> Instance:
        if replicas != 1:
            raise RuntimeFailure("the docker runtime runs exactly one replica; use a swarm "
                                 "infrastructure for more")
        image_attrs = self.ensure_image(image)
        limits = self.limits()
        name = f"ccp-{execution_id}"
        with self._engine(f"creating container {name}"):
            container = self.client.api.create_container(
                image,
                entrypoint=["sh", "-c"],
                command=[KEEP_ALIVE],
                name=name,
                labels={LABEL: execution_id, REPLICA_LABEL: "1", RUNTIME_LABEL: self.type},
                environment=self.environment(env, "1"),
                detach=True,
                host_config=self.client.api.create_host_config(
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
        as_root = runs_as_root(image_attrs)
        try:
            with self._engine(f"starting container {name}"):
                if not as_root:
                    self.prepare_data_dir(container_id)
                self.client.api.start(container_id)
        except BaseException:
            self._remove_container(container_id)
            raise
        return Instance(
            execution_id=execution_id,
            runtime=self.type,
            handle={"engine": self.engine, "container": container_id, "name": name,
                    "image": image, "imageId": image_attrs.get("Id"),
                    "makeDataDir": as_root},
        )

    def ensure_image(self, image: str) -> dict[str, Any]:
        """The engine's record of `image`, pulled once if missing (and pulling is allowed)."""
        api = self.client.api
        with self._engine(f"looking up image '{image}'"):
            try:
                return api.inspect_image(image)
            except docker.errors.ImageNotFound as err:
                reason = _explain(err)
            if self.settings.pull:
                repository, tag = parse_repository_tag(image)
                try:
                    for event in api.pull(repository, tag=tag or "latest", stream=True,
                                          decode=True):
                        if isinstance(event, dict) and event.get("error"):
                            raise docker.errors.APIError(event["error"],
                                                         explanation=event["error"])
                    return api.inspect_image(image)
                except docker.errors.APIError as err:
                    reason = f"pull failed: {_explain(err)}"
            else:
                reason += " (pulling is turned off on this infrastructure)"
        raise RuntimeFailure(f"image '{image}' is neither present on the engine at "
                             f"{self.engine} nor pullable: {reason}")

    def environment(self, env: dict[str, str], task_id: str) -> list[str]:
        merged = {**env, "ccptaskid": task_id, "CCP_DATA": DATA_PATH}
        for key in merged:
            if not key or "=" in key or "\0" in key:
                raise RuntimeFailure(f"invalid environment variable name {key!r}")
        return [f"{key}={value}" for key, value in merged.items()]

    def prepare_data_dir(self, container_id: str) -> None:
        """Make /ccp_data (mode 0777) with the engine, whatever the image's user may do.

        Images that run as root make it themselves at the start of each script instead:
        one engine round trip (~90 ms) less per execution.
        """
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w") as tar:
            entry = tarfile.TarInfo(DATA_PATH.strip("/"))
            entry.type = tarfile.DIRTYPE
            entry.mode = 0o777
            entry.mtime = int(time.time())
            tar.addfile(entry)
        self.client.api.put_archive(container_id, "/", buffer.getvalue())

    # --- run --------------------------------------------------------------------------------

    def targets(self, instance: Instance) -> list[tuple[int, str]]:
        """(replica, container id) of every replica of the instance."""
        return [(1, instance.handle["container"])]

    def run(self, instance: Instance, script: str, timeout: float, log: LogSink) -> int:
        if instance.cancelled.is_set():
            raise RuntimeCancelled("cancelled before the script started")
        deadline = time.monotonic() + timeout
        targets = self.targets(instance)
        api = self.client.api
        if instance.handle.get("makeDataDir"):
            script = f"mkdir -p {DATA_PATH} 2>/dev/null; {script}"  # same line: same numbering
        execs: list[_Exec] = []
        try:
            with self._engine("starting the script"):
                for replica, container_id in targets:
                    execs.append(_Exec(api, container_id, replica, script, log))
            while running := [e for e in execs if e.running]:
                if instance.cancelled.is_set():
                    raise RuntimeCancelled("cancelled")
                if time.monotonic() > deadline:
                    raise RuntimeTimeout(f"still running after {timeout:.0f} s")
                # join() returns the moment the output ends; the timeout only bounds how
                # late a cancel or the deadline is noticed.
                running[0].thread.join(POLL_SECONDS)
            with self._engine("reading the exit code"):
                codes = [e.exit_code() for e in execs]
        except BaseException:
            self._interrupt([container_id for _, container_id in targets], execs)
            raise
        finally:
            for running in execs:
                running.close()
        return next((code for code in codes if code != 0), 0)

    def exit_reason(self, instance: Instance, code: int) -> str | None:
        if code != 137:
            return None
        if any(self._oom_kills(container_id) for _, container_id in self.targets(instance)):
            limit = self.limits().memory_bytes
            size = f" of {limit // 2**20} MiB" if limit else ""
            return f"killed by the out-of-memory killer: the memory limit{size} was exceeded"
        return "killed by SIGKILL"

    def _oom_kills(self, container_id: str) -> int:
        """OOM kills in the container's memory cgroup, read from inside (remote engines too)."""
        probe = ("cat /sys/fs/cgroup/memory.events /sys/fs/cgroup/memory/memory.oom_control "
                 "2>/dev/null")
        try:
            api = self.client.api
            output = api.exec_start(api.exec_create(container_id, ["sh", "-c", probe])["Id"])
        except Exception:
            return 0
        kills = 0
        for line in output.decode("utf-8", "replace").splitlines():
            name, _, value = line.partition(" ")
            if name == "oom_kill" and value.strip().isdigit():
                kills += int(value)
        return kills

    def _interrupt(self, container_ids: list[str], execs: list[_Exec]) -> None:
        """Kill every script process (all but PID 1) in the containers, then stop reading."""
        api = self.client.api
        for container_id in container_ids:
            try:
                killer = api.exec_create(container_id, ["sh", "-c", "kill -9 -1"], user="0")
                api.exec_start(killer["Id"])
            except Exception:
                try:  # no sh, no pids left, ...: stop the whole container instead
                    api.kill(container_id)
                except Exception:
                    pass
        for running in execs:
            running.close()
            running.thread.join(timeout=2)

    # --- fetch ------------------------------------------------------------------------------

    def fetch(self, instance: Instance, destination: Path) -> None:
        skipped: list[str] = []
        for replica, container_id in self.targets(instance):
            target = destination / f"replica-{replica}" if instance.replicas > 1 else destination
            skipped += [f"replica {replica}: {problem}"
                        for problem in self.copy_out(container_id, target)]
        if skipped:
            instance.handle["fetchSkipped"] = skipped[:MAX_SKIPPED_REPORTED]

    def copy_out(self, container_id: str, target: Path) -> list[str]:
        """Copy the container's /ccp_data into `target`; returns the members left out.

        The tar stream is spooled to a file next to `target` (outputs may be large), then
        extracted with tarfile's "data" filter: no absolute paths, no `..`, no links leaving
        `target`, no device files. A member the filter refuses is skipped, not fatal.
        """
        target.mkdir(parents=True, exist_ok=True)
        skipped: list[str] = []

        def safe(member: tarfile.TarInfo, path: str) -> tarfile.TarInfo | None:
            try:
                return tarfile.data_filter(member, path)
            except tarfile.FilterError as err:
                skipped.append(f"{member.name}: {err}")
                return None

        with tempfile.TemporaryFile(dir=target.parent, prefix=".ccp-fetch-") as spool:
            with self._engine(f"copying {DATA_PATH}"):
                try:
                    stream, _ = self.client.api.get_archive(container_id, DATA_PATH + "/.")
                except docker.errors.NotFound:
                    return [f"{DATA_PATH} does not exist"]
                for chunk in stream:
                    spool.write(chunk)
            spool.seek(0)
            with tarfile.open(fileobj=spool, mode="r:") as tar:
                tar.extractall(target, filter=safe)
        return skipped

    # --- destroy ----------------------------------------------------------------------------

    def destroy(self, instance: Instance) -> None:
        ids = set()
        if instance.handle.get("container"):
            ids.add(instance.handle["container"])
        with self._engine(f"listing the containers of {instance.execution_id}"):
            for container in self.client.api.containers(
                    all=True, filters={"label": f"{LABEL}={instance.execution_id}"}):
                if SWARM_SERVICE_LABEL not in (container.get("Labels") or {}):
                    ids.add(container["Id"])
        for container_id in ids:
            self._remove_container(container_id)

    def _remove_container(self, container_id: str) -> None:
        with self._engine(f"removing container {container_id[:12]}"):
            try:
                self.client.api.remove_container(container_id, force=True, v=True)
            except docker.errors.NotFound:
                pass
            except docker.errors.APIError as err:
                if err.status_code != 409:  # 409: a removal is already in progress
                    raise

    def destroy_orphans(self, is_orphan: Callable[[str], bool]) -> list[str]:
        cleaned = set()
        with self._engine("listing CCP containers"):
            containers = self.client.api.containers(all=True, filters={"label": LABEL})
        for container in containers:
            labels = container.get("Labels") or {}
            execution_id = labels.get(LABEL)
            if not execution_id or SWARM_SERVICE_LABEL in labels:
                continue  # a Swarm task: the swarm runtime removes its service
            if is_orphan(execution_id):
                self._remove_container(container["Id"])
                cleaned.add(execution_id)
        return sorted(cleaned)

    # --- describe ---------------------------------------------------------------------------

    def describe(self, instance: Instance) -> dict[str, Any]:
        description: dict[str, Any] = {
            "runtime": self.type,
            "isolation": "container: no host mounts, capabilities dropped, no-new-privileges",
            "engine": self.describe_engine(),
            "started": instance.started,
            "stopped": now_iso(),
        }
        container_id = instance.handle.get("container")
        description["container"], description["limits"] = self.describe_container(container_id)
        description["image"] = self.describe_image(instance.handle.get("image"),
                                                   instance.handle.get("imageId"))
        if instance.handle.get("fetchSkipped"):
            description["fetchSkipped"] = instance.handle["fetchSkipped"]
        return description

    def describe_engine(self) -> dict[str, Any]:
        engine: dict[str, Any] = {"address": self.engine}
        try:
            version = self._engine_version()
        except Exception as err:
            engine["error"] = str(err)
            return engine
        engine.update({
            "version": version.get("Version"),
            "apiVersion": version.get("ApiVersion"),
            "os": version.get("Os"),
            "arch": version.get("Arch"),
            "kernelVersion": version.get("KernelVersion"),
        })
        return engine

    def describe_container(self, container_id: str | None
                           ) -> tuple[dict[str, Any], dict[str, Any]]:
        if not container_id:
            return {}, {}
        try:
            attrs = self.client.api.inspect_container(container_id)
        except Exception as err:
            return {"id": container_id, "error": str(err)}, {}
        state = attrs.get("State") or {}
        host = attrs.get("HostConfig") or {}
        container = {
            "id": attrs.get("Id"),
            "name": (attrs.get("Name") or "").lstrip("/"),
            "created": attrs.get("Created"),
            "startedAt": state.get("StartedAt"),
            "finishedAt": state.get("FinishedAt"),
            "status": state.get("Status"),
            "exitCode": state.get("ExitCode"),
            "oomKilled": state.get("OOMKilled"),
            "labels": (attrs.get("Config") or {}).get("Labels"),
        }
        nano_cpus = host.get("NanoCpus") or 0
        limits = {
            "memoryBytes": host.get("Memory") or None,
            "memorySwapBytes": host.get("MemorySwap") or None,
            "cpus": nano_cpus / 1e9 if nano_cpus else None,
            "nanoCpus": nano_cpus or None,
            "pidsLimit": host.get("PidsLimit"),
            "privileged": host.get("Privileged"),
            "capDrop": host.get("CapDrop"),
            "capAdd": host.get("CapAdd"),
            "securityOpt": host.get("SecurityOpt"),
            "networkMode": host.get("NetworkMode"),
            "mounts": [m.get("Destination") for m in attrs.get("Mounts") or []],
        }
        return container, limits

    def _engine_version(self) -> dict[str, Any]:
        """The engine's version, asked at most once a minute (it is in every instance.json)."""
        cached = self._version_cache
        if cached is None or time.monotonic() - cached[0] > VERSION_CACHE_SECONDS:
            cached = self._version_cache = (time.monotonic(), self.client.version())
        return cached[1]

    def describe_image(self, reference: str | None, image_id: str | None) -> dict[str, Any]:
        image: dict[str, Any] = {"reference": reference, "id": image_id}
        try:
            attrs = self.client.api.inspect_image(image_id or reference)
        except Exception as err:
            image["error"] = str(err)
            return image
        image.update({
            "id": attrs.get("Id"),
            "repoTags": attrs.get("RepoTags") or [],
            "repoDigests": attrs.get("RepoDigests") or [],  # empty for imported images
            "created": attrs.get("Created"),
            "architecture": attrs.get("Architecture"),
            "os": attrs.get("Os"),
        })
        return image


def runs_as_root(image_attrs: dict[str, Any]) -> bool:
    user = (image_attrs.get("Config") or {}).get("User") or ""
    return user.split(":")[0] in ("", "root", "0")


class _Exec:
    """`sh -c script` running in one container, its output pumped to the log by a thread."""

    def __init__(self, api: docker.APIClient, container_id: str, replica: int, script: str,
                 log: LogSink) -> None:
        self.api = api
        self.replica = replica
        self.log = log
        self.exec_id = api.exec_create(container_id, ["sh", "-c", script], stdout=True,
                                       stderr=True, stdin=False)["Id"]
        self.stream = api.exec_start(self.exec_id, stream=True, demux=True)
        self.thread = threading.Thread(target=self._pump, daemon=True,
                                       name=f"ccp-exec-{replica}")
        self.thread.start()

    @property
    def running(self) -> bool:
        return self.thread.is_alive()

    def _pump(self) -> None:
        pending = {"stdout": bytearray(), "stderr": bytearray()}
        try:
            for out, err in self.stream:
                for name, chunk in (("stdout", out), ("stderr", err)):
                    if chunk:
                        self._feed(name, pending[name], chunk)
        except Exception:
            pass  # the connection went away: exit_code() tells what happened
        finally:
            for name, rest in pending.items():
                if rest:
                    self._emit(name, bytes(rest))

    def _feed(self, name: str, pending: bytearray, chunk: bytes) -> None:
        pending += chunk
        while True:
            end = pending.find(b"\n")
            if end < 0:
                if len(pending) >= MAX_LINE_BYTES:
                    self._emit(name, bytes(pending))
                    pending.clear()
                return
            self._emit(name, bytes(pending[:end]))
            del pending[: end + 1]

    def _emit(self, name: str, raw: bytes) -> None:
        try:
            self.log(self.replica, name, raw.decode("utf-8", "replace"))
        except Exception:
            pass  # a broken log sink must not stop the reading (the script would block)

    def exit_code(self) -> int:
        deadline = time.monotonic() + EXIT_CODE_WAIT
        while True:
            info = self.api.exec_inspect(self.exec_id)
            if not info.get("Running") and info.get("ExitCode") is not None:
                return int(info["ExitCode"])
            if time.monotonic() > deadline:
                raise RuntimeFailure("the script's output ended but the engine reports no "
                                     "exit code")
            time.sleep(POLL_SECONDS)

    def close(self) -> None:
        try:
            self.stream.close()
        except Exception:
            pass


def _explain(err: BaseException) -> str:
    if isinstance(err, docker.errors.APIError):
        return str(err.explanation or err)
    return str(err)
