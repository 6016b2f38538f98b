"""Inputs by reference (OGC API - Processes 1.0 `href` inputs): downloaded by the server under
the outbound policy, staged at /ccp_data/inputs/<name>, recorded in the archive and in PROV.

The files come from a real HTTP server the test starts on 127.0.0.2, the one address the
server's configuration allows (loopback is refused otherwise: see test_outbound_attacks.py).
"""

from __future__ import annotations

import copy
import hashlib
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import REPO
from engines import ENGINE, IMAGE, LXD_IMAGE
from helpers import ASYNC, archive_of, outputs_of, wait_final, wait_status
from receiver import Receiver

CSV = b"id,name\n1,alpha\n2,beta\n3,gamma\n"
FILE_STATS = json.loads((REPO / "methods" / "file-stats.json").read_text())


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    started = Receiver("127.0.0.2").start()
    yield started
    started.stop()


def method_on(infrastructure: str, method_id: str, *script: str,
              **inputs: dict[str, Any]) -> dict[str, Any]:
    """file-stats, or a variant: on another Infrastructure, with other scripts or inputs."""
    method = copy.deepcopy(FILE_STATS)
    method.update(id=method_id, title=method_id)
    if inputs:
        method["inputs"] = {"ccpimage": method["inputs"]["ccpimage"], **inputs}
    image = {"docker": IMAGE, "swarm": IMAGE, "lxd": LXD_IMAGE}.get(infrastructure)
    if image:
        method["inputs"]["ccpimage"]["schema"]["default"] = image
    method["links"] = [{"rel": "compatibleWith", "href": f"infrastructures/{infrastructure}"}]
    if script:
        method["additionalParameters"]["parameters"] = [
            {"name": "execute-script", "value": list(script)}]
    return method


@pytest.fixture
def referencing(app_factory, tmp_path: Path) -> Any:
    """A server allowing 127.0.0.2, with Methods that take files by reference everywhere."""
    methods, infrastructures = tmp_path / "methods", tmp_path / "infrastructures"
    shutil.copytree(REPO / "methods", methods)
    infrastructures.mkdir()
    for kind in ("local", "docker", "swarm", "lxd"):
        descriptor = json.loads((REPO / "infrastructures" / f"{kind}.json").read_text())
        if kind in ("docker", "swarm"):
            descriptor["settings"]["engine"] = ENGINE
        (infrastructures / f"{kind}.json").write_text(json.dumps(descriptor))
    for method in (
            method_on("local", "many-files", "cat {{ parts }}", parts={
                "schema": {"type": "string"}, "minOccurs": 1, "maxOccurs": 3}),
            method_on("local", "append-to-input", "echo appended >> {{ data }}"),
            *(method_on(kind, f"file-stats-{kind}") for kind in ("docker", "swarm", "lxd"))):
        (methods / f"{method['id']}.json").write_text(json.dumps(method))
    app = app_factory(methods=methods, infrastructures=infrastructures,
                      outbound={"allow": "127.0.0.2/32", "max_bytes": 200000, "timeout": 20})
    return app.test_client()


def run(client: Any, process: str, inputs: dict[str, Any], timeout: float = 60
        ) -> dict[str, Any]:
    response = client.post(f"/processes/{process}/execution", json={"inputs": inputs},
                           headers=ASYNC)
    assert response.status_code == 201, response.get_json()
    return wait_final(client, response.get_json()["jobID"], timeout)


def test_ogc_href_input_is_downloaded_staged_and_named_by_its_path(referencing,
                                                                    receiver) -> None:
    url = receiver.serve("points.csv", CSV)
    job = run(referencing, "file-stats", {"data": {"href": url, "type": "text/csv"}})
    assert job["status"] == "successful", job
    digest = hashlib.sha256(CSV).hexdigest()
    results = referencing.get(f"/jobs/{job['jobID']}/results").get_json()
    assert results["stdout"]["value"].split("\n")[:3] == [
        f"bytes {len(CSV)}", "lines 4", f"sha256 {digest}"]
    archive = archive_of(referencing, job["jobID"])
    staged = json.loads(archive.read("metadata/staged-inputs.json"))
    assert staged == [{"name": "data", "source": url, "path": "/ccp_data/inputs/data",
                       "size": len(CSV), "sha256": digest, "mediaType": "text/csv"}]
    status = json.loads(archive.read("metadata/status.json"))
    assert status["inputs"]["data"] == "/ccp_data/inputs/data"  # what {{ data }} rendered
    assert json.loads(archive.read("metadata/request.json"))["inputs"]["data"]["href"] == url
    # the unchanged input is recorded, not kept again as an output
    assert outputs_of(archive).namelist() == ["stats.txt"]
    prov = json.loads(archive.read("metadata/provenance.json"))
    entity = prov["entity"][f"job:{job['jobID']}/inputs/data"]
    assert entity["ccp:sha256"] == digest and entity["ccp:size"]["$"] == str(len(CSV))
    assert entity["ccp:href"]["$"] == url
    assert f"job:{job['jobID']}/inputs/data" in {
        used["prov:entity"] for used in prov["used"].values()}
    assert referencing.get(f"/jobs/{job['jobID']}/inputs").get_json()["inputs"]["data"] == {
        "href": url, "type": "text/csv"}
    (request,) = receiver.calls("/files/points.csv")
    assert request.method == "GET" and request.headers["Accept-Encoding"] == "identity"


def test_ogc_href_items_of_a_list_are_staged_one_by_one(referencing, receiver) -> None:
    first, third = receiver.serve("a.txt", b"first\n"), receiver.serve("c.txt", b"third\n")
    job = run(referencing, "many-files",
              {"parts": [{"href": first}, "/dev/null", {"href": third}]})
    assert job["status"] == "successful", job
    stdout = referencing.get(f"/jobs/{job['jobID']}/results").get_json()["stdout"]["value"]
    assert stdout == "first\nthird\n"
    staged = json.loads(archive_of(referencing, job["jobID"]).read(
        "metadata/staged-inputs.json"))
    assert [(s["index"], s["path"]) for s in staged] == [
        (1, "/ccp_data/inputs/parts/1"), (3, "/ccp_data/inputs/parts/3")]


def test_ogc_href_redirects_between_allowed_hosts_are_followed(referencing,
                                                               receiver) -> None:
    target = receiver.serve("moved.csv", CSV)
    job = run(referencing, "file-stats",
              {"data": {"href": f"{receiver.url}/redirect?to={target}"}})
    assert job["status"] == "successful", job
    assert len(receiver.calls("/redirect")) == 1 and len(receiver.calls("/files/moved")) == 1


def test_ogc_a_changed_input_is_kept_as_an_output(referencing, receiver) -> None:
    job = run(referencing, "append-to-input", {"data": {"href": receiver.serve("x", b"x\n")}})
    assert job["status"] == "successful", job
    outputs = outputs_of(archive_of(referencing, job["jobID"]))
    assert outputs.read("inputs/data") == b"x\nappended\n"


def test_ogc_a_failed_download_fails_the_job_before_any_runtime_starts(referencing,
                                                                       receiver) -> None:
    job = run(referencing, "file-stats", {"data": {"href": f"{receiver.url}/files/absent"}})
    assert job["status"] == "failed"
    assert job["message"].startswith("Download failed: input 'data'") and "404" in \
        job["message"], job["message"]
    log = referencing.get(f"/jobs/{job['jobID']}/logs").get_data(as_text=True)
    assert "[Download]" in log and "[Launch]" not in log


def test_ogc_dismissing_a_job_during_its_download_stops_it(referencing, receiver) -> None:
    response = referencing.post("/processes/file-stats/execution", json={"inputs": {
        "data": {"href": f"{receiver.url}/slow?bytes=1000&every=0.2"}}})
    job_id = response.get_json()["jobID"]
    wait_status(referencing, job_id, "running")
    receiver.wait_for("/slow")
    assert referencing.delete(f"/jobs/{job_id}").status_code == 200
    assert wait_final(referencing, job_id)["status"] == "dismissed"


def test_ogc_href_refused_for_inputs_that_are_not_free_strings(referencing, receiver) -> None:
    url = receiver.serve("n", b"5")
    for process, inputs in (("sleep", {"seconds": {"href": url}}),
                            ("file-stats", {"ccpimage": {"href": url}}),
                            ("file-stats", {"ccpmaxtime": {"href": url}}),
                            ("file-stats", {"data": {"href": url, "headers": {"X": "1"}}})):
        response = referencing.post(f"/processes/{process}/execution",
                                    json={"inputs": inputs})
        assert response.status_code == 400, (inputs, response.get_json())
    assert receiver.calls("/files/n") == []


@pytest.mark.parametrize("kind", ["docker", "swarm", "lxd"])
def test_ogc_href_input_is_staged_on_every_isolating_runtime(referencing, receiver,
                                                             kind: str) -> None:
    url = receiver.serve("points.csv", CSV)
    job = run(referencing, f"file-stats-{kind}", {"data": {"href": url}}, timeout=180)
    assert job["status"] == "successful", job
    archive = archive_of(referencing, job["jobID"])
    stats = outputs_of(archive).read("stats.txt").decode()
    assert f"sha256 {hashlib.sha256(CSV).hexdigest()}" in stats
    assert "inputs/data" not in outputs_of(archive).namelist()


def test_ogc_size_limit_applies_to_inputs_by_reference(referencing, receiver) -> None:
    url = receiver.serve("large.bin", b"z" * 200001)
    job = run(referencing, "file-stats", {"data": {"href": url}})
    assert job["status"] == "failed" and "200000 bytes" in job["message"], job["message"]
