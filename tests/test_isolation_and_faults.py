"""Isolation and faults on the real Docker engine.

A Method cannot read another execution's /ccp_data, cannot reach the Docker socket, and is
killed (the job saying so) past its memory limit. A kill -9 of the server and the engine
going away both end in a failed job with a clear message, nothing left running, and a server
that keeps serving.
"""

from __future__ import annotations

import io
import json
import subprocess
import time
import zipfile
from pathlib import Path

import docker
import pytest
import requests
from conftest import REPO, submit, wait_final, wait_status
from engines import ENGINE, IMAGE, Engine

from ccp.runtimes.base import LABEL

pytestmark = pytest.mark.docker


def method(method_id: str, execute: list[str], inputs: dict | None = None) -> dict:
    data = json.loads((REPO / "methods" / "hello-world.json").read_text())
    data.update(id=method_id, title=method_id)
    data["inputs"] = {"ccpimage": {"schema": {"type": "string", "default": IMAGE}},
                      **(inputs or {})}
    data["outputs"] = {}
    data["additionalParameters"] = {"parameters": [
        {"name": "execute-script", "value": execute}]}
    data["links"] = [{"rel": "compatibleWith", "href": "infrastructures/docker-test"}]
    return data


SECONDS = {"seconds": {"schema": {"type": "integer", "default": 300}}}
TAG = {"tag": {"schema": {"type": "string", "default": "a"}}}


@pytest.fixture
def layout(tmp_path: Path) -> tuple[Path, Path]:
    infrastructures = tmp_path / "infrastructures"
    infrastructures.mkdir()
    (infrastructures / "docker.json").write_text(json.dumps({
        "id": "docker-test", "name": "Docker (tests)", "type": "docker",
        "settings": {"engine": ENGINE, "memory": "64m", "cpus": 1, "maxTime": 600,
                     "pull": False}}))
    methods = tmp_path / "methods"
    methods.mkdir()
    for data in (
        method("writer", ["printf 'secret of %s' {{ tag }} > /ccp_data/secret-{{ tag }}.txt",
                          "echo written", "sleep {{ seconds }}"], {**SECONDS, **TAG}),
        method("snoop", [
            "find / \\( -path /proc -o -path /sys \\) -prune -o -name 'secret-*' -print "
            "> /ccp_data/found.txt 2>/dev/null || true",
            "for s in /var/run/docker.sock /run/docker.sock /tmp/ccp-docker.sock; do",
            "  [ -e \"$s\" ] && echo \"$s\" >> /ccp_data/sockets.txt", "done",
            "mount > /ccp_data/mounts.txt", "true"]),
        method("hog", ["x=$(head -c 200000000 /dev/zero | tr '\\0' a)",
                       "echo \"$x\" | wc -c"]),
        method("docker-sleep", ["echo started", "sleep {{ seconds }}"], SECONDS),
    ):
        (methods / f"{data['id']}.json").write_text(json.dumps(data))
    return methods, infrastructures


@pytest.fixture
def engine() -> Engine:
    probe = Engine(ENGINE)
    probe.require()
    return probe


def outputs(client, job_id: str) -> zipfile.ZipFile:
    return zipfile.ZipFile(io.BytesIO(client.get(f"/jobs/{job_id}/outputs/output.zip").data))


def wait_log(get_log, text: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while text not in get_log():
        assert time.monotonic() < deadline, f"{text!r} never appeared"
        time.sleep(0.1)


def test_a_method_cannot_see_other_executions_data_nor_the_docker_socket(
        app_factory, layout, engine) -> None:
    methods, infrastructures = layout
    client = app_factory(methods=methods, infrastructures=infrastructures).test_client()
    writer = submit(client, "writer", {"tag": "w1"})
    wait_log(lambda: client.get(f"/jobs/{writer}/logs").data.decode(), "written")
    snoop = submit(client, "snoop")
    assert wait_final(client, snoop, timeout=60)["status"] == "successful"
    seen = outputs(client, snoop)
    assert seen.read("found.txt").decode().strip() == "", seen.read("found.txt")
    assert "sockets.txt" not in seen.namelist()
    host_mounts = {line.split()[2] for line in seen.read("mounts.txt").decode().splitlines()
                   if line.startswith("/dev/")}
    # Docker's own per-container files are the only things mounted from the host disk.
    assert host_mounts <= {"/etc/resolv.conf", "/etc/hostname", "/etc/hosts"}, host_mounts
    client.delete(f"/jobs/{writer}")
    assert wait_final(client, writer)["status"] == "dismissed"
    engine.assert_nothing_left(writer)
    engine.assert_nothing_left(snoop)


def test_exceeding_the_memory_limit_kills_the_script_and_the_job_says_so(
        app_factory, layout, engine) -> None:
    methods, infrastructures = layout
    client = app_factory(methods=methods, infrastructures=infrastructures).test_client()
    job_id = submit(client, "hog")
    job = wait_final(client, job_id, timeout=60)
    assert job["status"] == "failed"
    assert "out-of-memory" in job["message"] and "64 MiB" in job["message"], job["message"]
    engine.assert_nothing_left(job_id)


def test_kill_9_mid_docker_execution_then_restart(server_process, layout, engine,
                                                  tmp_path: Path) -> None:
    methods, infrastructures = layout
    env = {"CCP_METHODS_DIR": str(methods), "CCP_INFRASTRUCTURES_DIR": str(infrastructures),
           "CCP_HEARTBEAT_TIMEOUT": "3", "DOCKER_HOST": ENGINE}
    server = server_process(tmp_path / "data", **env)
    job_id = requests.post(f"{server.url}/processes/docker-sleep/execution",
                           json={"inputs": {}}, headers={"Prefer": "respond-async"},
                           timeout=10).json()["jobID"]
    wait_log(lambda: requests.get(f"{server.url}/jobs/{job_id}/logs", timeout=5).text,
             "started")
    server.kill()
    assert engine.containers(job_id), "the container should outlive a kill -9 of the server"

    restarted = server_process(tmp_path / "data", **env)
    deadline = time.monotonic() + 30
    while (job := requests.get(f"{restarted.url}/jobs/{job_id}", timeout=5).json())[
            "status"] == "running":
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert job["status"] == "failed" and "server stopped" in job["message"]
    engine.assert_nothing_left(job_id)


def _restart_engine() -> None:
    subprocess.run(["bash", str(REPO / "scripts" / "start-services.sh"), "docker", "swarm"],
                   check=True, timeout=300, env={"CCP_SERVICES_VERIFY": "0",
                                                 "PATH": "/usr/local/sbin:/usr/local/bin:"
                                                 "/usr/sbin:/usr/bin:/sbin:/bin"})


def test_engine_going_away_mid_job_fails_it_clearly_and_the_server_keeps_serving(
        app_factory, layout, engine) -> None:
    methods, infrastructures = layout
    app = app_factory(methods=methods, infrastructures=infrastructures)
    client = app.test_client()
    job_id = submit(client, "docker-sleep")
    wait_log(lambda: client.get(f"/jobs/{job_id}/logs").data.decode(), "started")
    pid = int(Path("/tmp/ccp-docker.pid").read_text())
    try:
        subprocess.run(["kill", "-TERM", str(pid)], check=True)
        job = wait_final(client, job_id, timeout=90)
        assert job["status"] == "failed"
        assert "Docker engine" in job["message"] or "exited" in job["message"], job["message"]
        assert client.get("/processes").status_code == 200
        assert client.get(f"/jobs/{job_id}/archive").status_code == 200
    finally:
        _restart_engine()
    fresh = docker.DockerClient(base_url=ENGINE)
    deadline = time.monotonic() + 60
    while fresh.containers.list(all=True, filters={"label": f"{LABEL}={job_id}"}):
        manager = app.extensions["ccp"].manager
        manager.recovery.check_infrastructures()
        manager.recovery.recover()
        assert time.monotonic() < deadline, "the orphan container was never removed"
        time.sleep(1)
    # the engine is back: executions run again
    again = submit(client, "snoop")
    assert wait_status(client, again, "successful", timeout=60)
