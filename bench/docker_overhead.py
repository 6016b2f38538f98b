"""Per-execution time of a `true` Method on the docker infrastructure against `docker run`.

CCP: client wall time from `POST /processes/true-docker/execution` to status `successful`
(GET /jobs/<id> polled every 15 ms), and the server's own view from the final status
document: `created` → `finished` (the lifecycle up to Destroy) and `created` → `updated` (the
moment the job turned `successful`, archive and PROV stored). Every CCP run is checked to have
left its archive (output zip, execution log, PROV JSON and Turtle) on disk.

CCP is measured twice in every round, on the same server: cold (`docker`: the container is
launched for the execution) and warm (`docker-warm`, `warmPool: 2`: the execution takes a
container launched ahead, runs in it and destroys it). After each warm run the benchmark
waits until the pool has launched its replacement, so that launch never runs inside another
measurement; the warm figure is what an execution costs when the pool keeps up.

Floors, interleaved with the CCP runs in the same loop so drift hits all alike:
  docker CLI   `docker run --rm IMAGE true` (the stated floor)
  CLI, no net  `docker run --rm --network none IMAGE true` (CCP uses network mode none)
  SDK          `containers.run(IMAGE, "true", remove=True, network_mode="none")`

Targets: CCP median (client wall) ≤ 1.2 × the docker CLI median cold, ≤ 0.6 × warm, archive
and PROV written.

    python -m bench.docker_overhead [--smoke] [--runs N]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from typing import Any

import docker
import requests

from bench import common, profiling
from ccp.runtimes.docker import DockerRuntime

TARGET = 1.2
WARM_TARGET = 0.6
WARM_POOL = 2
POLL = 0.015


def _floors(image: str) -> dict[str, Any]:
    env = {**os.environ, "DOCKER_HOST": common.docker_engine()}
    client = docker.DockerClient(base_url=common.docker_engine(), timeout=60)

    def cli(*extra: str) -> None:
        subprocess.run(["docker", "run", "--rm", *extra, image, "true"], env=env, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def sdk() -> None:
        client.containers.run(image, "true", remove=True, network_mode="none")

    return {"docker run (CLI)": lambda: cli(),
            "docker run --network none (CLI)": lambda: cli("--network", "none"),
            "containers.run (SDK, network none)": sdk}


def _timed(action) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def _in_process(runs: int, warm: bool = False) -> dict[str, Any]:
    """The same Method through `lifecycle.run` in this process, every step and engine call
    timed (see bench.profiling); `warm`: on the warm pool, waiting for its refill between
    runs (outside the timed steps)."""
    scratch = common.scratch_dir("docker-inproc")
    method = "true-warm" if warm else "true-docker"
    try:
        methods = scratch / "methods"
        common.write_method(methods, method, ["true"], "docker-warm" if warm else "docker",
                            common.docker_image())
        infrastructures = common.write_infrastructures(scratch / "infrastructures", WARM_POOL)
        manager = profiling.make_manager(scratch / "data", methods, infrastructures)
        manager.warm.start()

        def refilled() -> None:
            """Wait for the pool (once the first execution made it) to be full again."""
            deadline = time.monotonic() + 120
            while warm and manager.warm.status("docker-warm").get(
                    common.docker_image(), {"ready": WARM_POOL, "launching": 0}) != {
                    "ready": WARM_POOL, "launching": 0}:
                if time.monotonic() > deadline:
                    raise RuntimeError("the warm pool did not refill: "
                                       f"{manager.warm.status('docker-warm')}")
                time.sleep(0.02)

        def action() -> str:
            refilled()
            return profiling.run_one(manager, method)

        action()  # warm-up: engine connection (and the pool)
        targets = profiling.lifecycle_targets(DockerRuntime) + profiling.docker_api_targets()
        print(f"In-process, {'warm' if warm else 'cold'} (`lifecycle.run` on this thread, no "
              "HTTP); the engine API calls of all phases are listed last"
              + (" (with those of the pool's background launch of each replacement: "
                 "create_container, start)" if warm else "") + ":")
        times = []
        with profiling.Timers(targets) as timers:
            for _ in range(runs):
                refilled()
                started = time.perf_counter()
                status = profiling.run_one(manager, method)
                times.append(time.perf_counter() - started)
                if status != "successful":
                    raise RuntimeError(f"an in-process execution ended {status}")
            found = timers.report(runs, sum(times))
        manager.warm.stop()
        manager.store.engine.dispose()
        return found
    finally:
        common.remove_dir(scratch)


def run(smoke: bool = False, runs: int | None = None) -> common.Result:
    runs = runs or (3 if smoke else 30)
    info = common.machine()
    common.print_header("docker_overhead: a `true` Method on docker vs docker run", smoke, info)
    image = common.docker_image()
    work = common.scratch_dir("docker")
    methods = work / "methods"
    common.write_method(methods, "true-docker", ["true"], "docker", image)
    common.write_method(methods, "true-warm", ["true"], "docker-warm", image)
    infrastructures = common.write_infrastructures(work / "infrastructures", WARM_POOL)
    floors = _floors(image)
    ccp_wall: list[float] = []
    ccp_finished: list[float] = []
    ccp_updated: list[float] = []
    phases: list[dict[str, float]] = []
    warm_wall: list[float] = []
    warm_updated: list[float] = []
    warm_phases: list[dict[str, float]] = []
    floor_times: dict[str, list[float]] = {name: [] for name in floors}
    problems: list[str] = []
    try:
        with common.CCPServer(work, methods, infrastructures) as server:
            session = requests.Session()

            def one_ccp(record: bool, warm: bool = False) -> None:
                started = time.perf_counter()
                job_id = common.submit(session, server.url, "true-warm" if warm
                                       else "true-docker")
                job = common.wait_final(session, server.url, job_id, POLL)
                wall = time.perf_counter() - started
                if job["status"] != "successful":
                    problems.append(f"job {job_id}: {job['status']}: {job['message']}")
                    return
                if not server.archive_complete(job_id):
                    problems.append(f"job {job_id}: archive or PROV missing")
                if warm and record and not job.get("warmRuntime"):
                    problems.append(f"job {job_id}: did not run in a warm runtime")
                if record:
                    walls, updated, breakdown = (warm_wall, warm_updated, warm_phases) \
                        if warm else (ccp_wall, ccp_updated, phases)
                    walls.append(wall)
                    updated.append(common.server_seconds(job, "updated"))
                    if not warm:
                        ccp_finished.append(common.server_seconds(job, "finished"))
                    breakdown.append(common.phase_breakdown(
                        job, server.data_dir / "archives" / "executions" / job_id / "logs"
                        / "execution.log"))
                if warm:  # its replacement is launched before anything else is measured
                    common.wait_warm(session, server.url, "docker-warm", image, WARM_POOL)

            # one warm-up of each, not counted (first exec, page cache, connection pools);
            # the first warm one makes the pool (it runs cold)
            one_ccp(False)
            one_ccp(False, warm=True)
            for action in floors.values():
                action()
            for number in range(runs):
                # alternate the order every round: CCP first, then the floors first
                order: list[tuple[str, Any]] = [("ccp", None), ("warm", None),
                                                *floors.items()]
                if number % 2:
                    order.reverse()
                for name, action in order:
                    if name in ("ccp", "warm"):
                        one_ccp(True, warm=name == "warm")
                    else:
                        floor_times[name].append(_timed(action))
            memory = server.memory()
    finally:
        common.remove_dir(work)

    cli = "docker run (CLI)"
    print(f"{runs} interleaved rounds; poll interval {POLL * 1000:.0f} ms; "
          f"load average after: {common.loadavg()}")
    print(common.stats_line("CCP client wall (POST → successful)", ccp_wall))
    print(common.stats_line("CCP server created → finished (lifecycle)", ccp_finished))
    print(common.stats_line("CCP server created → successful (+archive)", ccp_updated))
    print("  server-side phases (status document + archived execution.log):")
    for line in common.breakdown_lines(phases):
        print(line)
    print(common.stats_line("warm pool: CCP client wall", warm_wall))
    print(common.stats_line("warm pool: CCP server created → successful", warm_updated))
    print("  warm pool, server-side phases:")
    for line in common.breakdown_lines(warm_phases):
        print(line)
    for name, values in floor_times.items():
        print(common.stats_line(f"floor: {name}", values))
    med = {name: common.summary(v)["median"] for name, v in floor_times.items()}
    p95 = {name: common.summary(v)["p95"] for name, v in floor_times.items()}
    ccp = common.summary(ccp_wall)
    ccp_server = common.summary(ccp_updated)
    for name in floors:
        print(f"  ratio CCP/{name}: median {common.ratio(ccp['median'], med[name]):.2f}x  "
              f"(server-side {common.ratio(ccp_server['median'], med[name]):.2f}x), "
              f"p95 {common.ratio(ccp['p95'], p95[name]):.2f}x")
    warm = common.summary(warm_wall)
    for name in floors:
        print(f"  ratio warm CCP/{name}: median "
              f"{common.ratio(warm['median'], med[name]):.2f}x, "
              f"p95 {common.ratio(warm['p95'], p95[name]):.2f}x")
    overhead = ccp["median"] - med[cli]
    ratio = common.ratio(ccp["median"], med[cli])
    warm_ratio = common.ratio(warm["median"], med[cli])
    met = ratio <= TARGET and warm_ratio <= WARM_TARGET and not problems
    print(f"  CCP overhead over `docker run`: {overhead * 1000:+.0f} ms per execution (median); "
          f"server RSS {memory.get('VmRSS', 0) // 1024} MiB")
    print(f"  target CCP median ≤ {TARGET}x docker run cold, ≤ {WARM_TARGET}x warm, archive "
          f"and PROV written: {'MET' if met else 'NOT MET'} ({ratio:.2f}x cold, "
          f"{warm_ratio:.2f}x warm)")
    for problem in problems:
        print(f"  PROBLEM: {problem}")
    components = _in_process(runs=2 if smoke else 10)
    warm_components = _in_process(runs=2 if smoke else 10, warm=True)
    return common.Result(
        name="docker_overhead",
        headline=(f"CCP {ccp['median'] * 1000:.0f} ms (p95 {ccp['p95'] * 1000:.0f}) vs docker "
                  f"run {med[cli] * 1000:.0f} ms (p95 {p95[cli] * 1000:.0f}): {ratio:.2f}x; "
                  f"warm pool: CCP {warm['median'] * 1000:.0f} ms vs docker run "
                  f"{med[cli] * 1000:.0f} ms: {warm_ratio:.2f}x"),
        target=f"≤ {TARGET}x docker run cold, ≤ {WARM_TARGET}x warm",
        met=met,
        machine=info,
        details={"runs": runs, "ccp_wall": ccp_wall, "ccp_server_finished": ccp_finished,
                 "ccp_server_successful": ccp_updated, "floors": floor_times,
                 "components": components, "warm_components": warm_components,
                 "phases": phases, "warm_wall": warm_wall,
                 "warm_server_successful": warm_updated, "warm_phases": warm_phases},
        ok=not problems and len(ccp_wall) == runs and len(warm_wall) == runs,
        problems=problems,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.docker_overhead",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="3 runs: check it works")
    parser.add_argument("--runs", type=int, help="rounds (default 30, smoke 3)")
    args = parser.parse_args(argv)
    result = run(args.smoke, args.runs)
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
