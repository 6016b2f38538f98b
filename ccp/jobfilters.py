"""The SQL of the OGC job-list filters (ccp.api.joblist): job type, `datetime` as created
since / before, and `minDuration`/`maxDuration`, with the seconds of a stored ISO 8601 time
stamp in each database's own terms."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import Float, Table, case, literal
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.functions import FunctionElement

from ccp.jobs import JOB_TYPE, JobFilter


class epoch_seconds(FunctionElement):  # noqa: N801  (an SQL function, named like one)
    """Seconds since 1970 of an ISO 8601 time stamp column, in each database's own terms."""

    type = Float()
    inherit_cache = True


@compiles(epoch_seconds, "sqlite")
def _epoch_seconds_sqlite(element: Any, compiler: Any, **kw: Any) -> str:
    return f"((julianday({compiler.process(element.clauses, **kw)}) - 2440587.5) * 86400.0)"


@compiles(epoch_seconds, "postgresql")
def _epoch_seconds_postgresql(element: Any, compiler: Any, **kw: Any) -> str:
    return f"EXTRACT(EPOCH FROM CAST({compiler.process(element.clauses, **kw)} AS TIMESTAMPTZ))"


def conditions_of(where: JobFilter, jobs: Table) -> list[ColumnElement[bool]]:
    """The SQL conditions of a job-list filter on the `jobs` table (ccp.jobstore's)."""
    conditions: list[ColumnElement[bool]] = []
    if where.types is not None:
        conditions.append(literal(JOB_TYPE).in_(where.types))
    if where.created_from is not None:
        conditions.append(jobs.c.created >= where.created_from)
    if where.created_before is not None:
        conditions.append(jobs.c.created < where.created_before)
    if where.min_duration is not None or where.max_duration is not None:
        # OGC: a running job lasts until now; one without `started` has no duration.
        end = case((jobs.c.finished.is_not(None), epoch_seconds(jobs.c.finished)),
                   else_=literal(time.time()))
        duration = end - epoch_seconds(jobs.c.started)
        conditions.append(jobs.c.started.is_not(None))
        if where.min_duration is not None:
            conditions.append(duration >= where.min_duration)
        if where.max_duration is not None:
            conditions.append(duration <= where.max_duration)
    return conditions
