"""Subscriber callbacks (OGC API - Processes 1.0, conformance class `callback`), against a
live server and a real HTTP receiver the test starts on 127.0.0.2, the address the server's
configuration allows.

Abstract test /conf/callback/job-callback: configure an endpoint, execute asynchronously with
`subscriber`, check that the results reach it. Beyond it: what reaches `inProgressUri` and
`failedUri`, retries with backoff, giving up, and that a receiver which never answers holds
neither the workers nor the server's shutdown, and that a callback outlives a restart.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import requests
from conftest import ServerProcess
from helpers import ASYNC, wait_final, wait_final_url, wait_status
from receiver import Receiver

CALLBACK_CLASS = "http://www.opengis.net/spec/ogcapi-processes-1/1.0/conf/callback"
STATUS_INFO = {"type": "object", "required": ["jobID", "status", "type", "processID"],
               "properties": {"type": {"enum": ["process"]},
                              "status": {"enum": ["running", "successful", "failed",
                                                  "dismissed"]}}}
RESULTS = {"type": "object", "minProperties": 1,
           "additionalProperties": {"type": "object", "anyOf": [
               {"required": ["value"]}, {"required": ["href"]}]}}
SETTINGS = {"attempts": 3, "backoff": 0.3, "max_backoff": 2, "timeout": 3}


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    started = Receiver("127.0.0.2").start()
    yield started
    started.stop()


@pytest.fixture
def calling(app_factory) -> Any:
    app = app_factory(outbound={"allow": "127.0.0.2/32"}, callbacks=SETTINGS)
    return app


def execute(client: Any, process: str, subscriber: dict[str, str],
            inputs: dict[str, Any] | None = None) -> str:
    response = client.post(f"/processes/{process}/execution",
                           json={"inputs": inputs or {}, "subscriber": subscriber},
                           headers=ASYNC)
    assert response.status_code == 201, response.get_json()
    return response.get_json()["jobID"]


def test_callback_success_gets_the_results_and_progress_the_status(calling, receiver) -> None:
    client = calling.test_client()
    subscriber = {"successUri": receiver.answer("done"), "failedUri": receiver.answer("bad"),
                  "inProgressUri": receiver.answer("progress")}
    job_id = execute(client, "hello-world", subscriber, {"name": "Callback"})
    assert wait_final(client, job_id)["status"] == "successful"
    (done,) = receiver.wait_for("/hooks/done")
    assert done.method == "POST" and done.headers["Content-Type"] == "application/json"
    results = done.json()
    jsonschema.validate(results, RESULTS)
    assert results["stdout"]["value"].startswith("Hello, Callback!")
    document = client.get(f"/jobs/{job_id}/results").get_json()
    assert results == {key: value for key, value in document.items() if key != "links"}
    progress = receiver.wait_for("/hooks/progress")
    for update in progress:
        jsonschema.validate(update.json(), STATUS_INFO)
        assert update.json()["jobID"] == job_id and update.json()["status"] == "running"
    assert receiver.calls("/hooks/bad") == []
    for request in (done, *progress):
        assert "Authorization" not in request.headers and "Cookie" not in request.headers
    sent = calling.extensions["ccp"].manager.callbacks.of_job(job_id)
    assert {(row["event"], row["state"]) for row in sent} >= {("success", "sent")}


def test_callback_failed_and_dismissed_jobs_post_their_status_to_failed_uri(
        calling, receiver) -> None:
    client = calling.test_client()
    subscriber = {"successUri": receiver.answer("ok"), "failedUri": receiver.answer("failed")}
    failed = execute(client, "always-fails", subscriber)
    assert wait_final(client, failed)["status"] == "failed"
    (report,) = receiver.wait_for("/hooks/failed")
    jsonschema.validate(report.json(), STATUS_INFO)
    assert (report.json()["jobID"], report.json()["status"]) == (failed, "failed")
    dismissed = execute(client, "sleep", subscriber, {"seconds": 60})
    wait_status(client, dismissed, "running")
    client.delete(f"/jobs/{dismissed}")
    reports = receiver.wait_for("/hooks/failed", 2)
    assert (reports[1].json()["jobID"], reports[1].json()["status"]) == (dismissed,
                                                                        "dismissed")
    assert receiver.calls("/hooks/ok") == []


def test_callback_is_retried_with_backoff_until_the_receiver_takes_it(calling,
                                                                      receiver) -> None:
    client = calling.test_client()
    job_id = execute(client, "hello-world",
                     {"successUri": receiver.answer("flaky", 503, 429)})
    attempts = receiver.wait_for("/hooks/flaky", 3)
    assert len(attempts) == 3 and attempts[0].body == attempts[2].body
    # never sooner than the backoff: 1x, then 2x the first wait
    first, second = (attempts[n + 1].at - attempts[n].at for n in (0, 1))
    assert first >= SETTINGS["backoff"] * 0.9 and second >= 2 * SETTINGS["backoff"] * 0.9
    manager = calling.extensions["ccp"].manager
    deadline = time.monotonic() + 10
    while [row["state"] for row in manager.callbacks.of_job(job_id)] != ["sent"]:
        assert time.monotonic() < deadline, manager.callbacks.of_job(job_id)
        time.sleep(0.05)
    assert manager.callbacks.of_job(job_id)[0]["attempts"] == 3


def test_callback_gives_up_after_its_attempts_and_at_once_on_a_client_error(
        calling, receiver) -> None:
    client = calling.test_client()
    down = execute(client, "hello-world", {"successUri": receiver.answer("down", *[500] * 9)})
    gone = execute(client, "hello-world", {"successUri": receiver.answer("gone", 410)})
    manager = calling.extensions["ccp"].manager
    deadline = time.monotonic() + 30
    for job_id in (down, gone):
        while [row["state"] for row in manager.callbacks.of_job(job_id)] != ["failed"]:
            assert time.monotonic() < deadline, manager.callbacks.of_job(job_id)
            time.sleep(0.05)
    assert len(receiver.calls("/hooks/down")) == SETTINGS["attempts"]
    assert len(receiver.calls("/hooks/gone")) == 1
    assert "410" in manager.callbacks.of_job(gone)[0]["last_error"]


def test_callback_uris_are_checked_when_the_job_is_submitted(calling, receiver) -> None:
    client = calling.test_client()
    for subscriber, words in (
            ({"successUri": "http://127.0.0.1:9/x"}, "loopback"),
            ({"failedUri": "http://169.254.169.254/"}, "link-local"),
            ({"inProgressUri": "http://localhost/"}, "loopback"),
            ({"successUri": "file:///tmp/x"}, "only http"),
            ({"successUri": 5}, "non-empty string"),
            ({"successUrl": receiver.answer("typo")}, "successUrl"),
            ("http://127.0.0.2/", "object")):
        response = client.post("/processes/hello-world/execution",
                               json={"inputs": {}, "subscriber": subscriber})
        assert response.status_code == 400, (subscriber, response.get_json())
        assert words in response.get_json()["detail"], response.get_json()
        response = client.post("/jobs", json={"process": "hello-world",
                                              "subscriber": subscriber})
        assert response.status_code == 400, response.get_json()
    assert client.get("/jobs").get_json()["numberMatched"] == 0


def test_callback_receiver_that_never_answers_holds_no_worker_nor_the_shutdown(
        tmp_path: Path, receiver) -> None:
    server = ServerProcess(tmp_path / "data", CCP_OUTBOUND_ALLOW="127.0.0.2/32",
                           CCP_CONCURRENCY="1", CCP_CALLBACK_TIMEOUT="5").start()
    try:
        hang = {"successUri": f"{receiver.url}/hang", "inProgressUri": f"{receiver.url}/hang"}
        jobs = [requests.post(f"{server.url}/processes/hello-world/execution",
                              json={"inputs": {}, "subscriber": hang}, headers=ASYNC,
                              timeout=30).json()
                ["jobID"] for _ in range(3)]
        for job_id in jobs:  # one worker ran all three while the receiver hung
            assert wait_final_url(server.url, job_id, timeout=60)["status"] == "successful"
        assert len(receiver.calls("/hang")) >= 1
    finally:
        started = time.monotonic()
        server.stop()
        stopped_in = time.monotonic() - started
    assert server.process is not None and server.process.returncode is not None
    assert stopped_in < 30, f"the server took {stopped_in:.1f} s to stop"


def test_callback_waiting_to_be_sent_outlives_a_restart(tmp_path: Path, receiver) -> None:
    settings = {"CCP_OUTBOUND_ALLOW": "127.0.0.2/32", "CCP_CALLBACK_ATTEMPTS": "100",
                "CCP_CALLBACK_BACKOFF": "0.5", "CCP_CALLBACK_MAX_BACKOFF": "1"}
    server = ServerProcess(tmp_path / "data", **settings).start()
    hook = receiver.answer("later", *[503] * 1000)
    try:
        job_id = requests.post(f"{server.url}/processes/hello-world/execution",
                               json={"inputs": {}, "subscriber": {"successUri": hook}},
                               headers=ASYNC, timeout=30).json()["jobID"]
        receiver.wait_for("/hooks/later", 2)
    finally:
        server.stop()
    receiver.answers["later"] = []  # the receiver is back: 200 from now on
    before = len(receiver.calls("/hooks/later"))
    server = ServerProcess(tmp_path / "data", **settings).start()
    try:
        delivered = receiver.wait_for("/hooks/later", before + 1, timeout=30)[-1]
        assert delivered.json()["stdout"]["value"].startswith("Hello, World!")
        assert f"/jobs/{job_id}/" in delivered.json()["output"]["href"]
    finally:
        server.stop()


def test_callback_class_is_declared_and_described(client) -> None:
    assert CALLBACK_CLASS in client.get("/conformance").get_json()["conformsTo"]
    paths = client.get("/openapi?f=json").get_json()["paths"]
    execute_op = paths["/processes/{processId}/execution"]["post"]
    assert {"jobSucceeded", "jobFailed", "jobInProgress"} <= set(execute_op["callbacks"])
    assert "subscriber" in client.get("/openapi?f=json").get_json()["components"][
        "schemas"]["Execute"]["properties"]
