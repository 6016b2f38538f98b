"""Execution metrics end to end, on every runtime against its real engine (local processes,
Docker, every Swarm task container, LXD): samples while the execution runs, live through
`GET /jobs/{id}/metrics`, then `metadata/metrics.csv`, the summary in status.json, the PROV
attributes and `GET /jobs/{id}/statistics`. Nothing is mocked; a missing engine fails."""

from __future__ import annotations

import csv
import io
import json
import shutil
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
from conftest import make_config
from engines import ENGINE, IMAGE, LXD_IMAGE, REPO, Engine, lxd_client
from helpers import ASYNC, archive_of, submit, wait_final, wait_until
from sqlalchemy import text

from ccp.app import create_app
from ccp.metrics import Meter, Phase, samples
from ccp.model import Infrastructure
from ccp.runtimes import runtime_for
from ccp.runtimes.base import Instance

HELD_BYTES = 20_000_000
# Busy for `seconds` (CPU) while holding HELD_BYTES in a shell variable; busybox and dash.
BUSY_SCRIPT = [
    f"x=$(head -c {HELD_BYTES} /dev/zero | tr '\\000' a)",
    "end=$(( $(date +%s) + {{ seconds }} ))",
    "while [ $(date +%s) -lt $end ]; do i=0; while [ $i -lt 3000 ]; do i=$((i+1)); done; done",
    'printf %s "$x" | wc -c > /ccp_data/held-$ccptaskid.txt',  # ${#x} would be Jinja
]
IMAGES = {"local": "none", "docker": IMAGE, "swarm": IMAGE, "lxd": LXD_IMAGE}
JWT_SECRET = "metrics-test-secret-0123456789abcdef0123"


def busy_method(kind: str, replicas: int = 1) -> dict[str, Any]:
    method = json.loads((REPO / "methods" / "hello-world.json").read_text())
    method["id"] = f"busy-{kind}"
    method["inputs"] = {
        "seconds": {"schema": {"type": "integer", "default": 3, "minimum": 0, "maximum": 60},
                    "minOccurs": 0},
        "ccpimage": {"schema": {"type": "string", "default": IMAGES[kind]}, "minOccurs": 1},
    }
    if kind == "swarm":
        method["inputs"]["ccpreplicas"] = {
            "schema": {"type": "integer", "minimum": 1, "default": replicas}, "minOccurs": 0}
    method["additionalParameters"]["parameters"] = [
        {"name": "execute-script", "value": BUSY_SCRIPT}]
    method["links"] = [{"rel": "compatibleWith", "href": f"infrastructures/{kind}",
                        "title": kind}]
    return method


def write_setup(root: Path) -> tuple[Path, Path]:
    methods, infrastructures = root / "methods", root / "infrastructures"
    methods.mkdir(parents=True)
    infrastructures.mkdir(parents=True)
    for kind in IMAGES:
        descriptor = json.loads((REPO / "infrastructures" / f"{kind}.json").read_text())
        if kind in ("docker", "swarm"):
            descriptor["settings"]["engine"] = ENGINE
        (infrastructures / f"{kind}.json").write_text(json.dumps(descriptor))
        method = busy_method(kind, replicas=2)
        (methods / f"{method['id']}.json").write_text(json.dumps(method))
    shutil.copy(REPO / "methods" / "hello-world.json", methods)
    return methods, infrastructures


@pytest.fixture(scope="module")
def engines() -> None:
    Engine(ENGINE, swarm=True).require()
    lxd_client()


@pytest.fixture(scope="module")
def app(engines: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    root = tmp_path_factory.mktemp("metrics")
    methods, infrastructures = write_setup(root)
    config = make_config(root / "data", methods, infrastructures, concurrency=4,
                         metrics={"interval": 0.25})
    application = create_app(config)
    manager = application.extensions["ccp"].manager
    assert not manager.registry.problems, manager.registry.problems
    yield application
    manager.stop()


@pytest.fixture(scope="module")
def client(app: Any) -> Any:
    return app.test_client()


def metrics_of(client: Any, job_id: str, **query: Any) -> dict[str, Any]:
    response = client.get(f"/jobs/{job_id}/metrics", query_string=query)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def wait_sampled_in_execute(client: Any, job_id: str, replicas: int) -> dict[str, Any]:
    """The live metrics once every replica has a sample of its Execute phase."""
    deadline = time.monotonic() + 90
    found: dict[str, Any] = {}
    while time.monotonic() < deadline:
        found = metrics_of(client, job_id)
        busy = {row["replica"] for row in found["samples"]
                if row["phase"] == "Execute" and (row["memory_bytes"] or 0) > HELD_BYTES}
        if busy == set(range(1, replicas + 1)):
            return found
        assert found["status"] in ("accepted", "running"), found
        time.sleep(0.1)
    raise AssertionError(f"no busy Execute samples of {job_id}: {found}")


# --- every runtime, end to end -----------------------------------------------------------------

@pytest.mark.parametrize(("kind", "replicas"), [("local", 1), ("docker", 1), ("swarm", 2),
                                                ("lxd", 1)])
def test_metrics_of_a_running_execution_are_live_then_archived(
        client: Any, kind: str, replicas: int) -> None:
    job_id = submit(client, f"busy-{kind}", {"seconds": 4})
    live = wait_sampled_in_execute(client, job_id, replicas)
    assert live["status"] == "running"
    assert live["columns"] == list(samples.COLUMNS)
    assert [p["phase"] for p in live["phases"]][:2] == ["Launch", "Execute"]
    assert live["phases"][-1]["finished"] is None  # the phase it is in

    job = wait_final(client, job_id, 120)
    assert job["status"] == "successful", job
    archive = archive_of(client, job_id)
    rows = list(csv.DictReader(io.StringIO(archive.read("metadata/metrics.csv").decode())))
    assert rows and {int(row["replica"]) for row in rows} == set(range(1, replicas + 1))
    assert {row["phase"] for row in rows} >= {"Execute"}
    assert any(float(row["cpu_percent"] or 0) > 10 for row in rows), rows

    statistics = json.loads(archive.read("metadata/status.json"))["statistics"]
    assert statistics["cpuSeconds"] > 0.3 * replicas, statistics
    assert statistics["peakMemoryBytes"] > HELD_BYTES * replicas, statistics
    assert [r["replica"] for r in statistics["replicas"]] == list(range(1, replicas + 1))
    limit = {"local": None, "docker": 512 * 2**20, "swarm": 512 * 2**20, "lxd": 256 * 2**20}
    for replica in statistics["replicas"]:
        assert replica["peakMemoryBytes"] > HELD_BYTES, replica
        assert replica["memoryLimitBytes"] == limit[kind], replica  # local.json sets none
    assert statistics["phaseSeconds"]["Execute"] >= 2.9, statistics  # date +%s: 3 to 4 s
    assert [p["phase"] for p in statistics["phases"]] == ["Launch", "Execute", "Fetch",
                                                          "Destroy"]
    if kind == "local":  # host processes share the host's network: nothing to count
        assert statistics["networkRxBytes"] is None
    else:
        assert statistics["networkRxBytes"] is not None
        assert statistics["networkTxBytes"] is not None

    prov = archive.read("metadata/provenance.ttl").decode()
    assert "ccp:cpuSeconds" in prov and "ccp:peakMemoryBytes" in prov
    assert "ccp:secondsInExecute" in prov

    # the same numbers through the API, from the job store
    from_api = client.get(f"/jobs/{job_id}/statistics").get_json()
    for key in ("cpuSeconds", "peakMemoryBytes", "networkRxBytes", "phaseSeconds"):
        assert from_api[key] == statistics[key], key
    assert from_api["queuedSeconds"] >= 0
    assert from_api["durationSeconds"] >= statistics["phaseSeconds"]["Execute"]
    assert client.get(f"/jobs/{job_id}").get_json()["statistics"]["cpuSeconds"] == \
        statistics["cpuSeconds"]
    stored = metrics_of(client, job_id)
    assert len(stored["samples"]) == len(rows)


def test_metrics_as_csv_by_f_and_by_accept_and_only_newer_rounds(client: Any) -> None:
    job_id = submit(client, "busy-local", {"seconds": 2})  # busy 1 to 2 s
    assert wait_final(client, job_id, 60)["status"] == "successful"
    by_f = client.get(f"/jobs/{job_id}/metrics?f=csv")
    by_accept = client.get(f"/jobs/{job_id}/metrics", headers={"Accept": "text/csv"})
    assert by_f.mimetype == by_accept.mimetype == "text/csv"
    assert by_f.data == by_accept.data
    table = list(csv.DictReader(io.StringIO(by_f.get_data(as_text=True))))
    archived = archive_of(client, job_id).read("metadata/metrics.csv").decode()
    assert by_f.get_data(as_text=True) == archived
    seqs = sorted({int(row["seq"]) for row in table})
    assert len(seqs) >= 3, table
    newer = metrics_of(client, job_id, after=seqs[1])["samples"]
    assert sorted({row["seq"] for row in newer}) == seqs[2:]
    # a row after `after` keeps its CPU %, computed from the round before it
    assert newer[0]["cpu_percent"] == next(
        float(row["cpu_percent"]) for row in table if int(row["seq"]) == seqs[2])
    assert client.get(f"/jobs/{job_id}/metrics?f=xml").status_code == 400
    assert client.get(f"/jobs/{job_id}/metrics?after=x").status_code == 400
    assert client.get("/jobs/no-such-job/metrics").status_code == 404
    assert client.get("/jobs/no-such-job/statistics").status_code == 404


def test_metrics_are_deleted_with_their_job(app: Any, client: Any) -> None:
    job_id = submit(client, "busy-local", {"seconds": 2})  # busy 1 to 2 s
    assert wait_final(client, job_id, 60)["status"] == "successful"
    store = app.extensions["ccp"].manager.metering.store
    assert store.samples(job_id) and store.phases(job_id)
    assert client.delete(f"/jobs/{job_id}").status_code == 200
    assert store.samples(job_id) == [] and store.phases(job_id) == []


def test_metrics_of_an_imported_execution_come_from_its_archive(client: Any,
                                                                 app_factory: Any) -> None:
    job_id = submit(client, "busy-local", {"seconds": 2})  # busy 1 to 2 s
    assert wait_final(client, job_id, 60)["status"] == "successful"
    exported = client.get(f"/jobs/{job_id}/archive").data
    other = app_factory().test_client()
    response = other.post("/jobs/import", data=exported, content_type="application/zip")
    assert response.status_code == 201, response.get_json()
    imported = response.get_json()["jobID"]
    here, there = metrics_of(client, job_id), metrics_of(other, imported)
    assert there["samples"] == here["samples"] and len(there["samples"]) >= 3
    assert there["phases"] == here["phases"]
    mine = client.get(f"/jobs/{job_id}/statistics").get_json()
    theirs = other.get(f"/jobs/{imported}/statistics").get_json()
    for key in ("cpuSeconds", "peakMemoryBytes", "phaseSeconds", "samples"):
        assert theirs[key] == mine[key], key
    assert other.get(f"/jobs/{imported}/metrics?f=csv").data == \
        client.get(f"/jobs/{job_id}/metrics?f=csv").data


def test_statistics_a_phase_left_open_by_a_dead_server_ends_with_its_job(app: Any,
                                                                          client: Any) -> None:
    manager = app.extensions["ccp"].manager
    job_id = f"lost-{uuid.uuid4()}"
    manager.store.add({"identifier": job_id, "process_id": "busy-local", "status": "failed",
                       "started": "2026-01-01T00:00:00.000Z",
                       "finished": "2026-01-01T00:00:10.000Z", "infrastructure_id": "local"})
    started = samples.epoch("2026-01-01T00:00:01.000Z")
    store = manager.metering.store
    store.write(lambda connection: store.start_phase(  # and never finished
        connection, job_id, Phase(1, "Execute", started)))
    statistics = client.get(f"/jobs/{job_id}/statistics").get_json()
    assert statistics["phases"] == [{"phase": "Execute", "started": "2026-01-01T00:00:01.000Z",
                                     "finished": "2026-01-01T00:00:10.000Z", "seconds": 9.0}]
    assert statistics["phaseSeconds"] == {"Execute": 9.0}


# --- failures stay out of the execution ---------------------------------------------------------

def test_metrics_a_broken_metrics_table_never_fails_an_execution(tmp_path: Path) -> None:
    methods, infrastructures = tmp_path / "methods", REPO / "infrastructures"
    methods.mkdir()
    (methods / "busy-local.json").write_text(json.dumps(busy_method("local")))
    application = create_app(make_config(tmp_path / "data", methods, infrastructures,
                                         metrics={"interval": 0.2}))
    manager = application.extensions["ccp"].manager
    try:
        with manager.store.engine.begin() as connection:  # what a sick database would do
            connection.execute(text("DROP TABLE ccp_metric_samples"))
            connection.execute(text("DROP TABLE ccp_phases"))
        client = application.test_client()
        job_id = submit(client, "busy-local", {"seconds": 2})  # busy 1 to 2 s
        deadline = time.monotonic() + 60
        while not manager.get_job(job_id).is_final and time.monotonic() < deadline:
            time.sleep(0.1)
        job = manager.get_job(job_id)
        assert job.status == "successful", job.message
        archive = archive_of(client, job_id)
        statistics = json.loads(archive.read("metadata/status.json"))["statistics"]
        assert statistics["samples"] >= 2 and statistics["cpuSeconds"] > 0
        assert len(archive.read("metadata/metrics.csv").decode().splitlines()) >= 3
    finally:
        manager.stop()


def test_metrics_a_failing_sample_is_skipped_and_counted() -> None:
    runtime = runtime_for(Infrastructure.from_dict(
        json.loads((REPO / "infrastructures" / "local.json").read_text())))
    told: list[str] = []

    class Counting:
        def add_samples(self, job_id: str, taken: list[Any]) -> None:
            told.append("samples")

        def start_phase(self, job_id: str, phase: Any) -> None:
            told.append(f"start {phase.name}")

        def finish_phase(self, job_id: str, phase: Any) -> None:
            told.append(f"finish {phase.name}")

        def sample_failed(self) -> None:
            told.append("failed")

    meter = Meter("metrics-broken", runtime, Counting(), interval=0.05)
    meter.phase("Launch")
    meter.watch(Instance("metrics-broken", "local", {"uid": "not-a-uid"}))  # sample() raises
    deadline = time.monotonic() + 30
    while told.count("failed") < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    meter.phase("Destroy")
    meter.finish()
    taken, phases = meter.collected()
    assert taken == [] and "samples" not in told
    assert told.count("failed") >= 3
    assert [p.name for p in phases] == ["Launch", "Destroy"]
    assert all(p.finished is not None for p in phases)
    assert [t for t in told if t.startswith(("start", "finish"))] == [
        "start Launch", "finish Launch", "start Destroy", "finish Destroy"]


# --- who may see them ---------------------------------------------------------------------------

def test_metrics_and_statistics_of_others_are_not_found(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CCP_METRICS_TEST_SECRET", JWT_SECRET)
    config = make_config(tmp_path / "data")
    config["server"]["auth"] = {"enabled": True, "algorithm": "HS256",
                                "secret_env": "CCP_METRICS_TEST_SECRET"}
    application = create_app(config)
    try:
        client = application.test_client()

        def bearer(subject: str, roles: list[str] = ()) -> dict[str, str]:
            token = jwt.encode({"sub": subject, "exp": int(time.time()) + 600,
                                "roles": list(roles)}, JWT_SECRET, algorithm="HS256")
            return {"Authorization": f"Bearer {token}"}

        response = client.post("/processes/hello-world/execution", json={"inputs": {}},
                               headers={**bearer("alice"), **ASYNC})
        job_id = response.get_json()["jobID"]
        wait_until(_Authorized(client, bearer("alice")), job_id,
                   lambda job: job["status"] in ("successful", "failed"), 30)
        for path in ("metrics", "statistics", "metrics?f=csv", "outputs", "outputs/hello.txt"):
            assert client.get(f"/jobs/{job_id}/{path}", headers=bearer("alice")
                              ).status_code == 200
            assert client.get(f"/jobs/{job_id}/{path}", headers=bearer("mallory")
                              ).status_code == 404
            assert client.get(f"/jobs/{job_id}/{path}").status_code == 401
            assert client.get(f"/jobs/{job_id}/{path}", headers=bearer("root", ["admin"])
                              ).status_code == 200
        own = client.get("/statistics", headers=bearer("mallory")).get_json()
        assert own["scope"] == "own" and sum(day["successful"] for day in own["days"]) == 0
        everyone = client.get("/statistics", headers=bearer("root", ["admin"])).get_json()
        assert everyone["scope"] == "all"
        assert sum(day["successful"] + day["failed"] for day in everyone["days"]) == 1
    finally:
        application.extensions["ccp"].manager.stop()


class _Authorized:
    """A test client that sends one Authorization header with every GET."""

    def __init__(self, client: Any, headers: dict[str, str]) -> None:
        self.client = client
        self.headers = headers

    def get(self, path: str) -> Any:
        return self.client.get(path, headers=self.headers)
