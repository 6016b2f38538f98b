"""OGC Application Packages (Part 2, ogcapppkg and docker): CCP's execution unit, a container
image with a command (run for real on the docker Infrastructure), the package of a deployed
Method, and 415 for what CCP does not run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from engines import ENGINE, Engine

from ccp.api.landing import CONFORMANCE

REPO = Path(__file__).resolve().parent.parent
HELLO = json.loads((REPO / "methods" / "hello-world.json").read_text())
PACKAGE = "application/ogcapppkg+json"
PART2 = "http://www.opengis.net/spec/ogcapi-processes-2/1.0/conf/"


def process(process_id: str, **more: Any) -> dict[str, Any]:
    """An OGC process description, with nothing of CCP's in it."""
    return {"id": process_id, "title": process_id, "version": "1.0.0",
            "jobControlOptions": ["sync-execute", "async-execute"],
            "inputs": {"name": {"title": "Name", "schema": {"type": "string",
                                                           "maxLength": 100}}},
            "outputs": {"greeting": {"path": "greeting.txt",
                                     "schema": {"type": "string",
                                                "contentMediaType": "text/plain"}}},
            **more}


def deploy(client: Any, package: dict[str, Any], media: str = PACKAGE) -> Any:
    return client.post("/processes", data=json.dumps(package), content_type=media)


def run_sync(client: Any, process_id: str, name: str) -> Any:
    return client.post(f"/processes/{process_id}/execution", json={
        "inputs": {"name": name}, "response": "raw", "outputs": {"greeting": {}}})


def test_ogc_apppkg_with_ccps_execution_unit_deploys_and_runs(client) -> None:
    package = {"processDescription": {"process": process("packaged-ccp")},
               "executionUnit": {"type": "ccp", "image": "ccp/busybox:1",
                                 "infrastructure": "local",
                                 "scripts": {"execute": [
                                     "printf 'Hi, %s!' {{ name }} > /ccp_data/greeting.txt"]}}}
    response = deploy(client, package)
    assert response.status_code == 201, response.get_json()
    assert response.headers["Location"].endswith("/processes/packaged-ccp")
    summary = response.get_json()
    assert summary["id"] == "packaged-ccp" and summary["version"] == "1.0.0"
    described = client.get("/processes/packaged-ccp").get_json()
    assert described["inputs"]["ccpimage"]["schema"]["default"] == "ccp/busybox:1"
    # descriptions give the Infrastructure's absolute URL, so that the link resolves
    base = client.application.extensions["ccp"].manager.base_url
    assert {"rel": "compatibleWith", "href": f"{base}/infrastructures/local",
            "type": "application/json"} in described["links"]
    answer = run_sync(client, "packaged-ccp", "Ann; rm -rf /")
    assert answer.status_code == 200 and answer.data == b"Hi, Ann; rm -rf /!"
    duplicate = deploy(client, package)
    assert duplicate.status_code == 409
    assert duplicate.get_json()["type"].endswith("ogcapi-processes-2/1.0/duplicated-process")


def test_ogc_apppkg_docker_image_unit_runs_for_real_on_the_docker_infrastructure(client
                                                                                  ) -> None:
    engine = Engine(ENGINE)
    engine.require()
    package = {"processDescription": {"process": process("packaged-docker")},
               "executionUnit": {"type": "docker", "image": "ccp/busybox:1",
                                 "deployment": "local", "config": {"cpuMin": 1},
                                 "command": "printf 'Container says %s (%s)' {{ name }} "
                                            "\"$(cat /etc/hostname)\" > /ccp_data/greeting.txt"}}
    response = deploy(client, package)
    assert response.status_code == 201, response.get_json()
    described = client.get("/processes/packaged-docker").get_json()
    assert described["inputs"]["ccpimage"]["schema"] == {
        "type": "string", "default": "ccp/busybox:1", "readOnly": True}
    base = client.application.extensions["ccp"].manager.base_url
    assert any(link["href"] == f"{base}/infrastructures/docker" for link in described["links"])
    answer = run_sync(client, "packaged-docker", "O'Brien")
    assert answer.status_code == 200, answer.get_data(as_text=True)
    text = answer.data.decode()
    assert text.startswith("Container says O'Brien (") and text.endswith(")")
    job_id = answer.headers.getlist("Link")[-1].split("/jobs/")[1].split(">")[0]
    job = client.get(f"/jobs/{job_id}").get_json()
    assert job["infrastructure"] == "docker" and job["image"] == "ccp/busybox:1"
    engine.assert_nothing_left(job_id)
    # the image is fixed by the unit: a client cannot swap it
    refused = client.post("/processes/packaged-docker/execution",
                          json={"inputs": {"name": "x", "ccpimage": "alpine:3"}})
    assert refused.status_code == 400 and "read-only" in refused.get_json()["detail"]


def test_ogc_apppkg_docker_command_list_quotes_every_argument(client) -> None:
    package = {"processDescription": {"process": process("packaged-list")},
               "executionUnit": {"type": "oci", "image": "ccp/busybox:1",
                                 "command": ["sh", "-c", "printf '%s|%s' \"$0\" \"$1\" "
                                             "> /ccp_data/greeting.txt",
                                             "literal $(id) ;", "{{ name }}"]}}
    response = deploy(client, package)
    assert response.status_code == 201, response.get_json()
    answer = run_sync(client, "packaged-list", "two words")
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert answer.data == b"literal $(id) ;|two words"
    mixed = {"processDescription": {"process": process("packaged-mixed")},
             "executionUnit": {"type": "docker", "image": "ccp/busybox:1",
                               "command": ["echo", "--name={{ name }}"]}}
    refused = deploy(client, mixed)
    assert refused.status_code == 400 and "exactly one input" in refused.get_json()["detail"]
    for unit, words in [({"type": "docker", "command": ["true"]}, ["image"]),
                        ({"type": "docker", "image": "a b", "command": ["true"]}, ["image"]),
                        ({"type": "docker", "image": "x:1"}, ["command"]),
                        ({"type": "docker", "image": "x:1", "command": ["true"],
                          "infrastructure": "local"}, ["not a docker or swarm"])]:
        response = deploy(client, {"processDescription": {"process": process("p")},
                                   "executionUnit": unit})
        assert response.status_code == 400, unit
        assert all(word in response.get_json()["detail"] for word in words), unit


@pytest.mark.parametrize("unit, words", [
    ({"type": "cwl", "href": "https://example.org/app.cwl"}, ["by reference"]),
    ({"href": "https://example.org/app-package.cwl", "type": "application/cwl"},
     ["by reference"]),
    ({"value": {"cwlVersion": "v1.2", "class": "Workflow"}, "mediaType": "application/cwl+json"},
     ["CWL"]),
    ({"cwlVersion": "v1.2", "class": "CommandLineTool"}, ["CWL"]),
    ({"type": "kubernetes", "image": "x"}, ["'kubernetes'"]),
    ([{"type": "docker", "image": "a"}, {"type": "docker", "image": "b"}], ["one execution"]),
])
def test_ogc_apppkg_units_ccp_does_not_run_get_415(client, unit: Any,
                                                   words: list[str]) -> None:
    response = deploy(client, {"processDescription": {"process": process("nope")},
                               "executionUnit": unit})
    assert response.status_code == 415
    problem = response.get_json()
    assert problem["type"] == ("http://www.opengis.net/def/exceptions/ogcapi-processes-2/1.0/"
                               "unsupported-media-type")
    assert "'ccp'" in problem["detail"] and "'docker'" in problem["detail"]
    assert all(word in problem["detail"] for word in words), problem["detail"]
    assert client.get("/processes/nope").status_code == 404


@pytest.mark.parametrize("media", ["application/cwl+json", "application/cwl", "text/plain",
                                   "application/xml"])
def test_ogc_apppkg_deploy_with_an_unsupported_content_type_gets_415(client,
                                                                     media: str) -> None:
    method = dict(HELLO, id="typed")
    assert deploy(client, method, "application/json").status_code == 201
    changed = dict(method, version="2.0.0")
    for response in (deploy(client, dict(method, id="typed-2"), media),
                     client.put("/processes/typed", data=json.dumps(changed),
                                content_type=media)):
        assert response.status_code == 415
        assert response.get_json()["type"].endswith("/unsupported-media-type")
        assert "application/ogcapppkg+json" in response.get_json()["detail"]
    assert ("CWL" in deploy(client, method, media).get_json()["detail"]) == ("cwl" in media)
    assert client.get("/processes/typed").get_json()["version"] == "1.0.0"  # not replaced


def test_ogc_apppkg_package_of_a_method_deploys_it_again(client) -> None:
    response = client.get("/processes/hello-world/package")
    assert response.status_code == 200 and response.mimetype == PACKAGE
    package = response.get_json()
    unit = package["executionUnit"]
    assert unit == {"type": "ccp", "image": "ccp/busybox:1", "infrastructure": "local",
                    "scripts": {"deploy": ["mkdir -p /ccp_data"],
                                "execute": HELLO["additionalParameters"]["parameters"][1]
                                ["value"],
                                "undeploy": ["echo undeployed"],
                                "cancel": ["echo cancelled"]}}
    process_ = package["processDescription"]["process"]
    assert "additionalParameters" not in process_
    assert not any(link["rel"] == "compatibleWith" for link in process_["links"])
    process_["id"] = "hello-again"
    assert deploy(client, package).status_code == 201
    answer = run_sync(client, "hello-again", "again")
    assert answer.status_code == 200 and answer.data == b"Hello, again!\n"
    assert client.get("/processes/nope/package").status_code == 404


def test_ogc_conformance_declares_ogcapppkg_and_docker(client) -> None:
    declared = client.get("/conformance").get_json()["conformsTo"]
    for name in ("ogcapppkg", "docker", "deploy-replace-undeploy"):
        assert f"{PART2}{name}" in declared and f"{PART2}{name}" in CONFORMANCE
