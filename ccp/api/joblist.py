"""The query parameters of GET /jobs (OGC API - Processes, /req/job-list): `type`,
`datetime`, `minDuration`, `maxDuration`, checked here (bad values: 400) and applied in SQL
by JobStore.find."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from flask import request

from ccp import errors
from ccp.api.common import MAX_INT, list_param
from ccp.jobs import JobFilter
from ccp.runtimes.base import iso_time

# RFC 3339, section 5.6 date-time.
DATE_TIME = re.compile(r"\d{4}-\d\d-\d\d[Tt]\d\d:\d\d:\d\d(?:\.(\d+))?(?:[Zz]|[+-]\d\d:\d\d)")
OPEN = ("", "..")
MILLISECOND = timedelta(milliseconds=1)


def job_filter() -> JobFilter:
    try:
        created_from, created_before = created_window(request.args.get("datetime"))
    except OverflowError as err:
        raise errors.InvalidParameter("'datetime' is out of the range of dates") from err
    min_duration, max_duration = seconds("minDuration"), seconds("maxDuration")
    if min_duration is not None and max_duration is not None and min_duration > max_duration:
        raise errors.InvalidParameter(
            f"'minDuration' ({min_duration}) is more than 'maxDuration' ({max_duration})")
    types = list_param("type")
    return JobFilter(types=tuple(types) if types is not None else None,
                     created_from=created_from, created_before=created_before,
                     min_duration=min_duration, max_duration=max_duration)


def created_window(raw: str | None) -> tuple[str | None, str | None]:
    """`datetime` as [from, before) in stored time stamps. An instant stands for the span of
    its precision (10:00:00Z: that second), an interval `a/b` includes both ends, `..` or
    nothing leaves an end open."""
    if raw is None:
        return None, None
    if "/" not in raw:
        start, digits = instant(raw)
        span = timedelta(seconds=10 ** -min(digits, 6)) if digits else timedelta(seconds=1)
        return _from(start), _before(start + span - timedelta(microseconds=1))
    first, _, last = raw.partition("/")
    if first in OPEN and last in OPEN:
        raise errors.InvalidParameter("'datetime' needs at least one end: '../..' is no interval")
    begins = None if first in OPEN else instant(first)[0]
    ends = None if last in OPEN else instant(last)[0]
    if begins is not None and ends is not None and begins > ends:
        raise errors.InvalidParameter(f"'datetime' {raw[:80]!r} ends before it starts")
    return (_from(begins) if begins else None), (_before(ends) if ends else None)


def instant(raw: str) -> tuple[datetime, int]:
    """An RFC 3339 date-time and the number of digits of its fraction of a second."""
    match = DATE_TIME.fullmatch(raw)
    if match is None:
        raise errors.InvalidParameter(
            f"'datetime' must be an RFC 3339 date-time (2024-05-01T12:00:00Z) or an interval "
            f"of them (a/b, ../b, a/..), got {raw[:80]!r}")
    try:
        moment = datetime.fromisoformat(raw.upper())
    except ValueError as err:
        raise errors.InvalidParameter(f"'datetime' {raw[:40]!r} is no date-time: {err}") from err
    return moment, len(match.group(1) or "")


def _from(moment: datetime) -> str:
    """The first stored (millisecond) time stamp at or after `moment`."""
    rounded_up = moment + timedelta(microseconds=-moment.microsecond % 1000)
    return iso_time(rounded_up)


def _before(moment: datetime) -> str:
    """The first stored time stamp after `moment` (an exclusive bound)."""
    return iso_time(moment.replace(microsecond=moment.microsecond // 1000 * 1000) + MILLISECOND)


def seconds(name: str) -> int | None:
    raw = request.args.get(name)
    if raw is None:
        return None
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 10 or int(raw) > MAX_INT:
        raise errors.InvalidParameter(
            f"'{name}' must be a whole number of seconds (0 to {MAX_INT}), got {raw[:40]!r}")
    return int(raw)
