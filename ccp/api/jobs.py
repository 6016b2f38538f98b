"""Executions as OGC jobs: the list, status and dismiss/delete (results: ccp.api.results)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, Response, request

from ccp import errors
from ccp.api.common import (
    REL,
    base_url,
    find_job,
    int_param,
    json_response,
    list_param,
    manager,
    requester,
)
from ccp.api.joblist import job_filter
from ccp.api.metrics import links_of as metrics_links
from ccp.api.negotiation import HTML, JSON, negotiate, represent, self_links, with_format
from ccp.api.outputfiles import links_of as outputs_links
from ccp.cache import performance_facts
from ccp.jobcontrol import service as jobcontrol
from ccp.jobs import JOB_TYPE, STATUS_VALUES, Job, JobStatus
from ccp.model import ID_PATTERN

blueprint = Blueprint("jobs", __name__)


def status_info(job: Job, fmt: str = "json") -> dict[str, Any]:
    url = f"{base_url()}/jobs/{job.identifier}"
    info: dict[str, Any] = {
        "type": JOB_TYPE,
        "processID": job.process_id,
        "processVersion": job.process_version,
        "jobID": job.identifier,
        "status": job.status.value,
        "message": job.message,
        "progress": job.progress,
        "created": job.created,
        # OGC 1.0: date-times, left out while there are none (never null)
        **({"started": job.started} if job.started else {}),
        **({"finished": job.finished} if job.finished else {}),
        "updated": job.updated,
        "infrastructure": job.infrastructure_id,
        "image": job.inputs.get("ccpimage"),
        "links": [
            *self_links(url, fmt),
            {"rel": "up", "type": JSON, "href": f"{base_url()}/jobs", "title": "All jobs"},
            {"rel": "logs", "type": "text/plain", "href": f"{url}/logs", "title": "Log"},
            # Part 4: what it was asked to do, with which inputs, and its provenance so far
            {"rel": "definition", "type": JSON, "href": f"{url}/definition"},
            {"rel": "inputs", "type": JSON, "href": f"{url}/inputs"},
            {"rel": "prov", "type": JSON, "href": f"{url}/prov"},
        ],
    }
    if job.derived_from:
        info["derivedFrom"] = job.derived_from
    info.update(performance_facts(job, base_url()))
    if job.method_digest:
        # Which Method ran, by content; `archive`: an imported Execution's own Method, which
        # is not this server's process of that id and version.
        info["method"] = {"digest": job.method_digest, "source": job.method_source or "file"}
    if job.is_final and job.stored:
        info["links"] += [
            {"rel": "archive", "type": "application/zip", "href": f"{url}/archive",
             "title": "The whole Execution archive"},
            {"rel": "provenance", "type": "application/json", "href": f"{url}/provenance",
             "title": "PROV-JSON record (?f=ttl, xml, provn)"},
        ]
    if job.status == JobStatus.SUCCESSFUL:
        info["links"].append({"rel": f"{REL}results", "type": JSON,
                              "href": f"{url}/results", "title": "Results"})
    info["links"] += metrics_links(job) + outputs_links(job)
    info.update(jobcontrol.status_fields(job))
    info["links"] += jobcontrol.links(job, url)
    return info


@blueprint.get("/jobs")
def list_jobs() -> Response:
    fmt = negotiate()
    limit = int_param("limit", 10, 1, 1000)
    offset = int_param("offset", 0, 0)
    statuses = list_param("status", STATUS_VALUES)
    process_ids = list_param("processID")
    for process_id in process_ids or []:
        if not ID_PATTERN.match(process_id):
            raise errors.InvalidParameter(f"'processID' {process_id[:40]!r} is not a process id")
    jobs, total = manager().store.find(status=statuses, process_id=process_ids, limit=limit,
                                       offset=offset, owner=requester().owner_filter,
                                       where=job_filter(), brief=True)
    # Every link keeps the filters; `next`/`prev` stay in the format of this page.
    filters = [(k, v) for k, v in request.args.items(multi=True)
               if k not in ("offset", "limit", "f")]
    media_type = HTML if fmt == "html" else JSON
    links = self_links(_jobs_url(filters, offset, limit), fmt, "Jobs")
    if offset + limit < total:
        links.append({"rel": "next", "type": media_type,
                      "href": with_format(_jobs_url(filters, offset + limit, limit), fmt)})
    if offset > 0:
        links.append({"rel": "prev", "type": media_type,
                      "href": with_format(_jobs_url(filters, max(0, offset - limit), limit),
                                          fmt)})
    document = {"jobs": [status_info(job) for job in jobs], "numberMatched": total,
                "numberReturned": len(jobs), "links": links}
    return represent(fmt, document, "jobs.html", title="Jobs")


def _jobs_url(filters: list[tuple[str, str]], offset: int, limit: int) -> str:
    return f"{base_url()}/jobs?" + urlencode([*filters, ("limit", limit), ("offset", offset)])


@blueprint.get("/jobs/<jobid:job_id>")
def get_job(job_id: str) -> Response:
    fmt = negotiate()
    job = find_job(job_id)
    info = status_info(job, fmt)
    if job.is_final:  # what it used, in a few numbers (ccp.metrics.summary)
        info["statistics"] = manager().metering.statistics_of(job, manager().archives)
    return represent(fmt, info, "job.html", title=f"Job {job_id}")


@blueprint.delete("/jobs/<jobid:job_id>")
def delete_job(job_id: str) -> Response:
    fmt = negotiate()
    job = find_job(job_id)
    ccp_manager = manager()
    if job.is_final:
        ccp_manager.delete(job_id)
        info = status_info(job, fmt)
        info["message"] = "Deleted with its archive"
    else:
        info = status_info(ccp_manager.dismiss(job_id), fmt)
    return represent(fmt, info, "job.html", title=f"Job {job_id}")


@blueprint.post("/jobs/<jobid:job_id>/dismiss")
def dismiss_job(job_id: str) -> Response:
    """Dismiss a queued or running job; a finished one is left as it is (CCP extension: unlike
    DELETE, this never removes an archive, so a client racing the job's end loses nothing)."""
    job = find_job(job_id)
    return json_response(status_info(job if job.is_final else manager().dismiss(job_id)))
