"""A standard OGC API - Processes client (OWSLib) drives CCP without knowing it is CCP."""

from __future__ import annotations

import io
import time
import zipfile

import requests
from owslib.ogcapi.processes import Processes


def test_owslib_runs_hello_world_sync_and_async_and_reads_a_named_output(server_process
                                                                         ) -> None:
    server = server_process()
    client = Processes(server.url)
    assert any("ogcapi-processes-1/1.0/conf/core" in c
               for c in client.conformance()["conformsTo"])
    ids = {p["id"] for p in client.processes()}
    assert {"hello-world", "echo", "sleep", "always-fails"} <= ids
    description = client.process("hello-world")
    assert description["jobControlOptions"] == ["sync-execute", "async-execute"]
    assert "ccpimage" in description["inputs"]
    assert description["outputs"]["greeting"]["schema"]["contentMediaType"] == "text/plain"

    # Synchronous (OWSLib's default: Prefer respond-sync, response document): the results.
    results = client.execute("hello-world", inputs={"name": "OWSLib"})
    monitor = next(link for link in requests.utils.parse_header_links(
        client.response_headers["Link"]) if link.get("rel") == "monitor")
    assert requests.get(monitor["url"], timeout=5).json()["status"] == "successful"
    assert "Hello, OWSLib!" in results["stdout"]["value"]
    greeting = requests.get(results["greeting"]["href"], timeout=10)
    assert greeting.text == "Hello, OWSLib!\n"
    assert greeting.headers["Content-Type"].startswith("text/plain")

    # Asynchronous: the job, to follow; then the same results.
    accepted = client.execute("hello-world", inputs={"name": "OWSLib async"}, async_=True)
    assert accepted["status"] in ("accepted", "running")
    job_url = f"{server.url}/jobs/{accepted['jobID']}"
    deadline = time.monotonic() + 30
    while (status := requests.get(job_url, timeout=5).json())["status"] in (
            "accepted", "running"):
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert status["status"] == "successful"
    results = requests.get(f"{job_url}/results", timeout=5).json()
    assert "Hello, OWSLib async!" in results["stdout"]["value"]
    assert requests.get(f"{job_url}/results/greeting", timeout=5).text == \
        "Hello, OWSLib async!\n"
    output = requests.get(results["output"]["href"], timeout=10).content
    assert zipfile.ZipFile(io.BytesIO(output)).read("hello.txt") == b"Hello, OWSLib async!\n"

    # A named output by value, when asked for (OWSLib passes `outputs` through).
    results = client.execute("hello-world", inputs={"name": "value"},
                             outputs={"greeting": {"transmissionMode": "value"}})
    assert results == {"greeting": {"value": "Hello, value!\n", "mediaType": "text/plain"}}
