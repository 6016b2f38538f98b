"""Warm pools (ccp/warmpool.py) through whole executions, against the real engines.

An Infrastructure with `warmPool: K` keeps K runtimes launched ahead per image; an Execution
takes one, runs in it and destroys it: never reused, the Execution's own environment and
the Infrastructure's limits, recorded in instance.json and PROV, refilled in the background,
drained on shutdown and when the descriptor changes, and what a dead server left is
destroyed by the next one. The runtime-level behaviour of `warm-launch` is in
test_runtime_contract.py; nothing here is mocked or skipped.
"""

from __future__ import annotations

import copy
import json
import os
import socket
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import pytest
from engines import ENGINE, IMAGE, LXD_IMAGE, REPO, Engine, lxd_client, lxd_leftovers, make_app
from helpers import archive_of, outputs_of, submit, wait_final

from ccp.model import Infrastructure
from ccp.runtimepool import RuntimePool
from ccp.runtimes import runtime_for
from ccp.runtimes.base import WarmTag
from ccp.warmpool import WarmPools, is_leftover, process_identity

WAIT = 90  # seconds for a pool to fill on a busy machine


def _method(method_id: str, infrastructure: str, image: str, execute: list[str]) -> dict:
    method = json.loads((REPO / "methods" / "hello-docker.json").read_text())
    method.update({"id": method_id, "title": method_id})
    method["inputs"] = {"ccpimage": {"title": "image", "schema": {
        "type": "string", "default": image}, "minOccurs": 0, "maxOccurs": 1}}
    method["additionalParameters"]["parameters"] = [
        {"name": "execute-script", "value": execute}]
    method["links"] = [{"rel": "compatibleWith", "href": f"infrastructures/{infrastructure}",
                        "title": infrastructure}]
    return method


PROBE = ['echo "name=$ccptaskname task=$ccptaskid data=$CCP_DATA"',
         "ls /tmp", "touch /tmp/left-by-an-earlier-execution",
         "cat /sys/fs/cgroup/memory.max 2>/dev/null || cat "
         "/sys/fs/cgroup/memory/memory.limit_in_bytes",
         "echo out > /ccp_data/out.txt"]


def _infrastructure(kind: str, size: int, **settings: Any) -> dict:
    descriptor = json.loads((REPO / "infrastructures" / f"{kind}.json").read_text())
    descriptor["id"] = f"{kind}-warm"
    descriptor["settings"].update({"warmPool": size, "memory": "256m", **settings})
    if kind != "lxd":
        descriptor["settings"]["engine"] = ENGINE
    return descriptor


def _app(directory: Path, infrastructures: list[dict], methods: list[dict]):
    (directory / "methods").mkdir(parents=True)
    (directory / "infrastructures").mkdir(parents=True)
    for method in methods:
        (directory / "methods" / f"{method['id']}.json").write_text(json.dumps(method))
    for descriptor in infrastructures:
        (directory / "infrastructures" / f"{descriptor['id']}.json").write_text(
            json.dumps(descriptor))
    return make_app(directory, directory / "methods", directory / "infrastructures")


def manager_of(app: Any) -> Any:
    return app.extensions["ccp"].manager


def wait_ready(app: Any, infrastructure_id: str, image: str, count: int) -> None:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        if manager_of(app).warm.status(infrastructure_id).get(image, {}).get("ready", 0) >= count:
            return
        time.sleep(0.1)
    raise AssertionError(f"the warm pool of {image} on {infrastructure_id} did not fill: "
                         f"{manager_of(app).warm.status(infrastructure_id)}")


def members(kind: str, infrastructure: dict) -> list[str]:
    runtime = runtime_for(Infrastructure.from_dict(infrastructure))
    return sorted(instance.execution_id for instance, _tag in runtime.warm_members())


def mine(kind: str, infrastructure: dict, app: Any) -> list[str]:
    """The pool members on the engine launched by this app's server."""
    runtime = runtime_for(Infrastructure.from_dict(infrastructure))
    owner = manager_of(app).warm.owner
    return sorted(instance.execution_id for instance, tag in runtime.warm_members()
                  if tag.owner == owner)


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine(ENGINE)


@pytest.fixture
def docker_app(tmp_path: Path) -> Iterator[Any]:
    infrastructure = _infrastructure("docker", 1, warmImages=[IMAGE])
    app = _app(tmp_path, [infrastructure], [
        _method("probe-docker", "docker-warm", IMAGE, PROBE),
        _method("sleep-docker", "docker-warm", IMAGE, ["sleep 30"])])
    yield app
    manager_of(app).stop()


def run_probe(client: Any, method: str = "probe-docker") -> tuple[str, dict, Any]:
    job_id = submit(client, method)
    status = wait_final(client, job_id, 60)
    assert status["status"] == "successful", status["message"]
    return job_id, status, archive_of(client, job_id)


# --- docker -----------------------------------------------------------------------------------

@pytest.mark.docker
def test_warm_pool_execution_runs_in_a_runtime_launched_ahead_and_says_so(
        docker_app: Any, engine: Engine) -> None:
    wait_ready(docker_app, "docker-warm", IMAGE, 1)
    member = mine("docker", _infrastructure("docker", 1), docker_app)
    assert len(member) == 1
    job_id, _status, archive = run_probe(docker_app.test_client())
    instance = json.loads(archive.read("metadata/instance.json"))
    assert instance["warm"]["member"] == member[0]
    assert instance["warm"]["launched"] < instance["warm"]["adopted"]
    assert instance["container"]["name"] == f"ccp-{job_id}"
    assert instance["destroyed"]
    provenance = json.loads(archive.read("metadata/provenance.json"))
    activity = provenance["activity"][f"job:{job_id}"]
    assert activity["ccp:warmRuntime"] is True
    logs = docker_app.test_client().get(f"/jobs/{job_id}/logs").get_data(as_text=True)
    assert "took a warm runtime launched ahead" in logs
    assert outputs_of(archive).read("out.txt") == b"out\n"
    engine.assert_nothing_left(job_id)
    engine.assert_nothing_left(member[0])  # the member it was: gone with the execution


@pytest.mark.docker
def test_warm_pool_never_reuses_a_runtime_and_refills_in_the_background(
        docker_app: Any, engine: Engine) -> None:
    client = docker_app.test_client()
    seen = []
    for _round in range(3):
        wait_ready(docker_app, "docker-warm", IMAGE, 1)
        job_id, _status, archive = run_probe(client)
        instance = json.loads(archive.read("metadata/instance.json"))
        seen.append((instance["warm"]["member"], instance["container"]["id"]))
        stdout = archive.read("logs/execute.stdout.log").decode()
        assert "left-by-an-earlier-execution" not in stdout, "a runtime was reused"
        engine.assert_nothing_left(job_id)
    assert len({member for member, _ in seen}) == 3
    assert len({container for _, container in seen}) == 3
    wait_ready(docker_app, "docker-warm", IMAGE, 1)  # and refilled once more


@pytest.mark.docker
def test_warm_pool_gives_the_executions_own_environment_and_the_same_limits_as_cold(
        tmp_path: Path, engine: Engine) -> None:
    warm = _infrastructure("docker", 1, warmImages=[IMAGE])
    cold = {**_infrastructure("docker", 0), "id": "docker-cold"}
    app = _app(tmp_path, [warm, cold], [
        _method("probe-docker", "docker-warm", IMAGE, PROBE),
        _method("probe-cold", "docker-cold", IMAGE, PROBE)])
    try:
        wait_ready(app, "docker-warm", IMAGE, 1)
        client = app.test_client()
        runs = {name: run_probe(client, name) for name in ("probe-docker", "probe-cold")}
        outputs = {}
        for name, (job_id, _status, archive) in runs.items():
            stdout = archive.read("logs/execute.stdout.log").decode().splitlines()
            assert stdout[0] == f"name={job_id} task=1 data=/ccp_data", name
            outputs[name] = (stdout[-1], json.loads(archive.read("metadata/instance.json")))
        (warm_memory, warm_instance), (cold_memory, cold_instance) = \
            outputs["probe-docker"], outputs["probe-cold"]
        assert warm_instance["warm"] and cold_instance["warm"] is False
        assert warm_memory == cold_memory == str(256 * 2**20)
        assert warm_instance["limits"] == cold_instance["limits"]
        # the job's environment lives in its execs, not in the container the pool made
        labels = warm_instance["container"]["labels"]
        assert labels["ccp.warm.pool"] and labels["ccp.execution"].startswith("warm-")
        assert runs["probe-docker"][0] not in json.dumps(labels)
    finally:
        manager_of(app).stop()


@pytest.mark.docker
def test_warm_pool_is_drained_on_shutdown(tmp_path: Path, engine: Engine) -> None:
    infrastructure = _infrastructure("docker", 2, warmImages=[IMAGE])
    app = _app(tmp_path, [infrastructure], [_method("probe-docker", "docker-warm", IMAGE,
                                                    PROBE)])
    wait_ready(app, "docker-warm", IMAGE, 2)
    launched = mine("docker", infrastructure, app)
    assert len(launched) == 2
    manager_of(app).stop()
    for member in launched:
        engine.assert_nothing_left(member)


@pytest.mark.docker
def test_warm_pool_is_drained_when_the_infrastructure_changes(
        tmp_path: Path, engine: Engine) -> None:
    infrastructure = _infrastructure("docker", 1, warmImages=[IMAGE])
    app = _app(tmp_path, [infrastructure], [_method("probe-docker", "docker-warm", IMAGE,
                                                    PROBE)])
    manager = manager_of(app)
    try:
        wait_ready(app, "docker-warm", IMAGE, 1)
        before = mine("docker", infrastructure, app)
        changed = copy.deepcopy(infrastructure)
        changed["settings"]["memory"] = "128m"
        manager.registry.infrastructures["docker-warm"] = Infrastructure.from_dict(changed)
        manager.warm.maintain()
        deadline = time.monotonic() + WAIT
        while any(engine.leftovers(member) for member in before):
            assert time.monotonic() < deadline, "the old members were not destroyed"
            time.sleep(0.2)
        # a job queued under the new descriptor runs with its limits (warm once refilled)
        client = app.test_client()
        run_probe(client)
        wait_ready(app, "docker-warm", IMAGE, 1)
        job_id, _status, archive = run_probe(client)
        instance = json.loads(archive.read("metadata/instance.json"))
        assert instance["warm"], "no warm runtime after the change"
        assert instance["limits"]["memoryBytes"] == 128 * 2**20
        stdout = archive.read("logs/execute.stdout.log").decode().splitlines()
        assert stdout[-1] == str(128 * 2**20)
    finally:
        manager.stop()


@pytest.mark.docker
def test_warm_pool_dismissing_a_warm_execution_destroys_its_runtime(
        docker_app: Any, engine: Engine) -> None:
    wait_ready(docker_app, "docker-warm", IMAGE, 1)
    client = docker_app.test_client()
    job_id = submit(client, "sleep-docker")
    deadline = time.monotonic() + 60
    while "Execute" not in (client.get(f"/jobs/{job_id}").get_json()["message"] or ""):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert client.delete(f"/jobs/{job_id}").status_code == 200
    status = wait_final(client, job_id, 30)
    assert status["status"] == "dismissed", status["message"]
    instance = json.loads(archive_of(client, job_id).read("metadata/instance.json"))
    assert instance["warm"]["member"]
    engine.assert_nothing_left(job_id)
    engine.assert_nothing_left(instance["warm"]["member"])


@pytest.mark.docker
def test_warm_pool_members_of_a_dead_server_are_destroyed_at_start_up(
        tmp_path: Path, engine: Engine) -> None:
    infrastructure = _infrastructure("docker", 0)
    runtime = runtime_for(Infrastructure.from_dict(infrastructure))
    host = socket.gethostname()
    dead = WarmTag("dead-pool", f"{host}:{_dead_pid()}:1:gone", time.time() + 3600)
    expired = WarmTag("old-pool", "elsewhere:1:1:x", time.time() - 1)
    alive_elsewhere = WarmTag("other-pool", "elsewhere:1:1:x", time.time() + 3600)
    launched = {name: runtime.launch_warm(IMAGE, tag)
                for name, tag in (("dead", dead), ("expired", expired),
                                  ("elsewhere", alive_elsewhere))}
    try:
        assert is_leftover(dead, time.time()) and is_leftover(expired, time.time())
        assert not is_leftover(alive_elsewhere, time.time())
        app = _app(tmp_path, [infrastructure], [])  # its start-up looks for leftovers
        try:
            deadline = time.monotonic() + WAIT
            while engine.leftovers(launched["dead"].execution_id) \
                    or engine.leftovers(launched["expired"].execution_id):
                assert time.monotonic() < deadline, "leftovers were not destroyed"
                time.sleep(0.2)
            assert engine.leftovers(launched["elsewhere"].execution_id) != []
        finally:
            manager_of(app).stop()
    finally:
        for instance in launched.values():
            runtime.destroy(instance)


@pytest.mark.docker
def test_warm_pool_does_not_hand_out_a_runtime_of_an_image_tag_that_moved(
        tmp_path: Path, engine: Engine) -> None:
    client = docker.DockerClient(base_url=ENGINE)
    tag = f"ccp/warm-test:{uuid.uuid4().hex[:12]}"
    client.images.get(IMAGE).tag(tag)
    other = None
    infrastructure = _infrastructure("docker", 1, warmImages=[tag])
    app = _app(tmp_path, [infrastructure], [_method("probe-tag", "docker-warm", tag, PROBE)])
    try:
        wait_ready(app, "docker-warm", tag, 1)
        old_member = mine("docker", infrastructure, app)
        # the tag now names another image (same files, another id)
        container = client.containers.create(IMAGE, "true")
        other = container.commit(repository=tag.split(":")[0], tag=tag.split(":")[1])
        container.remove()
        job_id, _status, archive = run_probe(app.test_client(), "probe-tag")
        instance = json.loads(archive.read("metadata/instance.json"))
        assert instance["warm"] is False, "a runtime of the old image was handed out"
        assert instance["image"]["id"] == other.id
        deadline = time.monotonic() + WAIT
        while any(engine.leftovers(member) for member in old_member):
            assert time.monotonic() < deadline
            time.sleep(0.2)
        engine.assert_nothing_left(job_id)
    finally:
        manager_of(app).stop()
        client.images.remove(tag, force=True)  # and the image committed under it
        if other is not None and client.images.list(filters={"reference": tag}):
            client.images.remove(other.id, force=True)


def _dead_pid() -> int:
    """A pid no process has."""
    pid = 4_000_000
    while os.path.exists(f"/proc/{pid}"):
        pid -= 1
    return pid


def test_warm_pool_leftover_rules() -> None:
    now = time.time()
    me = process_identity()
    assert is_leftover(WarmTag("p", f"{me}:not-started-here", now + 60), now)
    assert is_leftover(WarmTag("p", f"{socket.gethostname()}:{_dead_pid()}:1:x", now + 60),
                       now)
    assert is_leftover(WarmTag("p", "other-host:1:1:x", now - 1), now)
    assert not is_leftover(WarmTag("p", "other-host:1:1:x", now + 60), now)
    pools = WarmPools(RuntimePool(), dict, "live")
    pools.start()
    try:
        assert not is_leftover(WarmTag("p", pools.owner, now + 60), now)
    finally:
        pools.stop()
    assert is_leftover(WarmTag("p", pools.owner, now + 60), now)


# --- swarm and LXD ----------------------------------------------------------------------------

@pytest.mark.swarm
def test_warm_pool_on_swarm_runs_replicas_in_a_service_launched_ahead(tmp_path: Path) -> None:
    swarm = Engine(ENGINE, swarm=True)
    swarm.require()
    infrastructure = _infrastructure("swarm", 1, maxReplicas=2)
    method = _method("probe-swarm", "swarm-warm", IMAGE, PROBE)
    app = _app(tmp_path, [infrastructure], [method])
    client = app.test_client()
    try:
        first = submit(client, "probe-swarm", {"ccpreplicas": 2})  # cold: makes the pool
        assert wait_final(client, first, 120)["status"] == "successful"
        wait_ready(app, "swarm-warm", f"{IMAGE} x2", 1)
        job_id = submit(client, "probe-swarm", {"ccpreplicas": 2})
        status = wait_final(client, job_id, 120)
        assert status["status"] == "successful", status["message"]
        archive = archive_of(client, job_id)
        instance = json.loads(archive.read("metadata/instance.json"))
        assert instance["warm"]["member"] and instance["replicas"] == 2
        for replica in (1, 2):
            stdout = archive.read(f"logs/execute{'' if replica == 1 else '.replica-2'}"
                                  ".stdout.log").decode().splitlines()
            assert stdout[0] == f"name={job_id} task={replica} data=/ccp_data"
        outputs = outputs_of(archive)
        assert sorted(outputs.namelist()) == ["replica-1/out.txt", "replica-2/out.txt"]
        swarm.assert_nothing_left(job_id)
        swarm.assert_nothing_left(instance["warm"]["member"])
    finally:
        manager_of(app).stop()
    assert mine("swarm", infrastructure, app) == []


@pytest.mark.lxd
def test_warm_pool_on_lxd_runs_in_a_container_launched_ahead(tmp_path: Path) -> None:
    lxd = lxd_client()
    infrastructure = _infrastructure("lxd", 1, warmImages=[LXD_IMAGE])
    app = _app(tmp_path, [infrastructure], [_method("probe-lxd", "lxd-warm", LXD_IMAGE, [
        'echo "name=$ccptaskname task=$ccptaskid data=$CCP_DATA"',
        "echo out > /ccp_data/out.txt"])])
    client = app.test_client()
    try:
        wait_ready(app, "lxd-warm", LXD_IMAGE, 1)
        job_id = submit(client, "probe-lxd")
        status = wait_final(client, job_id, 120)
        assert status["status"] == "successful", status["message"]
        archive = archive_of(client, job_id)
        instance = json.loads(archive.read("metadata/instance.json"))
        member = instance["warm"]["member"]
        stdout = archive.read("logs/execute.stdout.log").decode().splitlines()
        assert stdout == [f"name={job_id} task=1 data=/ccp_data"]
        assert outputs_of(archive).read("out.txt") == b"out\n"
        assert lxd_leftovers(lxd, job_id) == [] and lxd_leftovers(lxd, member) == []
        wait_ready(app, "lxd-warm", LXD_IMAGE, 1)
    finally:
        manager_of(app).stop()
    assert mine("lxd", infrastructure, app) == []
