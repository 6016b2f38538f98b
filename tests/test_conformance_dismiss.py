"""OGC API - Processes - Part 1: Core 1.0, conformance class `dismiss` (/conf/dismiss/...),
against a live server: a running job is dismissed with DELETE /jobs/{jobID}."""

from __future__ import annotations

import requests
from conftest import ServerProcess
from ogc import (
    EXCEPTIONS,
    HTML,
    STATUS_INFO,
    exception,
    execute,
    get,
    html_page,
    live_server,  # noqa: F401  (the `live` fixture)
    validate,
    wait_for,
)


def test_conformance_dismiss_running_job(live: ServerProcess) -> None:
    """/conf/dismiss/job-dismiss-op, /conf/dismiss/job-dismiss-success: DELETE on a running
    job answers 200 with a statusInfo.yaml document whose status is "dismissed", and the job
    stays dismissed (its results are not to be had)."""
    job_id = execute(live, "sleep", {"seconds": 600})
    wait_for(live, job_id, ("running",))
    response = requests.delete(f"{live.url}/jobs/{job_id}", timeout=60)
    assert response.status_code == 200, response.text
    info = response.json()
    validate(info, STATUS_INFO)
    assert info["jobID"] == job_id and info["status"] == "dismissed"
    assert wait_for(live, job_id)["status"] == "dismissed"
    response = get(live, f"/jobs/{job_id}/results")
    assert 400 <= response.status_code < 500 and "dismissed" in response.json()["detail"]


def test_conformance_dismiss_accepted_job_as_html(live: ServerProcess) -> None:
    """/conf/dismiss/job-dismiss-success for the HTML format: the answer to DELETE asked for as
    text/html is the dismissed job's page."""
    job_id = execute(live, "sleep", {"seconds": 600})
    response = requests.delete(f"{live.url}/jobs/{job_id}", headers={"Accept": HTML},
                               timeout=60)
    page = html_page(response)
    assert job_id in page.body_text and "dismissed" in page.body_text
    assert wait_for(live, job_id)["status"] == "dismissed"


def test_conformance_dismiss_no_such_job(live: ServerProcess) -> None:
    """/req/dismiss/job-dismiss-op with /req/core/job-exception-no-such-job: dismissing a job
    that does not exist answers 404 no-such-job."""
    exception(requests.delete(f"{live.url}/jobs/00000000-0000-4000-8000-000000000001",
                              timeout=30), 404, f"{EXCEPTIONS}no-such-job")
