"""OGC API - Processes endpoints for Methods and Executions, plus CCP's own.

pygeoapi serves the landing page, conformance and OpenAPI; CCP serves processes and jobs
itself because it is async-only, filters jobs, and answers every error with an OGC exception
(type, title, status, detail).
"""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, Response, current_app, redirect, request, stream_with_context
from pygeoapi.api import CONFORMANCE_CLASSES as pygeoapi_core_classes
from pygeoapi.api import APIRequest
from pygeoapi.api import landing_page as pygeoapi_landing_page
from pygeoapi.process.base import JobNotFoundError

from ccp import archive, errors, provenance, safejson
from ccp.auth import ANONYMOUS, Requester
from ccp.jobstore import FINAL_STATUSES
from ccp.manager import CCPManager
from ccp.model import ID_PATTERN, Method
from ccp.openapi import document as openapi_document

blueprint = Blueprint("ccp", __name__)

JOB_STATUSES = ("accepted", "running", "successful", "failed", "dismissed")
REL = "http://www.opengis.net/def/rel/ogc/1.0/"


def manager() -> CCPManager:
    return current_app.extensions["ccp"].manager


def base_url() -> str:
    return manager().base_url


def json_response(data: Any, status: int = 200, headers: dict | None = None) -> Response:
    response = Response(json.dumps(data, indent=2, default=str), status,
                        mimetype="application/json")
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def _pygeoapi(function: Any) -> Response:
    api = current_app.extensions["ccp"].api
    api_request = APIRequest.from_flask(request, api.locales)
    if not api_request.is_valid():
        headers, status, content = api.get_format_exception(api_request)
    else:
        headers, status, content = function(api, api_request)
    response = Response(content, status)
    for key, value in headers.items():
        response.headers[key] = value
    return response


@blueprint.get("/")
def landing() -> Response:
    # Browsers get the web pages; OGC clients (Accept: application/json or */*) get JSON.
    if "f" not in request.args and request.accept_mimetypes.best_match(
            ["application/json", "text/html"]) == "text/html":
        return redirect("/ui/", 303)
    return _pygeoapi(pygeoapi_landing_page)


CONFORMANCE = [
    *pygeoapi_core_classes,
    "http://www.opengis.net/spec/ogcapi-processes-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-processes-1/1.0/conf/ogc-process-description",
    "http://www.opengis.net/spec/ogcapi-processes-1/1.0/conf/json",
    "http://www.opengis.net/spec/ogcapi-processes-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-processes-1/1.0/conf/job-list",
    "http://www.opengis.net/spec/ogcapi-processes-1/1.0/conf/dismiss",
    "http://www.opengis.net/spec/ogcapi-processes-2/1.0/conf/deploy-replace-undeploy",
    "http://www.opengis.net/spec/ogcapi-processes-2/1.0/conf/ogcapppkg",
]


@blueprint.get("/conformance")
def conformance() -> Response:
    return json_response({"conformsTo": sorted(set(CONFORMANCE))})


@blueprint.get("/openapi")
def openapi() -> Response:
    context = current_app.extensions["ccp"]
    title = context.config.get("metadata", {}).get("identification", {}).get("title", "CCP")
    return json_response(openapi_document(base_url(), str(title), context.auth.enabled))


# --- processes ---------------------------------------------------------------------------------

MAX_INT = 2**31 - 1


def _int_param(name: str, default: int, minimum: int, maximum: int | None = None) -> int:
    """An integer query parameter; above `maximum` it is clamped (OGC paging rules)."""
    raw = request.args.get(name)
    if raw is None:
        return default
    if not raw.strip().lstrip("+-").isdigit() or len(raw) > 12:
        raise errors.InvalidParameter(f"'{name}' must be an integer, got {raw[:40]!r}")
    value = int(raw)
    if value < minimum or value > MAX_INT:
        raise errors.InvalidParameter(
            f"'{name}' must be between {minimum} and {MAX_INT}, got {value}")
    return min(value, maximum) if maximum else value


def requester() -> Requester:
    """Who sent this request (set by the authentication hook in ccp.app)."""
    return getattr(request, "ccp_requester", ANONYMOUS)


def visible_methods() -> dict[str, Method]:
    """The Methods this request may see (all of them with auth off or for an admin)."""
    registry = manager().registry
    who = requester()
    return registry.methods if who.sees_everything else registry.visible_to(who)


def visible_method(method_id: str) -> Method:
    method = visible_methods().get(method_id)
    if method is None:
        raise errors.NoSuchProcess(method_id)
    return method


def process_summary(method: Method, full: bool = False) -> dict[str, Any]:
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
    description["links"] = [
        *[link for link in method.raw.get("links", []) if link.get("rel") != "self"],
        {"rel": "self", "type": "application/json", "href": url, "title": method.title},
        {"rel": f"{REL}execute", "type": "application/json", "href": f"{url}/execution",
         "title": f"Execute {method.title}"},
        {"rel": f"{REL}job-list", "type": "application/json",
         "href": f"{base_url()}/jobs?processID={method.id}", "title": "Executions of it"},
    ]
    return description


@blueprint.get("/processes")
def list_processes() -> Response:
    limit = _int_param("limit", 1000, 1, 10000)
    methods = visible_methods()  # one read of the deployed Methods for the whole list
    ids = sorted(methods)[:limit]
    return json_response({
        "processes": [process_summary(methods[method_id]) for method_id in ids],
        "links": [{"rel": "self", "type": "application/json",
                   "href": f"{base_url()}/processes"}],
    })


@blueprint.get("/processes/<processid:process_id>")
def describe_process(process_id: str) -> Response:
    return json_response(process_summary(visible_method(process_id), full=True))


def read_json_body() -> Any:
    """The request body as JSON within CCP's bounds (depth, numbers, no NUL): 4xx otherwise."""
    if request.content_length is not None and request.max_content_length is not None \
            and request.content_length > request.max_content_length:
        raise errors.PayloadTooLarge(
            f"the request body is larger than {request.max_content_length} bytes")
    raw = request.get_data(cache=True)
    if not raw:
        raise errors.MissingParameter("the request body is empty: send a JSON document")
    try:
        return safejson.loads(raw, manager().json_limits)
    except safejson.JSONRejected as err:
        raise errors.InvalidParameter(f"the request body was refused: {err}") from err


@blueprint.post("/processes/<processid:process_id>/execution")
def execute(process_id: str) -> Response:
    ccp_manager = manager()
    method = visible_method(process_id)
    body = read_json_body()
    job_id = ccp_manager.submit(process_id, body, requester(), method=method)
    location = f"{base_url()}/jobs/{job_id}"
    return json_response(status_info(ccp_manager.get_job(job_id)), 201, {
        "Location": location,
        "Preference-Applied": "respond-async",
    })


# --- jobs --------------------------------------------------------------------------------------

def status_info(job: dict[str, Any]) -> dict[str, Any]:
    url = f"{base_url()}/jobs/{job['identifier']}"
    info = {
        "type": "process",
        "processID": job["process_id"],
        "processVersion": job["process_version"],
        "jobID": job["identifier"],
        "status": job["status"],
        "message": job["message"],
        "progress": job["progress"],
        "created": job["created"],
        "started": job["started"],
        "finished": job["finished"],
        "updated": job["updated"],
        "infrastructure": job["infrastructure_id"],
        "image": (job.get("inputs") or {}).get("ccpimage"),
        "links": [
            {"rel": "self", "type": "application/json", "href": url},
            {"rel": "up", "type": "application/json", "href": f"{base_url()}/jobs"},
            {"rel": "logs", "type": "text/plain", "href": f"{url}/logs"},
        ],
    }
    if job.get("derived_from"):
        info["derivedFrom"] = job["derived_from"]
    if job.get("method_digest"):
        # Which Method ran, by content; `archive`: an imported Execution's own Method, which
        # is not this server's process of that id and version.
        info["method"] = {"digest": job["method_digest"],
                          "source": job.get("method_source") or "file"}
    if job["status"] in FINAL_STATUSES and job.get("stored"):
        info["links"] += [
            {"rel": "archive", "type": "application/zip", "href": f"{url}/archive",
             "title": "The whole Execution archive"},
            {"rel": "provenance", "type": "application/json", "href": f"{url}/provenance",
             "title": "PROV-JSON record (?f=ttl, xml, provn)"},
        ]
    if job["status"] == "successful":
        info["links"].append({"rel": f"{REL}results", "type": "application/json",
                              "href": f"{url}/results"})
    return info


def _list_param(name: str, allowed: tuple[str, ...] | None = None) -> list[str] | None:
    values = [v for raw in request.args.getlist(name) for v in raw.split(",") if v]
    if allowed:
        for value in values:
            if value not in allowed:
                raise errors.InvalidParameter(f"'{name}' must be one of {', '.join(allowed)}, "
                                              f"got {value[:40]!r}")
    return values or None


@blueprint.get("/jobs")
def list_jobs() -> Response:
    limit = _int_param("limit", 10, 1, 1000)
    offset = _int_param("offset", 0, 0)
    statuses = _list_param("status", JOB_STATUSES)
    process_ids = _list_param("processID")
    for process_id in process_ids or []:
        if not ID_PATTERN.match(process_id):
            raise errors.InvalidParameter(f"'processID' {process_id[:40]!r} is not a process id")
    jobs, total = manager().store.list(status=statuses, process_id=process_ids, limit=limit,
                                       offset=offset, owner=requester().owner_filter)
    query = {k: v for k, v in request.args.items(multi=True) if k not in ("offset", "limit")}
    links = [{"rel": "self", "type": "application/json", "href": _jobs_url(query, offset, limit)}]
    if offset + limit < total:
        links.append({"rel": "next", "type": "application/json",
                      "href": _jobs_url(query, offset + limit, limit)})
    if offset > 0:
        links.append({"rel": "prev", "type": "application/json",
                      "href": _jobs_url(query, max(0, offset - limit), limit)})
    return json_response({"jobs": [status_info(job) for job in jobs], "numberMatched": total,
                          "numberReturned": len(jobs), "links": links})


def _jobs_url(query: dict[str, str], offset: int, limit: int) -> str:
    from urllib.parse import urlencode

    return f"{base_url()}/jobs?" + urlencode({**query, "limit": limit, "offset": offset})


def find_job(job_id: str) -> dict[str, Any]:
    """A job this request may see; others' jobs answer 404, exactly as absent ones."""
    try:
        job = manager().get_job(job_id)
    except JobNotFoundError as err:
        raise errors.NoSuchJob(job_id) from err
    if not requester().may_see_owner(job.get("owner")):
        raise errors.NoSuchJob(job_id)
    return job


@blueprint.get("/jobs/<jobid:job_id>")
def get_job(job_id: str) -> Response:
    return json_response(status_info(find_job(job_id)))


@blueprint.delete("/jobs/<jobid:job_id>")
def delete_job(job_id: str) -> Response:
    job = find_job(job_id)
    ccp_manager = manager()
    if job["status"] in FINAL_STATUSES:
        ccp_manager.delete(job_id)
        info = status_info(job)
        info["message"] = "Deleted with its archive"
        return json_response(info)
    return json_response(status_info(ccp_manager.dismiss(job_id)))


def finished_job(job_id: str) -> dict[str, Any]:
    job = find_job(job_id)
    if job["status"] not in FINAL_STATUSES:
        raise errors.ResultNotReady(
            f"job '{job_id}' is {job['status']}: its archive is not ready yet")
    if not job.get("stored"):
        raise errors.ResultNotReady(f"job '{job_id}' has no stored archive: {job['message']}")
    return job


@blueprint.get("/jobs/<jobid:job_id>/results")
def results(job_id: str) -> Response:
    job = find_job(job_id)
    if job["status"] in ("accepted", "running"):
        raise errors.ResultNotReady(f"job '{job_id}' is {job['status']}")
    if job["status"] != "successful":
        # The job's state, not the request, is at fault: 409 Conflict.
        raise errors.Conflict(f"job '{job_id}' is {job['status']}: {job['message']}",
                              title="Job failed" if job["status"] == "failed" else "Job dismissed")
    url = f"{base_url()}/jobs/{job_id}"
    link = (f'<{url}/archive>; rel="archive"; type="application/zip", '
            f'<{url}/outputs/output.zip>; rel="outputs"; type="application/zip", '
            f'<{url}/provenance>; rel="provenance"; type="application/json"')
    document = manager().results(job)
    document["links"] = [
        {"rel": "archive", "type": "application/zip", "href": f"{url}/archive"},
        {"rel": "outputs", "type": "application/zip", "href": f"{url}/outputs/output.zip"},
        {"rel": "provenance", "type": "application/json", "href": f"{url}/provenance"},
    ]
    return json_response(document, headers={"Link": link})


def _stream(key: str, mimetype: str, filename: str) -> Response:
    storage = manager().storage
    try:
        size = storage.size(key)
    except FileNotFoundError as err:
        raise errors.NotFound(f"{filename} is not in the archive") from err
    if manager().redirect_downloads and (url := storage.presigned_url(key)):
        return redirect(url, 302)

    def chunks():
        with storage.open(key) as stream:
            while chunk := stream.read(archive.CHUNK):
                yield chunk

    response = Response(stream_with_context(chunks()), mimetype=mimetype)
    response.headers["Content-Length"] = str(size)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@blueprint.get("/jobs/<jobid:job_id>/archive")
def download_archive(job_id: str) -> Response:
    finished_job(job_id)
    ccp_manager = manager()
    if ccp_manager.redirect_downloads:
        key = archive.materialize_zip(ccp_manager.storage, job_id, ccp_manager.data_dir / "tmp")
        return _stream(key, "application/zip", f"ccp-{job_id}.zip")
    response = Response(stream_with_context(archive.stream_zip(ccp_manager.storage, job_id)),
                        mimetype="application/zip")
    response.headers["Content-Disposition"] = f'attachment; filename="ccp-{job_id}.zip"'
    return response


@blueprint.get("/jobs/<jobid:job_id>/outputs/output.zip")
def download_outputs(job_id: str) -> Response:
    finished_job(job_id)
    return _stream(f"{archive.prefix_of(job_id)}/{archive.OUTPUT_ZIP}", "application/zip",
                   f"{job_id}-output.zip")


@blueprint.get("/jobs/<jobid:job_id>/provenance")
def get_provenance(job_id: str) -> Response:
    finished_job(job_id)
    fmt = request.args.get("f", "json")
    if fmt not in provenance.FORMATS:
        raise errors.InvalidParameter(f"'f' must be one of {', '.join(provenance.FORMATS)}")
    key = f"{archive.prefix_of(job_id)}/metadata/provenance.json"
    prov_json = manager().storage.read_bytes(key).decode()
    try:
        converted = provenance.convert(prov_json, fmt)
    except provenance.ConversionFailed as err:
        raise errors.NotAcceptable(str(err)) from err
    return Response(converted, mimetype=provenance.FORMATS[fmt][1])


@blueprint.get("/jobs/<jobid:job_id>/logs")
def get_logs(job_id: str) -> Response:
    job = find_job(job_id)
    ccp_manager = manager()
    live = ccp_manager.data_dir / "work" / job_id / "archive" / "logs" / "execution.log"
    key = f"{archive.prefix_of(job_id)}/logs/execution.log"
    if job["status"] in FINAL_STATUSES and ccp_manager.storage.exists(key):
        text = ccp_manager.storage.read_bytes(key).decode("utf-8", "replace")
    elif live.exists():
        text = live.read_text(encoding="utf-8", errors="replace")
    else:
        text = ""
    return Response(text, mimetype="text/plain")


# --- infrastructures ---------------------------------------------------------------------------

def infrastructure_document(infrastructure_id: str) -> dict[str, Any]:
    infrastructure = manager().registry.infrastructures.get(infrastructure_id)
    if infrastructure is None:
        raise errors.NotFound(f"there is no infrastructure '{infrastructure_id}'",
                              title="No such infrastructure")
    document = infrastructure.to_dict()
    checked = manager().reachability
    document["reachable"] = None if infrastructure.id not in checked else (
        checked[infrastructure.id] is None)
    if checked.get(infrastructure.id):
        document["problem"] = checked[infrastructure.id]
    document["links"] = [{"rel": "self", "type": "application/json",
                          "href": f"{base_url()}/infrastructures/{infrastructure.id}"}]
    return document


@blueprint.get("/infrastructures")
def list_infrastructures() -> Response:
    ids = sorted(manager().registry.infrastructures)
    return json_response({
        "infrastructures": [infrastructure_document(i) for i in ids],
        "links": [{"rel": "self", "type": "application/json",
                   "href": f"{base_url()}/infrastructures"}],
    })


@blueprint.get("/infrastructures/<infrastructure_id>")
def get_infrastructure(infrastructure_id: str) -> Response:
    return json_response(infrastructure_document(infrastructure_id))
