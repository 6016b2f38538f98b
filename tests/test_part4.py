"""OGC API - Processes Part 4 (draft 24-051): job management and provenance, against a live
server, written from the requirements of `/req/job-management/*` and `/req/provenance/*`.

Responses are checked with JSON schemas written here from the standard's statusInfo.yaml
(Part 4 adds the status `created` and the member `id`) and inputs.yaml.
"""

from __future__ import annotations

import time
import xml.etree.ElementTree as ElementTree
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import rdflib
import requests
from conftest import ServerProcess
from helpers import ASYNC, wait_final, wait_final_url
from prov.model import ProvDocument
from test_auth import SECRET, token

from ccp.api.landing import CONFORMANCE
from ccp.jobs import JobStatus

PART4 = "http://www.opengis.net/spec/ogcapi-processes-4/1.0/"
LOCKED = "http://www.opengis.net/def/exceptions/ogcapi-processes-4/1.0/locked"
STATUS_INFO = {
    "type": "object",
    "required": ["id", "jobID", "status", "type", "processID", "links"],
    "properties": {
        "id": {"type": "string"}, "jobID": {"type": "string"},
        "process": {"type": "string", "format": "uri"},
        "type": {"enum": ["process"]},
        "status": {"enum": ["created", "accepted", "running", "successful", "failed",
                            "dismissed"]},
        "message": {"type": "string"},
        "progress": {"type": "integer", "minimum": 0, "maximum": 100},
        "links": {"type": "array", "items": {"type": "object", "required": ["href"]}},
    },
}
INPUTS = {"type": "object", "required": ["inputs", "outputs"],
          "properties": {"inputs": {"type": "object"}, "outputs": {"type": "object"},
                         "links": {"type": "array"}}}
EXCEPTION = {"type": "object", "required": ["type", "title", "status", "detail"]}


def definition(name: str = "Ann", **more: Any) -> dict[str, Any]:
    return {"process": "http://localhost:5000/processes/hello-world",
            "inputs": {"name": name}, **more}


def create(client: Any, body: dict[str, Any] | None = None, **headers: str) -> dict[str, Any]:
    response = client.post("/jobs", json=body or definition(), headers=headers)
    assert response.status_code == 201, response.get_json()
    info = response.get_json()
    jsonschema.validate(info, STATUS_INFO)
    assert response.headers["Location"].endswith(f"/jobs/{info['id']}")
    assert info["status"] == "created" and info["id"] == info["jobID"]
    return info


def exception(response: Any, status: int, type_end: str = "") -> dict[str, Any]:
    assert response.status_code == status, (response.status_code, response.get_data()[:400])
    body = response.get_json()
    jsonschema.validate(body, EXCEPTION)
    assert body["type"].endswith(type_end), body
    return body


# --- create -----------------------------------------------------------------------------------

def test_part4_post_jobs_creates_a_job_in_status_created(client) -> None:
    info = create(client)
    assert info["process"].endswith("/processes/hello-world")
    assert info["message"].startswith("Created")
    rels = {link["rel"] for link in info["links"]}
    assert {"self", "definition", "inputs", "prov"} <= rels
    assert client.get(f"/jobs/{info['id']}").get_json()["status"] == "created"


def test_part4_a_created_job_is_never_claimed_by_a_worker(client, app) -> None:
    created = create(client)["id"]
    ran = client.post("/processes/hello-world/execution", json={"inputs": {}},
                      headers=ASYNC).get_json()
    assert wait_final(client, ran["jobID"])["status"] == "successful"  # workers are busy
    store = app.extensions["ccp"].manager.store
    assert store.claim_next("another-worker") is None
    assert client.get(f"/jobs/{created}").get_json()["status"] == "created"
    listed = client.get("/jobs?status=created").get_json()
    assert [job["jobID"] for job in listed["jobs"]] == [created]


def test_part4_create_refuses_what_it_cannot_run(client) -> None:
    exception(client.post("/jobs", data="inputs=1", content_type="text/plain"), 415,
              "ogcapi-processes-4/1.0/unsupported-media-type")
    exception(client.post("/jobs", json=definition(), headers={
        "Content-Schema": "https://openeo.org/documentation/1.0/developers/api/assets/"
                          "pg-schema.json"}), 422, "unsupported-schema")
    exception(client.post("/jobs", json={"inputs": {}}), 400, "missing-parameter-value")
    exception(client.post("/jobs", json={"process": "https://other.example.org/processes/x"}),
              400, "invalid-parameter-value")
    exception(client.post("/jobs", json={"process": "no-such-process"}), 404,
              "no-such-process")
    exception(client.post("/jobs", json={"process": "hello-world", "inputs": {"nope": 1}}),
              400)
    exception(client.post("/jobs", json=[1, 2]), 400)
    assert client.get("/jobs?status=created").get_json()["numberMatched"] == 0
    for process in ("hello-world", "/processes/hello-world"):  # relative forms
        create(client, {"process": process})


def test_part4_definition_is_the_body_it_was_created_with(client) -> None:
    body = definition("Bob", outputs={"stdout": {}}, response="document")
    job = create(client, body)["id"]
    response = client.get(f"/jobs/{job}/definition")
    assert response.status_code == 200 and response.get_json() == body
    # A job run with Part 1 has a definition too: its execute request and its process.
    ran = client.post("/processes/hello-world/execution",
                      json={"inputs": {"name": "Cy"}}, headers=ASYNC).get_json()["jobID"]
    assert client.get(f"/jobs/{ran}/definition").get_json() == {
        "process": "http://localhost:5000/processes/hello-world", "inputs": {"name": "Cy"}}


# --- update, start, locked ----------------------------------------------------------------------

def test_part4_patch_merges_into_the_definition_and_validates_it_again(client) -> None:
    job = create(client, definition("Ann", response="raw"))["id"]
    response = client.patch(f"/jobs/{job}", json={"inputs": {"name": "Bea"},
                                                   "response": None})
    assert response.status_code == 200
    jsonschema.validate(response.get_json(), STATUS_INFO)
    assert client.get(f"/jobs/{job}/definition").get_json() == definition("Bea")
    assert client.get(f"/jobs/{job}/inputs").get_json()["inputs"]["name"] == "Bea"
    exception(client.patch(f"/jobs/{job}", json={"inputs": {"name": {"a": 1}}}), 400)
    exception(client.patch(f"/jobs/{job}", json={"process": "no-such-process"}), 404)
    exception(client.patch(f"/jobs/{job}", data="x", content_type="text/plain"), 415)
    assert client.get(f"/jobs/{job}/definition").get_json() == definition("Bea")
    exception(client.patch("/jobs/no-such-job", json={}), 404, "no-such-job")


def test_part4_post_results_starts_it_and_it_is_locked_from_then_on(client) -> None:
    job = create(client, definition("Dee"))["id"]
    response = client.post(f"/jobs/{job}/results")
    assert response.status_code == 200
    info = response.get_json()
    jsonschema.validate(info, STATUS_INFO)
    assert info["status"] in ("accepted", "running", "successful")
    for attempt in (client.patch(f"/jobs/{job}", json={"inputs": {"name": "Eve"}}),
                    client.post(f"/jobs/{job}/results")):
        assert "only a created job" in exception(attempt, 423, LOCKED)["detail"]
    final = wait_final(client, job)
    assert final["status"] == "successful"
    results = client.get(f"/jobs/{job}/results").get_json()
    assert results["stdout"]["value"].startswith("Hello, Dee!")
    exception(client.patch(f"/jobs/{job}", json={}), 423, LOCKED)
    exception(client.post(f"/jobs/{job}/results"), 423, LOCKED)
    exception(client.post("/jobs/no-such-job/results"), 404, "no-such-job")


def test_part4_delete_dismisses_a_created_job_and_a_second_delete_removes_it(client) -> None:
    job = create(client)["id"]
    assert client.delete(f"/jobs/{job}").get_json()["status"] == "dismissed"
    exception(client.post(f"/jobs/{job}/results"), 423, LOCKED)
    assert client.delete(f"/jobs/{job}").status_code == 200
    exception(client.get(f"/jobs/{job}"), 404, "no-such-job")


# --- provenance ---------------------------------------------------------------------------------

def test_part4_inputs_lists_every_input_with_defaults(client) -> None:
    job = create(client, definition("Fay", outputs={"stdout": {}}))["id"]
    response = client.get(f"/jobs/{job}/inputs")
    body = response.get_json()
    jsonschema.validate(body, INPUTS)
    assert body["inputs"]["name"] == "Fay"
    assert body["inputs"]["ccpimage"] == "ccp/busybox:1"  # a default, filled in
    assert body["outputs"] == {"stdout": {}}


PARSERS = {
    "json": lambda text: ProvDocument.deserialize(content=text, format="json"),
    "jsonld": lambda text: rdflib.Graph().parse(data=text, format="json-ld"),
    "ttl": lambda text: rdflib.Graph().parse(data=text, format="turtle"),
    "nt": lambda text: rdflib.Graph().parse(data=text, format="nt"),
    "xml": lambda text: ElementTree.fromstring(text.encode()),
    "provn": lambda text: text if text.startswith("document") else None,
}
MEDIA_TYPES = {"json": "application/json", "jsonld": "application/ld+json",
               "ttl": "text/turtle", "nt": "application/n-triples", "xml": "application/xml",
               "provn": "text/provenance-notation"}


def test_part4_prov_negotiates_every_prov_format_by_accept_and_f(client) -> None:
    created = create(client, definition("Gil"))["id"]
    finished = client.post("/processes/hello-world/execution",
                           json={"inputs": {"name": "Hal"}}, headers=ASYNC).get_json()["jobID"]
    assert wait_final(client, finished)["status"] == "successful"
    for job in (created, finished):
        default = client.get(f"/jobs/{job}/prov")
        assert default.status_code == 200 and default.mimetype == "application/json"
        assert f"job:{job}" in default.get_json()["activity"]
        for fmt, media_type in MEDIA_TYPES.items():
            for response in (client.get(f"/jobs/{job}/prov?f={fmt}"),
                             client.get(f"/jobs/{job}/prov", headers={"Accept": media_type})):
                assert response.status_code == 200, (fmt, response.get_data()[:300])
                assert response.mimetype == media_type
                assert PARSERS[fmt](response.get_data(as_text=True)) is not None, fmt
    graph = rdflib.Graph().parse(data=client.get(f"/jobs/{finished}/prov?f=ttl").get_data(
        as_text=True), format="turtle")
    prov = rdflib.Namespace("http://www.w3.org/ns/prov#")
    assert (None, prov.used, None) in graph and (None, prov.endedAtTime, None) in graph
    exception(client.get(f"/jobs/{created}/prov", headers={"Accept": "application/pdf"}), 406)
    exception(client.get(f"/jobs/{created}/prov?f=pdf"), 400)


# --- who sees what, quotas, restarts -------------------------------------------------------------

@pytest.fixture
def secured(app_factory, monkeypatch) -> Any:
    monkeypatch.setenv("CCP_JWT_SECRET", SECRET)
    app = app_factory(auth={"enabled": True, "algorithm": "HS256",
                            "issuer": "https://idp.example.org/realms/ccp", "audience": "ccp"},
                      policy={"limits": {"user": {"created_jobs": 2, "active_executions": 5}}})
    return app.test_client()


def test_part4_a_user_never_sees_or_touches_another_users_created_job(secured) -> None:
    ann, bob, admin = token("ann"), token("bob"), token("root", roles=["admin"])
    job = create(secured, **ann)["id"]
    for response in (secured.get(f"/jobs/{job}", headers=bob),
                     secured.patch(f"/jobs/{job}", json={}, headers=bob),
                     secured.post(f"/jobs/{job}/results", headers=bob),
                     secured.get(f"/jobs/{job}/definition", headers=bob),
                     secured.get(f"/jobs/{job}/inputs", headers=bob),
                     secured.get(f"/jobs/{job}/prov", headers=bob),
                     secured.delete(f"/jobs/{job}", headers=bob)):
        exception(response, 404, "no-such-job")
    assert secured.get("/jobs?status=created", headers=bob).get_json()["numberMatched"] == 0
    assert secured.get("/jobs?status=created", headers=ann).get_json()["numberMatched"] == 1
    assert secured.get(f"/jobs/{job}", headers=admin).get_json()["status"] == "created"
    exception(secured.post("/jobs", json=definition()), 401)
    assert secured.get(f"/jobs/{job}", headers=ann).get_json()["status"] == "created"


def test_part4_created_jobs_count_against_their_own_quota(secured) -> None:
    ann = token("ann")
    first = create(secured, **ann)["id"]
    create(secured, **ann)
    body = exception(secured.post("/jobs", json=definition(), headers=ann), 429)
    assert "created jobs" in body["detail"]
    create(secured, **token("bob"))  # another user's quota is their own
    assert secured.post(f"/jobs/{first}/results", headers=ann).status_code == 200
    create(secured, **ann)  # started: no longer a created job


def test_part4_created_jobs_survive_a_restart_and_expire_unchanged(tmp_path: Path) -> None:
    data = tmp_path / "data"
    settings = {"CCP_CREATED_JOB_TTL": "4", "CCP_HEARTBEAT_TIMEOUT": "2"}
    server = ServerProcess(data, **settings).start()
    try:
        kept = requests.post(f"{server.url}/jobs", json={"process": "hello-world"},
                             timeout=30).json()
        server.stop()
        server = ServerProcess(data, **settings).start()  # a new port, the same data
        url = f"{server.url}/jobs/{kept['id']}"
        assert requests.get(url, timeout=30).json()["status"] == "created"
        assert requests.post(f"{url}/results", timeout=30).status_code == 200
        left = requests.post(f"{server.url}/jobs", json={"process": "hello-world"},
                             timeout=30).json()
        assert requests.get(f"{server.url}/jobs/{left['id']}", timeout=30).status_code == 200
        deadline = time.monotonic() + 30
        while requests.get(f"{server.url}/jobs/{left['id']}", timeout=30).status_code != 404:
            assert time.monotonic() < deadline, "the created job never expired"
            time.sleep(0.5)
        # started before the time to live passed: it ran, and expiry never touches it
        assert wait_final_url(server.url, kept["id"])["status"] == "successful"
    finally:
        server.stop()


def test_part4_conformance_classes_are_declared(client) -> None:
    declared = client.get("/conformance").get_json()["conformsTo"]
    assert f"{PART4}conf/job-management" in declared and f"{PART4}conf/provenance" in declared
    assert set(declared) == set(CONFORMANCE)
    assert JobStatus.CREATED.value == "created" and not JobStatus.CREATED.is_final
    described = client.get("/openapi?f=json").get_json()["paths"]
    assert {"post", "get"} <= set(described["/jobs"])
    assert "patch" in described["/jobs/{jobId}"]
    assert "post" in described["/jobs/{jobId}/results"]
    for path in ("definition", "inputs", "prov"):
        assert "get" in described[f"/jobs/{{jobId}}/{path}"], path
