"""OGC API - Processes - Part 2: Deploy, Replace, Undeploy (draft), conformance class
`deploy-replace-undeploy` (/conf/dru/...), against a live server. CCP's mutable processes are
deployed Methods; the Methods of the methods folder are immutable."""

from __future__ import annotations

import copy
import json
from typing import Any

import requests
from conftest import REPO, ServerProcess
from ogc import (
    PART2_EXCEPTIONS,
    PROCESS_SUMMARY,
    REL,
    exception,
    get,
    links,
    live_server,  # noqa: F401  (the `live` fixture)
    validate,
)

HELLO = json.loads((REPO / "methods" / "hello-world.json").read_text())
NOT_EXISTING = "not-existing-process"


def method(method_id: str, **changes: Any) -> dict[str, Any]:
    document = copy.deepcopy(HELLO)
    document.update(id=method_id, **changes)
    return document


def processes_paths(server: ServerProcess) -> list[str]:
    """Step 1 of every DRU test: each processes link of the landing page and {root}/processes."""
    landing = get(server, "/").json()
    return sorted({*(link["href"] for link in links(landing, f"{REL}processes")),
                   f"{server.url}/processes"})


def test_conformance_part2_dru_static_indicator(live: ServerProcess) -> None:
    """/conf/dru/static-indicator, /conf/dru/process-list-success: every process of every
    process list says whether it is mutable (a boolean): deployed ones are, the methods
    folder's are not."""
    requests.post(f"{live.url}/processes", json=method("dru-mutable"), timeout=30)
    for path in processes_paths(live):
        summaries = get(live, path).json()["processes"]
        assert all(isinstance(summary.get("mutable"), bool) for summary in summaries)
        mutable = {summary["id"]: summary["mutable"] for summary in summaries}
        assert mutable["dru-mutable"] is True and mutable["hello-world"] is False


def test_conformance_part2_dru_deploy(live: ServerProcess) -> None:
    """/conf/dru/deploy-post-op (/req/deploy-replace-undeploy/deploy-post-op,
    deploy-body, deploy-response-pid, deploy-response-success, deploy-response-body): POST
    /processes with a process description deploys it under its own id: 201, Location of
    /processes/{id}, a processSummary.yaml body; the process is then listed and described."""
    for number, path in enumerate(processes_paths(live)):
        process_id = f"dru-deployed-{number}"
        response = requests.post(path, json=method(process_id), timeout=30)
        assert response.status_code == 201, response.text
        assert response.headers["Location"] == f"{live.url}/processes/{process_id}"
        summary = response.json()
        validate(summary, PROCESS_SUMMARY)
        assert summary["id"] == process_id and summary["mutable"] is True
        assert get(live, f"/processes/{process_id}").json()["id"] == process_id


def test_conformance_part2_dru_deploy_unsupported_content_type(live: ServerProcess) -> None:
    """/conf/dru/deploy-content-type, /conf/dru/deploy-unsupported-content-type: a body of an
    unsupported media type (text/plain) answers 415 of type unsupported-media-type, even
    when the bytes are a valid process description."""
    for path in processes_paths(live):
        response = requests.post(path, data=json.dumps(method("dru-plain")), timeout=30,
                                 headers={"Content-Type": "text/plain"})
        exception(response, 415, f"{PART2_EXCEPTIONS}unsupported-media-type")
    assert get(live, "/processes/dru-plain").status_code == 404


def test_conformance_part2_dru_deploy_duplicate_and_immutable(live: ServerProcess) -> None:
    """/req/deploy-replace-undeploy/deploy-response-duplicate,
    /req/deploy-replace-undeploy/deploy-response-immutable: deploying an id a mutable process
    has answers 409 duplicated-process; an id an immutable process has, 403
    immutable-process."""
    assert requests.post(f"{live.url}/processes", json=method("dru-twice"),
                         timeout=30).status_code == 201
    exception(requests.post(f"{live.url}/processes", json=method("dru-twice"), timeout=30),
              409, f"{PART2_EXCEPTIONS}duplicated-process")
    exception(requests.post(f"{live.url}/processes", json=method("hello-world"), timeout=30),
              403, f"{PART2_EXCEPTIONS}immutable-process")


def test_conformance_part2_dru_replace(live: ServerProcess) -> None:
    """/conf/dru/replace-put-op, /req/deploy-replace-undeploy/replace-response: PUT on a mutable
    process replaces it (200 or 204) and the new description is served; PUT on a process that
    does not exist is not a 405."""
    assert requests.post(f"{live.url}/processes", json=method("dru-replaced"),
                         timeout=30).status_code == 201
    for number, path in enumerate(processes_paths(live)):
        changed = method("dru-replaced", version=f"2.{number}", title=f"Replaced {number}")
        response = requests.put(f"{path}/dru-replaced", json=changed, timeout=30)
        assert response.status_code in (200, 204), response.text
        description = get(live, "/processes/dru-replaced").json()
        assert description["version"] == f"2.{number}"
        assert description["title"] == f"Replaced {number}"
        missing = requests.put(f"{path}/{NOT_EXISTING}", json=method(NOT_EXISTING), timeout=30)
        assert missing.status_code != 405
        exception(missing, 404)


def test_conformance_part2_dru_replace_unsupported_content_type(live: ServerProcess) -> None:
    """/conf/dru/replace-content-type, /conf/dru/replace-unsupported-content-type: a
    replacement of an unsupported media type (text/plain) answers 415. (The draft's abstract
    test names the type unsupported-content-type; its requirement, which CCP follows for deploy
    and replace alike, unsupported-media-type.)"""
    assert requests.post(f"{live.url}/processes", json=method("dru-plain-put"),
                         timeout=30).status_code == 201
    for path in processes_paths(live):
        response = requests.put(f"{path}/dru-plain-put", timeout=30,
                                data=json.dumps(method("dru-plain-put", version="9")),
                                headers={"Content-Type": "text/plain"})
        exception(response, 415, f"{PART2_EXCEPTIONS}unsupported-media-type")
    assert get(live, "/processes/dru-plain-put").json()["version"] == HELLO["version"]


def test_conformance_part2_dru_undeploy(live: ServerProcess) -> None:
    """/conf/dru/undeploy-delete-op, /conf/dru/undeploy-response: DELETE on a mutable process
    answers 204 with no content and the process is gone; DELETE on one that does not exist
    is not a 405."""
    for number, path in enumerate(processes_paths(live)):
        process_id = f"dru-undeployed-{number}"
        assert requests.post(path, json=method(process_id), timeout=30).status_code == 201
        response = requests.delete(f"{path}/{process_id}", timeout=30)
        assert response.status_code == 204 and response.content == b""
        assert get(live, f"/processes/{process_id}").status_code == 404
        missing = requests.delete(f"{path}/{NOT_EXISTING}", timeout=30)
        assert missing.status_code != 405
        exception(missing, 404)


def test_conformance_part2_dru_undeploy_immutable(live: ServerProcess) -> None:
    """/conf/dru/undeploy-response-immutable, /conf/dru/undeploy-response-immutable-success:
    DELETE (and PUT) on an immutable process answers 403 with an exception of type
    immutable-process, and the process stays."""
    for path in processes_paths(live):
        exception(requests.delete(f"{path}/hello-world", timeout=30), 403,
                  f"{PART2_EXCEPTIONS}immutable-process")
        exception(requests.put(f"{path}/hello-world", json=HELLO, timeout=30), 403,
                  f"{PART2_EXCEPTIONS}immutable-process")
    assert get(live, "/processes/hello-world").status_code == 200
