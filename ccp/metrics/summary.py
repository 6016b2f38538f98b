"""What an execution used, in a few numbers: CPU-seconds, peak memory, bytes in and out,
block I/O and the time in each phase. The same summary goes into `metadata/status.json`, the
PROV record (as attributes of the execution activity) and `GET /jobs/{id}/statistics`."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from ccp.metrics.samples import Phase, Sample, increase

TOTALS = {  # summary key -> sample counter
    "cpuSeconds": "cpu_seconds",
    "networkRxBytes": "network_rx_bytes",
    "networkTxBytes": "network_tx_bytes",
    "blockReadBytes": "block_read_bytes",
    "blockWriteBytes": "block_write_bytes",
}


def summarize(samples: Iterable[Sample], phases: Iterable[Phase],
              interval: float | None = None) -> dict[str, Any]:
    """The summary of an execution from its samples and phases (either may be empty)."""
    by_replica: dict[int, list[Sample]] = defaultdict(list)
    rounds: dict[int, int] = defaultdict(int)
    for sample in samples:
        by_replica[sample.replica].append(sample)
        rounds[sample.seq] += sample.memory_bytes or 0
    replicas = [_replica(number, by_replica[number]) for number in sorted(by_replica)]
    summary: dict[str, Any] = {
        key: _sum(replica[key] for replica in replicas) for key in TOTALS}
    if summary["cpuSeconds"] is not None:
        summary["cpuSeconds"] = round(summary["cpuSeconds"], 3)
    # the execution's footprint: all replicas together, at the round where it was largest
    summary["peakMemoryBytes"] = max(rounds.values()) if any(
        r["peakMemoryBytes"] is not None for r in replicas) else None
    limits = [r["memoryLimitBytes"] for r in replicas if r["memoryLimitBytes"] is not None]
    summary["memoryLimitBytes"] = limits[0] if limits else None
    summary["samples"] = sum(len(found) for found in by_replica.values())
    summary["interval"] = interval
    summary["replicas"] = replicas
    listed = sorted(phases, key=lambda phase: phase.seq)
    summary["phases"] = [phase.as_dict() for phase in listed]
    seconds: dict[str, float] = {}
    for phase in listed:
        if phase.seconds is not None:
            seconds[phase.name] = round(seconds.get(phase.name, 0.0) + phase.seconds, 3)
    summary["phaseSeconds"] = seconds
    return summary


def _replica(number: int, samples: list[Sample]) -> dict[str, Any]:
    found: dict[str, Any] = {"replica": number}
    for key, counter in TOTALS.items():
        total, previous, known = 0.0, None, False
        for sample in samples:
            value = getattr(sample, counter)
            grown = increase(previous, value)
            if grown is not None:
                total += grown
                known = True
            if value is not None:
                previous = value
        found[key] = (round(total, 3) if counter == "cpu_seconds" else int(total)) \
            if known else None
    memory = [s.memory_bytes for s in samples if s.memory_bytes is not None]
    found["peakMemoryBytes"] = max(memory) if memory else None
    limits = [s.memory_limit_bytes for s in samples if s.memory_limit_bytes is not None]
    found["memoryLimitBytes"] = limits[-1] if limits else None
    return found


def _sum(values: Iterable[Any]) -> Any:
    known = [value for value in values if value is not None]
    return sum(known) if known else None


def prov_attributes(summary: dict[str, Any]) -> dict[str, float | int]:
    """The summary as flat PROV attributes of the execution activity (`ccp:` names)."""
    attributes: dict[str, float | int] = {}
    for key in (*TOTALS, "peakMemoryBytes", "memoryLimitBytes"):
        if summary.get(key) is not None:
            attributes[key] = summary[key]
    for phase, seconds in (summary.get("phaseSeconds") or {}).items():
        attributes[f"secondsIn{phase}"] = seconds
    return attributes
