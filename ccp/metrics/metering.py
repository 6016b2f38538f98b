"""A server's metering: its settings, a Meter for each execution it runs, where their samples
and phases go (the job store, the operator counters) and where they are read back from."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, replace
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from sqlalchemy.engine import Engine

from ccp import archive
from ccp.archive import Archives
from ccp.jobs import Job
from ccp.metrics.meter import Meter
from ccp.metrics.samples import Phase, Sample, epoch, from_csv
from ccp.metrics.store import MetricsStore, Writer
from ccp.metrics.summary import summarize
from ccp.runtimes.base import Runtime
from ccp.values import as_bool

LOGGER = logging.getLogger(__name__)
FLUSH_SECONDS = 30.0
PHASE_BUCKETS = (0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 14400)


@dataclass(frozen=True)
class MetricsSettings:
    interval: float = 1.0  # seconds between two samples of a running execution
    max_rounds: int = 3600  # after this many samples, the interval doubles
    prometheus: bool = True  # serve /metrics
    scrape_token_env: str = "CCP_METRICS_TOKEN"  # a token for scrapers when auth is on

    @classmethod
    def from_config(cls, config: dict[str, Any] | None) -> MetricsSettings:
        config = config or {}
        interval = float(config.get("interval") or cls.interval)
        max_rounds = int(config.get("max_rounds") or cls.max_rounds)
        if not 0.05 <= interval <= 3600 or max_rounds < 1:
            raise ValueError("metrics.interval must be 0.05..3600 s and max_rounds >= 1")
        return cls(interval=interval, max_rounds=max_rounds,
                   prometheus=as_bool(config.get("prometheus", True)),
                   scrape_token_env=str(config.get("scrape_token_env") or cls.scrape_token_env))


class Metering:
    def __init__(self, engine: Engine, settings: MetricsSettings) -> None:
        self.settings = settings
        self.store = MetricsStore(engine)
        self.writer = Writer(self.store)
        # Operator metrics of this server; ccp.metrics.prometheus adds what the store knows.
        self.registry = CollectorRegistry()
        self.phase_seconds = Histogram(
            "ccp_phase_duration_seconds", "Time executions of this server spent in each "
            "lifecycle phase", ["phase", "infrastructure"], buckets=PHASE_BUCKETS,
            registry=self.registry)
        self.failed_samples = Counter(
            "ccp_metric_samples_failed", "Samples of running executions the runtime could "
            "not give", registry=self.registry)

    def flush(self, timeout: float = FLUSH_SECONDS) -> None:
        """Wait until what the meters told so far is in the store (a job's samples and
        phases are there before the job is final)."""
        if not self.writer.flush(timeout):
            LOGGER.warning("metrics: the job store took over %.0f s to take the samples",
                           timeout)

    def meter(self, job: Job, runtime: Runtime) -> Meter:
        return Meter(job.identifier, runtime, _Sink(self, job.infrastructure_id),
                     self.settings.interval, self.settings.max_rounds)

    # --- reading back ---------------------------------------------------------------------------

    def samples_of(self, job: Job, archives: Archives, after: int = -1) -> list[Sample]:
        """A job's samples: from the store, or the archive's metrics.csv (imported jobs)."""
        found = self.store.samples(job.identifier, after)
        if found or not (job.is_final and job.stored) or after >= 0:
            return found
        text = archives.read_text(job.identifier, archive.METRICS_CSV)
        return from_csv(text) if text else []

    def phases_of(self, job: Job, archives: Archives) -> list[Phase]:
        found = self.store.phases(job.identifier)
        if found and job.is_final:
            _close(found, job.finished)
        if found or not (job.is_final and job.stored):
            return found
        text = archives.read_text(job.identifier, archive.STATUS)
        return _phases_from_status(text)

    def statistics_of(self, job: Job, archives: Archives) -> dict[str, Any]:
        return summarize(self.samples_of(job, archives), self.phases_of(job, archives),
                         self.settings.interval)

    def delete(self, job_id: str) -> None:
        self.store.delete(job_id)


class _Sink:
    """What one execution's Meter tells its server: the store (through the writer thread:
    the execution never waits for the database) and the operator metrics."""

    def __init__(self, metering: Metering, infrastructure: str) -> None:
        self.metering = metering
        self.infrastructure = infrastructure

    def add_samples(self, job_id: str, samples: list[Sample]) -> None:
        self.metering.writer.put(
            lambda connection: MetricsStore.add_samples(connection, job_id, samples))

    def start_phase(self, job_id: str, phase: Phase) -> None:
        started = replace(phase)  # as it is now: the Meter goes on changing its own
        self.metering.writer.put(
            lambda connection: MetricsStore.start_phase(connection, job_id, started))

    def finish_phase(self, job_id: str, phase: Phase) -> None:
        if phase.seconds is not None:
            self.metering.phase_seconds.labels(phase.name, self.infrastructure).observe(
                phase.seconds)
        finished = replace(phase)
        self.metering.writer.put(
            lambda connection: MetricsStore.finish_phase(connection, job_id, finished))

    def sample_failed(self) -> None:
        self.metering.failed_samples.inc()


def _close(phases: list[Phase], finished: str | None) -> None:
    """A final job's phase left open (its server died in it) ends when the job ended."""
    try:
        end = epoch(finished) if finished else None
    except ValueError:
        end = None
    for phase in phases:
        if phase.finished is None and end is not None:
            phase.finished = max(phase.started, end)


def _phases_from_status(text: str) -> list[Phase]:
    """The phases recorded in an archive's status.json (an imported job's), if any."""
    def time_of(value: Any) -> float | None:
        try:
            return epoch(value) if isinstance(value, str) else None
        except ValueError:
            return None

    try:
        listed = json.loads(text).get("statistics", {}).get("phases", []) if text else []
    except (ValueError, AttributeError):
        return []
    phases = []
    for number, entry in enumerate(listed if isinstance(listed, list) else []):
        if not isinstance(entry, dict) or not isinstance(entry.get("phase"), str):
            continue
        started = time_of(entry.get("started"))
        if started is not None:
            phases.append(Phase(number + 1, entry["phase"][:16], started,
                                time_of(entry.get("finished"))))
    return phases
