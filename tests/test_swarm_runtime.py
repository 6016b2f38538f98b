"""The Swarm runtime against the real single-node swarm of `scripts/start-services.sh swarm`.

Two levels: what only SwarmRuntime does (replicas, its isolation; the behaviours every runtime
shares are in test_runtime_contract.py), and executions with replicas through the HTTP API.
Nothing is mocked and nothing is skipped: without the engine (in Swarm mode) these tests
fail, saying how to start it. Engine: $DOCKER_HOST, else unix:///tmp/ccp-docker.sock; image:
$CCP_TEST_DOCKER_IMAGE, else ccp/busybox:1 (local only: Swarm must not resolve it).
"""

from __future__ import annotations

import io
import json
import threading
import time
import uuid
import zipfile

import pytest
from engines import ENGINE, IMAGE, Engine, make_app, write_descriptors
from helpers import Lines, wait_final

from ccp.model import Infrastructure
from ccp.runtimes.base import Instance, RuntimeCancelled
from ccp.runtimes.swarm import SwarmRuntime

pytestmark = pytest.mark.swarm

MEMORY = 256 * 1024 * 1024


def swarm_infrastructure(**settings) -> Infrastructure:
    return Infrastructure.from_dict({
        "id": "swarm-test", "name": "Swarm (tests)", "type": "swarm",
        "settings": {"engine": ENGINE, "memory": "256m", "cpus": 0.5, "maxReplicas": 4,
                     "maxTime": 600, "startTimeout": 60, **settings},
    })


@pytest.fixture(scope="module")
def swarm() -> Engine:
    return Engine(ENGINE, swarm=True)


@pytest.fixture
def runtime() -> SwarmRuntime:
    return SwarmRuntime(swarm_infrastructure())


@pytest.fixture
def launched(runtime: SwarmRuntime):
    instances: list[Instance] = []
    yield instances
    for instance in instances:
        runtime.destroy(instance)


class Shared:
    """One 2-replica instance for the tests that only run scripts in it (launching is slow).

    Launched by the first test that asks for it, so that a missing engine fails that test.
    """

    def __init__(self) -> None:
        self.runtime = SwarmRuntime(swarm_infrastructure())
        self.launched: Instance | None = None

    @property
    def instance(self) -> Instance:
        if self.launched is None:
            execution_id = f"test-{uuid.uuid4()}"
            self.launched = self.runtime.launch(execution_id, IMAGE,
                                                {"ccptaskname": execution_id}, replicas=2)
        return self.launched


@pytest.fixture(scope="module")
def shared():
    holder = Shared()
    yield holder
    if holder.launched is not None:
        holder.runtime.destroy(holder.launched)


def launch(runtime: SwarmRuntime, launched: list[Instance], replicas: int = 2,
           env: dict | None = None) -> Instance:
    execution_id = f"test-{uuid.uuid4()}"
    instance = runtime.launch(execution_id, IMAGE, env or {"ccptaskname": execution_id},
                              replicas=replicas)
    launched.append(instance)
    return instance


# --- the runtime on its own ----------------------------------------------------------------

def test_every_replica_runs_with_its_own_task_id(runtime, launched, swarm):
    swarm.require()
    instance = launch(runtime, launched, replicas=3,
                      env={"ccptaskname": "job-7", "TEMPLATE": "{{.Task.Slot}}"})
    assert [replica for replica, _ in runtime.targets(instance)] == [1, 2, 3]
    lines = Lines()
    code = runtime.run(instance, "\n".join([
        "echo \"id=$ccptaskid name=$ccptaskname data=$CCP_DATA template=$TEMPLATE\"",
        "echo \"err $ccptaskid\" >&2",
        "exit $(( ccptaskid == 2 ? 5 : 0 ))",
    ]), 30, lines)
    assert code == 5  # the first non-zero
    for replica in (1, 2, 3):
        assert lines.of("stdout", replica) == [
            f"id={replica} name=job-7 data=/ccp_data template={{{{.Task.Slot}}}}"]
        assert lines.of("stderr", replica) == [f"err {replica}"]
    assert runtime.run(instance, "test -w /ccp_data", 30, lines) == 0


def test_limits_and_isolation_are_applied(runtime, shared, swarm):
    swarm.require()
    instance = shared.instance
    for _, container_id in runtime.targets(instance):
        attrs = swarm.client.api.inspect_container(container_id)
        host = attrs["HostConfig"]
        assert host["Memory"] == MEMORY
        assert host["NanoCpus"] == 5 * 10**8
        assert host["PidsLimit"] == 512
        assert host["Privileged"] is False
        assert host["CapDrop"] == ["ALL"]
        assert not host.get("Binds") and not attrs["Mounts"]
        assert list(attrs["NetworkSettings"]["Networks"]) == [instance.handle["name"]]
    network = swarm.client.networks.get(instance.handle["network"])
    assert network.attrs["Internal"] is True
    lines = Lines()
    assert runtime.run(instance, "ip route", 30, lines) == 0
    assert not [line for line in lines.of("stdout", 1) if line.startswith("default")]

    description = runtime.describe(instance)
    assert description["service"]["name"] == instance.handle["name"]
    assert description["service"]["replicas"] == 2
    assert [task["slot"] for task in description["tasks"]] == [1, 2]
    assert description["engine"]["version"]
    assert description["limits"]["memoryBytes"] == MEMORY
    assert description["limits"]["pidsLimit"] == 512
    json.dumps(description)


def test_fetch_puts_each_replica_in_its_own_directory(runtime, shared, tmp_path, swarm):
    swarm.require()
    instance = shared.instance
    assert runtime.run(instance, "mkdir -p /ccp_data/sub && "
                       "echo \"part $ccptaskid\" > /ccp_data/sub/part-$ccptaskid.txt",
                       30, Lines()) == 0
    destination = tmp_path / "ccp_data"
    runtime.fetch(instance, destination)
    for replica in (1, 2):
        part = destination / f"replica-{replica}" / "sub" / f"part-{replica}.txt"
        assert part.read_text() == f"part {replica}\n"
    assert sorted(p.name for p in destination.iterdir()) == ["replica-1", "replica-2"]


def test_cancel_from_another_thread_stops_every_replica(runtime, shared, swarm):
    swarm.require()
    instance = Instance.from_dict(shared.instance.to_dict())  # its own cancelled flag
    timer = threading.Timer(1.0, runtime.cancel, [instance])
    timer.start()
    started = time.monotonic()
    try:
        with pytest.raises(RuntimeCancelled):
            runtime.run(instance, "sleep 60", 120, Lines())
    finally:
        timer.cancel()
    assert time.monotonic() - started < 6


# --- executions with replicas through the API -----------------------------------------------

@pytest.fixture(scope="module")
def app(tmp_path_factory):
    directory = tmp_path_factory.mktemp("swarm-e2e")
    methods, infrastructures = write_descriptors(directory, ["replicas-swarm.json"],
                                                 ["swarm.json"])
    application = make_app(directory, methods, infrastructures)
    yield application
    application.extensions["ccp"].manager.stop()


@pytest.fixture
def client(app):
    return app.test_client()


def test_e2e_two_replicas_each_archive_their_part(client, swarm):
    swarm.require()
    response = client.post("/processes/replicas-swarm/execution",
                           json={"inputs": {"message": "hello there", "ccpreplicas": 2}})
    assert response.status_code == 201, response.get_data(as_text=True)
    job_id = response.get_json()["jobID"]
    assert response.headers["Location"].endswith(f"/jobs/{job_id}")
    status = wait_final(client, job_id)
    assert status["status"] == "successful", status["message"]

    archive = zipfile.ZipFile(io.BytesIO(client.get(f"/jobs/{job_id}/archive").get_data()))
    outputs = zipfile.ZipFile(io.BytesIO(archive.read("outputs/output.zip")))
    assert sorted(outputs.namelist()) == ["replica-1/part-1.txt", "replica-2/part-2.txt"]
    for replica in (1, 2):
        assert outputs.read(f"replica-{replica}/part-{replica}.txt").decode() == \
            f"hello there {replica} of {job_id}\n"
    instance = json.loads(archive.read("metadata/instance.json"))
    assert instance["runtime"] == "swarm"
    assert instance["service"]["name"] == f"ccp-{job_id}"
    assert len(instance["tasks"]) == 2
    assert instance["engine"]["version"] == swarm.client.version()["Version"]
    logs = client.get(f"/jobs/{job_id}/logs").get_data(as_text=True)
    assert "[Execute] [replica 1] [stdout] hello there 1" in logs
    assert "[Execute] [replica 2] [stdout] hello there 2" in logs
    swarm.assert_nothing_left(job_id)


def test_e2e_replicas_over_the_maximum_are_a_bad_request(client):
    before = client.get("/jobs").get_json()["numberMatched"]
    response = client.post("/processes/replicas-swarm/execution",
                           json={"inputs": {"ccpreplicas": 5}})
    assert response.status_code == 400
    assert "exceeds the maximum of 4" in response.get_data(as_text=True)
    assert client.get("/jobs").get_json()["numberMatched"] == before  # nothing was queued
