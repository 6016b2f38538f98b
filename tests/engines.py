"""The real engines of `scripts/start-services.sh` (Docker, Swarm, LXD), as the tests see them.

Nothing is mocked and nothing is skipped: without an engine a test fails, saying how to start
it. The Docker engine is $DOCKER_HOST, else unix:///tmp/ccp-docker.sock; its image is
$CCP_TEST_DOCKER_IMAGE, else ccp/busybox:1 (made locally: there is no registry). LXD is the
local daemon; its image is the alias $CCP_TEST_LXD_IMAGE, else ccp-busybox.
"""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path
from typing import Any

import docker
import docker.errors
import pytest

from ccp.app import create_app, load_config
from ccp.runtimes.base import LABEL

REPO = Path(__file__).resolve().parent.parent
ENGINE = os.environ.get("DOCKER_HOST") or "unix:///tmp/ccp-docker.sock"
IMAGE = os.environ.get("CCP_TEST_DOCKER_IMAGE", "ccp/busybox:1")
HINT = "start it with `bash scripts/start-services.sh docker swarm` (or set DOCKER_HOST)"
LXD_IMAGE = os.environ.get("CCP_TEST_LXD_IMAGE", "ccp-busybox")
LXD_HINT = "start it with `bash scripts/start-services.sh lxd`"
LXD_EXECUTION_KEY = "user.ccp.execution"


class Engine:
    """The test engine, for looking behind the runtime's back. Fails the test if it is down."""

    def __init__(self, address: str, swarm: bool = False) -> None:
        self.address = address
        self.swarm = swarm
        self._client: docker.DockerClient | None = None

    def require(self) -> None:
        """Fail the test at once, saying how to start the engine, when it does not answer."""
        assert self.client is not None

    @property
    def client(self) -> docker.DockerClient:
        if self._client is None:
            problem = None
            try:
                client = docker.DockerClient(base_url=self.address, timeout=30)
                state = client.info().get("Swarm") or {}
            except Exception as err:
                problem = str(err)
            if problem is not None:  # outside `except`: a message, not a chain of tracebacks
                pytest.fail(f"the Docker engine at {self.address} is not reachable "
                            f"({problem}); {HINT}", pytrace=False)
            if self.swarm and (state.get("LocalNodeState") != "active"
                               or not state.get("ControlAvailable")):
                pytest.fail(f"the Docker engine at {self.address} is not a Swarm manager "
                            f"(state {state.get('LocalNodeState')!r}); {HINT}", pytrace=False)
            self._client = client
        return self._client

    def _labelled(self, collection: Any, execution_id: str, **extra: Any) -> list:
        return collection.list(filters={"label": f"{LABEL}={execution_id}"}, **extra)

    def containers(self, execution_id: str) -> list:
        return self._labelled(self.client.containers, execution_id, all=True)

    def services(self, execution_id: str) -> list:
        try:
            return self._labelled(self.client.services, execution_id)
        except docker.errors.APIError as err:
            if err.status_code == 503:  # not a swarm manager: there can be no service
                return []
            raise

    def networks(self, execution_id: str) -> list:
        return self._labelled(self.client.networks, execution_id)

    def leftovers(self, execution_id: str) -> list[str]:
        """Names of the services, containers and networks still labelled with the execution."""
        return [f"{kind} {item.name}" for kind, items in (
            ("service", self.services(execution_id)),
            ("container", self.containers(execution_id)),
            ("network", self.networks(execution_id))) for item in items]

    def assert_nothing_left(self, execution_id: str) -> None:
        assert self.leftovers(execution_id) == [], f"{execution_id} left things behind"


def lxd_client() -> Any:
    """A pylxd client of the test daemon; fails (never skips) when LXD is not usable."""
    import pylxd

    problem = None
    try:
        client = pylxd.Client()
        if not client.images.exists(LXD_IMAGE, alias=True):
            problem = f"LXD has no image alias {LXD_IMAGE!r}"
    except Exception as err:
        problem = f"the LXD daemon is unreachable ({err})"
    if problem is not None:
        pytest.fail(f"{problem}: {LXD_HINT}", pytrace=False)
    return client


def lxd_leftovers(client: Any, execution_id: str) -> list[str]:
    """Names of LXD instances still labelled with this execution."""
    listed = client.api.instances.get(params={"recursion": "1"}).json()["metadata"]
    return [entry["name"] for entry in listed
            if (entry.get("config") or {}).get(LXD_EXECUTION_KEY) == execution_id]


def write_descriptors(directory: Path, method_files: list[str], infrastructure_files: list[str],
                      extra_methods: list[dict] = ()) -> tuple[Path, Path]:
    """Copy Methods and Infrastructures, with the test engine's address filled in."""
    methods, infrastructures = directory / "methods", directory / "infrastructures"
    methods.mkdir(parents=True)
    infrastructures.mkdir(parents=True)
    for name in method_files:
        (methods / name).write_text((REPO / "methods" / name).read_text())
    for method in extra_methods:
        (methods / f"{method['id']}.json").write_text(json.dumps(method))
    for name in infrastructure_files:
        descriptor = json.loads((REPO / "infrastructures" / name).read_text())
        descriptor["settings"]["engine"] = ENGINE
        (infrastructures / name).write_text(json.dumps(descriptor))
    return methods, infrastructures


def make_app(directory: Path, methods: Path, infrastructures: Path):
    config = copy.deepcopy(load_config(REPO / "pygeoapi-config.yml"))
    config["server"]["manager"].update({
        "data_dir": str(directory / "data"),
        "methods": str(methods),
        "infrastructures": str(infrastructures),
        "connection": "",  # SQLite in data_dir, whatever CCP_DATABASE_URL says
        "storage": {"type": "local"},
        "concurrency": 2,
    })
    return create_app(config)
