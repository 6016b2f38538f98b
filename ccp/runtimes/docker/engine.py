"""One Docker engine, local or remote, as the docker and swarm runtimes see it.

The address is `settings.engine` (unix://, tcp:// with `tls`, ssh://), else the server's
DOCKER_HOST environment, else the local socket. Engine and connection errors become
RuntimeFailure with a message naming the engine.
"""

from __future__ import annotations

import io
import os
import tarfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import docker
import docker.errors
import requests
from docker.utils import parse_repository_tag

from ccp.runtimes.base import DATA_PATH, RuntimeFailure
from ccp.runtimes.settings import DockerSettings

VERSION_CACHE_SECONDS = 60  # and of image descriptions
IMAGE_CACHE_SIZE = 256
SWARM_SERVICE_LABEL = "com.docker.swarm.service.id"  # on the containers of Swarm tasks
ENGINE_ERRORS = (docker.errors.DockerException, requests.exceptions.RequestException, OSError)


class DockerEngine:
    """A client of the engine (made on first use), images, containers and descriptions."""

    def __init__(self, settings: DockerSettings, infrastructure_id: str) -> None:
        self.settings = settings
        self.infrastructure_id = infrastructure_id
        self._client: docker.DockerClient | None = None
        self._client_lock = threading.Lock()
        self._version_cache: tuple[float, dict[str, Any]] | None = None
        self._one_shot = True
        # image id -> (when, its description)
        self._images: dict[str, tuple[float, dict[str, Any]]] = {}

    @property
    def address(self) -> str:
        """The engine address, for messages and metadata."""
        return (self.settings.engine or os.environ.get("DOCKER_HOST")
                or "unix:///var/run/docker.sock")

    @property
    def client(self) -> docker.DockerClient:
        with self._client_lock:
            if self._client is None:
                self._client = self._connect()
            return self._client

    @property
    def api(self) -> docker.APIClient:
        return self.client.api

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
        except ENGINE_ERRORS as err:
            raise self._failure(err, "connecting") from err

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
                                 f"'{self.infrastructure_id}' are invalid: {err}") from err

    def _failure(self, err: BaseException, action: str) -> RuntimeFailure:
        if isinstance(err, docker.errors.APIError):
            return RuntimeFailure(f"{action}: the Docker engine at {self.address} answered: "
                                  f"{err.explanation or err}")
        return RuntimeFailure(f"Docker engine at {self.address} is unreachable: {err}")

    @contextmanager
    def errors(self, action: str) -> Iterator[None]:
        """Turn engine and connection errors into RuntimeFailure with a clear message."""
        try:
            yield
        except ENGINE_ERRORS as err:
            raise self._failure(err, action) from err

    # --- images and containers ----------------------------------------------------------------

    def ensure_image(self, image: str) -> dict[str, Any]:
        """The engine's record of `image`, pulled once if missing (and pulling is allowed)."""
        api = self.api
        with self.errors(f"looking up image '{image}'"):
            try:
                return api.inspect_image(image)
            except docker.errors.ImageNotFound as err:
                reason = explain(err)
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
                    reason = f"pull failed: {explain(err)}"
            else:
                reason += " (pulling is turned off on this infrastructure)"
        raise RuntimeFailure(f"image '{image}' is neither present on the engine at "
                             f"{self.address} nor pullable: {reason}")

    def make_data_dir(self, container_id: str) -> None:
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
        self.api.put_archive(container_id, "/", buffer.getvalue())

    def remove_container(self, container_id: str) -> None:
        with self.errors(f"removing container {container_id[:12]}"):
            try:
                self.api.remove_container(container_id, force=True, v=True)
            except docker.errors.NotFound:
                pass
            except docker.errors.APIError as err:
                if err.status_code != 409:  # 409: a removal is already in progress
                    raise

    def stats(self, container_id: str) -> dict[str, Any]:
        """One answer of the stats API, at once: `one-shot` (API 1.41+) skips the second
        reading the engine otherwise waits for; older engines take that second."""
        if self._one_shot:
            try:
                return self.api.stats(container_id, stream=False, one_shot=True)
            except docker.errors.InvalidVersion:
                self._one_shot = False
        return self.api.stats(container_id, stream=False)

    # --- descriptions for instance.json -------------------------------------------------------

    def describe(self) -> dict[str, Any]:
        engine: dict[str, Any] = {"address": self.address}
        try:
            version = self._version()
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

    def _version(self) -> dict[str, Any]:
        """The engine's version, asked at most once a minute (it is in every instance.json)."""
        cached = self._version_cache
        if cached is None or time.monotonic() - cached[0] > VERSION_CACHE_SECONDS:
            cached = self._version_cache = (time.monotonic(), self.client.version())
        return cached[1]

    def describe_image(self, reference: str | None, image_id: str | None) -> dict[str, Any]:
        image: dict[str, Any] = {"reference": reference, "id": image_id}
        # asked once a minute per image, not per execution (its tags may change meanwhile)
        known = self._images.get(image_id) if image_id else None
        if known is not None and time.monotonic() - known[0] < VERSION_CACHE_SECONDS:
            return {**image, **known[1]}
        try:
            attrs = self.api.inspect_image(image_id or reference)
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
        if image_id and image["id"] == image_id:
            if len(self._images) >= IMAGE_CACHE_SIZE:
                self._images.clear()
            self._images[image_id] = (time.monotonic(),
                                      {k: v for k, v in image.items() if k != "reference"})
        return image

    def describe_container(self, container_id: str | None
                           ) -> tuple[dict[str, Any], dict[str, Any]]:
        """(the container, the limits applied to it)."""
        if not container_id:
            return {}, {}
        try:
            attrs = self.api.inspect_container(container_id)
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


def explain(err: BaseException) -> str:
    if isinstance(err, docker.errors.APIError):
        return str(err.explanation or err)
    return str(err)
