"""Executions accepted per second by one CCP server against pygeoapi 0.21 itself.

Both are real servers on 127.0.0.1 under waitress with 16 threads, driven by the same client:
20 threads, each with its own HTTP session, POST N execution requests (`Prefer:
respond-async`) as fast as they are answered. The rate is N / (last answer − first request).

  CCP       `ccp serve`: a quick Method (`echo done > /ccp_data/done.txt`) on the local
            runtime, CCP_CONCURRENCY=2 workers running the jobs while submissions arrive,
            every execution archived with PROV; twice: with the SQLite job store (WAL) and
            with the PostgreSQL one (a database of its own on the server of
            $CCP_TEST_PG_URL, made for the round and dropped after it).
  pygeoapi  `waitress-serve pygeoapi.flask_app:APP`: its `hello-world` process run async by
            its TinyDB manager (one JSON file under a file lock, one thread per job).

After each submission window the benchmark waits until every job is `successful` and checks
that it was persisted: CCP jobs in its job list and archive + PROV on disk; pygeoapi jobs in
its TinyDB file. Full: 3 rounds of 200 submissions (order rotating, fresh servers and
databases each round); smoke: 1 round of 40. Target: CCP ≥ 3 × pygeoapi on both job stores,
persisting every job durably.

    python -m bench.throughput [--smoke] [--submissions N] [--rounds R]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests
import yaml

from bench import common

CLIENTS = 20
ASYNC = {"Prefer": "respond-async"}


def _pygeoapi_config(directory: Path, port: int) -> Path:
    """A minimal pygeoapi configuration: TinyDB manager and the hello-world process."""
    config = {
        "server": {
            "bind": {"host": "127.0.0.1", "port": port},
            "url": f"http://127.0.0.1:{port}",
            "mimetype": "application/json; charset=UTF-8",
            "encoding": "utf-8",
            "language": "en-US",
            "pretty_print": False,
            "limits": {"default_items": 10, "max_items": 1000},
            "map": {"url": "https://tile.openstreetmap.org/{z}/{x}/{y}.png",
                    "attribution": "OpenStreetMap"},
            "manager": {"name": "TinyDB", "connection": str(directory / "jobs.db"),
                        "output_dir": str(directory / "out")},
        },
        "logging": {"level": "WARNING"},
        "metadata": {
            "identification": {"title": "bench", "description": "bench", "keywords": ["bench"],
                               "keywords_type": "theme", "terms_of_service": "n/a",
                               "url": "http://127.0.0.1"},
            "license": {"name": "CC-BY 4.0", "url": "https://creativecommons.org/licenses/by/4.0/"},
            "provider": {"name": "bench", "url": "http://127.0.0.1"},
            "contact": {"name": "bench", "position": "n/a", "address": "n/a", "city": "n/a",
                        "stateorprovince": "n/a", "postalcode": "n/a", "country": "n/a",
                        "email": "bench@example.org", "url": "http://127.0.0.1",
                        "role": "pointOfContact"},
        },
        "resources": {"hello-world": {"type": "process", "processor": {"name": "HelloWorld"}}},
    }
    (directory / "out").mkdir(parents=True, exist_ok=True)
    path = directory / "pygeoapi-config.yml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


class PygeoapiServer(common.Server):
    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.directory = directory
        self.port = common.free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = _pygeoapi_config(directory, self.port)
        openapi = directory / "openapi.yml"
        bin_dir = Path(sys.executable).parent
        env = {**os.environ, "PYGEOAPI_CONFIG": str(config), "PYGEOAPI_OPENAPI": str(openapi)}
        subprocess.run([str(bin_dir / "pygeoapi"), "openapi", "generate", str(config),
                        "--output-file", str(openapi)], env=env, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        super().__init__(
            [str(bin_dir / "waitress-serve"), "--host", "127.0.0.1", "--port", str(self.port),
             "--threads", "16", "pygeoapi.flask_app:APP"],
            env, directory / "server.log", f"{self.url}/conformance", cwd=directory)

    def persisted(self) -> set[str]:
        """Job ids in the TinyDB file."""
        try:
            data = json.loads((self.directory / "jobs.db").read_text() or "{}")
        except (OSError, ValueError):
            return set()
        return {row.get("identifier") for table in data.values() for row in table.values()}


def submit_all(url: str, process_id: str, inputs: dict[str, Any], count: int
               ) -> tuple[list[str], float, list[float]]:
    """`count` submissions from CLIENTS threads; job ids, seconds, per-request latencies."""
    sessions = [requests.Session() for _ in range(CLIENTS)]
    for session in sessions:  # connect first: the window measures requests, not handshakes
        session.get(f"{url}/conformance", timeout=30)

    def one(number: int) -> tuple[str, float]:
        started = time.perf_counter()
        job_id = common.submit(sessions[number % CLIENTS], url, process_id, inputs, ASYNC)
        return job_id, time.perf_counter() - started

    began = time.perf_counter()
    with ThreadPoolExecutor(CLIENTS) as pool:
        results = list(pool.map(one, range(count)))
    elapsed = time.perf_counter() - began
    for session in sessions:
        session.close()
    return [job_id for job_id, _ in results], elapsed, [latency for _, latency in results]


def wait_all(url: str, job_ids: list[str], timeout: float = 600) -> Counter:
    """Poll every job until all are final; the final statuses."""
    session = requests.Session()
    pending = set(job_ids)
    statuses: Counter = Counter()
    deadline = time.monotonic() + timeout
    while pending and time.monotonic() < deadline:
        for job_id in sorted(pending):
            job = session.get(f"{url}/jobs/{job_id}", timeout=60).json()
            if job.get("status") in common.FINAL:
                statuses[job["status"]] += 1
                pending.discard(job_id)
        if pending:
            time.sleep(0.2)
    statuses["not final"] = len(pending)
    return +statuses


@contextmanager
def fresh_postgres(url: str) -> Iterator[str]:
    """A new database on the PostgreSQL server of `url`, dropped afterwards."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    server = make_url(url)
    name = f"ccp_bench_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _round_ccp(work: Path, methods: Path, infrastructures: Path, count: int,
               problems: list[str], database: str = "") -> dict[str, Any]:
    with common.CCPServer(work, methods, infrastructures,
                          CCP_DATABASE_URL=database) as server:
        job_ids, seconds, latencies = submit_all(server.url, "quick", {}, count)
        accepted_rate = count / seconds
        statuses = wait_all(server.url, job_ids)
        listing = requests.get(f"{server.url}/jobs?limit=1000&processID=quick", timeout=60).json()
        listed = {job["jobID"] for job in listing["jobs"]}
        archived = sum(server.archive_complete(job_id) for job_id in job_ids)
        memory = server.memory()
    store = "PostgreSQL" if database else "SQLite"
    if statuses != Counter({"successful": count}):
        problems.append(f"CCP ({store}): statuses {dict(statuses)}")
    if listed != set(job_ids) or archived != count:
        problems.append(f"CCP ({store}): {len(listed & set(job_ids))}/{count} listed, "
                        f"{archived}/{count} archived with PROV")
    return {"rate": accepted_rate, "seconds": seconds, "latencies": latencies,
            "statuses": dict(statuses), "persisted": f"{archived}/{count} archived + PROV",
            "rss_mib": memory.get("VmHWM", 0) / 1024}


def _round_pygeoapi(work: Path, count: int, problems: list[str]) -> dict[str, Any]:
    with PygeoapiServer(work / f"pygeoapi-{time.monotonic_ns()}") as server:
        job_ids, seconds, latencies = submit_all(server.url, "hello-world", {"name": "bench"},
                                                 count)
        statuses = wait_all(server.url, job_ids)
        stored = server.persisted()
        memory = server.memory()
    if statuses != Counter({"successful": count}):
        problems.append(f"pygeoapi: statuses {dict(statuses)}")
    if not set(job_ids) <= stored:
        problems.append(f"pygeoapi: {len(set(job_ids) & stored)}/{count} jobs in TinyDB")
    return {"rate": count / seconds, "seconds": seconds, "latencies": latencies,
            "statuses": dict(statuses),
            "persisted": f"{len(set(job_ids) & stored)}/{count} in TinyDB",
            "rss_mib": memory.get("VmHWM", 0) / 1024}


ROUND_NAMES = ("CCP SQLite", "CCP PostgreSQL", "pygeoapi")
TARGET = 3.0


def run(smoke: bool = False, submissions: int | None = None,
        rounds: int | None = None) -> common.Result:
    count = submissions or (40 if smoke else 200)
    rounds = rounds or (1 if smoke else 3)
    info = common.machine()
    common.print_header(f"throughput: executions accepted per second, {CLIENTS} clients, "
                        f"{count} submissions", smoke, info)
    postgres = os.environ.get("CCP_BENCH_PG_URL") or os.environ.get("CCP_TEST_PG_URL", "")
    work = common.scratch_dir("throughput")
    methods = work / "methods"
    common.write_method(methods, "quick", ["echo done > /ccp_data/done.txt"], "local")
    infrastructures = common.write_infrastructures(work / "infrastructures")
    problems: list[str] = []
    if not postgres:
        problems.append("no PostgreSQL: set CCP_TEST_PG_URL (or CCP_BENCH_PG_URL) to a "
                        "server where a database may be created")
    results: dict[str, list[dict[str, Any]]] = {name: [] for name in ROUND_NAMES}
    try:
        for number in range(rounds):
            order = ROUND_NAMES[number % 3:] + ROUND_NAMES[:number % 3]  # rotating
            for name in order:
                if name == "pygeoapi":
                    found = _round_pygeoapi(work, count, problems)
                elif name == "CCP SQLite":
                    found = _round_ccp(work, methods, infrastructures, count, problems)
                elif postgres:
                    with fresh_postgres(postgres) as database:
                        found = _round_ccp(work, methods, infrastructures, count, problems,
                                           database)
                else:
                    continue
                results[name].append(found)
                lat = found["latencies"]
                print(f"  round {number + 1} {name:<14} {found['rate']:7.1f} accepted/s "
                      f"({count} in {found['seconds']:.2f} s; latency median "
                      f"{statistics.median(lat) * 1000:.0f} ms, p95 "
                      f"{common.percentile(lat, 0.95) * 1000:.0f} ms); "
                      f"{found['statuses']}; {found['persisted']}; "
                      f"peak RSS {found['rss_mib']:.0f} MiB", flush=True)
    finally:
        common.remove_dir(work)

    rate = {name: statistics.median(r["rate"] for r in found) if found else math.nan
            for name, found in results.items()}
    pygeoapi = rate["pygeoapi"]
    sqlite, postgresql = (common.ratio(rate[name], pygeoapi)
                          for name in ("CCP SQLite", "CCP PostgreSQL"))
    met = sqlite >= TARGET and postgresql >= TARGET and not problems
    print(f"load average after: {common.loadavg()}")
    print(f"  median over {rounds} round(s): CCP on SQLite {rate['CCP SQLite']:.1f}/s "
          f"({sqlite:.2f}x), CCP on PostgreSQL {rate['CCP PostgreSQL']:.1f}/s "
          f"({postgresql:.2f}x), pygeoapi {pygeoapi:.1f}/s")
    print(f"  target CCP ≥ {TARGET}x pygeoapi on both job stores, every job persisted: "
          f"{'MET' if met else 'NOT MET'}")
    for problem in problems:
        print(f"  PROBLEM: {problem}")
    return common.Result(
        name="throughput",
        headline=(f"SQLite: CCP {rate['CCP SQLite']:.0f}/s vs pygeoapi+TinyDB "
                  f"{pygeoapi:.0f}/s accepted: {sqlite:.2f}x; PostgreSQL: CCP "
                  f"{rate['CCP PostgreSQL']:.0f}/s: {postgresql:.2f}x"),
        target=f"≥ {TARGET:.0f}x pygeoapi on both, all persisted",
        met=met,
        machine=info,
        details={"submissions": count, "rounds": rounds, "clients": CLIENTS,
                 "results": {k: [{x: y for x, y in r.items() if x != "latencies"} for r in v]
                             for k, v in results.items()}},
        ok=not problems,
        problems=problems,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.throughput",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="1 round of 40 submissions")
    parser.add_argument("--submissions", type=int, help="per round (default 200, smoke 40)")
    parser.add_argument("--rounds", type=int, help="rounds (default 3, smoke 1)")
    args = parser.parse_args(argv)
    result = run(args.smoke, args.submissions, args.rounds)
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
