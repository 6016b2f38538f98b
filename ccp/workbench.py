"""The Workbench API: deploy, replace and undeploy Methods (OGC API - Processes Part 2),
import and re-execute Executions, and client code stubs."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from flask import Blueprint, Response, request

from ccp import apppkg, codegen, errors
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
from ccp.api.negotiation import JSON_ONLY, negotiate
from ccp.api.processes import process_summary
from ccp.jobcontrol import manifest
from ccp.model import DescriptorError, Method
from ccp.registry import ReadOnlyMethod, RegistryConflict

blueprint = Blueprint("workbench", __name__)

DEPLOY_MEDIA_TYPES = ("application/json", apppkg.MEDIA_TYPE)
SERVER_ADDED_LINKS = ("self", "alternate", "http://www.opengis.net/def/rel/ogc/1.0/execute",
                      "http://www.opengis.net/def/rel/ogc/1.0/job-list")


def method_from_body() -> Method:
    """A Method from a deploy/replace body: the Method JSON itself or an OGC Application
    Package (ccp.apppkg)."""
    check_content_type()
    body = read_json_body()
    if apppkg.is_package(body):
        body = apppkg.method_document(body, manager().registry.infrastructures)
    if isinstance(body, dict):
        # A file exported with GET /processes/{id} imports as it is.
        for server_added in ("executable", "readOnly", "mutable"):
            body.pop(server_added, None)
        if isinstance(body.get("links"), list):
            body["links"] = [_portable(link) for link in body["links"] if not (
                isinstance(link, dict) and link.get("rel") in SERVER_ADDED_LINKS)]
    try:
        method = Method.from_dict(body)
    except DescriptorError as err:
        raise errors.InvalidMethod(err.problems) from err
    check_may_deploy(method)
    try:
        ccp_manager = manager()
        ccp_manager.registry.check_deployable(method, ccp_manager.template_limits)
    except DescriptorError as err:
        raise errors.InvalidMethod(err.problems) from err
    return method


def _portable(link: Any) -> Any:
    """This server's absolute `compatibleWith` URL (as GET /processes/{id} gives it) back to
    the Method's own form, 'infrastructures/<id>', so that a stored Method names no server."""
    prefix = f"{base_url()}/infrastructures/"
    if isinstance(link, dict) and link.get("rel") == "compatibleWith" and \
            isinstance(link.get("href"), str) and link["href"].startswith(prefix):
        link = {**link, "href": "infrastructures/" + link["href"].removeprefix(prefix)}
    return link


def check_content_type() -> None:
    """Part 2: the Content-Type says what the body is; what CCP cannot read is a 415."""
    media = request.mimetype
    if media and media not in DEPLOY_MEDIA_TYPES:
        raise errors.UnsupportedMediaType(
            f"deploy a Method as {' or '.join(DEPLOY_MEDIA_TYPES)} (a CCP Method or an OGC "
            f"Application Package), not {media[:80]}"
            + ("; CWL is not supported" if "cwl" in media else ""))


def check_may_deploy(method: Method) -> None:
    """The deploy policy and the deployer's quota of Method versions."""
    ccp_manager, who = manager(), requester()
    ccp_manager.policy.check_may_deploy(who)
    infrastructure = ccp_manager.registry.infrastructures.get(method.infrastructure_id)
    if infrastructure is not None:
        ccp_manager.policy.check_may_run_user_method(who, infrastructure)
    quota = ccp_manager.policy.limits_of(who).method_versions
    if quota and ccp_manager.registry.store is not None and \
            ccp_manager.registry.store.count_owned(who.subject) >= quota:
        raise errors.Forbidden(f"you have deployed {quota} Method versions, the most your role "
                               "may keep", title="Method quota exceeded")


def may_change(method_id: str) -> None:
    """Only a deployed Method's owner (or anyone, with auth off) changes it."""
    registry = manager().registry
    visible_method(method_id)
    if registry.is_read_only(method_id):
        raise errors.ReadOnlyMethod(
            f"'{method_id}' is read-only: it is loaded from the methods folder")
    who = requester()
    owner = registry.owner_of(method_id)
    if owner and not who.sees_everything and owner != who.subject:
        raise errors.Forbidden(f"'{method_id}' belongs to another user")


def user_context() -> str | None:
    """The context a shared Method is shared with: the deployer's first context claim."""
    contexts = sorted(requester().contexts)
    return contexts[0] if contexts else None


@blueprint.post("/processes")
def deploy() -> Response:
    method = method_from_body()
    if manager().registry.is_read_only(method.id):
        # Part 2: the id of an immutable process answers 403 (file Methods are public).
        raise errors.ReadOnlyMethod(f"'{method.id}' is read-only: it is loaded from the "
                                    "methods folder; choose another id")
    try:
        manager().registry.deploy(method, requester().subject, user_context())
    except RegistryConflict as err:
        raise errors.DuplicateProcess(str(err)) from err
    location = f"{base_url()}/processes/{method.id}"
    return json_response(process_summary(method), 201, {"Location": location})


@blueprint.put("/processes/<processid:process_id>")
def replace(process_id: str) -> Response:
    may_change(process_id)
    method = method_from_body()
    if method.id != process_id:
        raise errors.InvalidParameter(
            f"the Method's id '{method.id}' differs from '{process_id}'")
    try:
        registry = manager().registry
        registry.replace(method, registry.owner_of(process_id), user_context())
    except RegistryConflict as err:
        raise errors.Conflict(str(err), title="Version exists") from err
    except ReadOnlyMethod as err:
        raise errors.ReadOnlyMethod(str(err)) from err
    return Response(status=204)


@blueprint.delete("/processes/<processid:process_id>")
def undeploy(process_id: str) -> Response:
    may_change(process_id)
    manager().registry.undeploy(process_id)
    return Response(status=204)


@blueprint.get("/processes/<processid:process_id>/versions")
def versions(process_id: str) -> Response:
    negotiate(JSON_ONLY)
    found = manager().registry.versions(process_id, requester())
    if not found:
        raise errors.NoSuchProcess(process_id)
    url = f"{base_url()}/processes/{process_id}/versions"
    return json_response({"id": process_id, "versions": [
        {"version": v, "href": f"{url}/{v}"} for v in found]})


@blueprint.get("/processes/<processid:process_id>/versions/<version>")
def version(process_id: str, version: str) -> Response:
    negotiate(JSON_ONLY)
    method = manager().registry.method_version(process_id, version, requester())
    if method is None:
        raise errors.NotFound(f"process '{process_id}' has no version '{version}'",
                              title="No such version")
    return json_response(method.to_dict())


@blueprint.get("/processes/<processid:process_id>/package")
def package(process_id: str) -> Response:
    """Part 2: the OGC Application Package that deploys this Method again."""
    response = json_response(apppkg.package_of(visible_method(process_id)))
    response.mimetype = apppkg.MEDIA_TYPE
    return response


@blueprint.post("/jobs/import")
def import_job() -> Response:
    ccp_manager, who = manager(), requester()
    limit = min(filter(None, (ccp_manager.policy.limits_of(who).import_bytes,
                              ccp_manager.max_import_bytes)))
    ccp_manager.admission.check_quota(who)
    request.max_content_length = limit + 1024 * 1024  # archives are bigger than API bodies
    upload = request.files.get("file")
    with tempfile.TemporaryDirectory(dir=manager().data_dir) as scratch:
        path = Path(scratch) / "upload.zip"
        if upload is not None:
            upload.save(path)
        else:
            with path.open("wb") as sink:
                while chunk := request.stream.read(1024 * 1024):
                    sink.write(chunk)
        if path.stat().st_size == 0:
            raise errors.MissingParameter(
                "send the archive zip as the body or as form field 'file'")
        if path.stat().st_size > limit:
            raise errors.PayloadTooLarge(f"archives are limited to {limit} bytes")
        job_id = ccp_manager.import_archive(path, who)
    return json_response(status_info(find_job(job_id)), 201,
                         {"Location": f"{base_url()}/jobs/{job_id}"})


@blueprint.post("/jobs/<jobid:job_id>/reexecute")
def reexecute(job_id: str) -> Response:
    find_job(job_id)
    choice = request.args.get("method", "same")
    if choice not in ("same", "latest"):
        raise errors.InvalidParameter("'method' must be 'same' (the version used) or 'latest'")
    new_id = manager().reexecute(job_id, latest=choice == "latest", requester=requester())
    return json_response(status_info(find_job(new_id)), 201,
                         {"Location": f"{base_url()}/jobs/{new_id}"})


def _stub(process_id: str, inputs: dict[str, Any], lang: str, title: str,
          infrastructure_id: str) -> Response:
    if lang not in codegen.LANGUAGES:
        raise errors.NotFound(f"stubs exist for {', '.join(codegen.LANGUAGES)}, not {lang!r}",
                              title="No such language")
    # the job control the Infrastructure's manifest offers, and nothing more
    offered = manifest.job_control(manager().registry.infrastructures.get(infrastructure_id))
    try:
        content, mimetype, filename = codegen.render_stub(lang, base_url(), process_id, inputs,
                                                          title, offered)
    except ValueError as err:
        raise errors.InvalidParameter(f"no stub can be made for these inputs: {err}") from err
    response = Response(content, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@blueprint.get("/jobs/<jobid:job_id>/code/<lang>")
def job_code(job_id: str, lang: str) -> Response:
    job = find_job(job_id)
    inputs = job.request.get("inputs") or {}
    return _stub(job.process_id, inputs, lang, job.method.get("title", ""),
                 job.infrastructure_id)


@blueprint.get("/processes/<processid:process_id>/code/<lang>")
def process_code(process_id: str, lang: str) -> Response:
    method = visible_method(process_id)
    fixed = {name for name, spec in method.inputs.items()
             if spec.get("schema", {}).get("readOnly")} | {"ccpreplicas"}
    inputs = {k: v for k, v in method.default_inputs().items() if k not in fixed}
    return _stub(process_id, inputs, lang, method.title, method.infrastructure_id)
