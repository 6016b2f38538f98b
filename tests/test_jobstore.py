"""The job store on SQLite and on PostgreSQL: same behaviour, no job ever run twice."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from conftest import write_ledger_method
from services import fresh_postgres_database
from sqlalchemy import create_engine, text

from ccp import migrations
from ccp.jobstore import JobStore


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'jobs.db'}"
        return
    with fresh_postgres_database() as url:
        yield url


def new_job(store: JobStore, job_id: str, **values) -> None:
    store.add({"identifier": job_id, "process_id": "p", "process_version": "1",
               "infrastructure_id": "local", "request": {}, "inputs": {}, **values})


def test_migrations_are_versioned_and_idempotent(store_url: str) -> None:
    store = JobStore(store_url)
    assert migrations.upgrade(store.engine) == migrations.head()
    with store.engine.connect() as connection:
        versions = connection.execute(text("SELECT version_num FROM alembic_version")).all()
    assert [v[0] for v in versions] == [migrations.head()]


def test_claim_update_list_dismiss(store_url: str) -> None:
    store = JobStore(store_url)
    for number in range(5):
        new_job(store, f"job-{number}")
        time.sleep(0.002)
    claimed = store.claim_next("w1")
    assert claimed.identifier == "job-0" and claimed.status == "running"
    assert store.dismiss_if_waiting("job-1", "no")
    assert not store.dismiss_if_waiting("job-0", "running jobs are not dismissed this way")
    assert store.request_dismiss("job-0")
    assert store.get("job-0").dismiss_requested is True
    assert store.claim_next("w1").identifier == "job-2"
    jobs, total = store.find(status=["running"], limit=10)
    assert total == 2 and {j.identifier for j in jobs} == {"job-0", "job-2"}
    page, total = store.find(limit=2, offset=2)
    assert total == 5 and len(page) == 2
    assert store.update_running("job-2", status="successful", outputs=[{"name": "a"}])
    assert not store.update_running("job-2", status="failed")
    assert store.get("job-2").outputs == [{"name": "a"}]


def test_stale_jobs_are_taken_over_once(store_url: str) -> None:
    store = JobStore(store_url)
    new_job(store, "j")
    store.claim_next("dead-worker")
    store.update("j", heartbeat=time.time() - 100)
    assert [j.identifier for j in store.stale_running(30)] == ["j"]
    assert store.take_over_if_stale("j", "w2", 30)
    assert not store.take_over_if_stale("j", "w3", 30)
    assert store.get("j").worker == "w2"


def test_concurrent_claims_never_hand_out_a_job_twice(store_url: str) -> None:
    store = JobStore(store_url)
    for number in range(40):
        new_job(store, f"job-{number:02d}")
    claimed: list[str] = []
    lock = threading.Lock()

    def worker(name: str) -> None:
        while (job := store.claim_next(name)) is not None:
            with lock:
                claimed.append(job.identifier)

    threads = [threading.Thread(target=worker, args=(f"w{i}",)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(claimed) == [f"job-{n:02d}" for n in range(40)]


@pytest.mark.postgres
def test_two_servers_sharing_postgresql_run_each_job_exactly_once(
        fresh_postgres_url: str, server_process, tmp_path: Path, ledger: Path) -> None:
    url = fresh_postgres_url
    methods = tmp_path / "methods"
    write_ledger_method(methods, "count-run", "sleep 0.2")
    common = {"CCP_DATABASE_URL": url, "CCP_METHODS_DIR": str(methods),
              "CCP_CONCURRENCY": "3"}
    servers = [server_process(tmp_path / "data-a", **common),
               server_process(tmp_path / "data-b", **common)]
    job_ids = []
    for number in range(24):
        server = servers[number % 2]
        response = requests.post(f"{server.url}/processes/count-run/execution",
                                 json={"inputs": {"ledger": str(ledger)}},
                                 headers={"Prefer": "respond-async"}, timeout=10)
        assert response.status_code == 201
        job_ids.append(response.json()["jobID"])
    deadline = time.monotonic() + 90
    for job_id in job_ids:
        while (status := requests.get(f"{servers[0].url}/jobs/{job_id}", timeout=10)
               .json()["status"]) in ("accepted", "running"):
            assert time.monotonic() < deadline, "jobs did not finish"
            time.sleep(0.2)
        assert status == "successful"
    runs = Counter(ledger.read_text().split())
    assert runs == Counter({job_id: 1 for job_id in job_ids})
    engine = create_engine(url)
    with engine.connect() as connection:
        workers = connection.execute(text("SELECT DISTINCT worker FROM ccp_jobs")).all()
    engine.dispose()
    assert len(workers) == 2, "both servers should have taken jobs"
