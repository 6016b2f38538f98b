"""Samples and phases in the job store's database (tables of ccp/jobstore.py), kept with the
job and removed with it."""

from __future__ import annotations

from dataclasses import fields

from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import Engine

from ccp.jobstore import metric_samples, phases
from ccp.metrics.samples import Phase, Sample

SAMPLE_COLUMNS = [f.name for f in fields(Sample)]


class MetricsStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def add_samples(self, job_id: str, samples: list[Sample]) -> None:
        if not samples:
            return
        with self.engine.begin() as connection:
            connection.execute(insert(metric_samples), [
                {"job_id": job_id, **sample.as_row()} for sample in samples])

    def samples(self, job_id: str, after: int = -1) -> list[Sample]:
        """The samples of a job, in round order; only rounds after `after` if given."""
        with self.engine.connect() as connection:
            result = connection.execute(
                select(*(metric_samples.c[name] for name in SAMPLE_COLUMNS))
                .where(metric_samples.c.job_id == job_id, metric_samples.c.seq > after)
                .order_by(metric_samples.c.seq, metric_samples.c.replica)).all()
        return [Sample(**row._mapping) for row in result]

    def start_phase(self, job_id: str, phase: Phase) -> None:
        with self.engine.begin() as connection:
            connection.execute(insert(phases).values(
                job_id=job_id, seq=phase.seq, phase=phase.name, started=phase.started,
                finished=phase.finished))

    def finish_phase(self, job_id: str, phase: Phase) -> None:
        with self.engine.begin() as connection:
            connection.execute(update(phases).where(
                phases.c.job_id == job_id, phases.c.seq == phase.seq).values(
                finished=phase.finished))

    def phases(self, job_id: str) -> list[Phase]:
        with self.engine.connect() as connection:
            result = connection.execute(
                select(phases.c.seq, phases.c.phase, phases.c.started, phases.c.finished)
                .where(phases.c.job_id == job_id).order_by(phases.c.seq)).all()
        return [Phase(row.seq, row.phase, row.started, row.finished) for row in result]

    def delete(self, job_id: str) -> None:
        with self.engine.begin() as connection:
            connection.execute(delete(metric_samples).where(metric_samples.c.job_id == job_id))
            connection.execute(delete(phases).where(phases.c.job_id == job_id))
