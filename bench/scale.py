"""Time for N concurrent 1-second executions on docker with 8 workers, and server memory.

For each N (full: 1, 10, 50, 100; smoke: 1, 4) a fresh `ccp serve` with CCP_CONCURRENCY=8
gets N submissions of a Method whose execute script is `sleep 1` on the docker infrastructure
with a warm pool of 8 (`docker-warm`, `warmPool: 8`: runtimes launched ahead, each used by one
execution; the pool is made by the first execution, so every launch happens inside the
measured time), from 20 client threads at once. For the largest N the same again without a
warm pool (`docker`: every container launched for its execution). Measured: client time from
the first POST to the last job `successful`, and the server's own span from the first
`created` to the last `updated` (status documents); both against the ideal ceil(N / 8) s.
Memory of the server process at the end: VmHWM (peak resident set) and VmRSS from
/proc/<pid>/status. Every job must end `successful` with its archive and PROV on disk.
Right after each N, the engine's own floor: N × `docker run --rm --network none IMAGE
sleep 1` from 8 threads (CLI), and CCP/floor. Target: N=100 ≤ 1.15 × the floor.

    python -m bench.scale [--smoke] [--sizes 1,10,50,100] [--concurrency 8]
"""

from __future__ import annotations

import argparse
import math
import os
import subprocess
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import requests

from bench import common

CONCURRENCY = 8
CLIENTS = 20


def _one_size(work, methods, infrastructures, size: int, concurrency: int,
              problems: list[str], method: str = "sleep1") -> dict[str, Any]:
    with common.CCPServer(work, methods, infrastructures, concurrency=concurrency) as server:
        sessions = [requests.Session() for _ in range(min(CLIENTS, size))]
        began = time.perf_counter()
        with ThreadPoolExecutor(len(sessions)) as pool:
            job_ids = list(pool.map(
                lambda n: common.submit(sessions[n % len(sessions)], server.url, method),
                range(size)))
        submitted = time.perf_counter() - began
        listing: dict[str, Any] = {}
        deadline = time.monotonic() + 120 + 10 * size
        while time.monotonic() < deadline:
            listing = sessions[0].get(f"{server.url}/jobs?processID={method}&limit=1000",
                                      timeout=60).json()
            if sum(job["status"] in common.FINAL for job in listing["jobs"]) == size:
                break
            time.sleep(0.05)
        elapsed = time.perf_counter() - began
        memory = server.memory()
        jobs = [job for job in listing.get("jobs", []) if job["jobID"] in set(job_ids)]
        statuses = Counter(job["status"] for job in jobs)
        archived = sum(server.archive_complete(job_id) for job_id in job_ids)
        warm = sum(bool(job.get("warmRuntime")) for job in jobs)
    if statuses != Counter({"successful": size}) or archived != size:
        problems.append(f"N={size} ({method}): {dict(statuses)}, {archived}/{size} archived")
    span = math.nan
    if jobs and all(job.get("updated") for job in jobs):
        first = min(common.parse_time(job["created"]) for job in jobs)
        last = max(common.parse_time(job["updated"]) for job in jobs)
        span = (last - first).total_seconds()
    return {"n": size, "seconds": elapsed, "server_seconds": span, "submit_seconds": submitted,
            "ideal": math.ceil(size / concurrency), "hwm_mib": memory.get("VmHWM", 0) / 1024,
            "rss_mib": memory.get("VmRSS", 0) / 1024, "statuses": dict(statuses),
            "warm": warm}


def _floor(size: int, concurrency: int) -> float:
    """N × `docker run --rm --network none IMAGE sleep 1` through the CLI, `concurrency` at
    a time: what the engine alone needs for the same containers."""
    env = {**os.environ, "DOCKER_HOST": common.docker_engine()}

    def one(_: int) -> None:
        subprocess.run(["docker", "run", "--rm", "--network", "none", common.docker_image(),
                        "sleep", "1"], env=env, check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE)

    began = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(one, range(size)))
    return time.perf_counter() - began


def run(smoke: bool = False, sizes: list[int] | None = None,
        concurrency: int = CONCURRENCY) -> common.Result:
    sizes = sizes or ([1, 4] if smoke else [1, 10, 50, 100])
    info = common.machine()
    common.print_header(f"scale: N concurrent `sleep 1` executions on docker, "
                        f"CCP_CONCURRENCY={concurrency}, warm pool {concurrency}", smoke, info)
    work = common.scratch_dir("scale")
    methods = work / "methods"
    common.write_method(methods, "sleep1", ["sleep 1"], "docker-warm", common.docker_image())
    common.write_method(methods, "sleep1-cold", ["sleep 1"], "docker", common.docker_image())
    infrastructures = common.write_infrastructures(work / "infrastructures", concurrency)
    problems: list[str] = []
    rows = []
    cold: dict[str, Any] = {}
    try:
        for size in sizes:
            row = _one_size(work, methods, infrastructures, size, concurrency, problems)
            row["floor"] = _floor(size, concurrency)
            rows.append(row)
            print(f"  N={size:<4} total {row['seconds']:6.2f} s (server "
                  f"{row['server_seconds']:6.2f} s; POSTs {row['submit_seconds']:.2f} s), "
                  f"ideal {row['ideal']} s: "
                  f"{row['seconds'] / row['ideal']:.2f}x (server "
                  f"{row['server_seconds'] / row['ideal']:.2f}x); floor {row['floor']:.2f} s "
                  f"({row['seconds'] / row['floor']:.2f}x); {row['warm']} of {size} in warm "
                  f"runtimes; server peak RSS (VmHWM) {row['hwm_mib']:.0f} MiB, RSS "
                  f"{row['rss_mib']:.0f} MiB; {row['statuses']}", flush=True)
        cold = _one_size(work, methods, infrastructures, sizes[-1], concurrency, problems,
                         "sleep1-cold")
        print(f"  N={sizes[-1]:<4} without a warm pool: total {cold['seconds']:6.2f} s "
              f"({cold['seconds'] / rows[-1]['floor']:.2f}x floor); {cold['statuses']}",
              flush=True)
    finally:
        common.remove_dir(work)
    print(f"load average after: {common.loadavg()}")
    for problem in problems:
        print(f"  PROBLEM: {problem}")
    largest = rows[-1]
    floor_ratio = largest["seconds"] / largest["floor"]
    return common.Result(
        name="scale",
        headline=(f"N={largest['n']}: {largest['seconds']:.1f} s vs ideal {largest['ideal']} s "
                  f"({largest['seconds'] / largest['ideal']:.2f}x); docker run floor "
                  f"{largest['floor']:.1f} s ({floor_ratio:.2f}x floor; without a warm pool "
                  f"{cold['seconds']:.1f} s, {cold['seconds'] / largest['floor']:.2f}x floor); "
                  f"peak RSS {largest['hwm_mib']:.0f} MiB; "
                  + ", ".join(f"N={r['n']} {r['seconds'] / r['floor']:.2f}x floor"
                              for r in rows[:-1])),
        target="N=100 ≤ 1.15x floor (warm pool)" if not smoke else "report only (smoke)",
        met=None if smoke else floor_ratio <= 1.15 and not problems,
        machine=info,
        details={"concurrency": concurrency, "rows": rows, "cold": cold},
        ok=not problems,
        problems=problems,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.scale",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="N = 1 and 4")
    parser.add_argument("--sizes", help="comma-separated N (default 1,10,50,100)")
    parser.add_argument("--concurrency", type=int, default=CONCURRENCY)
    args = parser.parse_args(argv)
    sizes = [int(n) for n in args.sizes.split(",")] if args.sizes else None
    result = run(args.smoke, sizes, args.concurrency)
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
