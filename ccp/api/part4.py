"""OGC API - Processes Part 4 (draft 24-051): job management and provenance.

Job management: `POST /jobs` (create, status `created`), `PATCH /jobs/{id}` (change it, a JSON
merge patch), `POST /jobs/{id}/results` (start it), `GET /jobs/{id}/definition`.
Provenance: `GET /jobs/{id}/inputs` and `GET /jobs/{id}/prov`, in PROV-JSON by default and
PROV-O as JSON-LD, Turtle or N-Triples, PROV-XML or PROV-N by `Accept` or `f=`. Every route
sees only the requester's jobs (others' answer 404, exactly as absent ones).

Also here: the subscriber callbacks' bodies (status info and results document), bound to the
manager when the blueprint is registered on an app.
"""

from __future__ import annotations

from typing import Any, cast

from flask import Blueprint, Flask, Response, request
from flask.blueprints import BlueprintSetupState

from ccp import archive, errors, provenance
from ccp.api.common import (
    base_url,
    find_job,
    json_response,
    manager,
    read_json_body,
    requester,
    visible_method,
)
from ccp.api.jobs import status_info
from ccp.api.results import results_of
from ccp.jobmanagement import merge_patch
from ccp.jobs import Job
from ccp.model import ID_PATTERN, Method

blueprint = Blueprint("part4", __name__)

# Accept media type -> f= value (provenance.FORMATS); the first is the default.
PROV_MEDIA_TYPES = {
    "application/json": "json", "application/ld+json": "jsonld", "text/turtle": "ttl",
    "application/n-triples": "nt", "application/xml": "xml", "text/xml": "xml",
    "text/provenance-notation": "provn",
}
KNOWN_SCHEMAS = ("execute.yaml", "execute.json", "execute-workflows.yaml",
                 "execute-workflows.json")


@blueprint.record_once
def _bind_callback_bodies(state: BlueprintSetupState) -> None:
    app = cast(Flask, state.app)
    ccp_manager = app.extensions["ccp"].manager

    def render(job: Job, results: bool) -> dict[str, Any]:
        # A worker thread has no request: a made-up one gives the API's functions theirs.
        with app.test_request_context(base_url=ccp_manager.base_url):
            return results_of(job).document() if results else status_info(job)

    ccp_manager.callbacks.render = render


def part4_status(job: Job) -> dict[str, Any]:
    """The status info, with the members Part 4 adds (`id`, `process`)."""
    return {**status_info(job), "id": job.identifier,
            "process": f"{base_url()}/processes/{job.process_id}"}


def _definition_body() -> dict[str, Any]:
    if request.mimetype != "application/json" and not request.mimetype.endswith("+json"):
        raise errors.UnsupportedMediaType(
            f"a job definition is sent as application/json, not "
            f"{request.mimetype or 'without a Content-Type'}",
            type_=f"{errors.OGC_PART4_EXCEPTIONS}unsupported-media-type")
    schema = request.headers.get("Content-Schema", "").strip().rstrip("/")
    if schema and not schema.endswith(KNOWN_SCHEMAS):
        raise errors.UnsupportedSchema(
            f"Content-Schema {schema[:120]!r} is not supported: this server takes OGC API - "
            "Processes execute requests with a `process` URI (execute.yaml)")
    body = read_json_body()
    if not isinstance(body, dict):
        raise errors.InvalidParameter("a job definition is a JSON object")
    return body


def _process_of(definition: dict[str, Any]) -> Method:
    """The Method a definition's `process` names: `<this server>/processes/<id>`,
    `/processes/<id>` or a bare id."""
    process = definition.get("process")
    if process is None:
        raise errors.MissingParameter(
            f"'process' is required: the URI of the process to run, e.g. "
            f"{base_url()}/processes/hello-world")
    own = f"{base_url()}/processes/"
    if not isinstance(process, str):
        raise errors.InvalidParameter("'process' must be a URI string")
    for prefix in (own, "/processes/", ""):
        if process.startswith(prefix) and ID_PATTERN.match(process[len(prefix):]):
            return visible_method(process[len(prefix):])
    raise errors.InvalidParameter(f"'process' {process[:120]!r} is not a process of this "
                                  f"server: {own}<process id>")


@blueprint.post("/jobs")
def create_job() -> Response:
    definition = _definition_body()
    method = _process_of(definition)
    ccp_manager = manager()
    job_id = ccp_manager.job_management.create(method, definition, requester())
    return json_response(part4_status(ccp_manager.get_job(job_id)), 201,
                         {"Location": f"{base_url()}/jobs/{job_id}"})


@blueprint.patch("/jobs/<jobid:job_id>")
def update_job(job_id: str) -> Response:
    ccp_manager = manager()
    job = find_job(job_id)
    patch = _definition_body()  # a malformed request is refused whatever the job's state
    _check_patch_shape(patch)
    ccp_manager.job_management.check_created(job)
    definition = merge_patch(job.request, patch)
    if not isinstance(definition, dict):
        raise errors.InvalidParameter("a job definition is a JSON object")
    definition.setdefault("process", f"{base_url()}/processes/{job.process_id}")
    ccp_manager.job_management.update(job, _process_of(definition), definition, requester())
    return json_response(part4_status(ccp_manager.get_job(job_id)))


def _check_patch_shape(patch: dict[str, Any]) -> None:
    """The members a merge patch may hold, each a value of its kind or null (removed)."""
    kinds: dict[str, type] = {"process": str, "response": str, "inputs": dict,
                              "outputs": dict, "subscriber": dict}
    for key, value in patch.items():
        if key in kinds and value is not None and not isinstance(value, kinds[key]):
            raise errors.InvalidParameter(f"'{key}' must be "
                                          f"{'a string' if kinds[key] is str else 'an object'}"
                                          " or null")


@blueprint.post("/jobs/<jobid:job_id>/results")
def start_job(job_id: str) -> Response:
    ccp_manager = manager()
    ccp_manager.job_management.start(find_job(job_id), requester())
    return json_response(part4_status(ccp_manager.get_job(job_id)))


@blueprint.get("/jobs/<jobid:job_id>/definition")
def job_definition(job_id: str) -> Response:
    job = find_job(job_id)
    return json_response({"process": f"{base_url()}/processes/{job.process_id}",
                          **job.request})


@blueprint.get("/jobs/<jobid:job_id>/inputs")
def job_inputs(job_id: str) -> Response:
    """Every input the job ran (or will run) with, defaults included; inputs given by
    reference as they were given."""
    job = find_job(job_id)
    inputs = dict(job.inputs)
    given = job.request.get("inputs") or {}
    for name in {reference["name"] for reference in job.input_references or []}:
        inputs[name] = given.get(name, inputs.get(name))
    url = f"{base_url()}/jobs/{job_id}"
    return json_response({"inputs": inputs, "outputs": job.request.get("outputs") or {},
                          "links": [
                              {"rel": "self", "type": "application/json",
                               "href": f"{url}/inputs"},
                              {"rel": "up", "type": "application/json", "href": url}]})


@blueprint.get("/jobs/<jobid:job_id>/prov")
def job_prov(job_id: str) -> Response:
    job = find_job(job_id)
    fmt = _prov_format()
    if job.is_final and job.stored:
        stored = manager().archives.read_text(job_id, archive.PROVENANCE_JSON)
        try:
            text = provenance.convert(stored, fmt)
        except provenance.ConversionFailed as err:
            raise errors.NotAcceptable(str(err)) from err
    else:  # not run (yet): what is known now, an activity without an end
        text = provenance.serialize(provenance.build(_facts(job)), fmt)
    response = Response(text, mimetype=provenance.FORMATS[fmt][1])
    response.headers["Vary"] = "Accept"
    return response


def _prov_format() -> str:
    fmt = request.args.get("f")
    if fmt is not None:
        if fmt not in provenance.FORMATS:
            raise errors.InvalidParameter(
                f"'f' must be one of {', '.join(provenance.FORMATS)}")
        return fmt
    if not request.headers.get("Accept"):
        return "json"
    best = request.accept_mimetypes.best_match(list(PROV_MEDIA_TYPES))
    if best is None:
        raise errors.NotAcceptable(
            "provenance is served as " + ", ".join(PROV_MEDIA_TYPES) + " (or ask with f=)")
    return PROV_MEDIA_TYPES[best]


def _facts(job: Job) -> provenance.ProvenanceFacts:
    return provenance.ProvenanceFacts(
        job_id=job.identifier, base_url=base_url(), method=job.method,
        infrastructure=job.infrastructure, inputs=job.inputs,
        image=str(job.inputs.get("ccpimage", "")), status=job.status.value,
        started=job.started, ended=job.finished, user=job.claims,
        derived_from=job.derived_from, method_digest=job.method_digest or "",
        method_source=job.method_source or "file")
