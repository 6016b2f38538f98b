"""Fair dispatch: how long one user's single job waits behind another user's long queue.

A `ccp serve` with auth on and 2 workers; user A queues N short executions (full: 200,
smoke: 20) of a Method whose execute script is `sleep 0.2` on the local runtime; then user B
submits one. B's wait (created → started, from its status document) is printed beside the
one-slot ideal: the median duration of one of A's executions (B should wait for at most the
job a worker is running now), and beside what first-come-first-served would cost
(N × slot / workers).

    python -m bench.fairness [--smoke]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import jwt
import requests

from bench import common

SECRET = "bench-fairness-secret-0123456789abcdef0123456789"
WORKERS = 2
SLEEP = "0.2"


def bearer(sub: str) -> dict[str, str]:
    claims = {"sub": sub, "exp": int(time.time()) + 7200}
    return {"Authorization": f"Bearer {jwt.encode(claims, SECRET, algorithm='HS256')}"}


def run(smoke: bool = False) -> common.Result:
    info = common.machine()
    common.print_header("fairness: one user's job behind another's queue", smoke, info)
    queued = 20 if smoke else 200
    work = common.scratch_dir("fairness")
    problems: list[str] = []
    try:
        methods = work / "methods"
        common.write_method(methods, "short", [f"sleep {SLEEP}"], "local", image="none")
        infrastructures = common.write_infrastructures(work / "infrastructures")
        with common.CCPServer(work, methods, infrastructures, concurrency=WORKERS,
                              CCP_AUTH="true", CCP_JWT_SECRET=SECRET,
                              CCP_USER_MAX_ACTIVE="0") as server:
            user_a, user_b = bearer("user-a"), bearer("user-b")
            sessions = [requests.Session() for _ in range(8)]
            with ThreadPoolExecutor(len(sessions)) as pool:
                a_jobs = list(pool.map(lambda n: common.submit(
                    sessions[n % len(sessions)], server.url, "short", headers=user_a),
                    range(queued)))
            b_job = common.submit(sessions[0], server.url, "short", headers=user_b)
            b_status = wait(sessions[0], server.url, b_job, user_b)
            b_wait = (common.parse_time(b_status["started"])
                      - common.parse_time(b_status["created"])).total_seconds()
            a_done = [job for job in (sessions[0].get(f"{server.url}/jobs/{job_id}",
                                                      headers=user_a, timeout=30).json()
                                      for job_id in a_jobs) if job["status"] == "successful"]
            a_started = [job for job in (sessions[0].get(f"{server.url}/jobs/{job_id}",
                                                         headers=user_a, timeout=30).json()
                                         for job_id in a_jobs) if job.get("started")]
    finally:
        common.remove_dir(work)
    if b_status["status"] != "successful":
        problems.append(f"B's job ended {b_status['status']}: {b_status.get('message')}")
    durations = [(common.parse_time(job["finished"]) - common.parse_time(job["started"]))
                 .total_seconds() for job in a_done if job.get("finished")]
    slot = statistics.median(durations) if durations else float("nan")
    fifo = queued * slot / WORKERS
    ahead = sum(common.parse_time(job["started"]) < common.parse_time(b_status["started"])
                for job in a_started)
    print(f"  A queued {queued}; B's one job waited {b_wait * 1000:.0f} ms "
          f"(one slot: {slot * 1000:.0f} ms; first-come-first-served: ~{fifo:.1f} s); "
          f"A's jobs started before B's: {ahead}", flush=True)
    met = b_wait <= 1.5 * slot + 0.1
    return common.Result(
        name="fairness",
        headline=f"B waited {b_wait * 1000:.0f} ms vs one slot {slot * 1000:.0f} ms "
                 f"(FIFO ~{fifo:.0f} s)",
        target="B's wait <= one slot", met=met, machine=info,
        details={"queued": queued, "b_wait": b_wait, "slot": slot, "fifo": fifo,
                 "a_started_before_b": ahead},
        ok=not problems, problems=problems)


def wait(session: requests.Session, url: str, job_id: str, headers: dict[str, str],
         timeout: float = 300) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = session.get(f"{url}/jobs/{job_id}", headers=headers, timeout=30).json()
        if job["status"] in common.FINAL:
            return job
        time.sleep(0.02)
    raise RuntimeError(f"job {job_id} not final after {timeout} s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.fairness")
    parser.add_argument("--smoke", action="store_true")
    result = run(parser.parse_args(argv).smoke)
    print(result.headline)
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
