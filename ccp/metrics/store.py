"""Samples and phases in the job store's database (tables of ccp/jobstore.py), kept with the
job and removed with it.

What running executions tell goes through a `Writer`: one thread per server that writes it in
the order told, everything waiting in one transaction, so an execution's thread never waits
for the database (a write there costs milliseconds on SQLite, a dozen per execution).
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import fields

from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import Connection, Engine

from ccp.jobstore import metric_samples, phases
from ccp.logs import concise
from ccp.metrics.samples import Phase, Sample

LOGGER = logging.getLogger(__name__)
SAMPLE_COLUMNS = [f.name for f in fields(Sample)]
BATCH = 500  # writes in one transaction at most
Write = Callable[[Connection], None]


class MetricsStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # --- writing (in a transaction of the caller's) -------------------------------------------

    @staticmethod
    def add_samples(connection: Connection, job_id: str, samples: list[Sample]) -> None:
        if samples:
            connection.execute(insert(metric_samples), [
                {"job_id": job_id, **sample.as_row()} for sample in samples])

    @staticmethod
    def start_phase(connection: Connection, job_id: str, phase: Phase) -> None:
        connection.execute(insert(phases).values(
            job_id=job_id, seq=phase.seq, phase=phase.name, started=phase.started,
            finished=phase.finished))

    @staticmethod
    def finish_phase(connection: Connection, job_id: str, phase: Phase) -> None:
        connection.execute(update(phases).where(
            phases.c.job_id == job_id, phases.c.seq == phase.seq).values(
            finished=phase.finished))

    def write(self, action: Write) -> None:
        """Commit `action` without waiting for the disk: samples and phases are flushed
        before their job's final status, whose durable commit makes them durable as well
        (SQLite's WAL sync covers every earlier commit; PostgreSQL flushes its WAL up to
        it). Fewer syncs hold the database's writer lock less (submissions wait on it)."""
        dialect = self.engine.dialect.name
        with self.engine.connect() as connection:
            if dialect == "sqlite":
                connection.exec_driver_sql("PRAGMA synchronous=NORMAL")
                connection.commit()
            try:
                with connection.begin():
                    if dialect == "postgresql":
                        connection.exec_driver_sql("SET LOCAL synchronous_commit TO OFF")
                    action(connection)
            finally:
                if dialect == "sqlite":
                    connection.exec_driver_sql("PRAGMA synchronous=FULL")
                    connection.commit()

    # --- reading ------------------------------------------------------------------------------

    def samples(self, job_id: str, after: int = -1) -> list[Sample]:
        """The samples of a job, in round order; only rounds after `after` if given."""
        with self.engine.connect() as connection:
            result = connection.execute(
                select(*(metric_samples.c[name] for name in SAMPLE_COLUMNS))
                .where(metric_samples.c.job_id == job_id, metric_samples.c.seq > after)
                .order_by(metric_samples.c.seq, metric_samples.c.replica)).all()
        return [Sample(**row._mapping) for row in result]

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


class Writer:
    """Writes to the store off the callers' threads, in order, batched; `flush` waits until
    everything told before it is written (or could not be)."""

    def __init__(self, store: MetricsStore) -> None:
        self.store = store
        self._queue: queue.Queue[Write | threading.Event] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def put(self, action: Write) -> None:
        self._start()
        self._queue.put(action)

    def flush(self, timeout: float) -> bool:
        """Wait until what was put before is written; False if that took over `timeout`."""
        self._start()
        done = threading.Event()
        self._queue.put(done)
        return done.wait(timeout)

    def _start(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._write_forever, daemon=True,
                                                name="ccp-metrics-writer")
                self._thread.start()

    def _write_forever(self) -> None:
        while True:
            batch = [self._queue.get()]
            while len(batch) < BATCH:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            actions = [item for item in batch if not isinstance(item, threading.Event)]
            self._write(actions)
            for item in batch:
                if isinstance(item, threading.Event):
                    item.set()

    def _write(self, actions: list[Write]) -> None:
        """All in one transaction; if that fails, each alone, so one bad write loses only
        itself (lost as a failed sample is: never an execution)."""
        if not actions:
            return

        def every(connection: Connection) -> None:
            for action in actions:
                action(connection)

        try:
            self.store.write(every)
            return
        except Exception:
            pass  # one of them, at least: find which
        failed, problem = 0, ""
        for action in actions:
            try:
                self.store.write(action)
            except Exception as err:
                failed, problem = failed + 1, concise(err)
        if failed:
            LOGGER.warning("metrics: %d writes to the job store failed: %s", failed, problem)
