"""What every benchmark shares: the machine record, statistics, a real `ccp serve` process,
temporary Method and Infrastructure directories, and the HTTP client helpers.

Nothing here asserts a figure: benchmarks measure side by side in one run and print.
"""

from __future__ import annotations

import json
import math
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import requests

REPO = Path(__file__).resolve().parent.parent
FINAL = ("successful", "failed", "dismissed")
DEFAULT_ENGINE = "unix:///tmp/ccp-docker.sock"
DEFAULT_IMAGE = "ccp/busybox:1"


# --- the machine ---------------------------------------------------------------------------

def docker_engine() -> str:
    return os.environ.get("DOCKER_HOST") or DEFAULT_ENGINE


def docker_image() -> str:
    return os.environ.get("CCP_TEST_DOCKER_IMAGE") or DEFAULT_IMAGE


def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError:
        return ""


def machine() -> dict[str, Any]:
    """Cores, memory, CPU model, Python, Docker engine version and the current load."""
    memory_kb = 0
    for line in _read("/proc/meminfo").splitlines():
        if line.startswith("MemTotal:"):
            memory_kb = int(line.split()[1])
    model = next((line.split(":", 1)[1].strip() for line in _read("/proc/cpuinfo").splitlines()
                  if line.startswith("model name")), platform.processor() or "unknown")
    try:
        import docker

        engine = docker.DockerClient(base_url=docker_engine(), timeout=5).version()
        docker_version = f"{engine.get('Version')} (API {engine.get('ApiVersion')})"
    except Exception as err:  # noqa: BLE001 - any failure is recorded, not fatal here
        docker_version = f"unavailable ({type(err).__name__})"
    load = os.getloadavg()
    return {
        "commit": ccp_commit(),
        "cores": os.cpu_count(),
        "memory_gib": round(memory_kb / 1024 / 1024, 1),
        "cpu": model,
        "python": platform.python_version(),
        "kernel": platform.release(),
        "docker": docker_version,
        "load": f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f}",
    }


def ccp_commit() -> str:
    """The commit the measured code is at, `+dirty` when ccp/ has uncommitted changes."""
    try:
        head = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "--", "ccp"],
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return (head or "unknown") + ("+dirty" if dirty else "")


def machine_line(info: dict[str, Any] | None = None) -> str:
    info = info or machine()
    return (f"machine: {info['cores']} cores ({info['cpu']}), {info['memory_gib']} GiB, "
            f"Linux {info['kernel']}, Python {info['python']}, Docker engine {info['docker']}, "
            f"load average {info['load']}; ccp at {info['commit']}")


def loadavg() -> str:
    load = os.getloadavg()
    return f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"


# --- statistics ----------------------------------------------------------------------------

def percentile(values: Iterable[float], fraction: float) -> float:
    """Nearest-rank percentile (p95 of 30 values is the 29th smallest)."""
    ordered = sorted(values)
    if not ordered:
        return math.nan
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def summary(values: list[float]) -> dict[str, float]:
    return {"n": len(values), "median": statistics.median(values) if values else math.nan,
            "p95": percentile(values, 0.95), "min": min(values, default=math.nan),
            "max": max(values, default=math.nan)}


def fmt_ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def stats_line(label: str, values: list[float], width: int = 44) -> str:
    s = summary(values)
    return (f"  {label:<{width}} median {s['median'] * 1000:8.1f} ms   p95 "
            f"{s['p95'] * 1000:8.1f} ms   min {s['min'] * 1000:8.1f} ms   (n={s['n']})")


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def server_seconds(job: dict[str, Any], end: str = "updated") -> float:
    """Seconds from the status document's `created` to `end` (`finished` or `updated`)."""
    return (parse_time(job[end]) - parse_time(job["created"])).total_seconds()


# Where the server's time goes, from the status document and the archived execution.log
# (millisecond timestamps): queue = created → claimed, claim = claimed → Launch event, then
# one segment per lifecycle event, and archive = Done event → job `successful`.
SEGMENTS = ("queue", "claim", "Launch", "Deploy", "Execute", "Fetch", "Undeploy", "Destroy",
            "archive")


def phase_breakdown(job: dict[str, Any], execution_log: Path) -> dict[str, float]:
    events: list[tuple[str, datetime]] = []
    for line in _read(str(execution_log)).splitlines():
        parts = line.split(" ", 3)
        if len(parts) >= 3 and parts[2] == "[ccp]":
            phase = parts[1].strip("[]")
            if not events or events[-1][0] != phase:
                events.append((phase, parse_time(parts[0])))
    created, started = parse_time(job["created"]), parse_time(job["started"])
    segments = {"queue": (started - created).total_seconds()}
    if events:
        segments["claim"] = (events[0][1] - started).total_seconds()
    for (phase, at), (_next, until) in zip(events, events[1:], strict=False):
        if phase in SEGMENTS:
            segments[phase] = segments.get(phase, 0.0) + (until - at).total_seconds()
    if events and events[-1][0] == "Done":
        segments["archive"] = (parse_time(job["updated"]) - events[-1][1]).total_seconds()
    return segments


def breakdown_lines(samples: list[dict[str, float]]) -> list[str]:
    """Median of each segment over the samples, in ms."""
    lines = []
    for name in SEGMENTS:
        values = [sample[name] for sample in samples if name in sample]
        if values:
            lines.append(f"    {name:<9} median {statistics.median(values) * 1000:7.1f} ms   "
                         f"p95 {percentile(values, 0.95) * 1000:7.1f} ms")
    return lines


# --- results -------------------------------------------------------------------------------

@dataclass
class Result:
    """What a benchmark hands to the summary table."""

    name: str
    headline: str  # one line: the main figure
    target: str  # the stated target
    met: bool | None  # None: not decidable (e.g. smoke run too small)
    machine: dict[str, Any]
    details: dict[str, Any] = field(default_factory=dict)
    ok: bool = True  # False when the benchmark itself broke (jobs failed, lost, ...)
    problems: list[str] = field(default_factory=list)

    def verdict(self) -> str:
        if not self.ok:
            return "BROKEN"
        return {True: "met", False: "NOT met", None: "n/a"}[self.met]


def print_header(title: str, smoke: bool, info: dict[str, Any]) -> None:
    print(f"\n=== {title} ({'smoke' if smoke else 'full'} run) ===", flush=True)
    print(machine_line(info), flush=True)


# --- descriptors ---------------------------------------------------------------------------

def write_infrastructures(directory: Path, warm_pool: int = 0) -> Path:
    """A local and a docker Infrastructure (the engine of $DOCKER_HOST, no pulling), and with
    `warm_pool` also `docker-warm`: the same with that many runtimes launched ahead per
    image (made once an execution asks for the image: nothing is warm before the first)."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "local.json").write_text(json.dumps({
        "id": "local", "name": "Local processes (benchmark)", "type": "local",
        "description": "Scripts as local subprocesses; benchmark only.",
        "settings": {"maxTime": 3600, "maxReplicas": 1, "isolation": "none"},
    }, indent=2))
    (directory / "docker.json").write_text(json.dumps({
        "id": "docker", "name": "Docker engine (benchmark)", "type": "docker",
        "description": "One container per execution on the benchmark's engine.",
        "settings": {"engine": docker_engine(), "maxTime": 3600, "memory": "512m", "cpus": 1,
                     "maxReplicas": 1, "network": "none", "pidsLimit": 512, "pull": False},
    }, indent=2))
    if warm_pool:
        docker = json.loads((directory / "docker.json").read_text())
        docker.update(id="docker-warm", name="Docker engine, warm pool (benchmark)")
        docker["settings"]["warmPool"] = warm_pool
        (directory / "docker-warm.json").write_text(json.dumps(docker, indent=2))
    return directory


def write_method(directory: Path, method_id: str, execute: list[str], infrastructure: str,
                 image: str | None = None, **extra: Any) -> Path:
    """A Method with only an execute script, on the given Infrastructure (`extra`: more
    top-level members, e.g. deterministic=True)."""
    directory.mkdir(parents=True, exist_ok=True)
    method = json.loads((REPO / "methods" / "hello-world.json").read_text())
    method.update({"id": method_id, "title": f"Benchmark {method_id}",
                   "description": f"Benchmark Method: {' ; '.join(execute)}"})
    method["inputs"] = {"ccpimage": {
        "title": "Runtime image",
        "schema": {"type": "string", "default": image or docker_image(), "readOnly": True},
        "minOccurs": 1, "maxOccurs": 1}}
    method["additionalParameters"] = {"parameters": [
        {"name": "execute-script", "value": execute}]}
    # submitted and polled as asynchronous jobs; everything in /ccp_data as one zip
    method["jobControlOptions"] = ["async-execute"]
    method["outputs"] = {name: spec for name, spec in method["outputs"].items()
                         if name in ("output", "stdout")}
    method["links"] = [{"rel": "compatibleWith", "href": f"infrastructures/{infrastructure}",
                        "title": infrastructure}]
    method.update(extra)
    path = directory / f"{method_id}.json"
    path.write_text(json.dumps(method, indent=2))
    return path


# --- a real server -------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_http(url: str, process: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            requests.get(url, timeout=2)
            return
        except requests.RequestException:
            if process.poll() is not None:
                raise RuntimeError(f"the server exited at start-up (code {process.returncode})"
                                   ) from None
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {timeout} s")


class Server:
    """A server process on 127.0.0.1 in its own session; its log goes to a file."""

    def __init__(self, command: list[str], env: dict[str, str], log: Path, ready: str,
                 cwd: Path | None = None) -> None:
        self.command = command
        self.env = env
        self.log = log
        self.ready = ready
        self.cwd = cwd
        self.process: subprocess.Popen | None = None

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self) -> Server:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(self.command, env=self.env, stdout=log,
                                            stderr=subprocess.STDOUT, cwd=self.cwd,
                                            start_new_session=True)
        try:
            wait_http(self.ready, self.process)
        except BaseException:
            self.stop()
            raise
        return self

    def memory(self) -> dict[str, int]:
        """VmHWM (peak resident) and VmRSS of the server process, in KiB."""
        found = {}
        for line in _read(f"/proc/{self.pid}/status").splitlines():
            key, _, value = line.partition(":")
            if key in ("VmHWM", "VmRSS"):
                found[key] = int(value.split()[0])
        return found

    def stop(self, timeout: float = 60) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def __enter__(self) -> Server:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()


class CCPServer(Server):
    """`ccp serve` (waitress, 16 threads) with its own data dir, Methods and Infrastructures."""

    def __init__(self, workdir: Path, methods: Path, infrastructures: Path,
                 concurrency: int = 2, **env: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.data_dir = workdir / f"ccp-data-{self.port}"
        environment = {**os.environ, "CCP_DATA_DIR": str(self.data_dir), "CCP_URL": self.url,
                       "CCP_PORT": str(self.port), "CCP_HOST": "127.0.0.1",
                       "CCP_METHODS_DIR": str(methods),
                       "CCP_INFRASTRUCTURES_DIR": str(infrastructures),
                       "CCP_CONCURRENCY": str(concurrency), "CCP_DATABASE_URL": "",
                       "CCP_STORAGE": "local", "CCP_AUTH": "false",
                       "CCP_LOG_LEVEL": "WARNING", "DOCKER_HOST": docker_engine(), **env}
        super().__init__(
            [sys.executable, "-m", "ccp.cli", "serve", "--config",
             str(REPO / "pygeoapi-config.yml")],
            environment, workdir / f"ccp-server-{self.port}.log", f"{self.url}/conformance")

    def archive_complete(self, job_id: str) -> bool:
        """The archive, its output zip and its PROV record are on disk (the Turtle PROV is
        made from the JSON when the archive is zipped)."""
        base = self.data_dir / "archives" / "executions" / job_id
        return all((base / part).is_file() for part in (
            "outputs/output.zip", "metadata/provenance.json", "metadata/status.json",
            "logs/execution.log"))


def scratch_dir(prefix: str) -> Path:
    return Path(tempfile.mkdtemp(prefix=f"ccp-bench-{prefix}-"))


def remove_dir(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


# --- the client ----------------------------------------------------------------------------

def submit(session: requests.Session, url: str, process_id: str,
           inputs: dict[str, Any] | None = None, headers: dict[str, str] | None = None
           ) -> str:
    response = session.post(f"{url}/processes/{process_id}/execution",
                            json={"inputs": inputs or {}},
                            headers={**(headers or {}), "Prefer": "respond-async"}, timeout=60)
    if response.status_code != 201:
        raise RuntimeError(f"submitting {process_id}: HTTP {response.status_code}: "
                           f"{response.text[:300]}")
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and body.get("jobID"):
        return body["jobID"]
    location = response.headers.get("Location", "")  # pygeoapi answers `null` + Location
    if not location:
        raise RuntimeError(f"submitting {process_id}: no job id in the answer")
    return location.rstrip("/").rsplit("/", 1)[-1]


def wait_final(session: requests.Session, url: str, job_id: str, poll: float = 0.015,
               timeout: float = 300) -> dict[str, Any]:
    """Poll GET /jobs/<id> every `poll` seconds until the job is final; the last document."""
    deadline = time.monotonic() + timeout
    while True:
        job = session.get(f"{url}/jobs/{job_id}", timeout=60).json()
        if job.get("status") in FINAL:
            return job
        if time.monotonic() > deadline:
            raise RuntimeError(f"job {job_id} not final after {timeout} s: {job}")
        time.sleep(poll)


def ratio(a: float, b: float) -> float:
    return a / b if b else math.inf


def wait_warm(session: requests.Session, url: str, infrastructure: str, image: str,
              ready: int, timeout: float = 120) -> None:
    """Wait until the warm pool of `image` has `ready` runtimes launched ahead (and none
    still launching, so that no launch runs into the next measurement)."""
    deadline = time.monotonic() + timeout
    while True:
        document = session.get(f"{url}/infrastructures/{infrastructure}", timeout=30).json()
        pool = (document.get("warmPool") or {}).get("images", {}).get(image) or {}
        if pool.get("ready", 0) >= ready and not pool.get("launching"):
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"the warm pool of {image} on {infrastructure} did not fill in "
                               f"{timeout:.0f} s: {document.get('warmPool')}")
        time.sleep(0.02)
