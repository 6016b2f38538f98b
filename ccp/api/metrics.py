"""What executions used and how they went: `/jobs/{id}/metrics` (samples, live while it runs;
JSON or CSV), `/jobs/{id}/statistics` (the summary), `/statistics` (the overview page's
numbers) and `/metrics` (the operator metrics in Prometheus' text format)."""

from __future__ import annotations

import hmac
import os
from typing import Any

from flask import Blueprint, Response, current_app, request

from ccp import errors
from ccp.api.common import base_url, find_job, int_param, json_response, manager, requester
from ccp.auth import ADMIN_ROLE
from ccp.jobs import Job
from ccp.metrics import overview, prometheus, samples
from ccp.metrics.samples import epoch

blueprint = Blueprint("metrics", __name__)
FORMATS = {"json": "application/json", "csv": "text/csv"}
OVERVIEW_DAYS = 14


def links_of(job: Job) -> list[dict[str, str]]:
    """The links a job's status document gets to its metrics and statistics."""
    url = f"{base_url()}/jobs/{job.identifier}"
    return [
        {"rel": "statistics", "type": "application/json", "href": f"{url}/statistics",
         "title": "What the Execution used: CPU-seconds, peak memory, bytes, phases"},
        {"rel": "metrics", "type": "application/json", "href": f"{url}/metrics",
         "title": "Samples of every replica while it ran (?f=csv)"},
    ]


def _format() -> str:
    fmt = request.args.get("f")
    if fmt is None:
        best = request.accept_mimetypes.best_match(list(FORMATS.values()),
                                                   default=FORMATS["json"])
        return "csv" if best == FORMATS["csv"] else "json"
    if fmt not in FORMATS:
        raise errors.InvalidParameter(f"'f' must be one of {', '.join(FORMATS)}")
    return fmt


@blueprint.get("/jobs/<jobid:job_id>/metrics")
def job_metrics(job_id: str) -> Response:
    job = find_job(job_id)
    fmt = _format()
    after = int_param("after", -1, -1)
    ccp = manager()
    # the round `after` itself is read too: the CPU % of the next one needs it
    taken = ccp.metering.samples_of(job, ccp.archives, after - 1 if after >= 0 else -1)
    table = [row for row in samples.rows(taken) if row["seq"] > after]
    if fmt == "csv":
        response = Response(samples.table_csv(table), mimetype="text/csv")
        response.headers["Content-Disposition"] = f'inline; filename="{job_id}-metrics.csv"'
        return response
    url = f"{base_url()}/jobs/{job_id}"
    return json_response({
        "jobID": job_id,
        "status": job.status.value,
        "interval": ccp.metering.settings.interval,
        "columns": list(samples.COLUMNS),
        "samples": table,
        "phases": [phase.as_dict() for phase in ccp.metering.phases_of(job, ccp.archives)],
        "links": [
            {"rel": "self", "type": "application/json", "href": f"{url}/metrics"},
            {"rel": "alternate", "type": "text/csv", "href": f"{url}/metrics?f=csv"},
            {"rel": "statistics", "type": "application/json", "href": f"{url}/statistics"},
            {"rel": "up", "type": "application/json", "href": url},
        ],
    })


@blueprint.get("/jobs/<jobid:job_id>/statistics")
def job_statistics(job_id: str) -> Response:
    job = find_job(job_id)
    ccp = manager()
    url = f"{base_url()}/jobs/{job_id}"
    document: dict[str, Any] = {
        "jobID": job_id,
        "processID": job.process_id,
        "status": job.status.value,
        "infrastructure": job.infrastructure_id,
        "created": job.created,
        "started": job.started,
        "finished": job.finished,
        "queuedSeconds": _seconds_between(job.created, job.started),
        "durationSeconds": _seconds_between(job.started, job.finished),
        **ccp.metering.statistics_of(job, ccp.archives),
        "links": [
            {"rel": "self", "type": "application/json", "href": f"{url}/statistics"},
            {"rel": "metrics", "type": "application/json", "href": f"{url}/metrics"},
            {"rel": "up", "type": "application/json", "href": url},
        ],
    }
    return json_response(document)


def _seconds_between(start: str | None, end: str | None) -> float | None:
    try:
        return round(epoch(end) - epoch(start), 3) if start and end else None
    except ValueError:
        return None


@blueprint.get("/statistics")
def server_statistics() -> Response:
    """Executions per day by status, the queue and what runs where: a plain user's own
    executions, everything for an admin (or the one user of a server without auth)."""
    days = int_param("days", OVERVIEW_DAYS, 1, overview.MAX_DAYS)
    who = requester()
    ccp = manager()
    engine = ccp.store.engine
    owner = who.owner_filter
    running = overview.running_by_infrastructure(engine, owner)
    reachability = ccp.reachability
    infrastructures = [{
        "id": infrastructure_id,
        "type": infrastructure.type,
        "reachable": None if infrastructure_id not in reachability
        else reachability[infrastructure_id] is None,
        "running": running.get(infrastructure_id, 0),
    } for infrastructure_id, infrastructure in sorted(ccp.registry.infrastructures.items())]
    return json_response({
        "scope": "all" if who.sees_everything else "own",
        "days": overview.per_day(engine, days, owner),
        "queued": overview.queued(engine, owner),
        "running": running,
        "infrastructures": infrastructures,
        "links": [{"rel": "self", "type": "application/json",
                   "href": f"{base_url()}/statistics"}],
    })


@blueprint.get("/metrics")
def prometheus_metrics() -> Response:
    """Operator metrics. With auth on: an admin's token, or the scrape token."""
    ccp = manager()
    if not ccp.metering.settings.prometheus:
        raise errors.NotFound("the operator metrics are turned off on this server "
                              "(metrics.prometheus)")
    _check_scraper(ccp.metering.settings.scrape_token_env)
    return Response(prometheus.exposition(ccp.metering.registry),
                    content_type=prometheus.CONTENT_TYPE)


def _check_scraper(token_env: str) -> None:
    auth = current_app.extensions["ccp"].auth
    if not auth.enabled:
        return
    header = request.headers.get("Authorization") or ""
    scrape_token = os.environ.get(token_env, "")
    if scrape_token and hmac.compare_digest(header.encode(),
                                            f"Bearer {scrape_token}".encode()):
        return
    if auth.requester(header).role != ADMIN_ROLE:
        raise errors.Forbidden("the operator metrics are for admins and scrapers")
