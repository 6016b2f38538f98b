"""200 executions from 20 concurrent clients on one server: none lost, none run twice."""

from __future__ import annotations

import statistics
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests
from conftest import write_ledger_method

EXECUTIONS = 200
CLIENTS = 20


def test_200_executions_from_20_clients(server_process, tmp_path: Path, ledger: Path) -> None:
    methods = tmp_path / "methods"
    write_ledger_method(methods, "quick", "echo done > /ccp_data/done.txt")
    server = server_process(CCP_METHODS_DIR=str(methods), CCP_CONCURRENCY="4")
    session_per_client = [requests.Session() for _ in range(CLIENTS)]

    def submit(number: int) -> tuple[str, float]:
        session = session_per_client[number % CLIENTS]
        started = time.perf_counter()
        response = session.post(f"{server.url}/processes/quick/execution",
                                json={"inputs": {"ledger": str(ledger)}},
                                headers={"Prefer": "respond-async"}, timeout=30)
        elapsed = time.perf_counter() - started
        assert response.status_code == 201, response.text
        return response.json()["jobID"], elapsed

    began = time.perf_counter()
    with ThreadPoolExecutor(CLIENTS) as pool:
        submitted = list(pool.map(submit, range(EXECUTIONS)))
    submit_seconds = time.perf_counter() - began
    job_ids = [job_id for job_id, _ in submitted]
    latencies = sorted(latency * 1000 for _, latency in submitted)
    assert len(set(job_ids)) == EXECUTIONS

    deadline = time.monotonic() + 300
    while True:
        listing = requests.get(f"{server.url}/jobs?limit=1000&processID=quick",
                               timeout=30).json()
        statuses = Counter(job["status"] for job in listing["jobs"])
        if statuses["successful"] + statuses["failed"] + statuses["dismissed"] == EXECUTIONS:
            break
        assert time.monotonic() < deadline, f"not finished in 300 s: {statuses}"
        time.sleep(0.5)
    total_seconds = time.perf_counter() - began
    assert statuses == Counter({"successful": EXECUTIONS}), statuses
    assert listing["numberMatched"] == EXECUTIONS
    assert {job["jobID"] for job in listing["jobs"]} == set(job_ids)
    runs = Counter(ledger.read_text().split())
    assert runs == Counter({job_id: 1 for job_id in job_ids}), "a job ran twice or never"

    p50 = statistics.median(latencies)
    p95 = latencies[int(0.95 * len(latencies)) - 1]
    print(f"\n{EXECUTIONS} executions, {CLIENTS} clients: submitted in {submit_seconds:.1f} s "
          f"({EXECUTIONS / submit_seconds:.0f}/s), all successful after {total_seconds:.1f} s; "
          f"submission latency p50 {p50:.1f} ms, p95 {p95:.1f} ms")
