"""Verify against the real engines: orphans removed, lost jobs failed, unknown instances left
alone, a report returned and kept; on demand (admins) and on a schedule."""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import jwt
import pytest
from jobctl_setup import (
    IMAGES,
    KINDS,
    infrastructure,
    job,
    make_app,
    require,
    submit,
    ticks,
    wait_final,
    wait_for,
    wait_ticking,
)

from ccp.runtimes.base import Instance

SECRET = "jobctl-verify-test-secret-0123456789abcdef"


def add_job(manager: Any, kind: str, status: str, **values: Any) -> str:
    """A row in the job store, as another (maybe dead) server left it."""
    job_id = str(uuid.uuid4())
    manager.store.add({"identifier": job_id, "process_id": f"ticker-{kind}",
                       "infrastructure_id": kind})
    manager.store.update(job_id, status=status, **values)
    return job_id


@pytest.mark.parametrize("kind", KINDS)
def test_verify_removes_orphans_fails_lost_jobs_and_reports(kind: str, tmp_path: Path) -> None:
    require(kind)
    app = make_app(tmp_path, [infrastructure(kind)], verify_interval=0)
    manager = app.extensions["ccp"].manager
    client = app.test_client()
    runtime = manager.runtimes.get(manager.registry.infrastructures[kind])
    launched: list[Instance] = []
    try:
        live = submit(client, f"ticker-{kind}", seconds=120)
        wait_ticking(client, live)
        # an instance left by an execution that has ended
        ended = add_job(manager, kind, "successful", finished="2026-01-01T00:00:00Z")
        # a probe instance left by a server that crashed two hours ago
        stale_probe = f"probe-{int(time.time()) - 7200}-{uuid.uuid4().hex[:8]}"
        # an instance this job store does not know (another server's, maybe)
        unknown = f"jobctl-unknown-{uuid.uuid4()}"
        for execution_id in (ended, stale_probe, unknown):
            launched.append(runtime.launch(execution_id, IMAGES[kind],
                                           {"ccptaskname": execution_id}))
        # a job the store says runs, whose runtime is not on the engine
        lost = add_job(manager, kind, "running", worker="another-server",
                       heartbeat=time.time(), progress=40,
                       instance={"execution_id": "x", "runtime": kind, "handle": {}})

        response = client.post(f"/infrastructures/{kind}/verify")
        assert response.status_code == 200, response.get_json()
        report = response.get_json()
        assert report["ok"] is False
        assert sorted(report["orphansRemoved"]) == sorted([ended, stale_probe])
        assert report["lostJobsFailed"] == [lost]
        assert unknown in report["unknown"]
        assert live in report["matched"]
        assert "2 orphan(s) removed, 1 lost job(s) failed" in report["message"]

        on_engine = runtime.executions()
        assert ended not in on_engine and stale_probe not in on_engine
        assert unknown in on_engine and live in on_engine
        failed = job(client, lost)
        assert failed["status"] == "failed"
        assert f"verify found no runtime of this execution on infrastructure '{kind}'" \
            in failed["message"]
        assert job(client, live)["status"] == "running"

        again = client.post(f"/infrastructures/{kind}/verify").get_json()
        assert (again["ok"], again["orphansRemoved"], again["lostJobsFailed"]) == (True, [], [])
        reports = client.get(f"/infrastructures/{kind}/verify").get_json()["reports"]
        assert [r["ok"] for r in reports[:2]] == [True, False]
        assert reports[1]["lostJobsFailed"] == [lost]
        assert client.delete(f"/jobs/{live}").get_json()["status"] == "dismissed"
    finally:
        for instance in launched:
            runtime.destroy(instance)
        manager.stop()


@pytest.mark.parametrize("kind", ["docker", "swarm", "lxd"])
def test_verify_and_suspend_with_a_warm_pool(kind: str, tmp_path: Path) -> None:
    """A job in a runtime launched ahead (ccp.warmpool) is matched, not lost, whatever the
    engine still calls it; the pool's members are neither orphans nor unknown; suspend and
    resume work on the runtime it took."""
    require(kind)
    app = make_app(tmp_path, [infrastructure(kind, warmPool=1, warmImages=[IMAGES[kind]])],
                   verify_interval=0)
    manager = app.extensions["ccp"].manager
    client = app.test_client()
    try:
        deadline = time.monotonic() + 120
        while manager.warm.status(kind).get(IMAGES[kind], {}).get("ready", 0) < 1:
            assert time.monotonic() < deadline, manager.warm.status(kind)
            time.sleep(0.2)
        live = submit(client, f"ticker-{kind}", seconds=120)
        wait_ticking(client, live)
        assert job(client, live).get("warmRuntime") is True
        for _ in range(2):  # at once, and once the pool has launched its next member
            report = client.post(f"/infrastructures/{kind}/verify").get_json()
            assert report["ok"] is True, report
            assert live in report["matched"] and report["lostJobsFailed"] == []
            assert not [i for i in report["unknown"] + report["orphansRemoved"]
                        if i.startswith("warm-")], report
            time.sleep(3)
        assert client.post(f"/jobs/{live}/suspend").status_code in (200, 202)
        wait_for(client, live, lambda status: status.get("suspended") is True, 60)
        time.sleep(0.5)  # a tick on its way out may still arrive
        seen = len(ticks(client, live))
        time.sleep(3)
        assert len(ticks(client, live)) == seen, "it went on while suspended"
        assert client.post(f"/jobs/{live}/resume").status_code in (200, 202)
        wait_ticking(client, live, count=seen + 2)
        assert job(client, live)["status"] == "running"
        assert client.delete(f"/jobs/{live}").get_json()["status"] == "dismissed"
    finally:
        manager.stop()


def test_verify_runs_on_a_schedule(tmp_path: Path) -> None:
    app = make_app(tmp_path, [infrastructure("local")], verify_interval=1)
    manager = app.extensions["ccp"].manager
    client = app.test_client()
    try:
        ended = add_job(manager, "local", "failed", finished="2026-01-01T00:00:00Z")
        runtime = manager.runtimes.get(manager.registry.infrastructures["local"])
        runtime.launch(ended, "none", {"ccptaskname": ended})
        deadline = time.monotonic() + 30
        # the report is written once the orphan is gone: wait for the report itself
        while not any(ended in report.get("orphansRemoved", []) for report in
                      client.get("/infrastructures/local/verify").get_json()["reports"]):
            assert time.monotonic() < deadline, "no scheduled verify removed the orphan"
            time.sleep(0.2)
        assert ended not in runtime.executions()
    finally:
        manager.stop()


def token(subject: str, admin: bool = False) -> dict[str, str]:
    claims = {"sub": subject, "exp": int(time.time()) + 600,
              **({"roles": ["admin"]} if admin else {})}
    return {"Authorization": f"Bearer {jwt.encode(claims, SECRET, algorithm='HS256')}"}


def test_verify_and_health_checks_are_for_admins_job_control_for_the_owner(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CCP_JOBCTL_TEST_SECRET", SECRET)
    app = make_app(tmp_path, [infrastructure("docker")],
                   auth={"enabled": True, "algorithm": "HS256",
                         "secret_env": "CCP_JOBCTL_TEST_SECRET"})
    require("docker")
    client = app.test_client()
    alice, bob, admin = token("alice"), token("bob"), token("root", admin=True)
    try:
        for method, path in (("post", "/infrastructures/docker/verify"),
                             ("get", "/infrastructures/docker/verify"),
                             ("post", "/infrastructures/docker/health")):
            assert getattr(client, method)(path).status_code == 401
            response = getattr(client, method)(path, headers=alice)
            assert response.status_code == 403, response.get_json()
            assert "only an admin" in response.get_json()["detail"]
            assert getattr(client, method)(path, headers=admin).status_code == 200
        health = client.get("/infrastructures/docker/health", headers=alice)
        assert health.status_code == 200 and health.get_json()["healthy"] is True

        job_id = submit(client, "ticker-docker", headers=alice, seconds=60, ccpmaxtime=120)
        deadline = time.monotonic() + 60
        while job(client, job_id, alice)["status"] != "running":
            assert time.monotonic() < deadline
            time.sleep(0.1)
        for action, body in (("suspend", None), ("resume", None), ("extend", {"seconds": 5})):
            response = client.post(f"/jobs/{job_id}/{action}", json=body, headers=bob)
            assert response.status_code == 404, action  # bob cannot see alice's job
        assert client.post(f"/jobs/{job_id}/suspend", headers=alice).status_code == 200
        assert client.post(f"/jobs/{job_id}/resume", headers=admin).status_code == 200
        response = client.post(f"/jobs/{job_id}/extend", json={"seconds": 5}, headers=alice)
        assert response.status_code == 200 and response.get_json()["timeLimit"] == 125
        assert client.delete(f"/jobs/{job_id}", headers=alice).get_json()["status"] == \
            "dismissed"
        assert wait_final(client, job_id, headers=alice)["status"] == "dismissed"
    finally:
        app.extensions["ccp"].manager.stop()
