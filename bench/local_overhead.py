"""Per-execution overhead of a `true` Method on the local runtime, and where it goes.

1. HTTP path through a real `ccp serve`: client wall time `POST` → `successful` (polled every
   15 ms) and the server's `created` → `successful`, interleaved with the floor
   `subprocess.run(["sh", "-c", "true"])`; the overhead is CCP minus the floor of the same
   round. The archived execution.log splits the server's time into phases.
2. In-process: the same Method through `ccp.lifecycle.run` on this thread (submit, claim,
   lifecycle, final update: what a worker does, without HTTP), timed, then profiled with
   pyinstrument: the top CCP functions by inclusive time and the top functions by self time.

    python -m bench.local_overhead [--smoke] [--runs N] [--profile-runs N]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

import requests

from bench import common, profiling
from ccp.runtimes.local import LocalRuntime

POLL = 0.015


def _floor() -> float:
    started = time.perf_counter()
    subprocess.run(["sh", "-c", "true"], check=True)
    return time.perf_counter() - started


def run(smoke: bool = False, runs: int | None = None,
        profile_runs: int | None = None) -> common.Result:
    runs = runs or (3 if smoke else 40)
    profile_runs = profile_runs or (5 if smoke else 100)
    info = common.machine()
    common.print_header("local_overhead: a `true` Method on the local runtime", smoke, info)
    work = common.scratch_dir("local")
    methods = work / "methods"
    common.write_method(methods, "true-local", ["true"], "local")
    infrastructures = common.write_infrastructures(work / "infrastructures")
    wall: list[float] = []
    server_side: list[float] = []
    post: list[float] = []
    floor: list[float] = []
    phases: list[dict[str, float]] = []
    problems: list[str] = []
    try:
        with common.CCPServer(work, methods, infrastructures) as server:
            session = requests.Session()

            def one(record: bool) -> None:
                started = time.perf_counter()
                job_id = common.submit(session, server.url, "true-local")
                submitted = time.perf_counter()
                job = common.wait_final(session, server.url, job_id, POLL)
                finished = time.perf_counter()
                if job["status"] != "successful":
                    problems.append(f"job {job_id}: {job['status']}: {job['message']}")
                    return
                if not server.archive_complete(job_id):
                    problems.append(f"job {job_id}: archive or PROV missing")
                if record:
                    wall.append(finished - started)
                    post.append(submitted - started)
                    server_side.append(common.server_seconds(job, "updated"))
                    phases.append(common.phase_breakdown(
                        job, server.data_dir / "archives" / "executions" / job_id / "logs"
                        / "execution.log"))

            one(False)
            _floor()
            for number in range(runs):
                if number % 2:
                    floor.append(_floor())
                    one(True)
                else:
                    one(True)
                    floor.append(_floor())
    finally:
        common.remove_dir(work)

    overheads = [c - f for c, f in zip(wall, floor, strict=False)]
    server_overheads = [c - f for c, f in zip(server_side, floor, strict=False)]
    print(f"HTTP path, {runs} interleaved rounds; poll interval {POLL * 1000:.0f} ms; "
          f"load average after: {common.loadavg()}")
    print(common.stats_line("CCP client wall (POST → successful)", wall))
    print(common.stats_line("  of which POST (submission answered)", post))
    print(common.stats_line("CCP server created → successful", server_side))
    print(common.stats_line("floor: subprocess.run(['sh', '-c', 'true'])", floor))
    print(common.stats_line("overhead (client wall − floor, per round)", overheads))
    print(common.stats_line("overhead (server-side − floor, per round)", server_overheads))
    print("  server-side phases (status document + archived execution.log):")
    for line in common.breakdown_lines(phases):
        print(line)

    # --- in-process ----------------------------------------------------------------------
    scratch = common.scratch_dir("local-inproc")
    try:
        methods = scratch / "methods"
        common.write_method(methods, "true-local", ["true"], "local")
        infrastructures = common.write_infrastructures(scratch / "infrastructures")
        manager = profiling.make_manager(scratch / "data", methods, infrastructures)

        def action() -> str:
            return profiling.run_one(manager, "true-local")

        action()  # warm-up: imports, first SQLite connection
        count = max(3, profile_runs // 2)
        print(f"In-process (`lifecycle.run` on this thread, no HTTP, no profiler), "
              f"{count} runs:")
        with profiling.Timers(profiling.lifecycle_targets(LocalRuntime)) as timers:
            began = time.perf_counter()
            inproc = profiling.time_runs(action, count)
            components = timers.report(count, time.perf_counter() - began)
        print(common.stats_line("submit + claim + lifecycle.run + final update", inproc))
        found = profiling.profile(action, profile_runs)
        found["components"] = components
        manager.store.engine.dispose()
    finally:
        common.remove_dir(scratch)

    med_wall = statistics.median(wall) if wall else float("nan")
    med_floor = statistics.median(floor) if floor else float("nan")
    over = common.summary(overheads)
    med_inproc = statistics.median(inproc)
    print("  decomposition of the median client wall time:")
    print(f"    floor (fork+exec of sh)           {med_floor * 1000:7.1f} ms")
    print(f"    in-process execution (no HTTP)    {med_inproc * 1000:7.1f} ms")
    print(f"    server-side created → successful  {statistics.median(server_side) * 1000:7.1f} ms")
    print(f"    client wall                       {med_wall * 1000:7.1f} ms "
          f"(POST {statistics.median(post) * 1000:.1f} ms; the rest is queue wake-up, "
          f"poll granularity ≤ {POLL * 1000:.0f} ms and GETs)")
    return common.Result(
        name="local_overhead",
        headline=(f"overhead {over['median'] * 1000:.0f} ms median, {over['p95'] * 1000:.0f} ms "
                  f"p95 (CCP {med_wall * 1000:.0f} ms vs sh {med_floor * 1000:.1f} ms); "
                  f"in-process {med_inproc * 1000:.0f} ms"),
        target="report only",
        met=None,
        machine=info,
        details={"runs": runs, "wall": wall, "floor": floor, "server": server_side,
                 "post": post, "in_process": inproc, "profile": found, "phases": phases},
        ok=not problems and len(wall) == runs,
        problems=problems,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.local_overhead",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="a handful of runs")
    parser.add_argument("--runs", type=int, help="HTTP rounds (default 40, smoke 3)")
    parser.add_argument("--profile-runs", type=int,
                        help="in-process executions profiled (default 100, smoke 5)")
    args = parser.parse_args(argv)
    result = run(args.smoke, args.runs, args.profile_runs)
    for problem in result.problems:
        print(f"  PROBLEM: {problem}")
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
