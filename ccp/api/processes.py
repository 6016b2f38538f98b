"""Methods as OGC processes: the list, one description, and execution."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, request
from werkzeug.wrappers import Response as WerkzeugResponse

from ccp import syncexec
from ccp.api.common import (
    REL,
    base_url,
    int_param,
    json_response,
    manager,
    read_json_body,
    requester,
    visible_method,
    visible_methods,
)
from ccp.api.jobs import status_info
from ccp.api.negotiation import JSON, negotiate, represent, self_links
from ccp.api.results import sync_answer
from ccp.model import Method

blueprint = Blueprint("processes", __name__)


def process_summary(method: Method, full: bool = False, fmt: str = "json") -> dict[str, Any]:
    registry = manager().registry
    description = method.to_dict()
    if not full:
        for key in ("inputs", "outputs", "additionalParameters"):
            description.pop(key, None)
    url = f"{base_url()}/processes/{method.id}"
    problem = manager().reachability.get(method.infrastructure_id)
    description["executable"] = registry.is_executable(method) and problem is None
    if not registry.is_executable(method):
        description["notExecutableBecause"] = (
            f"infrastructure '{method.infrastructure_id}' is not configured on this server")
    elif problem:
        description["notExecutableBecause"] = problem
    description["readOnly"] = registry.is_read_only(method.id)
    description["mutable"] = not description["readOnly"]  # Part 2's static indicator
    description["links"] = [
        *[_resolved(link, method) for link in method.raw.get("links", [])
          if link.get("rel") not in ("self", "alternate")],
        *self_links(url, fmt, method.title),
        {"rel": f"{REL}execute", "type": JSON, "href": f"{url}/execution",
         "title": f"Execute {method.title}"},
        {"rel": f"{REL}job-list", "type": JSON,
         "href": f"{base_url()}/jobs?processID={method.id}", "title": "Executions of it"},
    ]
    return description


def _resolved(link: dict[str, Any], method: Method) -> dict[str, Any]:
    """The Method's `compatibleWith` link ('infrastructures/<id>', relative to the server)
    as the absolute URL of that Infrastructure, so that it resolves from this document."""
    if link.get("rel") != "compatibleWith":
        return link
    return {**link, "type": JSON,
            "href": f"{base_url()}/infrastructures/{method.infrastructure_id}"}


@blueprint.get("/processes")
def list_processes() -> Response:
    fmt = negotiate()
    limit = int_param("limit", 1000, 1, 10000)
    methods = visible_methods()  # one read of the deployed Methods for the whole list
    ids = sorted(methods)[:limit]
    query = f"?limit={limit}" if "limit" in request.args else ""
    document = {
        "processes": [process_summary(methods[method_id]) for method_id in ids],
        "links": self_links(f"{base_url()}/processes{query}", fmt, "Processes"),
    }
    return represent(fmt, document, "processes.html", title="Processes")


@blueprint.get("/processes/<processid:process_id>")
def describe_process(process_id: str) -> Response:
    fmt = negotiate()
    description = process_summary(visible_method(process_id), full=True, fmt=fmt)
    return represent(fmt, description, "process.html", title=description["title"])


@blueprint.post("/processes/<processid:process_id>/execution")
def execute(process_id: str) -> WerkzeugResponse:
    """Queue a job; answer at once (201), or hold until it ends when the Method runs
    synchronously and the client does not prefer otherwise (ccp.syncexec)."""
    ccp_manager = manager()
    method = visible_method(process_id)
    body = read_json_body()
    preferences = syncexec.Preferences.parse(request.headers.getlist("Prefer"))
    hold = syncexec.hold_seconds(method.execution_modes, preferences,
                                 ccp_manager.sync_max_seconds)
    accepted = ccp_manager.accept(process_id, body, requester(), method=method)
    job_id = accepted.identifier
    if hold > 0:
        with ccp_manager.sync_holders.slot() as holding:
            job = ccp_manager.wait_final(job_id, hold) if holding else None
        if job is not None and job.is_final:
            response = sync_answer(job)
            if applied := syncexec.applied(preferences, answered_async=False):
                response.headers["Preference-Applied"] = applied
            return response
    location = f"{base_url()}/jobs/{job_id}"
    # the job as accepted: a worker may have taken it since, its status document says so
    return json_response(status_info(accepted), 201, {
        "Location": location,
        "Preference-Applied": "respond-async",
    })
