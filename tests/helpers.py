"""Small helpers every test file shares: submitting, waiting, reading archives, free ports,
collecting a runtime's log lines. Flask test clients and real servers (by URL) alike."""

from __future__ import annotations

import io
import socket
import threading
import time
import zipfile
from typing import Any

import requests

FINAL = ("successful", "failed", "dismissed")
ASYNC = {"Prefer": "respond-async"}  # the job at once, even of a Method that can run sync


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- a Flask test client -------------------------------------------------------------------

def submit(client: Any, process_id: str, inputs: dict[str, Any] | None = None) -> str:
    response = client.post(f"/processes/{process_id}/execution", json={"inputs": inputs or {}},
                           headers=ASYNC)
    assert response.status_code == 201, response.get_json()
    job_id = response.get_json()["jobID"]
    assert response.headers["Location"].endswith(f"/jobs/{job_id}")
    return job_id


def wait_final(client: Any, job_id: str, timeout: float = 30) -> dict[str, Any]:
    return wait_until(client, job_id, lambda job: job["status"] in FINAL, timeout,
                      "did not finish")


def wait_status(client: Any, job_id: str, status: str, timeout: float = 30) -> dict[str, Any]:
    return wait_until(client, job_id, lambda job: job["status"] == status, timeout,
                      f"never reached {status}")


def wait_until(client: Any, job_id: str, done: Any, timeout: float = 30,
               what: str = "never got there") -> dict[str, Any]:
    """Poll the job until `done(job)` holds."""
    deadline = time.monotonic() + timeout
    job: dict[str, Any] = {}
    while time.monotonic() < deadline:
        job = client.get(f"/jobs/{job_id}").get_json()
        if done(job):
            return job
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} {what} in {timeout} s: {job}")


def archive_of(client: Any, job_id: str) -> zipfile.ZipFile:
    response = client.get(f"/jobs/{job_id}/archive")
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return zipfile.ZipFile(io.BytesIO(response.get_data()))


def outputs_of(archive: zipfile.ZipFile) -> zipfile.ZipFile:
    return zipfile.ZipFile(io.BytesIO(archive.read("outputs/output.zip")))


# --- a real server, by URL -----------------------------------------------------------------

def wait_final_url(url: str, job_id: str, timeout: float = 30,
                   headers: dict[str, str] | None = None) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    job: dict[str, Any] = {}
    while time.monotonic() < deadline:
        job = requests.get(f"{url}/jobs/{job_id}", headers=headers, timeout=5).json()
        if job["status"] in FINAL:
            return job
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} not final after {timeout} s: {job}")


def archive_from_url(url: str, job_id: str, headers: dict[str, str] | None = None
                     ) -> zipfile.ZipFile:
    response = requests.get(f"{url}/jobs/{job_id}/archive", headers=headers, timeout=30)
    assert response.status_code == 200, response.text[:500]
    return zipfile.ZipFile(io.BytesIO(response.content))


# --- a runtime's log -----------------------------------------------------------------------

class Lines:
    """A LogSink keeping (replica, stream, line, time of arrival), in order."""

    def __init__(self) -> None:
        self.entries: list[tuple[int, str, str, float]] = []
        self._lock = threading.Lock()

    def __call__(self, replica: int, stream: str, line: str) -> None:
        with self._lock:
            self.entries.append((replica, stream, line, time.monotonic()))

    def of(self, stream: str, replica: int = 1) -> list[str]:
        return [line for r, s, line, _ in self.entries if s == stream and r == replica]
