"""A standard OGC API - Processes client (OWSLib) drives CCP without knowing it is CCP."""

from __future__ import annotations

import io
import time
import zipfile

import requests
from owslib.ogcapi.processes import Processes


def test_owslib_lists_describes_executes_and_fetches_results(server_process) -> None:
    server = server_process()
    client = Processes(server.url)
    assert any("ogcapi-processes-1/1.0/conf/core" in c
               for c in client.conformance()["conformsTo"])
    ids = {p["id"] for p in client.processes()}
    assert {"hello-world", "sleep", "always-fails"} <= ids
    description = client.process("hello-world")
    assert description["jobControlOptions"] == ["async-execute"]
    assert "ccpimage" in description["inputs"]

    for async_ in (True, False):  # async-only: a sync preference is answered asynchronously
        accepted = client.execute("hello-world", inputs={"name": "OWSLib"}, async_=async_)
        job_url = f"{server.url}/jobs/{accepted['jobID']}"
        deadline = time.monotonic() + 30
        while (status := requests.get(job_url, timeout=5).json())["status"] in (
                "accepted", "running"):
            assert time.monotonic() < deadline
            time.sleep(0.1)
        assert status["status"] == "successful"
        results = requests.get(f"{job_url}/results", timeout=5).json()
        assert "Hello, OWSLib!" in results["stdout"]["value"]
        output = requests.get(results["output"]["href"], timeout=10).content
        assert zipfile.ZipFile(io.BytesIO(output)).read("hello.txt") == b"Hello, OWSLib!\n"
