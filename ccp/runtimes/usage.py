"""What one replica of a running instance uses, as each engine reports it.

A runtime with the "metrics" capability answers `sample(instance)` with one `Usage` per
replica. Counters (CPU time, bytes) are cumulative as the engine counts them; a counter may
start again from zero (the local runtime's processes come and go), which the readers of the
samples handle. None means the engine does not say; 0 means it says nothing happened.

The readers here turn each engine's own answer into a Usage:
- Docker (and every Swarm task container): the stats API, read once without streaming;
- LXD: the instance state API, plus the block I/O of the container's cgroup on the host when
  LXD runs on this host (the state API has no block I/O);
- local: the processes of the execution (its runner uid, or its environment marker when the
  server is not root) through psutil. They share the host's network: no network counters.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Usage:
    replica: int
    cpu_seconds: float | None = None
    memory_bytes: int | None = None
    memory_limit_bytes: int | None = None
    network_rx_bytes: int | None = None
    network_tx_bytes: int | None = None
    block_read_bytes: int | None = None
    block_write_bytes: int | None = None
    processes: int | None = None


# --- Docker ---------------------------------------------------------------------------------

def from_docker_stats(stats: dict[str, Any], replica: int) -> Usage:
    """A Usage from one answer of Docker's stats API (cgroup v1 or v2 engines).

    Memory is the engine's usage less the inactive page cache, as `docker stats` shows it.
    """
    cpu = ((stats.get("cpu_stats") or {}).get("cpu_usage") or {}).get("total_usage")
    memory = stats.get("memory_stats") or {}
    used = memory.get("usage")
    details = memory.get("stats") or {}
    cache = details.get("total_inactive_file", details.get("inactive_file", 0)) or 0
    networks = (stats.get("networks") or {}).values()
    block = (stats.get("blkio_stats") or {}).get("io_service_bytes_recursive") or []
    return Usage(
        replica=replica,
        cpu_seconds=cpu / 1e9 if isinstance(cpu, int | float) else None,
        memory_bytes=max(0, int(used) - int(cache)) if isinstance(used, int) else None,
        memory_limit_bytes=_int(memory.get("limit")),
        network_rx_bytes=sum(int(n.get("rx_bytes") or 0) for n in networks),
        network_tx_bytes=sum(int(n.get("tx_bytes") or 0) for n in networks),
        block_read_bytes=_block(block, "read"),
        block_write_bytes=_block(block, "write"),
        processes=_int((stats.get("pids_stats") or {}).get("current")),
    )


def _block(entries: list[dict[str, Any]], operation: str) -> int:
    # cgroup v1 engines say "Read"/"Write" (and per device), v2 engines "read"/"write".
    return sum(int(entry.get("value") or 0) for entry in entries
               if str(entry.get("op", "")).lower() == operation)


# --- LXD ------------------------------------------------------------------------------------

def from_lxd_state(state: dict[str, Any], replica: int, memory_limit: int | None,
                   block: tuple[int, int] | None) -> Usage:
    """A Usage from LXD's instance state (`GET /1.0/instances/<name>/state`)."""
    cpu = (state.get("cpu") or {}).get("usage")
    memory = state.get("memory") or {}
    interfaces = [entry for name, entry in (state.get("network") or {}).items()
                  if name != "lo" and (entry or {}).get("type") != "loopback"]
    counters = [(entry or {}).get("counters") or {} for entry in interfaces]
    return Usage(
        replica=replica,
        cpu_seconds=cpu / 1e9 if isinstance(cpu, int | float) else None,
        memory_bytes=_int(memory.get("usage")),
        memory_limit_bytes=_int(memory.get("total")) or memory_limit,
        network_rx_bytes=sum(int(c.get("bytes_received") or 0) for c in counters),
        network_tx_bytes=sum(int(c.get("bytes_sent") or 0) for c in counters),
        block_read_bytes=block[0] if block else None,
        block_write_bytes=block[1] if block else None,
        processes=_int(state.get("processes")),
    )


def cgroup_block_io(pid: int, cgroup_root: Path = Path("/sys/fs/cgroup")
                    ) -> tuple[int, int] | None:
    """(bytes read, bytes written) of the cgroup of host process `pid`, v1 or v2; None
    when the host does not say."""
    try:
        lines = Path(f"/proc/{pid}/cgroup").read_text().splitlines()
    except OSError:
        return None
    paths = {}
    for line in lines:
        _, controllers, path = line.split(":", 2)
        for controller in controllers.split(",") if controllers else [""]:
            paths[controller] = path
    try:
        if "blkio" in paths:  # v1: "<major>:<minor> Read <bytes>" lines and a Total
            text = (cgroup_root / "blkio" / paths["blkio"].lstrip("/")
                    / "blkio.throttle.io_service_bytes_recursive").read_text()
            read = write = 0
            for fields in (line.split() for line in text.splitlines()):
                if len(fields) == 3 and fields[1] in ("Read", "Write"):
                    if fields[1] == "Read":
                        read += int(fields[2])
                    else:
                        write += int(fields[2])
            return read, write
        if "" in paths:  # v2: "<major>:<minor> rbytes=... wbytes=..." lines
            text = (cgroup_root / paths[""].lstrip("/") / "io.stat").read_text()
            values = [field.split("=", 1) for line in text.splitlines()
                      for field in line.split()[1:] if "=" in field]
            return (sum(int(v) for k, v in values if k == "rbytes"),
                    sum(int(v) for k, v in values if k == "wbytes"))
    except (OSError, ValueError):
        return None
    return None


# --- local processes ------------------------------------------------------------------------

def of_processes(pids: Iterable[int], replica: int, memory_limit: int | None) -> Usage:
    """A Usage summed over host processes: CPU time (theirs and their reaped children's),
    resident memory and block I/O (the kernel adds a reaped child's to its parent's)."""
    import psutil

    cpu = 0.0
    memory = read = write = count = 0
    for pid in pids:
        if pid == os.getpid():
            continue
        try:
            process = psutil.Process(pid)
            with process.oneshot():
                times = process.cpu_times()
                rss = process.memory_info().rss
                try:
                    io = process.io_counters()
                    io_bytes = (io.read_bytes, io.write_bytes)
                except (psutil.AccessDenied, AttributeError):
                    io_bytes = (0, 0)
        except (psutil.NoSuchProcess, psutil.ZombieProcess, psutil.AccessDenied):
            continue
        cpu += times.user + times.system + times.children_user + times.children_system
        memory += rss
        read += io_bytes[0]
        write += io_bytes[1]
        count += 1
    return Usage(replica=replica, cpu_seconds=cpu, memory_bytes=memory,
                 memory_limit_bytes=memory_limit, block_read_bytes=read,
                 block_write_bytes=write, processes=count)


def _int(value: Any) -> int | None:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
