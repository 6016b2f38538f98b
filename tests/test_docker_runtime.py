"""The Docker runtime against the real engine of `scripts/start-services.sh docker`.

Two levels: DockerRuntime on its own, and whole executions through the HTTP API (Flask test
client) of an app whose `docker` infrastructure points at the test engine. Nothing is
mocked and nothing is skipped: without the engine these tests fail, saying how to start it.
The engine is $DOCKER_HOST, else unix:///tmp/ccp-docker.sock; the image is
$CCP_TEST_DOCKER_IMAGE, else ccp/busybox:1 (made locally: there is no registry).
"""

from __future__ import annotations

import io
import json
import threading
import time
import uuid
import zipfile

import pytest
from engines import ENGINE, IMAGE, REPO, Engine, make_app, write_descriptors

from ccp.model import Infrastructure
from ccp.runtimes.base import (
    Instance,
    RuntimeCancelled,
    RuntimeFailure,
    RuntimeTimeout,
)
from ccp.runtimes.docker import DockerRuntime

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


class Lines:
    """A LogSink that keeps (replica, stream, line, time)."""

    def __init__(self) -> None:
        self.entries: list[tuple[int, str, str, float]] = []
        self._lock = threading.Lock()

    def __call__(self, replica: int, stream: str, line: str) -> None:
        with self._lock:
            self.entries.append((replica, stream, line, time.monotonic()))

    def of(self, stream: str, replica: int = 1) -> list[str]:
        return [line for r, s, line, _ in self.entries if s == stream and r == replica]


# --- the runtime on its own ----------------------------------------------------------------

def test_hello_world_with_env_streams_and_exit_code(runtime, launched, engine):
    engine.require()
    instance = runtime.launch(f"test-{uuid.uuid4()}", IMAGE, {"ccptaskname": "job-42"})
    launched.append(instance)
    lines = Lines()
    code = runtime.run(instance, "\n".join([
        "echo 'Hello, World!'",
        "echo \"name=$ccptaskname id=$ccptaskid data=$CCP_DATA\"",
        "echo 'to stderr' >&2",
        "printf 'no newline at the end'",
        "exit 3",
    ]), 30, lines)
    assert code == 3
    assert lines.of("stdout") == ["Hello, World!", "name=job-42 id=1 data=/ccp_data",
                                  "no newline at the end"]
    assert lines.of("stderr") == ["to stderr"]
    assert runtime.run(instance, "test -d /ccp_data && test -w /ccp_data", 30, lines) == 0


def test_output_is_streamed_while_the_script_runs(runtime, launched, engine):
    engine.require()
    instance = launch(runtime, launched)
    lines = Lines()
    assert runtime.run(instance, "echo first; sleep 2; echo second", 30, lines) == 0
    (_, _, first, first_at), (_, _, second, second_at) = lines.entries
    assert (first, second) == ("first", "second")
    assert second_at - first_at > 1.5, "the first line came only when the script ended"


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


def test_fetch_copies_nested_files_and_drops_unsafe_links(runtime, launched, tmp_path, engine):
    engine.require()
    instance = launch(runtime, launched)
    assert runtime.run(instance, "\n".join([
        "mkdir -p /ccp_data/a/b",
        "echo nested > /ccp_data/a/b/c.txt",
        "echo top > /ccp_data/top.txt",
        "ln -s /etc/passwd /ccp_data/absolute-link",
        "ln -s ../../etc/passwd /ccp_data/escaping-link",
        "ln -s top.txt /ccp_data/inner-link",
        "mkfifo /ccp_data/fifo",
    ]), 30, Lines()) == 0
    destination = tmp_path / "work" / "ccp_data"
    runtime.fetch(instance, destination)
    assert (destination / "a" / "b" / "c.txt").read_text() == "nested\n"
    assert (destination / "top.txt").read_text() == "top\n"
    assert (destination / "inner-link").resolve() == (destination / "top.txt").resolve()
    for unsafe in ("absolute-link", "escaping-link", "fifo"):
        assert not (destination / unsafe).exists() and not (destination / unsafe).is_symlink()
    skipped = " ".join(runtime.describe(instance)["fetchSkipped"])
    assert "absolute-link" in skipped and "escaping-link" in skipped
    assert [p.name for p in (tmp_path / "work").iterdir()] == ["ccp_data"]  # spool removed


def test_timeout_raises_promptly_and_kills_the_script(runtime, launched, engine):
    engine.require()
    instance = launch(runtime, launched)
    started = time.monotonic()
    with pytest.raises(RuntimeTimeout):
        runtime.run(instance, "sleep 301 & sleep 302", 1.5, Lines())
    assert time.monotonic() - started < 6
    # The container lives on (for the lifecycle's Destroy), the script's processes do not.
    lines = Lines()
    assert runtime.run(instance, "ps -o args", 30, lines) == 0
    assert not [line for line in lines.of("stdout") if line.startswith("sleep 30")]


def test_cancel_from_another_thread_stops_a_blocked_run(runtime, launched, engine):
    engine.require()
    instance = launch(runtime, launched)
    timer = threading.Timer(1.0, runtime.cancel, [instance])
    timer.start()
    started = time.monotonic()
    try:
        with pytest.raises(RuntimeCancelled):
            runtime.run(instance, "echo waiting; sleep 60", 120, Lines())
    finally:
        timer.cancel()
    assert time.monotonic() - started < 6


def test_destroy_is_idempotent(runtime, engine):
    engine.require()
    instance = runtime.launch(f"test-{uuid.uuid4()}", IMAGE, {})
    assert len(engine.containers(instance.execution_id)) == 1
    runtime.destroy(instance)
    engine.assert_nothing_left(instance.execution_id)
    runtime.destroy(instance)
    runtime.destroy(Instance.from_dict(instance.to_dict()))  # as recovery rebuilds it
    runtime.destroy(Instance(f"test-{uuid.uuid4()}", "docker", {}))


def test_destroy_orphans_removes_only_orphans(runtime, launched, engine):
    engine.require()
    orphan = launch(runtime, launched)
    alive = launch(runtime, launched)
    cleaned = runtime.destroy_orphans(lambda execution_id: execution_id == orphan.execution_id)
    assert cleaned == [orphan.execution_id]
    assert engine.containers(orphan.execution_id) == []
    assert len(engine.containers(alive.execution_id)) == 1


def test_missing_image_is_a_clear_failure(runtime, engine):
    engine.require()
    execution_id = f"test-{uuid.uuid4()}"
    with pytest.raises(RuntimeFailure, match="image 'ccp/no-such-image:0' is neither present"):
        runtime.launch(execution_id, "ccp/no-such-image:0", {})
    engine.assert_nothing_left(execution_id)


def test_unreachable_engine_is_a_clear_failure(tmp_path):
    address = f"unix://{tmp_path}/no-engine.sock"
    runtime = DockerRuntime(docker_infrastructure(engine=address))
    with pytest.raises(RuntimeFailure, match=f"Docker engine at {address} is unreachable"):
        runtime.launch("x", IMAGE, {})


def test_one_replica_only(runtime):
    with pytest.raises(RuntimeFailure, match="exactly one replica"):
        runtime.launch("x", IMAGE, {}, replicas=2)


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


def submit(client, process_id: str, inputs: dict) -> str:
    response = client.post(f"/processes/{process_id}/execution", json={"inputs": inputs})
    assert response.status_code == 201, response.get_data(as_text=True)
    job_id = response.get_json()["jobID"]
    assert response.headers["Location"].endswith(f"/jobs/{job_id}")
    return job_id


def wait_for(client, job_id: str, timeout: float = 60, until=None) -> dict:
    """Poll the job until it is final (or `until(status)` holds)."""
    until = until or (lambda s: s["status"] in ("successful", "failed", "dismissed"))
    deadline = time.monotonic() + timeout
    while True:
        status = client.get(f"/jobs/{job_id}").get_json()
        if until(status):
            return status
        assert time.monotonic() < deadline, f"job {job_id} still {status}"
        time.sleep(0.2)


def archive_of(client, job_id: str) -> zipfile.ZipFile:
    response = client.get(f"/jobs/{job_id}/archive")
    assert response.status_code == 200, response.get_data(as_text=True)
    return zipfile.ZipFile(io.BytesIO(response.get_data()))


def outputs_of(archive: zipfile.ZipFile) -> zipfile.ZipFile:
    return zipfile.ZipFile(io.BytesIO(archive.read("outputs/output.zip")))


def test_e2e_hello_in_a_container(client, engine):
    engine.require()
    name = "O'Brien; echo injected"
    job_id = submit(client, "hello-docker", {"name": name})
    status = wait_for(client, job_id)
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
    status = wait_for(client, job_id)
    assert status["status"] == "successful", status["message"]
    outputs = outputs_of(archive_of(client, job_id))
    assert outputs.read("result.txt").decode() == "1: two words\n2: two words\n"
    assert outputs.read("deployed.txt").decode().startswith("deployed /opt/app/run.sh")
    engine.assert_nothing_left(job_id)


def test_e2e_failure_in_deploy_names_the_phase(client, engine):
    engine.require()
    job_id = submit(client, "docker-deploy-fails", {})
    status = wait_for(client, job_id)
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
    status = wait_for(client, job_id, timeout=30)
    assert time.monotonic() - started < 12
    assert status["status"] == "failed"
    assert "ccpmaxtime" in status["message"]
    engine.assert_nothing_left(job_id)


def test_e2e_dismiss_while_running(client, engine):
    engine.require()
    job_id = submit(client, "docker-sleep", {"seconds": 60})
    wait_for(client, job_id, until=lambda s: s["status"] == "running"
             and "Execute" in (s["message"] or ""))
    started = time.monotonic()
    response = client.delete(f"/jobs/{job_id}")
    assert response.status_code == 200
    status = wait_for(client, job_id, timeout=20)
    assert status["status"] == "dismissed", status["message"]
    assert time.monotonic() - started < 10
    logs = client.get(f"/jobs/{job_id}/logs").get_data(as_text=True)
    assert "cancel script ran" in logs
    engine.assert_nothing_left(job_id)
