"""What every route module shares: the manager of this app, who is asking, strict bodies and
query parameters, and the jobs and Methods a request may see."""

from __future__ import annotations

import json
from typing import Any

from flask import Response, current_app, g, request

from ccp import errors, safejson
from ccp.auth import ANONYMOUS, Requester
from ccp.jobs import Job
from ccp.manager import CCPManager
from ccp.model import Method

REL = "http://www.opengis.net/def/rel/ogc/1.0/"
MAX_INT = 2**31 - 1


def manager() -> CCPManager:
    return current_app.extensions["ccp"].manager


def base_url() -> str:
    return manager().base_url


def requester() -> Requester:
    """Who sent this request (set by the authentication hook in ccp.app)."""
    return g.get("ccp_requester", ANONYMOUS)


def json_response(data: Any, status: int = 200, headers: dict | None = None) -> Response:
    response = Response(json.dumps(data, indent=2, default=str), status,
                        mimetype="application/json")
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


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


def int_param(name: str, default: int, minimum: int, maximum: int | None = None) -> int:
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


def list_param(name: str, allowed: tuple[str, ...] | None = None) -> list[str] | None:
    """A comma-separated or repeated query parameter."""
    values = [v for raw in request.args.getlist(name) for v in raw.split(",") if v]
    if allowed:
        for value in values:
            if value not in allowed:
                raise errors.InvalidParameter(f"'{name}' must be one of {', '.join(allowed)}, "
                                              f"got {value[:40]!r}")
    return values or None


def visible_methods() -> dict[str, Method]:
    """The Methods this request may see (all of them with auth off or for an admin)."""
    registry = manager().registry
    who = requester()
    return registry.methods if who.sees_everything else registry.visible_to(who)


def visible_method(method_id: str) -> Method:
    # a file Method is public and wins over a deployed one of its id: no need to read those
    method = manager().registry.file_methods.get(method_id) or visible_methods().get(method_id)
    if method is None:
        raise errors.NoSuchProcess(method_id)
    return method


def find_job(job_id: str) -> Job:
    """A job this request may see; others' jobs answer 404, exactly as absent ones."""
    job = manager().get_job(job_id)
    if not requester().may_see_owner(job.owner):
        raise errors.NoSuchJob(job_id)
    return job


def finished_job(job_id: str) -> Job:
    """A job this request may see whose archive is stored."""
    job = find_job(job_id)
    if not job.is_final:
        raise errors.ResultNotReady(
            f"job '{job_id}' is {job.status}: its archive is not ready yet")
    if not job.stored:
        raise errors.ResultNotReady(f"job '{job_id}' has no stored archive: {job.message}")
    return job
