"""The Docker runtime against the real engine of `scripts/start-services.sh docker`.

Two levels: what only DockerRuntime does (its isolation; the behaviours every runtime shares
are in test_runtime_contract.py), and whole executions through the HTTP API (Flask test
client) of an app whose `docker` infrastructure points at the test engine. Nothing is
mocked and nothing is skipped: without the engine these tests fail, saying how to start it.
The engine is $DOCKER_HOST, else unix:///tmp/ccp-docker.sock; the image is
$CCP_TEST_DOCKER_IMAGE, else ccp/busybox:1 (made locally: there is no registry).
"""

from __future__ import annotations

import json
import os
import time
import uuid
from dataclasses import replace
from pathlib import Path

import pytest
from engines import ENGINE, IMAGE, REPO, Engine, make_app, write_descriptors
from helpers import Lines, archive_of, outputs_of, submit, wait_final, wait_until

from ccp.model import Infrastructure
from ccp.runtimes import tarcopy
from ccp.runtimes.base import Instance, RuntimeFailure
from ccp.runtimes.docker import DockerRuntime, cgroups, localfetch
from ccp.runtimes.usage import from_docker_stats

pytestmark = pytest.mark.docker

MEMORY = 256 * 1024 * 1024


def docker_infrastructure(**settings) -> Infrastructure:
    return Infrastructure.from_dict({
        "id": "docker-test", "name": "Docker (tests)", "type": "docker",
        "settings": {"engine": ENGINE, "memory": "256m", "cpus": 1, "maxTime": 600,
                     **settings},
    })


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine(ENGINE)


@pytest.fixture
def runtime() -> DockerRuntime:
    return DockerRuntime(docker_infrastructure())


@pytest.fixture
def launched(runtime: DockerRuntime):
    """Instances a test launched; destroyed afterwards whatever happened."""
    instances: list[Instance] = []
    yield instances
    for instance in instances:
        runtime.destroy(instance)


def launch(runtime: DockerRuntime, launched: list[Instance], image: str = IMAGE) -> Instance:
    instance = runtime.launch(f"test-{uuid.uuid4()}", image, {"ccptaskname": "unset"})
    launched.append(instance)
    return instance


# --- the runtime on its own ----------------------------------------------------------------


def test_limits_and_isolation_are_applied(runtime, launched, engine):
    engine.require()
    instance = launch(runtime, launched)
    host = engine.client.api.inspect_container(instance.handle["container"])["HostConfig"]
    assert host["Memory"] == MEMORY
    assert host["MemorySwap"] == MEMORY
    assert host["NanoCpus"] == 10**9
    assert host["PidsLimit"] == 512
    assert host["Privileged"] is False
    assert host["CapDrop"] == ["ALL"]
    assert "SYS_ADMIN" not in host["CapAdd"] and "NET_RAW" not in host["CapAdd"]
    assert host["SecurityOpt"] == ["no-new-privileges"]
    assert host["NetworkMode"] == "none"
    assert not host.get("Binds") and not host.get("Mounts")
    # ...and seen from inside: the cgroup limit and no network but loopback.
    lines = Lines()
    code = runtime.run(instance, "\n".join([
        "cat /sys/fs/cgroup/memory.max 2>/dev/null"
        " || cat /sys/fs/cgroup/memory/memory.limit_in_bytes",
        "ls /sys/class/net",
        "test ! -e /var/run/docker.sock",
    ]), 30, lines)
    assert code == 0
    assert lines.of("stdout") == [str(MEMORY), "lo"]

    description = runtime.describe(instance)
    assert description["container"]["id"] == instance.handle["container"]
    assert description["engine"]["version"]
    assert description["limits"]["memoryBytes"] == MEMORY
    assert description["image"]["id"].startswith("sha256:")
    assert description["image"]["repoTags"] == [IMAGE]
    json.dumps(description)  # it goes to metadata/instance.json


def test_samples_of_a_local_engine_come_from_the_cgroup_as_the_stats_api_gives_them(
        runtime, launched, engine):
    """The engine here is local: a sample reads the container's cgroup files (no stats
    request, which takes the engine a second), and gives what Docker's stats API says."""
    engine.require()
    instance = launch(runtime, launched)
    container_id = instance.handle["container"]
    assert runtime.run(instance, "dd if=/dev/zero of=/ccp_data/f bs=1M count=4 2>/dev/null; "
                       "i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done", 60, Lines()) == 0
    read = cgroups.usage(container_id, 1)
    assert read is not None
    assert runtime.sample(instance) == [read]
    api = from_docker_stats(engine.client.api.stats(container_id, stream=False), 1)
    # the container is idle: its counters no longer move (its memory, by a few pages)
    assert replace(read, memory_bytes=0) == replace(api, memory_bytes=0)
    assert read.memory_bytes and api.memory_bytes
    assert abs(read.memory_bytes - api.memory_bytes) < 0.25 * api.memory_bytes
    assert read.memory_limit_bytes == MEMORY and read.cpu_seconds and read.cpu_seconds > 0
    assert (read.network_rx_bytes, read.network_tx_bytes) == (0, 0)  # network none
    runtime.destroy(instance)
    assert cgroups.usage(container_id, 1) is None  # gone: the API is asked (and fails)
    with pytest.raises(RuntimeFailure):
        runtime.sample(instance)


def _tree(root: Path) -> dict[str, tuple]:
    """What a fetched tree holds: every entry's kind, mode, size, content or link target."""
    found: dict[str, tuple] = {}
    for path in sorted(root.rglob("*")):
        mode = path.lstat().st_mode & 0o7777
        if path.is_symlink():
            found[str(path.relative_to(root))] = ("link", os.readlink(path))
        elif path.is_dir():
            found[str(path.relative_to(root))] = ("dir", mode)
        else:
            found[str(path.relative_to(root))] = ("file", mode, path.read_bytes())
    return found


def test_fetch_of_a_stopped_container_reads_its_layer_as_the_engine_archive_gives_it(
        runtime, launched, engine, tmp_path):
    """A run-once container has stopped at Fetch; on this host its /ccp_data is read from
    its overlay2 layer (no get_archive), giving what the engine's archive gives, with the
    same members left out (links leaving /ccp_data)."""
    engine.require()
    script = ("mkdir -p /ccp_data/sub/empty && echo one > /ccp_data/a.txt && "
              "printf 'x%.0s' $(seq 1 5000) > /ccp_data/sub/big && chmod 0751 /ccp_data/sub && "
              "chmod 0600 /ccp_data/a.txt && ln -s a.txt /ccp_data/rel && "
              "ln -s /etc/passwd /ccp_data/abs && ln /ccp_data/a.txt /ccp_data/hard && "
              "echo gone > /ccp_data/gone && rm /ccp_data/gone")
    instance = runtime.launch_once(f"test-{uuid.uuid4()}", IMAGE, {}, script)
    launched.append(instance)
    assert runtime.run(instance, script, 60, Lines()) == 0
    container_id = instance.handle["container"]
    attrs = engine.client.api.inspect_container(container_id)
    assert localfetch.upper_data_dir(attrs) is not None  # this engine is local, overlay2
    runtime.fetch(instance, tmp_path / "fetched")
    stream, _ = engine.client.api.get_archive(container_id, "/ccp_data/.")
    skipped = tarcopy.extract(stream, tmp_path / "archived")
    assert _tree(tmp_path / "fetched") == _tree(tmp_path / "archived")
    assert _tree(tmp_path / "fetched")["sub/big"] == ("file", 0o644, b"x" * 5000)
    assert "abs" not in _tree(tmp_path / "fetched") and len(skipped) == 1
    assert instance.handle["fetchSkipped"] == [f"replica 1: {problem}" for problem in skipped]
    # a running container is the engine's to copy from (its processes may still write)
    assert localfetch.upper_data_dir({**attrs, "State": {"Running": True, "Pid": 1}}) is None


def test_unreachable_engine_is_a_clear_failure(tmp_path):
    address = f"unix://{tmp_path}/no-engine.sock"
    runtime = DockerRuntime(docker_infrastructure(engine=address))
    with pytest.raises(RuntimeFailure, match=f"Docker engine at {address} is unreachable"):
        runtime.launch("x", IMAGE, {})


# --- whole executions through the API --------------------------------------------------------

def _method(base: str, method_id: str, scripts: dict[str, list[str]], inputs: dict) -> dict:
    """A test-only Method: `base` with other inputs and scripts."""
    method = json.loads((REPO / "methods" / f"{base}.json").read_text())
    method["id"] = method_id
    method["inputs"] = {**inputs, "ccpimage": method["inputs"]["ccpimage"]}
    method["additionalParameters"]["parameters"] = [
        {"name": name, "value": lines} for name, lines in scripts.items()]
    return method


TEST_METHODS = [
    _method("hello-docker", "docker-sleep", {
        "execute-script": ["i=0", "while [ $i -lt {{ seconds }} ]; do i=$((i+1)); "
                           "echo tick $i; sleep 1; done"],
        "cancel-script": ["echo cancel script ran"],
    }, {"seconds": {"title": "Seconds", "schema": {"type": "integer", "default": 30},
                    "minOccurs": 0}}),
    _method("hello-docker", "docker-deploy-fails", {
        "deploy-script": ["echo deploying", "exit 7"],
        "execute-script": ["echo never"],
    }, {}),
]


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    directory = tmp_path_factory.mktemp("docker-e2e")
    methods, infrastructures = write_descriptors(
        directory, ["hello-docker.json", "deploy-then-execute-docker.json"], ["docker.json"],
        TEST_METHODS)
    application = make_app(directory, methods, infrastructures)
    yield application
    application.extensions["ccp"].manager.stop()


@pytest.fixture
def client(app):
    return app.test_client()


def test_e2e_hello_in_a_container(client, engine):
    engine.require()
    name = "O'Brien; echo injected"
    job_id = submit(client, "hello-docker", {"name": name})
    status = wait_final(client, job_id, 60)
    assert status["status"] == "successful", status["message"]
    archive = archive_of(client, job_id)
    instance = json.loads(archive.read("metadata/instance.json"))
    assert instance["runtime"] == "docker"
    assert instance["container"]["name"] == f"ccp-{job_id}"
    assert len(instance["container"]["id"]) == 64
    assert instance["engine"]["version"] == engine.client.version()["Version"]
    assert instance["limits"]["memoryBytes"] == 512 * 1024 * 1024
    assert instance["destroyed"]
    assert outputs_of(archive).read("hello.txt").decode() == f"Hello, {name}!\n"
    logs = client.get(f"/jobs/{job_id}/logs").get_data(as_text=True)
    assert f"[Execute] [replica 1] [stdout] Hello, {name}!" in logs
    assert f"task 1 of {job_id}, data in /ccp_data" in logs
    assert "deploying in" in logs and "undeployed" in logs
    engine.assert_nothing_left(job_id)


def test_e2e_deploy_creates_what_execute_uses(client, engine):
    engine.require()
    job_id = submit(client, "deploy-then-execute-docker", {"word": "two words", "times": 2})
    status = wait_final(client, job_id, 60)
    assert status["status"] == "successful", status["message"]
    outputs = outputs_of(archive_of(client, job_id))
    assert outputs.read("result.txt").decode() == "1: two words\n2: two words\n"
    assert outputs.read("deployed.txt").decode().startswith("deployed /opt/app/run.sh")
    engine.assert_nothing_left(job_id)


def test_e2e_failure_in_deploy_names_the_phase(client, engine):
    engine.require()
    job_id = submit(client, "docker-deploy-fails", {})
    status = wait_final(client, job_id, 60)
    assert status["status"] == "failed"
    assert "Deploy failed" in status["message"] and "code 7" in status["message"]
    logs = client.get(f"/jobs/{job_id}/logs").get_data(as_text=True)
    assert "[Deploy] [replica 1] [stdout] deploying" in logs
    assert "never" not in logs
    engine.assert_nothing_left(job_id)


def test_e2e_ccpmaxtime_stops_the_execution(client, engine):
    engine.require()
    started = time.monotonic()
    job_id = submit(client, "docker-sleep", {"seconds": 30, "ccpmaxtime": 2})
    status = wait_final(client, job_id, 30)
    assert time.monotonic() - started < 12
    assert status["status"] == "failed"
    assert "ccpmaxtime" in status["message"]
    engine.assert_nothing_left(job_id)


def test_e2e_dismiss_while_running(client, engine):
    engine.require()
    job_id = submit(client, "docker-sleep", {"seconds": 60})
    wait_until(client, job_id, lambda s: s["status"] == "running"
               and "Execute" in (s["message"] or ""), 60)
    started = time.monotonic()
    response = client.delete(f"/jobs/{job_id}")
    assert response.status_code == 200
    status = wait_final(client, job_id, 20)
    assert status["status"] == "dismissed", status["message"]
    assert time.monotonic() - started < 10
    logs = client.get(f"/jobs/{job_id}/logs").get_data(as_text=True)
    assert "cancel script ran" in logs
    engine.assert_nothing_left(job_id)
