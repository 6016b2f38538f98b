"""Suspend, resume and extend over HTTP, on every runtime against the real engines.

A suspended execution stays `running` (plain OGC clients keep working) with `suspended: true`;
nothing of it runs, its time limit stands still, and it goes on where it stopped when resumed.
"""

from __future__ import annotations

import io
import json
import time
import zipfile
from pathlib import Path
from typing import Any

import pytest
import requests
from helpers import wait_final_url
from jobctl_setup import (
    KINDS,
    infrastructure,
    job,
    log_of,
    make_app,
    require,
    submit,
    ticker,
    ticks,
    wait_final,
    wait_for,
    wait_ticking,
)

SUSPENDED_FOR = 12


@pytest.fixture
def stopped_apps() -> Any:
    apps: list[Any] = []
    yield apps
    for app in apps:
        app.extensions["ccp"].manager.stop()


@pytest.mark.parametrize("kind", KINDS)
def test_suspend_freezes_the_execution_and_its_time_limit_and_resume_goes_on(
        kind: str, tmp_path: Path, stopped_apps: list[Any]) -> None:
    require(kind)
    app = make_app(tmp_path, [infrastructure(kind)])
    stopped_apps.append(app)
    client = app.test_client()
    replicas = 2 if kind == "swarm" else 1  # Swarm: every task container is paused
    # 3 s of ticks within a limit of 10 s (the rest is for the launch on a busy machine),
    # suspended 12 s in the middle: it only succeeds if the suspension does not count
    job_id = submit(client, f"ticker-{kind}", seconds=6, pause=0.5, ccpmaxtime=10,
                    ccpreplicas=replicas)
    wait_ticking(client, job_id, replicas)

    response = client.post(f"/jobs/{job_id}/suspend")
    assert response.status_code == 200, response.get_json()
    status = response.get_json()
    assert (status["status"], status["suspended"]) == ("running", True)
    assert status["message"].startswith("Suspended since")
    assert any(link["rel"].endswith("/resume") for link in status["links"])
    time.sleep(0.5)  # a line on its way out may still arrive
    seen = ticks(client, job_id)
    time.sleep(SUSPENDED_FOR - 0.5)
    assert ticks(client, job_id) == seen, "the execution went on while suspended"
    assert len(seen) < 6 * replicas
    assert job(client, job_id)["suspended"] is True
    assert client.post(f"/jobs/{job_id}/suspend").status_code == 200  # already: harmless

    response = client.post(f"/jobs/{job_id}/resume")
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["suspended"] is False
    assert response.get_json()["suspendedSeconds"] >= SUSPENDED_FOR - 1
    final = wait_final(client, job_id)
    assert final["status"] == "successful", final["message"]
    assert "suspended" not in final and final["suspendedSeconds"] >= SUSPENDED_FOR - 1
    assert sorted(ticks(client, job_id)) == sorted(
        f"tick {n}" for n in range(1, 7) for _ in range(replicas))
    log = log_of(client, job_id)
    assert "[Suspend] [ccp] suspended during Execute" in log
    assert "[Resume] [ccp] resumed after" in log

    archive = zipfile.ZipFile(io.BytesIO(client.get(f"/jobs/{job_id}/archive").get_data()))
    status_json = json.loads(archive.read("metadata/status.json"))
    assert status_json["suspendedSeconds"] >= SUSPENDED_FOR - 1
    prov = client.get(f"/jobs/{job_id}/provenance").get_data(as_text=True)
    assert "ccp:Suspend" in prov and "ccp:Resume" in prov and "ccp:suspendedSeconds" in prov


def test_suspend_asked_before_the_script_runs_is_in_force_once_it_does(
        tmp_path: Path, stopped_apps: list[Any]) -> None:
    """On docker the ticker (only an execute script) runs once: its container runs nothing
    until its script starts it, so a suspend asked as soon as the job is `running` (during
    Launch, say) waits for the script and then freezes it."""
    require("docker")
    app = make_app(tmp_path, [infrastructure("docker")])
    stopped_apps.append(app)
    client = app.test_client()
    job_id = submit(client, "ticker-docker", seconds=8, pause=0.5)
    wait_for(client, job_id, lambda status: status["status"] != "accepted", 60)
    response = client.post(f"/jobs/{job_id}/suspend")
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["suspended"] is True
    time.sleep(0.5)  # a line on its way out may still arrive
    seen = ticks(client, job_id)
    time.sleep(3)
    assert ticks(client, job_id) == seen and len(seen) < 8, "it went on while suspended"
    assert client.post(f"/jobs/{job_id}/resume").status_code == 200
    final = wait_final(client, job_id)
    assert final["status"] == "successful", final["message"]
    assert ticks(client, job_id) == [f"tick {n}" for n in range(1, 9)]


@pytest.mark.parametrize("kind", ["docker", "lxd", "local"])
def test_dismissing_a_suspended_execution_resumes_cancels_and_destroys_it(
        kind: str, tmp_path: Path, stopped_apps: list[Any]) -> None:
    require(kind)
    app = make_app(tmp_path, [infrastructure(kind)])
    stopped_apps.append(app)
    client = app.test_client()
    job_id = submit(client, f"ticker-{kind}", seconds=300)
    wait_ticking(client, job_id)
    assert client.post(f"/jobs/{job_id}/suspend").status_code == 200
    dismissed = client.delete(f"/jobs/{job_id}").get_json()
    assert dismissed["status"] == "dismissed", dismissed
    log = log_of(client, job_id)
    assert "resumed to be dismissed" in log and "[Cancel]" in log
    archive = zipfile.ZipFile(io.BytesIO(client.get(f"/jobs/{job_id}/archive").get_data()))
    instance = json.loads(archive.read("metadata/instance.json"))
    assert instance.get("destroyed"), instance  # the runtime is gone


def test_suspend_and_resume_are_refused_when_the_job_is_not_running(
        tmp_path: Path, stopped_apps: list[Any]) -> None:
    app = make_app(tmp_path, [infrastructure("local")])
    stopped_apps.append(app)
    client = app.test_client()
    job_id = submit(client, "ticker-local", seconds=1, pause=0.1)
    wait_final(client, job_id)
    for action in ("suspend", "resume"):
        response = client.post(f"/jobs/{job_id}/{action}")
        assert response.status_code == 409
        body = response.get_json()
        assert body["title"] == "Job not running" and "successful" in body["detail"]
    assert client.post("/jobs/no-such-job/suspend").status_code == 404


def test_the_suspension_cap_resumes_the_execution_by_itself(
        tmp_path: Path, stopped_apps: list[Any]) -> None:
    app = make_app(tmp_path, [infrastructure("local", maxSuspend=2)])
    stopped_apps.append(app)
    client = app.test_client()
    job_id = submit(client, "ticker-local", seconds=4, pause=0.5)
    wait_ticking(client, job_id)
    assert client.post(f"/jobs/{job_id}/suspend").status_code == 200
    resumed = wait_for(client, job_id, lambda j: j.get("suspended") is False, 30,
                       "was not resumed by the cap")
    assert 2 <= resumed["suspendedSeconds"] < 10
    assert "allows 2 s of suspension per execution, all used" in log_of(client, job_id)
    response = client.post(f"/jobs/{job_id}/suspend")  # the cap is used up
    assert response.status_code == 409
    assert "the most infrastructure 'local' allows (2 s)" in response.get_json()["detail"]
    assert wait_final(client, job_id)["status"] == "successful"


@pytest.mark.parametrize("kind", ["local", "docker"])
def test_extend_lets_a_running_script_finish_past_its_first_limit_and_the_maximum_holds(
        kind: str, tmp_path: Path, stopped_apps: list[Any]) -> None:
    require(kind)
    app = make_app(tmp_path, [infrastructure(kind, maxTime=20)])
    stopped_apps.append(app)
    client = app.test_client()
    # 12 s of ticks need more than the first limit of 8 s (most of which may go to the launch
    # on a busy machine)
    job_id = submit(client, f"ticker-{kind}", seconds=12, ccpmaxtime=8)
    wait_ticking(client, job_id)
    response = client.post(f"/jobs/{job_id}/extend", json={"seconds": 10})
    assert response.status_code == 200, response.get_json()
    assert (response.get_json()["timeLimit"], response.get_json()["extendedSeconds"]) == (18, 10)
    assert any(link["rel"].endswith("/extend") for link in response.get_json()["links"])

    response = client.post(f"/jobs/{job_id}/extend", json={"seconds": 7})
    assert response.status_code == 409
    body = response.get_json()
    assert body["title"] == "Time limit beyond the maximum"
    assert "maximum of infrastructure" in body["detail"] and "(20 s)" in body["detail"]
    assert "at most 2 s more" in body["detail"] and body["maximum"] == 20
    for bad in ({"seconds": 0}, {"seconds": "5"}, {"seconds": 1.5}, {"seconds": True}, {}, []):
        assert client.post(f"/jobs/{job_id}/extend", json=bad).status_code == 400, bad

    final = wait_final(client, job_id)
    assert final["status"] == "successful", final["message"]
    assert final["timeLimit"] == 18
    assert "[Extend] [ccp] the time limit grows by 10 s to 18 s" in log_of(client, job_id)
    prov = json.loads(client.get(f"/jobs/{job_id}/provenance").get_data())
    extends = [a for a in prov["activity"].values() if a.get("prov:type") == "ccp:Extend"]
    assert len(extends) == 1 and int(extends[0]["ccp:seconds"]["$"]) == 10
    assert len(prov["wasInformedBy"]) == 1
    assert client.post(f"/jobs/{job_id}/extend", json={"seconds": 1}).status_code == 409


def test_extend_of_a_queued_execution_counts_from_its_start(
        tmp_path: Path, stopped_apps: list[Any]) -> None:
    app = make_app(tmp_path, [infrastructure("local")], concurrency=1)
    stopped_apps.append(app)
    client = app.test_client()
    blocker = submit(client, "ticker-local", seconds=3, pause=1)
    queued = submit(client, "ticker-local", seconds=3, pause=1, ccpmaxtime=1)
    assert job(client, queued)["status"] == "accepted"
    response = client.post(f"/jobs/{queued}/extend", json={"seconds": 5})
    assert response.status_code == 200 and response.get_json()["timeLimit"] == 6
    assert wait_final(client, blocker)["status"] == "successful"
    assert wait_final(client, queued)["status"] == "successful"


def test_the_suspension_state_lives_in_the_job_store_across_a_server_restart(
        tmp_path: Path, server_process: Any) -> None:
    """Server A runs the execution; server B, on the same job store, takes the requests, is
    restarted, and finds the suspension as it was; A's heartbeats go on while suspended, so
    no reaper takes the job for dead."""
    infrastructures = tmp_path / "infrastructures"
    methods = tmp_path / "methods"
    infrastructures.mkdir()
    methods.mkdir()
    (infrastructures / "local.json").write_text(json.dumps(infrastructure("local")))
    (methods / "ticker-local.json").write_text(json.dumps(ticker("local", "local")))
    env = {"CCP_METHODS_DIR": str(methods), "CCP_INFRASTRUCTURES_DIR": str(infrastructures),
           "CCP_HEARTBEAT_TIMEOUT": "3"}
    data = tmp_path / "data"
    a = server_process(data, **env)
    response = requests.post(f"{a.url}/processes/ticker-local/execution",
                             json={"inputs": {"seconds": 8}}, timeout=10)
    job_id = response.json()["jobID"]
    deadline = time.monotonic() + 60
    while "tick 1" not in requests.get(f"{a.url}/jobs/{job_id}/logs", timeout=10).text:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    b = server_process(data, **{**env, "CCP_CONCURRENCY": "0"})
    response = requests.post(f"{b.url}/jobs/{job_id}/suspend", timeout=30)
    assert response.status_code == 200 and response.json()["suspended"] is True
    b.stop()
    time.sleep(8)  # well past the heartbeat timeout of 3 s
    b = server_process(data, **{**env, "CCP_CONCURRENCY": "0"})
    status = requests.get(f"{b.url}/jobs/{job_id}", timeout=10).json()
    assert (status["status"], status["suspended"]) == ("running", True), status
    assert status["suspendedSeconds"] >= 8
    response = requests.post(f"{b.url}/jobs/{job_id}/resume", timeout=30)
    assert response.status_code == 200 and response.json()["suspended"] is False
    final = wait_final_url(b.url, job_id, 60)
    assert final["status"] == "successful", final["message"]


def test_suspend_resume_extend_of_another_users_job_are_not_found(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A plain user cannot suspend, resume or extend someone else's running job: 404, as
    for a job that does not exist, and the owner's job runs on unchanged."""
    import jwt
    from conftest import make_config
    from helpers import ASYNC

    from ccp.app import create_app

    secret = "jobctl-auth-test-secret-of-32-bytes!"
    monkeypatch.setenv("CCP_JOBCTL_TEST_SECRET", secret)
    config = make_config(tmp_path / "data")
    config["server"]["auth"] = {"enabled": True, "algorithm": "HS256",
                                "secret_env": "CCP_JOBCTL_TEST_SECRET"}
    application = create_app(config)

    def bearer(subject: str) -> dict[str, str]:
        token = jwt.encode({"sub": subject, "exp": int(time.time()) + 600, "roles": []},
                           secret, algorithm="HS256")
        return {"Authorization": f"Bearer {token}"}

    try:
        client = application.test_client()
        response = client.post("/processes/sleep/execution", json={"inputs": {"seconds": 30}},
                               headers={**bearer("alice"), **ASYNC})
        assert response.status_code == 201, response.get_json()
        job_id = response.get_json()["jobID"]
        deadline = time.monotonic() + 60
        while client.get(f"/jobs/{job_id}", headers=bearer("alice")
                         ).get_json()["status"] != "running":
            assert time.monotonic() < deadline, "the job never ran"
            time.sleep(0.2)
        for action, body in (("suspend", None), ("resume", None), ("extend", {"seconds": 5})):
            response = client.post(f"/jobs/{job_id}/{action}", json=body,
                                   headers=bearer("mallory"))
            assert response.status_code == 404, (action, response.get_json())
            assert response.get_json()["status"] == 404
        seen = client.get(f"/jobs/{job_id}", headers=bearer("alice")).get_json()
        assert seen["status"] == "running"
        assert not seen.get("suspended") and not seen.get("extendedSeconds"), seen
        assert client.post(f"/jobs/{job_id}/suspend", headers=bearer("alice")
                           ).status_code == 200
    finally:
        client.delete(f"/jobs/{job_id}", headers=bearer("alice"))
        application.extensions["ccp"].manager.stop()
