"""The OGC API - Processes surface on the embedded default (local runtime, SQLite, disk)."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import zipfile
from pathlib import Path

import prov
import pytest
from conftest import REPO, submit, wait_final, wait_status

ARCHIVE_FILES = {
    "metadata/request.json", "metadata/method.json", "metadata/infrastructure.json",
    "metadata/instance.json", "metadata/provenance.json", "metadata/provenance.ttl",
    "auth/jwt.json", "outputs/output.zip", "logs/execution.log",
}


def assert_ogc_exception(response, status: int, *words: str) -> dict:
    assert response.status_code == status, response.data
    body = response.get_json()
    assert set(body) >= {"type", "title", "status", "detail"}, body
    assert body["status"] == status
    for word in words:
        assert word in body["detail"], body
    return body


def test_processes_are_published_with_their_modes_and_control_inputs(client) -> None:
    listed = client.get("/processes").get_json()["processes"]
    ids = {p["id"] for p in listed}
    assert {"hello-world", "always-fails", "sleep", "jdk8-maven-example"} <= ids
    description = client.get("/processes/hello-world").get_json()
    assert description["jobControlOptions"] == ["sync-execute", "async-execute"]
    assert client.get("/processes/sleep").get_json()["jobControlOptions"] == ["async-execute"]
    assert {"ccpimage", "ccpmaxtime", "ccpreplicas", "name"} <= set(description["inputs"])
    assert description["executable"] is True
    assert any(link["rel"].endswith("/execute") for link in description["links"])


def test_infrastructures_are_listed(client) -> None:
    listed = client.get("/infrastructures").get_json()["infrastructures"]
    assert "local" in {i["id"] for i in listed}
    local = client.get("/infrastructures/local").get_json()
    assert local["type"] == "local" and "NO ISOLATION" in local["description"]
    assert_ogc_exception(client.get("/infrastructures/nope"), 404, "nope")


def test_hello_world_end_to_end(client) -> None:
    job_id = submit(client, "hello-world", {"name": "Ada"})
    job = wait_final(client, job_id)
    assert job["status"] == "successful", job
    assert job["progress"] == 100

    archive = zipfile.ZipFile(io.BytesIO(client.get(f"/jobs/{job_id}/archive").data))
    names = set(archive.namelist())
    assert ARCHIVE_FILES <= names, names - ARCHIVE_FILES
    assert "logs/execute.stdout.log" in names
    assert json.loads(archive.read("metadata/request.json")) == {"inputs": {"name": "Ada"}}
    assert json.loads(archive.read("auth/jwt.json")) == {}
    assert json.loads(archive.read("metadata/method.json"))["id"] == "hello-world"
    assert json.loads(archive.read("metadata/instance.json"))["runtime"] == "local"

    outputs = zipfile.ZipFile(io.BytesIO(archive.read("outputs/output.zip")))
    hello = outputs.read("hello.txt")
    assert hello == b"Hello, Ada!\n"
    assert client.get(f"/jobs/{job_id}/outputs/output.zip").data == archive.read(
        "outputs/output.zip")

    record = prov.read(io.StringIO(client.get(f"/jobs/{job_id}/provenance").data.decode()),
                       format="json")
    text = record.get_provn()
    assert '"Ada"' in text and "inputs/name" in text
    assert hashlib.sha256(hello).hexdigest() in text
    assert "outputs/hello.txt" in text
    for fmt in ("ttl", "xml", "provn"):
        response = client.get(f"/jobs/{job_id}/provenance?f={fmt}")
        assert response.status_code == 200 and len(response.data) > 200

    results = client.get(f"/jobs/{job_id}/results")
    assert results.status_code == 200
    document = results.get_json()
    assert document["output"]["href"].endswith(f"/jobs/{job_id}/outputs/output.zip")
    assert "Hello, Ada!" in document["stdout"]["value"]
    assert "rel=\"archive\"" in results.headers["Link"]
    assert f"task 1 of {job_id}" in client.get(f"/jobs/{job_id}/logs").data.decode()


def test_failure_goes_to_destroy_and_still_archives(client) -> None:
    job_id = submit(client, "always-fails", {"code": 7})
    job = wait_final(client, job_id)
    assert job["status"] == "failed"
    assert "Execute failed" in job["message"] and "code 7" in job["message"]
    names = set(zipfile.ZipFile(io.BytesIO(client.get(f"/jobs/{job_id}/archive").data))
                .namelist())
    assert {"metadata/request.json", "metadata/instance.json", "logs/execution.log"} <= names
    assert "outputs/output.zip" not in names  # straight to Destroy: no Fetch
    log = client.get(f"/jobs/{job_id}/logs").data.decode()
    assert "[Destroy]" in log and "[Fetch]" not in log
    assert_ogc_exception(client.get(f"/jobs/{job_id}/results"), 409, "failed")


def test_dismiss_stops_a_running_sleep_within_seconds(client, app) -> None:
    job_id = submit(client, "sleep", {"seconds": 120})
    wait_status(client, job_id, "running")
    wait_until_log(client, job_id, "tick 1")
    response = client.delete(f"/jobs/{job_id}")
    assert response.status_code == 200
    job = wait_final(client, job_id, timeout=10)
    assert job["status"] == "dismissed"
    assert "Dismissed" in job["message"]
    log = client.get(f"/jobs/{job_id}/logs").data.decode()
    assert "tick 1" in log and "slept" not in log
    work_root = Path("/tmp/ccp-local") / job_id
    assert not work_root.exists()


def wait_until_log(client, job_id: str, text: str, timeout: float = 15) -> None:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in client.get(f"/jobs/{job_id}/logs").data.decode():
            return
        time.sleep(0.05)
    raise AssertionError(f"{text!r} never appeared in the log")


def test_dismiss_of_a_queued_job(app_factory) -> None:
    client = app_factory(concurrency=1).test_client()
    blocker = submit(client, "sleep", {"seconds": 60})
    queued = submit(client, "hello-world")
    wait_status(client, blocker, "running")
    assert client.get(f"/jobs/{queued}").get_json()["status"] == "accepted"
    assert client.delete(f"/jobs/{queued}").get_json()["status"] == "dismissed"
    client.delete(f"/jobs/{blocker}")
    assert wait_final(client, blocker)["status"] == "dismissed"


def test_ccpmaxtime_fails_an_execution_that_runs_too_long(client) -> None:
    job_id = submit(client, "sleep", {"seconds": 60, "ccpmaxtime": 1})
    job = wait_final(client, job_id, timeout=15)
    assert job["status"] == "failed"
    assert "ccpmaxtime" in job["message"] and "Execute" in job["message"]


def test_deleting_a_finished_job_removes_it_and_its_archive(client, app) -> None:
    job_id = submit(client, "hello-world")
    wait_final(client, job_id)
    storage = app.extensions["ccp"].manager.archives.storage
    assert storage.list(f"executions/{job_id}")
    assert client.delete(f"/jobs/{job_id}").status_code == 200
    assert client.get(f"/jobs/{job_id}").status_code == 404
    assert storage.list(f"executions/{job_id}") == []


def test_job_list_filters_and_paging(client) -> None:
    ok = [submit(client, "hello-world", {"name": f"n{i}"}) for i in range(3)]
    bad = submit(client, "always-fails")
    for job_id in [*ok, bad]:
        wait_final(client, job_id)
    page = client.get("/jobs?limit=2").get_json()
    assert page["numberMatched"] == 4 and len(page["jobs"]) == 2
    next_link = next(link["href"] for link in page["links"] if link["rel"] == "next")
    assert "offset=2" in next_link
    failed = client.get("/jobs?status=failed").get_json()
    assert [j["jobID"] for j in failed["jobs"]] == [bad]
    hello = client.get("/jobs?processID=hello-world&status=successful").get_json()
    assert sorted(j["jobID"] for j in hello["jobs"]) == sorted(ok)
    assert_ogc_exception(client.get("/jobs?status=finished"), 400, "status")
    assert_ogc_exception(client.get("/jobs?limit=zero"), 400, "limit")


def test_unknown_infrastructure_is_listed_but_not_executable(app_factory, methods_dir) -> None:
    data = json.loads((REPO / "methods" / "hello-world.json").read_text())
    data["id"] = "needs-k8s"
    data["links"] = [{"rel": "compatibleWith", "href": "infrastructures/k8s"}]
    (methods_dir / "needs-k8s.json").write_text(json.dumps(data))
    client = app_factory(methods=methods_dir).test_client()
    listed = {p["id"]: p for p in client.get("/processes").get_json()["processes"]}
    assert listed["needs-k8s"]["executable"] is False
    assert listed["hello-world"]["executable"] is True
    body = assert_ogc_exception(client.post("/processes/needs-k8s/execution",
                                            json={"inputs": {}}), 409, "k8s")
    assert body["title"] == "Method not executable"


def test_invalid_method_file_does_not_stop_the_server(app_factory, methods_dir) -> None:
    (methods_dir / "broken.json").write_text('{"id": "broken", ')
    client = app_factory(methods=methods_dir).test_client()
    assert "hello-world" in {p["id"] for p in client.get("/processes").get_json()["processes"]}


@pytest.mark.parametrize("path, body, status, words", [
    ("/processes/nope/execution", {"inputs": {}}, 404, ["nope"]),
    ("/processes/hello-world/execution", {"inputs": {"nme": "x"}}, 400, ["unknown", "nme"]),
    ("/processes/hello-world/execution", {"inputs": {"name": 42}}, 400, ["name", "string"]),
    ("/processes/always-fails/execution", {"inputs": {"code": "x"}}, 400, ["code", "integer"]),
    ("/processes/hello-world/execution", {"inputs": {"ccpmaxtime": -5}}, 400, ["ccpmaxtime"]),
    ("/processes/hello-world/execution", {"inputs": {"ccpmaxtime": "1h"}}, 400, ["ccpmaxtime"]),
    ("/processes/hello-world/execution", {"inputs": "name=x"}, 400, ["inputs"]),
    ("/processes/hello-world/execution", ["not", "an", "object"], 400, ["JSON object"]),
])
def test_bad_execution_requests_get_ogc_exceptions(client, path, body, status, words) -> None:
    before = client.get("/jobs").get_json()["numberMatched"]
    assert_ogc_exception(client.post(path, json=body), status, *words)
    assert client.get("/jobs").get_json()["numberMatched"] == before


def test_missing_required_input(app_factory, methods_dir) -> None:
    data = json.loads((REPO / "methods" / "hello-world.json").read_text())
    data["id"] = "needs-name"
    del data["inputs"]["name"]["schema"]["default"]
    data["inputs"]["name"]["minOccurs"] = 1
    (methods_dir / "needs-name.json").write_text(json.dumps(data))
    client = app_factory(methods=methods_dir).test_client()
    body = assert_ogc_exception(client.post("/processes/needs-name/execution",
                                            json={"inputs": {}}), 400, "missing", "name")
    assert body["title"] == "Missing parameter value"


def test_malformed_empty_and_oversized_bodies(app_factory) -> None:
    client = app_factory().test_client()
    response = client.post("/processes/hello-world/execution", data="{oops",
                           content_type="application/json")
    assert_ogc_exception(response, 400, "not valid JSON")
    assert_ogc_exception(client.post("/processes/hello-world/execution"), 400, "empty")
    huge = json.dumps({"inputs": {"name": "x" * (2 * 1024 * 1024)}})
    response = client.post("/processes/hello-world/execution", data=huge,
                           content_type="application/json")
    assert_ogc_exception(response, 413)
    assert client.get("/jobs").get_json()["numberMatched"] == 0


def test_unknown_job_and_process(client) -> None:
    assert_ogc_exception(client.get("/processes/nope"), 404, "nope")
    for path in ("/jobs/nope", "/jobs/nope/results", "/jobs/nope/archive",
                 "/jobs/nope/provenance", "/jobs/nope/logs"):
        assert_ogc_exception(client.get(path), 404, "nope")
    assert_ogc_exception(client.delete("/jobs/nope"), 404, "nope")


def test_landing_conformance_openapi(client) -> None:
    assert client.get("/").status_code == 200
    conformance = client.get("/conformance").get_json()["conformsTo"]
    assert any("ogcapi-processes-1/1.0/conf/core" in c for c in conformance)
    assert client.get("/openapi?f=json").status_code == 200


def test_jdk8_maven_example(client) -> None:
    if not shutil.which("javac"):
        pytest.fail("javac is needed for the JDK example on the local infrastructure")
    job_id = submit(client, "jdk8-maven-example", {"greeting": "Hi", "repetitions": 2})
    job = wait_final(client, job_id, timeout=120)
    assert job["status"] == "successful", client.get(f"/jobs/{job_id}/logs").data.decode()
    archive = zipfile.ZipFile(io.BytesIO(client.get(f"/jobs/{job_id}/archive").data))
    outputs = zipfile.ZipFile(io.BytesIO(archive.read("outputs/output.zip")))
    assert outputs.read("greetings.txt") == b"Hi #1\nHi #2\n"


def test_unreachable_infrastructure_makes_its_methods_not_executable(
        app_factory, methods_dir, tmp_path) -> None:
    infrastructures = tmp_path / "infrastructures"
    shutil.copytree(REPO / "infrastructures", infrastructures)
    (infrastructures / "docker.json").write_text(json.dumps({
        "id": "docker", "name": "Nowhere", "type": "docker",
        "settings": {"engine": "unix:///nonexistent/docker.sock", "timeout": 2}}))
    app = app_factory(methods=methods_dir, infrastructures=infrastructures)
    app.extensions["ccp"].manager.recovery.check_infrastructures()
    client = app.test_client()
    hello_docker = client.get("/processes/hello-docker").get_json()
    assert hello_docker["executable"] is False
    assert "unreachable" in hello_docker["notExecutableBecause"]
    assert client.get("/infrastructures/docker").get_json()["reachable"] is False
    assert client.get("/infrastructures/local").get_json()["reachable"] is True
    assert client.get("/processes/hello-world").get_json()["executable"] is True


def test_dismiss_only_never_deletes_a_finished_job(client) -> None:
    running = submit(client, "sleep", {"seconds": 30})
    wait_status(client, running, "running")
    dismissed = client.post(f"/jobs/{running}/dismiss").get_json()
    assert dismissed["status"] == "dismissed"
    finished = submit(client, "hello-world")
    assert wait_final(client, finished)["status"] == "successful"
    again = client.post(f"/jobs/{finished}/dismiss")
    assert again.status_code == 200 and again.get_json()["status"] == "successful"
    assert client.get(f"/jobs/{finished}/archive").status_code == 200  # still there


def test_log_can_be_read_from_an_offset(client) -> None:
    job_id = submit(client, "hello-world", {"name": "Offset"})
    wait_final(client, job_id)
    whole = client.get(f"/jobs/{job_id}/logs")
    size = int(whole.headers["X-Log-Offset"])
    assert size == len(whole.data) > 40
    tail = client.get(f"/jobs/{job_id}/logs?offset=40")
    assert tail.data == whole.data[40:] and tail.headers["X-Log-Offset"] == str(size)
    assert client.get(f"/jobs/{job_id}/logs?offset={size + 10}").data == b""
    assert client.get(f"/jobs/{job_id}/logs?offset=-1").status_code == 400
