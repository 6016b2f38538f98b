"""Synchronous execution by OGC API - Processes 1.0: the execution mode from the process's
jobControlOptions and the client's Prefer header, the server's cap on how long (and how many)
requests hold, and every form a synchronous answer takes (document, raw one, multipart,
references, failure). Against a live app, real local executions."""

from __future__ import annotations

import email
import email.policy
import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import requests
from helpers import ASYNC, wait_final, wait_status

from ccp import syncexec

PREFER_SYNC_OR_ASYNC = ("sync-execute", "async-execute")


def sync_method(methods: Path, method_id: str, source: str, **changes: Any) -> None:
    """A copy of an example Method that may run synchronously."""
    method = json.loads((methods / f"{source}.json").read_text())
    method.update({"id": method_id, "jobControlOptions": list(PREFER_SYNC_OR_ASYNC), **changes})
    (methods / f"{method_id}.json").write_text(json.dumps(method))


def monitor_of(response: Any) -> str:
    links = requests.utils.parse_header_links(", ".join(response.headers.getlist("Link")))
    (monitor,) = [link["url"] for link in links if link.get("rel") == "monitor"]
    return monitor


def job_count(client: Any) -> int:
    return client.get("/jobs").get_json()["numberMatched"]


# --- the execution mode ------------------------------------------------------------------------

def test_sync_without_prefer_answers_200_with_the_results_and_a_monitor_link(client) -> None:
    response = client.post("/processes/hello-world/execution",
                           json={"inputs": {"name": "Sync"}, "response": "document"})
    assert response.status_code == 200, response.get_json()
    assert response.mimetype == "application/json"
    document = response.get_json()
    assert document["stdout"]["value"].startswith("Hello, Sync!\n")
    assert document["greeting"]["href"].endswith("/results/greeting")
    assert "Preference-Applied" not in response.headers  # nothing was preferred
    job_url = monitor_of(response)
    job = client.get(job_url.replace("http://localhost:5000", "")).get_json()
    assert job["status"] == "successful" and job["processID"] == "hello-world"
    # the job keeps the results: the same document again (1.0 /req/core/job-results-success-sync)
    assert client.get(f"/jobs/{job['jobID']}/results").get_json() == document


def test_sync_respond_async_is_honoured_when_the_process_can_run_async(client) -> None:
    response = client.post("/processes/hello-world/execution", json={"inputs": {}},
                           headers={"Prefer": "respond-async "})
    assert response.status_code == 201
    assert response.headers["Preference-Applied"] == "respond-async"
    assert response.headers["Location"].endswith(f"/jobs/{response.get_json()['jobID']}")
    assert response.get_json()["status"] in ("accepted", "running")


def test_sync_an_async_only_process_answers_201_whatever_is_preferred(client) -> None:
    for headers in ({}, {"Prefer": "wait=30"}, {"Prefer": "respond-sync"}):
        response = client.post("/processes/sleep/execution", json={"inputs": {"seconds": 0}},
                               headers=headers)
        assert response.status_code == 201, headers
        assert response.get_json()["processID"] == "sleep"


def test_sync_only_process_runs_synchronously_even_when_async_is_preferred(
        app_factory, methods_dir: Path) -> None:
    sync_method(methods_dir, "only-sync", "hello-world", jobControlOptions=["sync-execute"])
    client = app_factory(methods=methods_dir).test_client()
    assert client.get("/processes/only-sync").get_json()["jobControlOptions"] == [
        "sync-execute"]
    response = client.post("/processes/only-sync/execution",
                           json={"inputs": {"name": "S"}, "response": "document"},
                           headers={"Prefer": "respond-async"})
    assert response.status_code == 200
    assert response.get_json()["stdout"]["value"].startswith("Hello, S!")


def test_sync_job_control_options_are_validated(app_factory, methods_dir: Path) -> None:
    sync_method(methods_dir, "bad-modes", "hello-world", jobControlOptions=["run-fast"])
    sync_method(methods_dir, "no-modes", "hello-world", jobControlOptions=["dismiss"])
    client = app_factory(methods=methods_dir).test_client()
    ids = {p["id"] for p in client.get("/processes").get_json()["processes"]}
    assert "bad-modes" not in ids and "no-modes" not in ids and "hello-world" in ids


# --- the server's cap ----------------------------------------------------------------------------

def test_sync_past_the_cap_the_job_goes_on_asynchronously(app_factory) -> None:
    client = app_factory(sync_max_seconds=1).test_client()
    response = client.post("/processes/echo/execution",
                           json={"inputs": {"stringInput": "late", "pause": 4}})
    assert response.status_code == 201
    assert response.headers["Preference-Applied"] == "respond-async"
    job_id = response.get_json()["jobID"]
    assert response.headers["Location"].endswith(f"/jobs/{job_id}")
    assert wait_final(client, job_id)["status"] == "successful"  # it went on
    assert client.get(f"/jobs/{job_id}/results/stringInput").get_json() == "late"


def test_sync_wait_preference_holds_at_most_that_long(client) -> None:
    held = client.post("/processes/echo/execution",
                       json={"inputs": {"integerInput": 5, "pause": 4}},
                       headers={"Prefer": "wait=1"})
    assert held.status_code == 201
    assert held.headers["Preference-Applied"] == "respond-async"
    quick = client.post("/processes/echo/execution",
                        json={"inputs": {"integerInput": 5}, "response": "document"},
                        headers={"Prefer": "respond-async, wait=30"})
    assert quick.status_code == 200  # RFC 7240: async only if it takes longer than 30 s
    assert quick.headers["Preference-Applied"] == "wait=30"
    assert quick.get_json()["integerInput"]["href"].endswith("/results/integerInput")
    assert wait_final(client, held.get_json()["jobID"])["status"] == "successful"


def test_sync_requests_beyond_the_waiting_limit_answer_asynchronously(app_factory) -> None:
    client = app_factory(sync_max_waiting=1).test_client()
    first: dict[str, Any] = {}

    def hold() -> None:
        first["response"] = client.post("/processes/echo/execution",
                                        json={"inputs": {"stringInput": "first", "pause": 5}})

    holder = threading.Thread(target=hold)
    holder.start()
    running = wait_status_of_any(client, "echo", "running")
    second = client.post("/processes/echo/execution", json={"inputs": {"stringInput": "2nd"}})
    holder.join(60)
    assert second.status_code == 201  # the one slot was taken
    assert first["response"].status_code == 200
    assert monitor_of(first["response"]).endswith(f"/jobs/{running}")
    assert wait_final(client, second.get_json()["jobID"])["status"] == "successful"


def wait_status_of_any(client: Any, process_id: str, status: str) -> str:
    """The id of the first job of this process, once it has this status."""
    for _ in range(600):
        jobs = client.get(f"/jobs?processID={process_id}").get_json()["jobs"]
        if jobs:
            return wait_status(client, jobs[0]["jobID"], status)["jobID"]
        time.sleep(0.05)
    raise AssertionError(f"no job of {process_id} appeared")


def test_sync_failure_is_the_exception_of_the_failed_job(app_factory, methods_dir: Path) -> None:
    sync_method(methods_dir, "fails-now", "always-fails")
    client = app_factory(methods=methods_dir).test_client()
    response = client.post("/processes/fails-now/execution", json={"inputs": {"code": 9}})
    assert response.status_code == 409
    problem = response.get_json()
    assert problem["title"] == "Job failed" and "code 9" in problem["detail"]
    assert set(problem) >= {"type", "title", "status", "detail", "jobID"}
    assert monitor_of(response).endswith(f"/jobs/{problem['jobID']}")
    job = client.get(f"/jobs/{problem['jobID']}").get_json()
    assert job["status"] == "failed" and "code 9" in job["message"]


# --- raw answers ----------------------------------------------------------------------------------

def test_sync_raw_one_output_is_the_output_itself(client) -> None:
    response = client.post("/processes/hello-world/execution",
                           json={"inputs": {"name": "Raw"}, "response": "raw",
                                 "outputs": {"greeting": {"transmissionMode": "value"}}})
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    assert response.data == b"Hello, Raw!\n"
    assert monitor_of(response)


def test_sync_raw_several_outputs_are_one_multipart_related_answer(client) -> None:
    response = client.post("/processes/echo/execution", json={
        "inputs": {"stringInput": "teststring", "arrayInput": [3, 1, 2]}, "response": "raw",
        "outputs": {"stringInput": {}, "arrayInput": {"transmissionMode": "value"},
                    "binaryInput": {}}})
    assert response.status_code == 200
    assert response.mimetype == "multipart/related"
    message = email.message_from_bytes(
        b"Content-Type: " + response.headers["Content-Type"].encode() + b"\r\n\r\n"
        + response.data, policy=email.policy.HTTP)
    parts = {part["Content-ID"]: part for part in message.iter_parts()}
    assert set(parts) == {"<stringInput>", "<arrayInput>"}  # binaryInput was not given
    assert json.loads(parts["<stringInput>"].get_content()) == "teststring"
    assert parts["<arrayInput>"].get_content_type() == "application/json"
    assert json.loads(parts["<arrayInput>"].get_content()) == [3, 1, 2]


def test_sync_raw_references_are_a_204_with_a_link_per_output(client) -> None:
    response = client.post("/processes/hello-world/execution", json={
        "inputs": {"name": "Ref"}, "response": "raw",
        "outputs": {"greeting": {"transmissionMode": "reference"},
                    "output": {"transmissionMode": "reference"}}})
    assert response.status_code == 204 and response.data == b""
    links = requests.utils.parse_header_links(", ".join(response.headers.getlist("Link")))
    by_title = {link["title"]: link for link in links if link.get("title")}
    assert set(by_title) == {"greeting", "output"}
    assert by_title["greeting"]["rel"] == "http://www.opengis.net/def/rel/ogc/1.0/results"
    path = by_title["greeting"]["url"].replace("http://localhost:5000", "")
    assert client.get(path).data == b"Hello, Ref!\n"
    assert by_title["output"]["type"] == "application/zip"


def test_sync_raw_mixed_value_and_reference_parts(client) -> None:
    response = client.post("/processes/hello-world/execution", json={
        "inputs": {"name": "Mix"}, "response": "raw",
        "outputs": {"greeting": {"transmissionMode": "value"},
                    "output": {"transmissionMode": "reference"}}})
    assert response.status_code == 200 and response.mimetype == "multipart/related"
    message = email.message_from_bytes(
        b"Content-Type: " + response.headers["Content-Type"].encode() + b"\r\n\r\n"
        + response.data, policy=email.policy.HTTP)
    parts = {part["Content-ID"]: part for part in message.iter_parts()}
    assert parts["<greeting>"].get_content() == "Hello, Mix!\n"
    assert parts["<output>"].get_payload() == ""
    assert parts["<output>"]["Content-Location"].endswith("/outputs/output.zip")


# --- the pieces, on their own --------------------------------------------------------------------

@pytest.mark.parametrize("headers, respond_async, wait", [
    ([], False, None),
    (["respond-async"], True, None),
    (["Respond-Async ; x=1"], True, None),
    (["respond-async, wait=10"], True, 10),
    (["wait=5", "return=minimal"], False, 5),
    (['wait="7"'], False, 7),
    (["wait=-1, wait=abc, respond-sync, \x00"], False, None),
    (["wait=" + "9" * 40], False, None),
])
def test_sync_prefer_header_is_parsed_as_rfc_7240(headers: list[str], respond_async: bool,
                                                  wait: int | None) -> None:
    assert syncexec.Preferences.parse(headers) == syncexec.Preferences(respond_async, wait)


def test_sync_hold_follows_the_job_control_options_and_the_cap() -> None:
    both, only_async, only_sync = PREFER_SYNC_OR_ASYNC, ("async-execute",), ("sync-execute",)
    none, asked_async = syncexec.Preferences(), syncexec.Preferences(respond_async=True)
    assert syncexec.hold_seconds(both, none, 60) == 60
    assert syncexec.hold_seconds(both, asked_async, 60) == 0
    assert syncexec.hold_seconds(only_sync, asked_async, 60) == 60
    assert syncexec.hold_seconds(only_async, none, 60) == 0
    assert syncexec.hold_seconds(both, syncexec.Preferences(wait=5), 60) == 5
    assert syncexec.hold_seconds(both, syncexec.Preferences(True, 500), 60) == 60
    assert syncexec.applied(asked_async, answered_async=True) == "respond-async"
    assert syncexec.applied(syncexec.Preferences(wait=3), answered_async=False) == "wait=3"


def test_sync_the_finishing_worker_wakes_the_waiting_request(monkeypatch) -> None:
    monkeypatch.setattr(syncexec, "POLL_SECONDS", 600)  # only the signal can wake it
    signals = syncexec.FinishSignals()
    looks: list[bool] = []
    first_look = threading.Event()

    def look() -> bool:
        looks.append(len(looks) > 0)  # done from the second look on
        first_look.set()
        return looks[-1]

    announcer = threading.Thread(target=lambda: (first_look.wait(10),
                                                 signals.announce("job-1")))
    announcer.start()
    assert syncexec.wait_until(signals, "job-1", 600, look, lambda done: done) is True
    announcer.join()
    assert looks == [False, True]  # one look, the wake-up, one look: no polling
    signals.announce("job-1")  # nobody waits any more: nothing happens


def test_sync_server_process_holds_with_the_configured_cap(server_process) -> None:
    server = server_process(CCP_SYNC_MAX_SECONDS="1")
    late = requests.post(f"{server.url}/processes/echo/execution",
                         json={"inputs": {"pause": 3}}, timeout=30)
    assert late.status_code == 201 and late.headers["Preference-Applied"] == "respond-async"
    quick = requests.post(f"{server.url}/processes/echo/execution",
                          json={"inputs": {"booleanInput": True}, "response": "raw"},
                          timeout=30)
    assert quick.status_code == 200 and quick.json() is True
    assert requests.post(f"{server.url}/processes/echo/execution", json={"inputs": {}},
                         headers=ASYNC, timeout=30).status_code == 201
