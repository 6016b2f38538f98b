"""OGC API - Processes - Part 1: Core 1.0, conformance class `job-list` (/conf/job-list/...),
against a live server with jobs of known processes, statuses, creation times and durations.
Each filter is checked the way the abstract tests say (every listed job satisfies it) and,
since the jobs are known, also that every job satisfying it is listed."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import requests
from conftest import ServerProcess
from ogc import (
    HTML,
    JOB_LIST,
    JSON,
    exception,
    execute,
    get,
    html_page,
    links,
    live_server,  # noqa: F401  (the `live` fixture)
    media_type,
    validate,
    wait_for,
)
from services import fresh_postgres_database

from ccp.jobs import JobFilter
from ccp.jobstore import JobStore
from ccp.runtimes.base import iso_time


def moment(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp)


def stamp(when: datetime, offset_hours: int = 0) -> str:
    """RFC 3339 with milliseconds, in UTC (Z) or at an offset."""
    text = when.astimezone(timezone(timedelta(hours=offset_hours))).isoformat(
        timespec="milliseconds")
    return text.replace("+00:00", "Z")


@pytest.fixture(scope="module")
def known(live: ServerProcess) -> Iterator[dict[str, dict[str, Any]]]:
    """Finished jobs made one after the other (a quick hello, a 2 s sleep, a failure, a
    dismissed sleep), then one sleep left running."""
    made = {}
    for name, process, inputs in (("hello", "hello-world", {"name": "list"}),
                                  ("sleep", "sleep", {"seconds": 2}),
                                  ("fails", "always-fails", {})):
        made[name] = wait_for(live, execute(live, process, inputs))["jobID"]
    dismissed = execute(live, "sleep", {"seconds": 60})
    wait_for(live, dismissed, ("running",))
    requests.delete(f"{live.url}/jobs/{dismissed}", timeout=30)
    made["dismissed"] = wait_for(live, dismissed)["jobID"]
    made["running"] = execute(live, "sleep", {"seconds": 600})
    wait_for(live, made["running"], ("running",))
    yield {name: get(live, f"/jobs/{job_id}").json() for name, job_id in made.items()}
    requests.delete(f"{live.url}/jobs/{made['running']}", timeout=30)


def listed(live: ServerProcess, **params: Any) -> list[dict[str, Any]]:
    """Every job the list gives for these filters, following `next` links."""
    response = get(live, "/jobs", limit=1000, **params)
    assert response.status_code == 200, response.text[:500]
    document = response.json()
    validate(document, JOB_LIST)
    return document["jobs"]


def ids(jobs: list[dict[str, Any]]) -> set[str]:
    return {job["jobID"] for job in jobs}


def duration(job: dict[str, Any], now: datetime) -> float | None:
    """/req/job-list/duration-response E and F: finished - started, or now - started."""
    if "started" not in job:
        return None
    end = moment(job["finished"]) if "finished" in job else now
    return (end - moment(job["started"])).total_seconds()


def test_conformance_job_list_success(live: ServerProcess, known: dict[str, Any]) -> None:
    """/conf/job-list/job-list-op, /conf/job-list/job-list-success,
    /conf/job-list/processID-mandatory: GET /jobs answers 200 with a jobList.yaml document,
    each job a statusInfo.yaml with its processID."""
    jobs = listed(live)
    assert ids(jobs) >= {job["jobID"] for job in known.values()}
    assert all(isinstance(job.get("processID"), str) and job["processID"] for job in jobs)


@pytest.mark.parametrize("name", ["type", "processID", "status", "datetime", "minDuration",
                                  "maxDuration", "limit"])
def test_conformance_job_list_parameter_definitions(live: ServerProcess, name: str) -> None:
    """/conf/job-list/type-definition, /conf/job-list/processID-definition,
    /conf/job-list/status-definition, /conf/job-list/datetime-definition,
    /conf/job-list/duration-definition, /conf/job-list/limit-definition: GET /jobs declares
    each parameter, optional, in the query, with the standard's type."""
    operation = get(live, "/openapi?f=json", accept=None).json()["paths"]["/jobs"]["get"]
    parameter = next((p for p in operation["parameters"] if p["name"] == name), None)
    assert parameter is not None, f"{name} is not declared"
    assert parameter["in"] == "query" and not parameter.get("required", False)
    schema = parameter["schema"]
    expected = {"type": "array", "processID": "array", "status": "array", "datetime": "string",
                "minDuration": "integer", "maxDuration": "integer", "limit": "integer"}[name]
    # minDuration/maxDuration: the standard's fragment says an array of integers, of which one
    # number of seconds is meant; CCP declares that one integer.
    assert schema["type"] == expected, schema
    if expected == "array":
        assert schema["items"]["type"] == "string"
    if name == "limit":
        assert schema["minimum"] == 1


def test_conformance_job_list_type(live: ServerProcess, known: dict[str, Any]) -> None:
    """/conf/job-list/type-response: with `type=process` only jobs of that type are listed
    (every CCP job is one); another type lists none; without `type` all are listed."""
    everything = ids(listed(live))
    processes = listed(live, type="process")
    assert ids(processes) == everything
    assert all(job["type"] == "process" for job in processes)
    assert listed(live, type="wps") == []
    assert ids(listed(live, type="wps,process")) == everything


def test_conformance_job_list_process_id(live: ServerProcess, known: dict[str, Any]) -> None:
    """/conf/job-list/processID-response: only jobs of the listed processes."""
    for asked in (["sleep"], ["hello-world", "always-fails"]):
        jobs = listed(live, processID=",".join(asked))
        assert jobs and all(job["processID"] in asked for job in jobs)
        assert ids(jobs) >= {job["jobID"] for job in known.values() if job["processID"] in asked}
    assert listed(live, processID="no-such-process") == []


def test_conformance_job_list_status(live: ServerProcess, known: dict[str, Any]) -> None:
    """/conf/job-list/status-response: only jobs whose status is one of those asked for."""
    for asked in (["successful"], ["failed", "dismissed"], ["running"]):
        jobs = listed(live, status=",".join(asked))
        assert jobs and all(job["status"] in asked for job in jobs)
        assert ids(jobs) >= {job["jobID"] for job in known.values()
                             if get(live, f"/jobs/{job['jobID']}").json()["status"] in asked}


def test_conformance_job_list_datetime(live: ServerProcess, known: dict[str, Any]) -> None:
    """/conf/job-list/datetime-response: only jobs whose `created` intersects `datetime`: an
    instant (the span of its precision), a closed interval, intervals open at either end
    (`..` or nothing), in UTC or at an offset."""
    first, second = moment(known["hello"]["created"]), moment(known["sleep"]["created"])
    assert first < second
    cases: list[tuple[str, datetime | None, datetime | None]] = [
        (stamp(first), first, first + timedelta(milliseconds=1)),  # an instant, in ms
        (f"{stamp(first)}/{stamp(second)}", first, second + timedelta(milliseconds=1)),
        (f"{stamp(first, 2)}/{stamp(second, -5)}", first, second + timedelta(milliseconds=1)),
        (f"../{stamp(first)}", None, first + timedelta(milliseconds=1)),
        (f"/{stamp(first)}", None, first + timedelta(milliseconds=1)),
        (f"{stamp(second)}/..", second, None),
        (f"{stamp(second)}/", second, None),
    ]
    second_precision = first.replace(microsecond=0)
    cases.append((second_precision.isoformat().replace("+00:00", "Z"), second_precision,
                  second_precision + timedelta(seconds=1)))
    everything = listed(live)
    for value, start, before in cases:
        jobs = listed(live, datetime=value)

        def inside(job: dict[str, Any], start: Any = start, before: Any = before) -> bool:
            created = moment(job["created"])
            return (start is None or created >= start) and (before is None or created < before)

        assert all(inside(job) for job in jobs), value
        assert ids(jobs) == {job["jobID"] for job in everything if inside(job)}, value
    assert known["hello"]["jobID"] in ids(listed(live, datetime=stamp(first)))
    assert known["sleep"]["jobID"] not in ids(listed(live, datetime=f"../{stamp(first)}"))


def test_conformance_job_list_duration(live: ServerProcess, known: dict[str, Any]) -> None:
    """/conf/job-list/duration-response: with minDuration, maxDuration or both (seconds), only
    jobs that ran at least/at most that long (running jobs until now, finished ones until
    `finished`); jobs without a start (accepted, or dismissed before starting) are left out."""
    sleep = duration(known["sleep"], datetime.now(UTC))
    hello = duration(known["hello"], datetime.now(UTC))
    assert sleep is not None and hello is not None and sleep >= 2
    for params in ({"minDuration": 2}, {"maxDuration": 1}, {"minDuration": 1, "maxDuration": 3},
                   {"minDuration": 0}, {"maxDuration": 100000}):
        jobs = listed(live, **params)
        now = datetime.now(UTC)
        low, high = params.get("minDuration", 0), params.get("maxDuration", float("inf"))
        for job in jobs:
            lasted = duration(job, now)
            assert lasted is not None, (params, job)
            # a running job's duration grows between the server's now and this one
            assert low <= lasted + (1 if job["status"] == "running" else 0), (params, job)
            assert lasted <= high + (1 if job["status"] == "running" else 0), (params, job)
        finished = {job["jobID"]: duration(job, now) for job in listed(live)
                    if "finished" in job and "started" in job}
        assert {i for i in ids(jobs) if i in finished} == {
            i for i, lasted in finished.items() if low <= lasted <= high}, params
    assert known["running"]["jobID"] in ids(listed(live, minDuration=0))
    assert known["sleep"]["jobID"] in ids(listed(live, minDuration=2))
    assert known["sleep"]["jobID"] not in ids(listed(live, maxDuration=1))


def test_conformance_job_list_limit_and_paging(live: ServerProcess,
                                               known: dict[str, Any]) -> None:
    """/conf/job-list/limit-response (and /rec/job-list/next-1..3, /per/job-list/prev): no
    more jobs than `limit`; `next` and `prev` links page through the list keeping every
    filter, and together they give each matching job once."""
    query = {"processID": "sleep,hello-world", "status": "successful,dismissed,running"}
    expected = ids(listed(live, **query))
    assert len(expected) >= 3
    seen: list[str] = []
    page = get(live, "/jobs", limit=1, **query).json()
    while True:
        assert len(page["jobs"]) <= 1 and page["numberMatched"] == len(expected)
        seen.extend(ids(page["jobs"]))
        following = links(page, "next")
        if not following:
            break
        href = following[0]["href"]
        assert "processID=sleep%2Chello-world" in href and "status=" in href, href
        assert following[0]["type"] == JSON
        page = get(live, href).json()
        assert [link["type"] for link in links(page, "prev")] == [JSON]
    assert sorted(seen) == sorted(expected)
    html = html_page(get(live, "/jobs", accept=HTML, limit=1, **query))
    assert [href for href in html.hrefs if "offset=1" in href and "f=html" in href]


def test_conformance_job_list_links(live: ServerProcess, known: dict[str, Any]) -> None:
    """/conf/job-list/links: a link to itself (self) and one per other media type the server
    supports (alternate: HTML, since /conformance declares html)."""
    document = get(live, "/jobs", processID="sleep").json()
    self_link, alternate = links(document, "self"), links(document, "alternate")
    assert [link["type"] for link in self_link] == [JSON]
    assert [link["type"] for link in alternate] == [HTML]
    for link in self_link + alternate:
        assert "processID=sleep" in link["href"]
        response = get(live, link["href"], accept=link["type"])
        assert response.status_code == 200 and media_type(response) == link["type"]


@pytest.mark.parametrize("params", [
    {"datetime": "yesterday"}, {"datetime": "2024-01-01"}, {"datetime": "2024-13-01T00:00:00Z"},
    {"datetime": "2024-01-01T00:00:00"}, {"datetime": "../.."},
    {"datetime": "2024-02-01T00:00:00Z/2024-01-01T00:00:00Z"},
    {"datetime": "0001-01-01T00:00:00+01:00"}, {"minDuration": "-1"}, {"minDuration": "1.5"},
    {"maxDuration": "soon"}, {"minDuration": "5", "maxDuration": "2"}, {"limit": "0"},
    {"status": "finished"}, {"processID": "../etc"}, {"f": "xml"}])
def test_conformance_job_list_bad_values_are_refused(live: ServerProcess,
                                                     params: dict[str, str]) -> None:
    """Values outside a parameter's definition answer 400 with an OGC exception, never a
    list that ignored them."""
    exception(get(live, "/jobs", **params), 400)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[JobStore]:
    if request.param == "sqlite":
        yield JobStore(f"sqlite:///{tmp_path / 'jobs.db'}")
        return
    with fresh_postgres_database() as url:
        store = JobStore(url)
        yield store
        store.engine.dispose()


def test_conformance_job_list_filters_run_in_sql(store: JobStore) -> None:
    """/req/job-list/type-response, /req/job-list/datetime-response,
    /req/job-list/duration-response in the job store's SQL, on SQLite and PostgreSQL alike:
    jobs with fixed creation, start and end times."""
    ran_for_100_s = iso_time(datetime.now(UTC) - timedelta(seconds=100))
    for job_id, values in {
        "ten-seconds": {"created": "2024-01-01T10:00:00.000Z", "status": "successful",
                        "started": "2024-01-01T10:00:01.000Z",
                        "finished": "2024-01-01T10:00:11.000Z"},
        "two-seconds": {"created": "2024-01-02T10:00:00.500Z", "status": "failed",
                        "started": "2024-01-02T10:00:01.000Z",
                        "finished": "2024-01-02T10:00:03.000Z"},
        "running": {"created": "2024-01-03T00:00:00.000Z", "status": "running",
                    "started": ran_for_100_s},
        "accepted": {"created": "2024-01-04T00:00:00.000Z"},
        "never-started": {"created": "2024-01-05T00:00:00.000Z", "status": "dismissed",
                          "finished": "2024-01-05T00:00:01.000Z"},
    }.items():
        store.add({"identifier": job_id, "process_id": "p", **values})

    def found(**where: Any) -> set[str]:
        jobs, total = store.find(limit=100, where=JobFilter(**where))
        assert total == len(jobs)
        return {job.identifier for job in jobs}

    everything = {"ten-seconds", "two-seconds", "running", "accepted", "never-started"}
    assert found() == found(types=("process",)) == everything
    assert found(types=("wps",)) == set()
    assert found(created_from="2024-01-01T10:00:00.000Z",
                 created_before="2024-01-01T10:00:00.001Z") == {"ten-seconds"}
    assert found(created_before="2024-01-02T10:00:00.500Z") == {"ten-seconds"}
    assert found(created_from="2024-01-02T10:00:00.500Z") == everything - {"ten-seconds"}
    assert found(min_duration=5) == {"ten-seconds", "running"}
    assert found(max_duration=5) == {"two-seconds"}
    assert found(min_duration=5, max_duration=50) == {"ten-seconds"}
    assert found(min_duration=0) == {"ten-seconds", "two-seconds", "running"}
    assert found(min_duration=90, max_duration=1000) == {"running"}
