"""The LXD runtime against the real LXD daemon, alone and end to end through the server.

Needs `scripts/start-services.sh lxd` (the daemon, a storage pool and the image alias
ccp-busybox). No mocks and no skips: without LXD these tests fail and say why.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import threading
import time
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ccp.app import create_app, load_config
from ccp.model import Infrastructure
from ccp.runtimes import runtime_for
from ccp.runtimes.base import Instance, RuntimeCancelled, RuntimeFailure, RuntimeTimeout
from ccp.runtimes.lxd import EXECUTION_KEY, LXDRuntime, instance_name

pytestmark = pytest.mark.lxd

REPO = Path(__file__).resolve().parent.parent
IMAGE = os.environ.get("CCP_TEST_LXD_IMAGE", "ccp-busybox")
FINAL = ("successful", "failed", "dismissed")
START_HINT = "start it with `bash scripts/start-services.sh lxd`"


# --- the daemon ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def lxd() -> Any:
    """A pylxd client of the test daemon; fails (never skips) when LXD is not usable."""
    import pylxd

    try:
        client = pylxd.Client()
    except Exception as err:
        pytest.fail(f"the LXD daemon is unreachable ({err}): {START_HINT}", pytrace=False)
    if not client.images.exists(IMAGE, alias=True):
        pytest.fail(f"LXD has no image alias {IMAGE!r}: {START_HINT}", pytrace=False)
    return client


def leftovers(client: Any, execution_id: str) -> list[str]:
    """Names of LXD instances still labelled with this execution."""
    listed = client.api.instances.get(params={"recursion": "1"}).json()["metadata"]
    return [entry["name"] for entry in listed
            if (entry.get("config") or {}).get(EXECUTION_KEY) == execution_id]


def infrastructure(**settings: Any) -> Infrastructure:
    base = json.loads((REPO / "infrastructures" / "lxd.json").read_text())
    base["settings"].update(settings)
    return Infrastructure.from_dict(base)


@pytest.fixture
def runtime(lxd: Any) -> LXDRuntime:
    return LXDRuntime(infrastructure())


class Collector:
    """A LogSink keeping (replica, stream, line) in order."""

    def __init__(self) -> None:
        self.lines: list[tuple[int, str, str]] = []

    def __call__(self, replica: int, stream: str, line: str) -> None:
        self.lines.append((replica, stream, line))

    def of(self, stream: str) -> list[str]:
        return [line for _, s, line in self.lines if s == stream]


@pytest.fixture
def launched(lxd: Any, runtime: LXDRuntime) -> Iterator[Any]:
    """launch(runtime) -> Instance; every instance is destroyed and checked gone afterwards."""
    instances: list[tuple[LXDRuntime, Instance]] = []

    def launch(on: LXDRuntime = runtime, image: str = IMAGE, **env: str) -> Instance:
        execution_id = f"test-{uuid.uuid4()}"
        instance = on.launch(execution_id, image, {**env, "ccptaskname": execution_id})
        instances.append((on, instance))
        return instance

    yield launch
    for on, instance in instances:
        on.destroy(instance)
        assert leftovers(lxd, instance.execution_id) == [], instance.execution_id


# --- the runtime alone ----------------------------------------------------------------------

def test_instance_names_are_valid_lxd_names() -> None:
    job = "0b6f4f5e-1f1c-4e7a-9a51-0c7d3f1b2a3c"
    assert instance_name(job) == "ccp-0b6f4f5e1f1c"
    for odd in ("Some_ID.with.dots", "9" * 200, "---", "é"):
        name = instance_name(odd)
        assert len(name) <= 63 and name[0].isalpha() and not name.endswith("-"), name
        assert all(c.isalnum() or c == "-" for c in name) and name.isascii(), name
    assert instance_name("a.b") != instance_name("a_b")


def test_hello_world_with_environment(lxd: Any, runtime: LXDRuntime, launched: Any) -> None:
    instance = launched(CCP_TOKEN="not-in-the-job-store")
    name = instance.handle["name"]
    assert name == instance_name(instance.execution_id)
    assert lxd.instances.get(name).status == "Running"
    assert instance.handle["fingerprint"] == lxd.images.get_by_alias(IMAGE).fingerprint
    log = Collector()
    code = runtime.run(instance, "\n".join([
        'echo "hello from $ccptaskname task $ccptaskid data $CCP_DATA token $CCP_TOKEN"',
        "echo to-stderr >&2",
        "printf 'partial '; sleep 0.3; printf 'line\\n'",   # one line in two chunks
        "printf 'no newline at the end'",
        "test -d /ccp_data && echo /ccp_data-exists",
        "exit 5",
    ]), 60, log)
    assert code == 5
    assert log.of("stdout") == [
        f"hello from {instance.execution_id} task 1 data /ccp_data token not-in-the-job-store",
        "partial line",
        "no newline at the end/ccp_data-exists",
    ]
    assert log.of("stderr") == ["to-stderr"]
    assert {replica for replica, _, _ in log.lines} == {1}

    description = runtime.describe(instance)
    assert description["instance"] == name
    assert description["serverVersion"] == lxd.host_info["environment"]["server_version"]
    assert description["fingerprint"] == instance.handle["fingerprint"]
    assert description["project"] == "default" and description["profiles"] == ["default"]
    assert description["started"] and description["stopped"]
    json.dumps(description)  # goes to metadata/instance.json
    assert "not-in-the-job-store" not in json.dumps(instance.to_dict())  # the job store's copy


def test_limits_are_applied(lxd: Any, launched: Any) -> None:
    runtime = LXDRuntime(infrastructure(memory="128m", cpus=1.5))
    instance = launched(runtime)
    config = lxd.instances.get(instance.handle["name"]).config
    assert config["limits.memory"] == "128MiB"
    assert config["limits.memory.swap"] == "false"
    assert config["limits.cpu"] == "2"
    assert config["limits.cpu.allowance"] == "150ms/100ms"
    assert config["security.privileged"] == "false"
    assert config[EXECUTION_KEY] == instance.execution_id
    assert config["environment.CCP_DATA"] == "/ccp_data"
    assert runtime.describe(instance)["limits"]["limits.memory"] == "128MiB"
    # enforced, not just recorded: a 300 MB buffer under 128 MiB gets killed
    log = Collector()
    code = runtime.run(instance, "dd if=/dev/zero of=/dev/null bs=300M count=1", 60, log)
    assert code != 0, log.lines


def test_fetch_copies_nested_files_and_nothing_outside(runtime: LXDRuntime, launched: Any,
                                                       tmp_path: Path) -> None:
    instance = launched()
    code = runtime.run(instance, "\n".join([
        "mkdir -p '/ccp_data/a/b c/d' /ccp_data/empty",
        "echo top > /ccp_data/top.txt",
        "echo deep > '/ccp_data/a/b c/d/deep.txt'",
        "head -c 300000 /dev/urandom > /ccp_data/a/random.bin",
        "ln -s /etc/passwd /ccp_data/a/passwd-link",
        "ln -s / /ccp_data/root-link",
        "mkfifo /ccp_data/a/fifo '/ccp_data/b c fifo'",   # would block LXD's file API
        "echo hidden > /ccp_data/.hidden",
        "md5sum /ccp_data/a/random.bin",
    ]), 60, log := Collector())
    assert code == 0, log.lines
    destination = tmp_path / "fetched"
    started = time.monotonic()
    runtime.fetch(instance, destination)
    assert time.monotonic() - started < 20  # the FIFOs were skipped, not waited on
    found = {p.relative_to(destination).as_posix() for p in destination.rglob("*")}
    assert found == {"top.txt", "a", "a/b c", "a/b c/d", "a/b c/d/deep.txt", "a/random.bin",
                     "empty", ".hidden"}
    assert (destination / "top.txt").read_text() == "top\n"
    assert (destination / "a/b c/d/deep.txt").read_text() == "deep\n"
    import hashlib

    assert hashlib.md5((destination / "a/random.bin").read_bytes()).hexdigest() == \
        log.of("stdout")[0].split()[0]
    assert (destination / "a/random.bin").stat().st_size == 300000


def test_timeout_stops_the_script_promptly(runtime: LXDRuntime, launched: Any) -> None:
    instance = launched()
    started = time.monotonic()
    with pytest.raises(RuntimeTimeout):
        runtime.run(instance, "echo start; sleep 120", 2, Collector())
    assert time.monotonic() - started < 15


def test_cancel_from_another_thread(runtime: LXDRuntime, launched: Any) -> None:
    instance = launched()
    log = Collector()
    timer = threading.Timer(1.5, runtime.cancel, args=(instance,))
    timer.start()
    started = time.monotonic()
    with pytest.raises(RuntimeCancelled):
        runtime.run(instance, "while true; do echo tick; sleep 0.2; done", 120, log)
    assert time.monotonic() - started < 12
    assert "tick" in log.of("stdout")
    with pytest.raises(RuntimeCancelled):  # a cancelled instance runs nothing more
        runtime.run(instance, "echo again", 10, log)


def test_destroy_is_idempotent(lxd: Any, runtime: LXDRuntime, launched: Any) -> None:
    fingerprint = lxd.images.get_by_alias(IMAGE).fingerprint
    instance = launched(image=fingerprint[:12])  # an image by (a prefix of) its fingerprint
    assert instance.handle["fingerprint"] == fingerprint
    runtime.destroy(instance)
    assert leftovers(lxd, instance.execution_id) == []
    runtime.destroy(instance)
    runtime.destroy(Instance("never-launched", "lxd", {"name": "ccp-never-launched"}))
    runtime.destroy(Instance("no-handle", "lxd", {}))


def test_destroy_orphans_removes_labelled_leftovers(lxd: Any, runtime: LXDRuntime,
                                                    launched: Any) -> None:
    leftover = launched()
    alive = launched()
    # as recovery does: a fresh runtime, knowing nothing but the label
    cleaned = LXDRuntime(infrastructure()).destroy_orphans(
        lambda execution_id: execution_id == leftover.execution_id)
    assert cleaned == [leftover.execution_id]
    assert leftovers(lxd, leftover.execution_id) == []
    assert leftovers(lxd, alive.execution_id) == [alive.handle["name"]]


def test_missing_image_fails_naming_it(lxd: Any, runtime: LXDRuntime) -> None:
    execution_id = f"test-{uuid.uuid4()}"
    for image in ("no-such-image-alias", "0123456789abcdef"):
        with pytest.raises(RuntimeFailure, match=image):
            runtime.launch(execution_id, image, {})
    assert leftovers(lxd, execution_id) == []


def test_one_replica_only(runtime: LXDRuntime) -> None:
    with pytest.raises(RuntimeFailure, match="one replica"):
        runtime.launch("x", IMAGE, {}, replicas=2)


def test_unreachable_daemon_is_a_runtime_failure() -> None:
    runtime = runtime_for(infrastructure(endpoint="https://127.0.0.1:9"))
    assert isinstance(runtime, LXDRuntime)
    with pytest.raises(RuntimeFailure, match=r"LXD at https://127\.0\.0\.1:9 is unreachable"):
        runtime.launch("x", IMAGE, {})


# --- end to end through the server ---------------------------------------------------------

SCRIPTED = {
    "deploy-then-execute": {
        "deploy-script": [
            "mkdir -p /opt/tool",
            "printf '#!/bin/sh\\necho \"tool says $1\"\\n' > /opt/tool/run",
            "chmod +x /opt/tool/run",
        ],
        "execute-script": ["/opt/tool/run {{ word }} > /ccp_data/tool.txt",
                           "cat /ccp_data/tool.txt"],
    },
    "fails-lxd": {
        "deploy-script": ["echo deployed > /ccp_data/deployed.txt"],
        "execute-script": ["echo failing >&2", "exit 7"],
    },
    "sleep-lxd": {
        "execute-script": [
            "i=0",
            "while [ \"$i\" -lt {{ seconds }} ]; do i=$((i + 1)); echo \"tick $i\"; sleep 1; done",
        ],
        "cancel-script": ["echo 'cancel requested' > /ccp_data/cancelled.txt"],
    },
}


def scripted_method(method_id: str) -> dict[str, Any]:
    scripts = SCRIPTED[method_id]
    inputs: dict[str, Any] = {
        "ccpimage": {"title": "Runtime image", "minOccurs": 1,
                     "schema": {"type": "string", "default": IMAGE}},
        "word": {"title": "Word", "minOccurs": 0, "schema": {"type": "string", "default": "hi"}},
        "seconds": {"title": "Seconds", "minOccurs": 0,
                    "schema": {"type": "integer", "default": 60, "minimum": 0}},
    }
    return {
        "id": method_id, "title": method_id, "version": "1.0.0",
        "description": f"LXD test method {method_id}",
        "jobControlOptions": ["async-execute"],
        "inputs": inputs,
        "outputs": {"output": {"title": "output",
                               "schema": {"type": "string",
                                          "contentMediaType": "application/zip"}}},
        "additionalParameters": {"parameters": [
            {"name": name, "value": value} for name, value in scripts.items()]},
        "links": [{"rel": "compatibleWith", "href": "infrastructures/lxd", "title": "LXD"}],
    }


@pytest.fixture(scope="module")
def server(lxd: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    root = tmp_path_factory.mktemp("lxd-server")
    methods, infrastructures = root / "methods", root / "infrastructures"
    methods.mkdir()
    infrastructures.mkdir()
    shutil.copy(REPO / "methods" / "hello-lxd.json", methods)
    shutil.copy(REPO / "infrastructures" / "lxd.json", infrastructures)
    for method_id in SCRIPTED:
        (methods / f"{method_id}.json").write_text(json.dumps(scripted_method(method_id)))
    config = load_config(REPO / "pygeoapi-config.yml")
    config["server"]["manager"].update({
        "data_dir": str(root / "data"),
        "methods": str(methods),
        "infrastructures": str(infrastructures),
        "connection": "",
    })
    app = create_app(config)
    manager = app.extensions["ccp"].manager
    try:
        assert set(manager.registry.methods) == {"hello-lxd", *SCRIPTED}, \
            manager.registry.problems
        yield app.test_client()
    finally:
        manager.stop()


def submit(client: Any, process_id: str, inputs: dict[str, Any] | None = None) -> str:
    response = client.post(f"/processes/{process_id}/execution", json={"inputs": inputs or {}})
    assert response.status_code == 201, response.get_json()
    return response.get_json()["jobID"]


def wait_final(client: Any, job_id: str, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    job: dict[str, Any] = {}
    while time.monotonic() < deadline:
        job = client.get(f"/jobs/{job_id}").get_json()
        if job["status"] in FINAL:
            return job
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} did not finish in {timeout} s: {job}")


def wait_executing(client: Any, job_id: str, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    job: dict[str, Any] = {}
    while time.monotonic() < deadline:
        job = client.get(f"/jobs/{job_id}").get_json()
        if job["status"] == "running" and job["message"].startswith("Execute"):
            return job
        assert job["status"] not in FINAL, job
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} never reached Execute: {job}")


def archive_of(client: Any, job_id: str) -> zipfile.ZipFile:
    response = client.get(f"/jobs/{job_id}/archive")
    assert response.status_code == 200, response.data[:500]
    return zipfile.ZipFile(io.BytesIO(response.data))


@pytest.fixture
def no_leftovers(lxd: Any) -> Iterator[list[str]]:
    """Job ids appended here must leave no LXD instance behind."""
    job_ids: list[str] = []
    yield job_ids
    for job_id in job_ids:
        assert leftovers(lxd, job_id) == [], f"job {job_id} left an LXD instance"


def test_e2e_hello_world(server: Any, lxd: Any, no_leftovers: list[str]) -> None:
    job_id = submit(server, "hello-lxd", {"name": "Ada; echo injected"})
    no_leftovers.append(job_id)
    job = wait_final(server, job_id)
    assert job["status"] == "successful", job
    assert job["image"] == IMAGE

    archive = archive_of(server, job_id)
    instance = json.loads(archive.read("metadata/instance.json"))
    assert instance["runtime"] == "lxd"
    assert instance["instance"] == instance_name(job_id)
    assert instance["serverVersion"] == lxd.host_info["environment"]["server_version"]
    assert instance["limits"]["limits.memory"] == "256MiB"
    assert instance["destroyed"]
    outputs = zipfile.ZipFile(io.BytesIO(archive.read("outputs/output.zip")))
    assert outputs.read("hello.txt").decode() == "Hello, Ada; echo injected!\n"
    stdout = archive.read("logs/execute.stdout.log").decode()
    assert stdout.splitlines() == ["Hello, Ada; echo injected!",
                                   f"task 1 of {job_id} on {instance_name(job_id)}"]


def test_e2e_deploy_then_execute(server: Any, no_leftovers: list[str]) -> None:
    job_id = submit(server, "deploy-then-execute", {"word": "bonjour"})
    no_leftovers.append(job_id)
    job = wait_final(server, job_id)
    assert job["status"] == "successful", job
    outputs = zipfile.ZipFile(io.BytesIO(server.get(f"/jobs/{job_id}/outputs/output.zip").data))
    assert outputs.read("tool.txt").decode() == "tool says bonjour\n"


def test_e2e_failure_names_phase_and_exit_code(server: Any, no_leftovers: list[str]) -> None:
    job_id = submit(server, "fails-lxd")
    no_leftovers.append(job_id)
    job = wait_final(server, job_id)
    assert job["status"] == "failed", job
    assert "Execute failed" in job["message"] and "code 7" in job["message"], job
    archive = archive_of(server, job_id)
    assert "failing" in archive.read("logs/execute.stderr.log").decode()


def test_e2e_ccpmaxtime(server: Any, no_leftovers: list[str]) -> None:
    started = time.monotonic()
    job_id = submit(server, "sleep-lxd", {"seconds": 120, "ccpmaxtime": 3})
    no_leftovers.append(job_id)
    job = wait_final(server, job_id)
    assert job["status"] == "failed", job
    assert "ccpmaxtime" in job["message"], job
    assert time.monotonic() - started < 30


def test_e2e_dismiss_while_running(server: Any, no_leftovers: list[str]) -> None:
    job_id = submit(server, "sleep-lxd", {"seconds": 120})
    no_leftovers.append(job_id)
    wait_executing(server, job_id)
    time.sleep(1)
    started = time.monotonic()
    response = server.delete(f"/jobs/{job_id}")
    assert response.status_code == 200, response.get_json()
    job = wait_final(server, job_id, timeout=20)
    assert job["status"] == "dismissed", job
    assert time.monotonic() - started < 15
    log = archive_of(server, job_id).read("logs/execution.log").decode()
    assert "Cancel" in log
