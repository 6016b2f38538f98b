"""CCP's job control routes: suspend, resume and extend a job; the health of an
Infrastructure; verify (admins). See ccp.jobcontrol."""

from __future__ import annotations

from flask import Blueprint, Response

from ccp import errors
from ccp.api.common import find_job, json_response, manager, read_json_body, requester
from ccp.api.jobs import status_info
from ccp.model import Infrastructure

blueprint = Blueprint("jobcontrol", __name__)


@blueprint.post("/jobs/<jobid:job_id>/suspend")
def suspend(job_id: str) -> Response:
    job, in_force = manager().jobcontrol.suspend(find_job(job_id), requester())
    return json_response(status_info(job), 200 if in_force else 202)


@blueprint.post("/jobs/<jobid:job_id>/resume")
def resume(job_id: str) -> Response:
    job, in_force = manager().jobcontrol.resume(find_job(job_id), requester())
    return json_response(status_info(job), 200 if in_force else 202)


@blueprint.post("/jobs/<jobid:job_id>/extend")
def extend(job_id: str) -> Response:
    job = find_job(job_id)
    body = read_json_body()
    if not isinstance(body, dict) or "seconds" not in body:
        raise errors.InvalidParameter('the body must be {"seconds": <integer>}')
    return json_response(status_info(manager().jobcontrol.extend(job, body["seconds"],
                                                                 requester())))


def infrastructure_of(infrastructure_id: str) -> Infrastructure:
    infrastructure = manager().registry.infrastructures.get(infrastructure_id)
    if infrastructure is None:
        raise errors.NotFound(f"there is no infrastructure '{infrastructure_id}'",
                              title="No such infrastructure")
    return infrastructure


def require_admin(what: str) -> None:
    if not requester().sees_everything:
        raise errors.Forbidden(f"only an admin may {what}")


@blueprint.get("/infrastructures/<infrastructure_id>/health")
def health(infrastructure_id: str) -> Response:
    infrastructure = infrastructure_of(infrastructure_id)
    return json_response(manager().health.document(infrastructure))


@blueprint.post("/infrastructures/<infrastructure_id>/health")
def check_health(infrastructure_id: str) -> Response:
    """Check now, the probe included (admins: a probe starts an instance)."""
    infrastructure = infrastructure_of(infrastructure_id)
    require_admin("start a health check")
    manager().health.check(infrastructure, probe=True)
    return json_response(manager().health.document(infrastructure))


@blueprint.post("/infrastructures/<infrastructure_id>/verify")
def verify(infrastructure_id: str) -> Response:
    infrastructure = infrastructure_of(infrastructure_id)
    require_admin("verify an infrastructure")
    return json_response(manager().verifier.verify(infrastructure))


@blueprint.get("/infrastructures/<infrastructure_id>/verify")
def verify_reports(infrastructure_id: str) -> Response:
    infrastructure = infrastructure_of(infrastructure_id)
    require_admin("read verify reports")
    return json_response({"infrastructure": infrastructure.id,
                          "reports": manager().verifier.reports(infrastructure)})
