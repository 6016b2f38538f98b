"""Latency of a cache hit against running the same local hello-world for real.

One `ccp serve`; a deterministic copy of the hello-world Method (`deterministic: true`,
its execute script on the local runtime). One execution seeds the cache; then, interleaved
round by round: a cache hit (the same request: `POST` answers with the job already
`successful`, its archive holding the earlier outputs and its own PROV) and a real run of
the same request with `"cache": false` (POST → `successful`, GET /jobs/<id> polled every
15 ms). Client wall time of both, and their ratio. Every hit is checked to be a hit of an
earlier real run (status `cacheHit`; the newest identical run is the one reused) with its
archive and PROV on disk; every real run to have run.

    python -m bench.cache_hit [--smoke] [--runs N]
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import requests

from bench import common

POLL = 0.015
TARGET = 0.25  # a hit costs at most a quarter of a real local run


def _execute(session: requests.Session, url: str, cache: bool) -> dict:
    """POST the same hello-world request; the job once final, and the wall time."""
    started = time.perf_counter()
    response = session.post(f"{url}/processes/hello-cached/execution",
                            json={"inputs": {"name": "bench"}, "cache": cache}, timeout=60)
    if response.status_code != 201:
        raise RuntimeError(f"HTTP {response.status_code}: {response.text[:300]}")
    job = response.json()
    if job.get("status") not in common.FINAL:
        job = common.wait_final(session, url, job["jobID"], POLL)
    job["wall"] = time.perf_counter() - started
    return job


def run(smoke: bool = False, runs: int | None = None) -> common.Result:
    runs = runs or (3 if smoke else 30)
    info = common.machine()
    common.print_header("cache_hit: a cache hit vs the same local hello-world run for real",
                        smoke, info)
    work = common.scratch_dir("cache")
    methods = work / "methods"
    path = common.write_method(methods, "hello-cached", [
        "printf 'Hello, %s!\\n' {{ name }} > /ccp_data/hello.txt", "cat /ccp_data/hello.txt"],
        "local", deterministic=True)
    method = json.loads(path.read_text())
    method["inputs"]["name"] = {"title": "Name", "schema": {"type": "string"}, "minOccurs": 1}
    path.write_text(json.dumps(method))
    infrastructures = common.write_infrastructures(work / "infrastructures")
    hits: list[float] = []
    real: list[float] = []
    problems: list[str] = []
    try:
        with common.CCPServer(work, methods, infrastructures) as server:
            session = requests.Session()
            seed = _execute(session, server.url, cache=False)
            if seed["status"] != "successful":
                raise RuntimeError(f"the seed execution ended {seed['status']}: "
                                   f"{seed['message']}")
            ran = {seed["jobID"]}
            _execute(session, server.url, cache=True)  # warm-up of the hit path
            for number in range(runs):
                order = [True, False] if number % 2 == 0 else [False, True]
                for cache in order:
                    job = _execute(session, server.url, cache)
                    if job["status"] != "successful":
                        problems.append(f"job {job['jobID']}: {job['status']}: "
                                        f"{job['message']}")
                    elif not server.archive_complete(job["jobID"]):
                        problems.append(f"job {job['jobID']}: archive or PROV missing")
                    elif cache and (job.get("cacheHit") or {}).get("jobID") not in ran:
                        problems.append(f"job {job['jobID']}: not a hit of an earlier run")
                    elif not cache and job.get("cacheHit"):
                        problems.append(f"job {job['jobID']}: a hit though it refused it")
                    else:
                        (hits if cache else real).append(job["wall"])
                        if not cache:
                            ran.add(job["jobID"])  # the newest identical run is the hit's
    finally:
        common.remove_dir(work)
    hit, ran = common.summary(hits), common.summary(real)
    ratio = common.ratio(hit["median"], ran["median"])
    met = ratio <= TARGET and not problems
    print(f"{runs} interleaved rounds; load average after: {common.loadavg()}")
    print(common.stats_line("cache hit (POST answers successful)", hits))
    print(common.stats_line("real local run (cache: false), POST → successful", real))
    print(f"  ratio hit/run: median {ratio:.2f}x, p95 "
          f"{common.ratio(hit['p95'], ran['p95']):.2f}x")
    for problem in problems:
        print(f"  PROBLEM: {problem}")
    return common.Result(
        name="cache_hit",
        headline=(f"hit {hit['median'] * 1000:.0f} ms (p95 {hit['p95'] * 1000:.0f}) vs local "
                  f"hello-world run {ran['median'] * 1000:.0f} ms (p95 "
                  f"{ran['p95'] * 1000:.0f}): {ratio:.2f}x"),
        target=f"≤ {TARGET}x a local run",
        met=met,
        machine=info,
        details={"runs": runs, "hits": hits, "real": real},
        ok=not problems and len(hits) == runs and len(real) == runs,
        problems=problems,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.cache_hit",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="3 rounds: check it works")
    parser.add_argument("--runs", type=int, help="rounds (default 30, smoke 3)")
    args = parser.parse_args(argv)
    return 0 if run(args.smoke, args.runs).ok else 1


if __name__ == "__main__":
    sys.exit(main())
