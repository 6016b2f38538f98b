"""Samples and phases of one execution, and their one table form (`metadata/metrics.csv`, the
CSV and JSON of `GET /jobs/{id}/metrics`).

A sample is what one replica used at one moment of one sampling round (`seq`): cumulative
counters as the runtime reported them. Rates (CPU %) are derived when the samples are read,
from two rounds in a row of the same replica.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import Any

from ccp.runtimes.usage import Usage

# Counters (cumulative; a drop means the counter started again) and gauges of a sample.
COUNTERS = ("cpu_seconds", "network_rx_bytes", "network_tx_bytes", "block_read_bytes",
            "block_write_bytes")
GAUGES = ("memory_bytes", "memory_limit_bytes", "processes")
COLUMNS = ("time", "seq", "replica", "phase", "cpu_seconds", "cpu_percent", "memory_bytes",
           "memory_limit_bytes", "network_rx_bytes", "network_tx_bytes", "block_read_bytes",
           "block_write_bytes", "processes")
MAX_CSV_ROWS = 1_000_000  # an imported metrics.csv is read no further


@dataclass(frozen=True)
class Sample:
    seq: int
    at: float  # epoch seconds
    replica: int
    phase: str
    cpu_seconds: float | None = None
    memory_bytes: int | None = None
    memory_limit_bytes: int | None = None
    network_rx_bytes: int | None = None
    network_tx_bytes: int | None = None
    block_read_bytes: int | None = None
    block_write_bytes: int | None = None
    processes: int | None = None

    @classmethod
    def of(cls, usage: Usage, seq: int, at: float, phase: str) -> Sample:
        values = {f.name: getattr(usage, f.name) for f in fields(Usage) if f.name != "replica"}
        return cls(seq=seq, at=at, replica=usage.replica, phase=phase, **values)

    def as_row(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass
class Phase:
    seq: int
    name: str
    started: float
    finished: float | None = None

    @property
    def seconds(self) -> float | None:
        return None if self.finished is None else max(0.0, self.finished - self.started)

    def as_dict(self) -> dict[str, Any]:
        return {"phase": self.name, "started": iso(self.started),
                "finished": iso(self.finished) if self.finished is not None else None,
                "seconds": round(self.seconds, 3) if self.seconds is not None else None}


def iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds").replace(
        "+00:00", "Z")


def epoch(text: str) -> float:
    """Epoch seconds of an ISO 8601 time (ValueError if it is none)."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def increase(previous: float | None, current: float | None) -> float | None:
    """How much a counter grew between two readings; a drop is a restart from zero."""
    if current is None:
        return None
    if previous is None or current < previous:
        return current
    return current - previous


def rows(samples: Iterable[Sample], earlier: dict[int, Sample] | None = None
         ) -> Iterator[dict[str, Any]]:
    """The table rows of the samples (in seq order), with the CPU % of each replica since its
    previous sample (`earlier`: the last sample of each replica before these, if any)."""
    last: dict[int, Sample] = dict(earlier or {})
    for sample in samples:
        row = sample.as_row()
        before = last.get(sample.replica)
        percent = None
        if before is not None and sample.at > before.at:
            used = increase(before.cpu_seconds, sample.cpu_seconds)
            if used is not None and before.cpu_seconds is not None:
                percent = round(100.0 * used / (sample.at - before.at), 2)
        row["time"] = iso(sample.at)
        row["cpu_percent"] = percent
        del row["at"]
        last[sample.replica] = sample
        yield {column: row[column] for column in COLUMNS}


def to_csv(samples: Iterable[Sample]) -> str:
    return table_csv(rows(samples))


def table_csv(table: Iterable[dict[str, Any]]) -> str:
    """Rows of `rows()` as CSV with a header line; an unknown value is an empty field."""
    out = io.StringIO()
    writer = csv.DictWriter(out, COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in table:
        writer.writerow({key: "" if value is None else value for key, value in row.items()})
    return out.getvalue()


def from_csv(text: str) -> list[Sample]:
    """Samples back from a metrics.csv (an imported archive's: untrusted, so bad rows are
    left out and at most MAX_CSV_ROWS are read)."""
    samples = []
    for number, row in enumerate(csv.DictReader(io.StringIO(text))):
        if number >= MAX_CSV_ROWS:
            break
        try:
            at = epoch(str(row["time"]))
            samples.append(Sample(
                seq=int(row["seq"]), at=at, replica=int(row["replica"]),
                phase=str(row["phase"])[:16],
                cpu_seconds=_number(row.get("cpu_seconds"), float),
                **{name: _number(row.get(name), int)
                   for name in COUNTERS[1:] + GAUGES}))
        except (KeyError, TypeError, ValueError):
            continue
    return samples


def _number(text: str | None, kind: type) -> Any:
    if text is None or text == "":
        return None
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(text)
    return kind(value)
