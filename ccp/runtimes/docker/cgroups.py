"""What a container uses, read from its cgroup files when its engine runs on this host.

Docker's stats API is slow for sampling: engine 20.10 answers each `stream=false` request
only after a second reading a second later (even with `one-shot`), so every sample held a
thread, a pooled connection and the engine's stats collector for a second, per container,
every second. The engine computes that answer from the container's cgroup files; when they
are visible here (the engine is local and the server sees the host's cgroup hierarchy) the
runtime reads them itself, in well under a millisecond, and gives the same figures the API
would (cgroup v1 and v2, cgroupfs or systemd driver). Elsewhere (a remote engine, a server in
a container) `usage` answers None and the runtime asks the API as before.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

from ccp.runtimes.usage import Usage, from_docker_stats

if TYPE_CHECKING:
    from ccp.runtimes.docker.engine import DockerEngine

STATS_THREADS = 16  # replicas whose stats are asked for at once

ROOT = Path("/sys/fs/cgroup")
# where the engine puts a container's cgroup: cgroupfs driver, then systemd driver
V1_PLACES = ("docker/{id}", "system.slice/docker-{id}.scope")
V2_PLACES = ("docker/{id}", "system.slice/docker-{id}.scope")


def usage(container_id: str, replica: int, root: Path = ROOT) -> Usage | None:
    """The container's usage from its cgroup, or None when its cgroup is not visible here
    (or disappeared while being read: the container is going)."""
    if len(container_id) != 64 or not all(c in "0123456789abcdef" for c in container_id):
        return None  # only a full id names its cgroup
    try:
        if (root / "cpuacct").is_dir() or (root / "memory").is_dir():
            return _v1(container_id, replica, root)
        if (root / "cgroup.controllers").is_file():
            return _v2(container_id, replica, root)
    except (OSError, ValueError):
        return None
    return None


def _v1(container_id: str, replica: int, root: Path) -> Usage | None:
    place = next((p.format(id=container_id) for p in V1_PLACES
                  if (root / "memory" / p.format(id=container_id)).is_dir()), None)
    if place is None:
        return None
    memory = root / "memory" / place
    stat = _keyed(memory / "memory.stat")
    used = int((memory / "memory.usage_in_bytes").read_text())
    cache = stat.get("total_inactive_file", stat.get("inactive_file", 0))
    read = write = 0
    blkio = (root / "blkio" / place / "blkio.throttle.io_service_bytes_recursive").read_text()
    for fields in (line.split() for line in blkio.splitlines()):
        if len(fields) == 3 and fields[1] == "Read":
            read += int(fields[2])
        elif len(fields) == 3 and fields[1] == "Write":
            write += int(fields[2])
    processes = root / "pids" / place
    rx, tx = _network(processes / "cgroup.procs")
    return Usage(
        replica=replica,
        cpu_seconds=int((root / "cpuacct" / place / "cpuacct.usage").read_text()) / 1e9,
        memory_bytes=max(0, used - cache),
        memory_limit_bytes=_limit(int((memory / "memory.limit_in_bytes").read_text())),
        network_rx_bytes=rx, network_tx_bytes=tx,
        block_read_bytes=read, block_write_bytes=write,
        processes=int((processes / "pids.current").read_text()),
    )


def _v2(container_id: str, replica: int, root: Path) -> Usage | None:
    place = next((root / p.format(id=container_id) for p in V2_PLACES
                  if (root / p.format(id=container_id)).is_dir()), None)
    if place is None:
        return None
    stat = _keyed(place / "memory.stat")
    used = int((place / "memory.current").read_text())
    maximum = (place / "memory.max").read_text().strip()
    values = [field.split("=", 1) for line in (place / "io.stat").read_text().splitlines()
              for field in line.split()[1:] if "=" in field]
    rx, tx = _network(place / "cgroup.procs")
    return Usage(
        replica=replica,
        cpu_seconds=_keyed(place / "cpu.stat").get("usage_usec", 0) / 1e6,
        memory_bytes=max(0, used - stat.get("inactive_file", 0)),
        memory_limit_bytes=_limit(None if maximum == "max" else int(maximum)),
        network_rx_bytes=rx, network_tx_bytes=tx,
        block_read_bytes=sum(int(v) for k, v in values if k == "rbytes"),
        block_write_bytes=sum(int(v) for k, v in values if k == "wbytes"),
        processes=int((place / "pids.current").read_text()),
    )


def _keyed(path: Path) -> dict[str, int]:
    """A flat-keyed cgroup file ("name value" lines)."""
    found = {}
    for line in path.read_text().splitlines():
        name, _, value = line.partition(" ")
        if value.strip().isdigit():
            found[name] = int(value)
    return found


def _limit(limit: int | None) -> int | None:
    """As the engine reports it: no limit (or one above the host's memory) is the host's."""
    host = _host_memory()
    if limit is None or (host is not None and limit > host):
        return host
    return limit


def _host_memory() -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def _network(procs: Path) -> tuple[int, int]:
    """Bytes received and sent on the container's interfaces but loopback, as the engine
    counts them: from /proc/<pid>/net/dev of one of its processes (its network namespace);
    (0, 0) with no interface but loopback (network mode none)."""
    pid = next(iter(procs.read_text().split()), None)
    if pid is None:
        return 0, 0
    rx = tx = 0
    for line in Path(f"/proc/{pid}/net/dev").read_text().splitlines()[2:]:
        name, _, counters = line.partition(":")
        fields = counters.split()
        if name.strip() != "lo" and len(fields) >= 9:
            rx, tx = rx + int(fields[0]), tx + int(fields[8])
    return rx, tx


def usages(engine: DockerEngine, targets: list[tuple[int, str]]) -> list[Usage]:
    """Every replica's usage (Swarm: every task container): from its cgroup files when
    the engine is on this host, else Docker's stats, asked side by side: an engine may take
    up to a second to answer each."""
    read = {replica: usage(container_id, replica) for replica, container_id in targets}
    asked = [(replica, container_id) for replica, container_id in targets
             if read[replica] is None]
    if asked:
        with engine.errors("reading container stats"), ThreadPoolExecutor(
                max_workers=min(len(asked), STATS_THREADS)) as pool:
            stats = list(pool.map(lambda target: engine.stats(target[1]), asked))
        for (replica, _), answer in zip(asked, stats, strict=True):
            read[replica] = from_docker_stats(answer, replica)
    return [found for replica, _ in targets if (found := read[replica]) is not None]
