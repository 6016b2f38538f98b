"""The server as a real process on a real socket: an end-to-end run, and a kill -9 restart."""

from __future__ import annotations

import io
import os
import time
import zipfile
from pathlib import Path

import requests
from helpers import wait_final_url


def processes_of(execution_id: str) -> list[int]:
    marker = f"ccptaskname={execution_id}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if marker in (entry / "environ").read_bytes().split(b"\0"):
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def test_hello_world_over_a_real_socket(server_process) -> None:
    server = server_process()
    response = requests.post(f"{server.url}/processes/hello-world/execution",
                             json={"inputs": {"name": "socket"}},
                             headers={"Prefer": "respond-async"}, timeout=5)
    assert response.status_code == 201
    assert response.headers["Location"] == f"{server.url}/jobs/{response.json()['jobID']}"
    job_id = response.json()["jobID"]
    assert wait_final_url(server.url, job_id)["status"] == "successful"
    archive = requests.get(f"{server.url}/jobs/{job_id}/archive", timeout=10)
    assert archive.headers["Content-Type"] == "application/zip"
    outputs = zipfile.ZipFile(io.BytesIO(
        zipfile.ZipFile(io.BytesIO(archive.content)).read("outputs/output.zip")))
    assert outputs.read("hello.txt") == b"Hello, socket!\n"


def test_kill_9_mid_execution_then_restart_fails_the_job_and_destroys_its_runtime(
        server_process, tmp_path: Path) -> None:
    data = tmp_path / "data"
    server = server_process(data, CCP_HEARTBEAT_TIMEOUT="3")
    job_id = requests.post(f"{server.url}/processes/sleep/execution",
                           json={"inputs": {"seconds": 300}}, timeout=5).json()["jobID"]
    deadline = time.monotonic() + 20
    while "tick 1" not in requests.get(f"{server.url}/jobs/{job_id}/logs", timeout=5).text:
        assert time.monotonic() < deadline, "the sleep never started"
        time.sleep(0.1)

    server.kill()
    orphans = processes_of(job_id)
    assert orphans, "the sleep script should outlive a kill -9 of the server"

    restarted = server_process(data, CCP_HEARTBEAT_TIMEOUT="3")
    job = wait_final_url(restarted.url, job_id, timeout=30)
    assert job["status"] == "failed"
    assert "server stopped" in job["message"]
    deadline = time.monotonic() + 10
    while processes_of(job_id) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert processes_of(job_id) == []
    assert not any(os.path.exists(f"/proc/{pid}") for pid in orphans)
    names = zipfile.ZipFile(io.BytesIO(requests.get(
        f"{restarted.url}/jobs/{job_id}/archive", timeout=10).content)).namelist()
    assert "metadata/request.json" in names and "logs/execution.log" in names


def test_sigterm_cancels_destroys_and_archives_running_executions(server_process,
                                                                  tmp_path: Path) -> None:
    data = tmp_path / "data"
    server = server_process(data)
    job_id = requests.post(f"{server.url}/processes/sleep/execution",
                           json={"inputs": {"seconds": 300}}, timeout=5).json()["jobID"]
    deadline = time.monotonic() + 20
    while "tick 1" not in requests.get(f"{server.url}/jobs/{job_id}/logs", timeout=5).text:
        assert time.monotonic() < deadline, "the sleep never started"
        time.sleep(0.1)
    started = time.monotonic()
    server.stop()
    assert server.process.returncode == 0
    assert time.monotonic() - started < 15
    assert processes_of(job_id) == []

    restarted = server_process(data)
    job = requests.get(f"{restarted.url}/jobs/{job_id}", timeout=5).json()
    assert job["status"] == "failed" and "shut down" in job["message"]
    assert any(link["rel"] == "archive" for link in job["links"])
