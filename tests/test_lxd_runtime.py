"""The LXD runtime against the real LXD daemon, alone and end to end through the server.

Alone: what only LXD does (container names, limits config, images by fingerprint, remotes);
the behaviours every runtime shares are in test_runtime_contract.py.

Needs `scripts/start-services.sh lxd` (the daemon, a storage pool and the image alias
ccp-busybox). No mocks and no skips: without LXD these tests fail and say why.
"""

from __future__ import annotations

import io
import json
import shutil
import time
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from engines import LXD_IMAGE, lxd_client, lxd_leftovers
from helpers import FINAL, Lines, archive_of, submit, wait_final

from ccp.app import create_app, load_config
from ccp.model import Infrastructure
from ccp.runtimes import runtime_for
from ccp.runtimes.base import Instance, RuntimeFailure
from ccp.runtimes.lxd import EXECUTION_KEY, LXDRuntime, instance_name

pytestmark = pytest.mark.lxd

REPO = Path(__file__).resolve().parent.parent
IMAGE = LXD_IMAGE


@pytest.fixture(scope="module")
def lxd() -> Any:
    return lxd_client()



def infrastructure(**settings: Any) -> Infrastructure:
    base = json.loads((REPO / "infrastructures" / "lxd.json").read_text())
    base["settings"].update(settings)
    return Infrastructure.from_dict(base)


@pytest.fixture
def runtime(lxd: Any) -> LXDRuntime:
    return LXDRuntime(infrastructure())


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
        assert lxd_leftovers(lxd, instance.execution_id) == [], instance.execution_id


# --- the runtime alone ----------------------------------------------------------------------


def test_launch_names_the_container_and_describes_the_server(lxd: Any, runtime: LXDRuntime,
                                                            launched: Any) -> None:
    instance = launched()
    name = instance.handle["name"]
    assert name == instance_name(instance.execution_id)
    assert lxd.instances.get(name).status == "Running"
    assert instance.handle["fingerprint"] == lxd.images.get_by_alias(IMAGE).fingerprint
    log = Lines()
    assert runtime.run(instance, "printf 'partial '; sleep 0.3; printf 'line\\n'", 60, log) == 0
    assert log.of("stdout") == ["partial line"]  # one line in two websocket chunks

    description = runtime.describe(instance)
    assert description["instance"] == name
    assert description["serverVersion"] == lxd.host_info["environment"]["server_version"]
    assert description["fingerprint"] == instance.handle["fingerprint"]
    assert description["project"] == "default" and description["profiles"] == ["default"]
    json.dumps(description)  # goes to metadata/instance.json


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
    # enforced, not just recorded: test_runtime_contract.py runs a greedy script


def test_an_image_by_a_prefix_of_its_fingerprint(lxd: Any, runtime: LXDRuntime,
                                                 launched: Any) -> None:
    fingerprint = lxd.images.get_by_alias(IMAGE).fingerprint
    instance = launched(image=fingerprint[:12])
    assert instance.handle["fingerprint"] == fingerprint
    assert runtime.describe(instance)["fingerprint"] == fingerprint


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


@pytest.fixture
def no_leftovers(lxd: Any) -> Iterator[list[str]]:
    """Job ids appended here must leave no LXD instance behind."""
    job_ids: list[str] = []
    yield job_ids
    for job_id in job_ids:
        assert lxd_leftovers(lxd, job_id) == [], f"job {job_id} left an LXD instance"


def test_e2e_hello_world(server: Any, lxd: Any, no_leftovers: list[str]) -> None:
    job_id = submit(server, "hello-lxd", {"name": "Ada; echo injected"})
    no_leftovers.append(job_id)
    job = wait_final(server, job_id, 60)
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
    job = wait_final(server, job_id, 60)
    assert job["status"] == "successful", job
    outputs = zipfile.ZipFile(io.BytesIO(server.get(f"/jobs/{job_id}/outputs/output.zip").data))
    assert outputs.read("tool.txt").decode() == "tool says bonjour\n"


def test_e2e_failure_names_phase_and_exit_code(server: Any, no_leftovers: list[str]) -> None:
    job_id = submit(server, "fails-lxd")
    no_leftovers.append(job_id)
    job = wait_final(server, job_id, 60)
    assert job["status"] == "failed", job
    assert "Execute failed" in job["message"] and "code 7" in job["message"], job
    archive = archive_of(server, job_id)
    assert "failing" in archive.read("logs/execute.stderr.log").decode()


def test_e2e_ccpmaxtime(server: Any, no_leftovers: list[str]) -> None:
    started = time.monotonic()
    job_id = submit(server, "sleep-lxd", {"seconds": 120, "ccpmaxtime": 3})
    no_leftovers.append(job_id)
    job = wait_final(server, job_id, 60)
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


def test_fetch_by_one_tar_stream_and_by_the_file_api_agree(runtime: LXDRuntime, launched: Any,
                                                          tmp_path: Path) -> None:
    """Images with tar give /ccp_data as one stream; without it, file by file: the same
    files either way (the file API skips every link, tar keeps those that stay inside)."""
    from ccp.runtimes.lxd import fetch as lxd_fetch

    instance = launched()
    assert runtime.run(instance, "\n".join([
        "mkdir -p '/ccp_data/a/b c' /ccp_data/empty",
        "echo top > /ccp_data/top.txt", "echo deep > '/ccp_data/a/b c/deep.txt'",
        "head -c 100000 /dev/urandom > /ccp_data/a/random.bin",
        "ln -s /etc/passwd /ccp_data/absolute-link", "mkfifo /ccp_data/fifo"]), 30,
        lambda *_: None) == 0
    client, name = runtime.lxd.client(), instance.handle["name"]
    by_tar, by_files = tmp_path / "tar" / "data", tmp_path / "files" / "data"
    tar_skipped = lxd_fetch._fetch_tar(runtime.lxd, client, name, by_tar)
    file_skipped = lxd_fetch._fetch_files(runtime.lxd, client, name, by_files)
    assert tar_skipped is not None, "the test image has tar: the stream was not used"

    def tree(root: Path) -> dict[str, bytes | None]:
        return {p.relative_to(root).as_posix(): p.read_bytes() if p.is_file() else None
                for p in root.rglob("*") if not p.is_symlink()}

    assert tree(by_tar) == tree(by_files)
    assert set(tree(by_tar)) == {"top.txt", "a", "a/b c", "a/b c/deep.txt", "a/random.bin",
                                 "empty"}
    for skipped in (tar_skipped, file_skipped):
        assert "absolute-link" in " ".join(skipped) and "fifo" in " ".join(skipped)
