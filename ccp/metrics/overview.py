"""Counts of executions from the job store, for the operator metrics and the overview page:
by status and Method, the queue, running per Infrastructure, and per day."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Select, func, select
from sqlalchemy.engine import Engine

from ccp.jobs import JobStatus
from ccp.jobstore import jobs

MAX_DAYS = 366


def _owned(query: Select, owner: str | None) -> Select:
    """Only `owner`'s executions; all of them when `owner` is None (Requester.owner_filter)."""
    return query if owner is None else query.where(jobs.c.owner == owner)


def by_status_and_method(engine: Engine) -> list[tuple[str, str, int]]:
    """(status, process id, count) of every execution in the store."""
    query = (select(jobs.c.status, jobs.c.process_id, func.count())
             .group_by(jobs.c.status, jobs.c.process_id))
    with engine.connect() as connection:
        return [(row[0], row[1], int(row[2])) for row in connection.execute(query)]


def queued(engine: Engine, owner: str | None = None) -> int:
    query = _owned(select(func.count()).select_from(jobs)
                   .where(jobs.c.status == JobStatus.ACCEPTED.value), owner)
    with engine.connect() as connection:
        return int(connection.scalar(query) or 0)


def running_by_infrastructure(engine: Engine, owner: str | None = None,
                              everyone: bool = True) -> dict[str, int]:
    query = _owned(select(jobs.c.infrastructure_id, func.count())
                   .where(jobs.c.status == JobStatus.RUNNING.value)
                   .group_by(jobs.c.infrastructure_id), owner)
    with engine.connect() as connection:
        return {row[0]: int(row[1]) for row in connection.execute(query)}


def per_day(engine: Engine, days: int, owner: str | None = None,
            today: datetime | None = None) -> list[dict[str, object]]:
    """Executions created on each of the last `days` days (UTC), by status; oldest first,
    every day listed, every status counted."""
    days = max(1, min(days, MAX_DAYS))
    last = (today or datetime.now(UTC)).date()
    first = last - timedelta(days=days - 1)
    day = func.substr(jobs.c.created, 1, 10)  # created is ISO 8601: YYYY-MM-DD...
    query = _owned(select(day, jobs.c.status, func.count())
                   .where(jobs.c.created >= first.isoformat())
                   .group_by(day, jobs.c.status), owner)
    table = {(first + timedelta(days=n)).isoformat(): {status.value: 0 for status in JobStatus}
             for n in range(days)}
    with engine.connect() as connection:
        for found_day, status, count in connection.execute(query):
            if found_day in table and status in table[found_day]:
                table[found_day][status] = int(count)
    return [{"day": found, **counts} for found, counts in table.items()]
