"""OGC API - Processes - Part 1: Core 1.0, conformance class `core`: its abstract tests
(/conf/core/...) written from the standard's text, against a live server."""

from __future__ import annotations

from typing import Any

import pytest
import requests
from conftest import ServerProcess
from ogc import (
    CONF,
    CONF_CLASSES,
    EXCEPTION,
    EXCEPTIONS,
    HTML,
    JSON,
    LANDING_PAGE,
    PROCESS_LIST,
    PROCESS_SUMMARY,
    REL,
    RESULTS,
    STATUS_INFO,
    exception,
    execute,
    get,
    links,
    live_server,  # noqa: F401  (the `live` fixture)
    media_type,
    validate,
    wait_for,
)

NO_SUCH_JOB = "00000000-0000-4000-8000-000000000000"


@pytest.fixture(scope="module")
def jobs(live: ServerProcess) -> dict[str, dict[str, Any]]:
    """One successful and one failed job, both over."""
    done = {"successful": execute(live, "hello-world", {"name": "OGC"}),
            "failed": execute(live, "always-fails")}
    return {status: wait_for(live, job_id) for status, job_id in done.items()}


def test_conformance_core_landing_page(live: ServerProcess) -> None:
    """/conf/core/landingpage-op, /conf/core/landingpage-success: GET / answers 200 with a
    landingPage.yaml document linking the API definition (service-desc or service-doc),
    /conformance and /processes with their relation types."""
    response = get(live, "/")
    assert response.status_code == 200
    landing = response.json()
    validate(landing, LANDING_PAGE)
    assert links(landing, "service-desc") or links(landing, "service-doc")
    assert [link["href"] for link in links(landing, f"{REL}conformance")] == [
        f"{live.url}/conformance"]
    assert [link["href"] for link in links(landing, f"{REL}processes")] == [
        f"{live.url}/processes"]


def test_conformance_core_api_definition(live: ServerProcess) -> None:
    """/conf/core/api-definition-op, /conf/core/api-definition-success: every API definition
    the landing page links (service-desc, service-doc) answers GET with 200 and a document."""
    landing = get(live, "/").json()
    definitions = links(landing, "service-desc") + links(landing, "service-doc")
    assert len(definitions) == 2
    for link in definitions:
        response = get(live, link["href"], accept=link["type"])
        assert response.status_code == 200, link
        assert media_type(response) == link["type"]
        assert response.content


def test_conformance_core_conformance(live: ServerProcess) -> None:
    """/conf/core/conformance-op, /conf/core/conformance-success: GET /conformance answers 200
    with a confClasses.yaml document listing the Processes classes, core among them."""
    response = get(live, "/conformance")
    assert response.status_code == 200
    document = response.json()
    validate(document, CONF_CLASSES)
    assert f"{CONF}core" in document["conformsTo"]
    assert all(uri.startswith("http://www.opengis.net/spec/ogcapi-processes-")
               for uri in document["conformsTo"]), "a class outside OGC API - Processes"


def test_conformance_core_http(live: ServerProcess) -> None:
    """/conf/core/http: the server speaks HTTP 1.1."""
    response = requests.get(f"{live.url}/", timeout=10, stream=True)
    assert response.raw.version == 11
    response.close()


def test_conformance_core_process_list(live: ServerProcess) -> None:
    """/conf/core/process-list-op, /conf/core/process-list-success: GET /processes answers 200
    with a processList.yaml document of processSummary.yaml entries, each with a link to its
    description."""
    response = get(live, "/processes")
    assert response.status_code == 200
    document = response.json()
    validate(document, PROCESS_LIST)
    assert {"hello-world", "sleep", "always-fails"} <= {p["id"] for p in document["processes"]}
    for summary in document["processes"]:
        validate(summary, PROCESS_SUMMARY)
        assert f"{live.url}/processes/{summary['id']}" in [
            link["href"].split("?")[0] for link in links(summary, "self")]


def test_conformance_core_process_list_limit(live: ServerProcess) -> None:
    """/conf/core/pl-limit-definition, /conf/core/pl-limit-response: `limit` is an integer
    query parameter with minimum 1 in the API definition, and no response holds more process
    summaries than it asks for."""
    parameters = get(live, "/openapi?f=json", accept=None).json()["paths"]["/processes"][
        "get"]["parameters"]
    limit = next(p for p in parameters if p["name"] == "limit")
    assert limit["in"] == "query" and not limit.get("required", False)
    assert limit["schema"]["type"] == "integer" and limit["schema"]["minimum"] == 1
    everything = len(get(live, "/processes").json()["processes"])
    assert everything > 2
    for asked in (1, 2, everything + 5):
        found = get(live, "/processes", limit=asked).json()["processes"]
        assert len(found) == min(asked, everything)


def test_conformance_core_process_list_links(live: ServerProcess) -> None:
    """/conf/core/pl-links: the process list links itself (self) and itself in every other
    media type the server supports (alternate: HTML)."""
    document = get(live, "/processes").json()
    assert [link["type"] for link in links(document, "self")] == [JSON]
    assert [link["type"] for link in links(document, "alternate")] == [HTML]
    for link in links(document, "self") + links(document, "alternate"):
        response = get(live, link["href"], accept=link["type"])
        assert response.status_code == 200 and media_type(response) == link["type"]


def test_conformance_core_process_description(live: ServerProcess) -> None:
    """/conf/core/process-description-op, /conf/core/process-description-success: every
    listed process answers GET /processes/{id} with 200 and its process description."""
    for summary in get(live, "/processes").json()["processes"]:
        response = get(live, f"/processes/{summary['id']}")
        assert response.status_code == 200, summary["id"]
        description = response.json()
        assert description["id"] == summary["id"]
        assert "inputs" in description and "outputs" in description


def test_conformance_core_no_such_process(live: ServerProcess) -> None:
    """/conf/core/process-exception-no-such-process: an unknown process id answers 404 with an
    exception of type no-such-process, for its description and for its execution."""
    exception(get(live, "/processes/no-such-process-here"), 404, f"{EXCEPTIONS}no-such-process")
    exception(requests.post(f"{live.url}/processes/no-such-process-here/execution",
                            json={"inputs": {}}, timeout=10), 404, f"{EXCEPTIONS}no-such-process")


def test_conformance_core_execute_async(live: ServerProcess) -> None:
    """/conf/core/process-execute-op, /conf/core/process-execute-success-async: an asynchronous
    execution answers 201 with a Location header naming the new job and a statusInfo.yaml
    document."""
    response = requests.post(f"{live.url}/processes/hello-world/execution", timeout=30,
                             json={"inputs": {"name": "async"}},
                             headers={"Prefer": "respond-async"})
    assert response.status_code == 201
    info = response.json()
    validate(info, STATUS_INFO)
    assert response.headers["Location"] == f"{live.url}/jobs/{info['jobID']}"
    assert info["status"] in ("accepted", "running", "successful")
    wait_for(live, info["jobID"])


def test_conformance_core_execute_input_validation(live: ServerProcess) -> None:
    """/conf/core/process-execute-input-validation: inputs that break the process's input
    schema (a wrong type, an unknown input) are refused with 400 and no job is made."""
    before = get(live, "/jobs", limit=1000).json()["numberMatched"]
    for inputs in ({"name": 42}, {"name": ["a", "b"]}, {"nonsense": 1}):
        response = requests.post(f"{live.url}/processes/hello-world/execution", timeout=30,
                                 json={"inputs": inputs})
        exception(response, 400)
    assert get(live, "/jobs", limit=1000).json()["numberMatched"] == before


def test_conformance_core_job_status(live: ServerProcess, jobs: dict[str, Any]) -> None:
    """/conf/core/job-op, /conf/core/job-success: GET /jobs/{jobID} answers 200 with a
    statusInfo.yaml document of that job."""
    for status, job in jobs.items():
        response = get(live, f"/jobs/{job['jobID']}")
        assert response.status_code == 200
        info = response.json()
        validate(info, STATUS_INFO)
        assert info["jobID"] == job["jobID"] and info["status"] == status
        assert info["processID"] in ("hello-world", "always-fails")


def test_conformance_core_no_such_job(live: ServerProcess) -> None:
    """/conf/core/job-exception-no-such-job, /conf/core/job-results-exception-no-such-job: an
    unknown job id answers 404 no-such-job for its status and for its results."""
    exception(get(live, f"/jobs/{NO_SUCH_JOB}"), 404, f"{EXCEPTIONS}no-such-job")
    exception(get(live, f"/jobs/{NO_SUCH_JOB}/results"), 404, f"{EXCEPTIONS}no-such-job")


def test_conformance_core_job_results(live: ServerProcess, jobs: dict[str, Any]) -> None:
    """/conf/core/job-results-op, /conf/core/job-results-success (asynchronous, document): the
    results of a successful job answer 200 with a results.yaml document: every member is an
    output of the process (so no `links` member), inline or by reference."""
    job = jobs["successful"]
    response = get(live, f"/jobs/{job['jobID']}/results")
    assert response.status_code == 200 and media_type(response) == JSON
    results = response.json()
    validate(results, RESULTS)
    declared = get(live, "/processes/hello-world").json()["outputs"]
    assert set(results) <= set(declared), "a member that is not an output"
    assert "Hello, OGC" in results["stdout"]["value"]
    assert 'rel="archive"' in response.headers["Link"]  # links live in the Link header


def test_conformance_core_results_not_ready(live: ServerProcess) -> None:
    """/conf/core/job-results-exception-results-not-ready: the results of a job that is still
    running answer 404 of type result-not-ready."""
    job_id = execute(live, "sleep", {"seconds": 30})
    try:
        wait_for(live, job_id, ("running",))
        exception(get(live, f"/jobs/{job_id}/results"), 404, f"{EXCEPTIONS}result-not-ready")
    finally:
        requests.delete(f"{live.url}/jobs/{job_id}", timeout=30)
    wait_for(live, job_id)


def test_conformance_core_job_results_failed(live: ServerProcess, jobs: dict[str, Any]
                                             ) -> None:
    """/conf/core/job-results-failed: the results of a failed job answer an HTTP error with an
    exception.yaml document that says why."""
    job = jobs["failed"]
    response = get(live, f"/jobs/{job['jobID']}/results")
    assert 400 <= response.status_code < 600
    document = response.json()
    validate(document, EXCEPTION)
    assert "failed" in document["detail"]
