"""Health checks against the real engines: reachability and probe runs on a schedule, with
history; executions of an unhealthy Infrastructure wait in the queue, saying why, and run as
soon as it is healthy again, or fail once they waited too long; the others are not held up."""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from engines import ENGINE, IMAGE, Engine
from jobctl_setup import (
    IMAGES,
    KINDS,
    infrastructure,
    job,
    make_app,
    require,
    submit,
    wait_final,
    wait_for,
)

from ccp.jobcontrol.health import run_probe
from ccp.jobstore import JobStore
from ccp.model import Infrastructure
from ccp.runtimes import runtime_for


def wait_health(client: Any, infrastructure_id: str, healthy: bool, timeout: float = 60
                ) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    health: dict[str, Any] = {}
    while time.monotonic() < deadline:
        health = client.get(f"/infrastructures/{infrastructure_id}/health").get_json()
        if health["healthy"] is healthy:
            return health
        time.sleep(0.2)
    raise AssertionError(f"{infrastructure_id} never became healthy={healthy}: {health}")


@pytest.mark.parametrize("kind", KINDS)
def test_health_probe_runs_true_in_a_new_instance_and_leaves_nothing(kind: str) -> None:
    require(kind)
    runtime = runtime_for(Infrastructure.from_dict(infrastructure(kind)))
    before = runtime.executions()
    run_probe(runtime, IMAGES[kind], 60)
    left = {e for e in runtime.executions() - before if e.startswith("probe-")}
    assert left == set(), "the probe left its instance behind"


def test_health_probe_failure_holds_the_queue_and_dispatch_resumes_when_it_passes(
        tmp_path: Path) -> None:
    engine = Engine(ENGINE)
    engine.require()
    probe_image = f"ccp/probe-{uuid.uuid4().hex[:12]}:1"
    probed = infrastructure("docker", "docker-probed", probeImage=probe_image, pull=False,
                            healthInterval=1, probeInterval=1, probeTimeout=30)
    app = make_app(tmp_path, [probed, infrastructure("local")])
    client = app.test_client()
    try:
        health = wait_health(client, "docker-probed", False)
        assert probe_image in health["problem"]
        failed_check = health["history"][0]
        assert failed_check["ok"] is False and failed_check["detail"]["probe"]["ok"] is False
        assert failed_check["detail"]["engine"]["ok"] is True
        assert failed_check["latencyMs"] >= 0

        held = submit(client, "ticker-docker-probed", seconds=1, pause=0.1)
        waiting = wait_for(client, held, lambda j: j["message"].startswith("Waiting:"), 30,
                           "did not say why it waits")
        assert waiting["status"] == "accepted"
        assert "infrastructure 'docker-probed' is unhealthy" in waiting["message"]
        assert "fails if it is not by" in waiting["message"]
        # the other Infrastructure's executions are not held up behind it
        other = submit(client, "ticker-local", seconds=1, pause=0.1)
        assert wait_final(client, other)["status"] == "successful"
        assert job(client, held)["status"] == "accepted"
        listed = client.get("/infrastructures/docker-probed").get_json()
        assert listed["health"]["healthy"] is False and listed["features"]["healthProbe"]

        engine.client.images.get(IMAGE).tag(probe_image)  # now the probe can pass
        wait_health(client, "docker-probed", True)
        final = wait_final(client, held)
        assert final["status"] == "successful", final["message"]
        history = client.get("/infrastructures/docker-probed/health").get_json()["history"]
        assert history[0]["ok"] is True and history[0]["detail"]["probe"]["ok"] is True
        assert any(not check["ok"] for check in history)
    finally:
        app.extensions["ccp"].manager.stop()
        try:
            engine.client.images.remove(probe_image)
        except Exception:
            pass


def test_health_an_unreachable_infrastructure_fails_its_queued_executions_after_the_wait(
        tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the work root should be made")
    broken = infrastructure("local", "local-broken", workRoot=str(blocker / "root"),
                            unhealthyWait=2, healthInterval=1)
    app = make_app(tmp_path, [broken])
    client = app.test_client()
    try:
        assert client.get("/infrastructures/local-broken").get_json()["reachable"] is False
        job_id = submit(client, "ticker-local-broken", seconds=1)
        final = wait_final(client, job_id, 30)
        assert final["status"] == "failed"
        assert "infrastructure 'local-broken' stayed unhealthy for 2 s" in final["message"]
        assert "never started" in final["message"]
        assert "started" not in final  # OGC: a date-time is left out while there is none
        health = client.get("/infrastructures/local-broken/health").get_json()
        assert health["healthy"] is False and health["history"][0]["detail"]["engine"]["ok"] \
            is False
    finally:
        app.extensions["ccp"].manager.stop()


def test_health_an_infrastructure_that_recovers_releases_its_queue(
        tmp_path: Path, shared_dir: Path) -> None:
    blocker = shared_dir / "blocker"  # runner uids must reach the work root once it is made
    blocker.write_text("")
    root = blocker / "root"
    app = make_app(tmp_path, [infrastructure("local", "local-flaky", workRoot=str(root),
                                             healthInterval=1)])
    client = app.test_client()
    try:
        job_id = submit(client, "ticker-local-flaky", seconds=1, pause=0.1)
        wait_for(client, job_id, lambda j: j["message"].startswith("Waiting:"), 30)
        time.sleep(2)
        assert job(client, job_id)["status"] == "accepted"
        blocker.unlink()  # the work root can be made now
        assert wait_final(client, job_id, 60)["status"] == "successful"
        health = client.get("/infrastructures/local-flaky/health").get_json()
        assert health["healthy"] is True
        assert [c["ok"] for c in health["history"]][0] is True
        assert False in [c["ok"] for c in health["history"]]
    finally:
        app.extensions["ccp"].manager.stop()


@pytest.mark.parametrize("database", ["sqlite", pytest.param("postgres",
                                                             marks=pytest.mark.postgres)])
def test_health_claims_skip_an_unhealthy_infrastructure_and_keep_owners_fair(
        database: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    url = f"sqlite:///{tmp_path / 'jobs.db'}" if database == "sqlite" \
        else request.getfixturevalue("fresh_postgres_url")
    store = JobStore(url)
    for number in range(3):  # alice queued first, on an Infrastructure that is down
        store.add({"identifier": f"alice-{number}", "process_id": "p",
                   "infrastructure_id": "down", "owner": "alice"})
        time.sleep(0.002)
    store.add({"identifier": "bob-0", "process_id": "p", "infrastructure_id": "up",
               "owner": "bob"})
    store.add({"identifier": "carol-0", "process_id": "p", "infrastructure_id": "up",
               "owner": "carol"})
    down = frozenset({"down"})
    claimed = [store.claim_next("w", down), store.claim_next("w", down),
               store.claim_next("w", down)]
    assert [job.identifier if job else None for job in claimed] == ["bob-0", "carol-0", None]
    store.add({"identifier": "bob-1", "process_id": "p", "infrastructure_id": "up",
               "owner": "bob"})
    # healthy again: alice, who has waited longest, comes first, then bob again
    assert store.claim_next("w").identifier == "alice-0"
    assert store.claim_next("w").identifier == "bob-1"
    assert store.claim_next("w").identifier == "alice-1"
