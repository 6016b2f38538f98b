"""A job's results over HTTP, as OGC API - Processes 1.0 answers them (its table of execute
responses, and "Retrieve job results").

`response: document` (and CCP's default when a request names no `response`): the results
document, application/json. `response: raw`: one output asked by value is the output itself,
with its media type; several are one multipart/related answer (RFC 2387), a part per output
with `Content-ID: <output id>`, an output asked by reference being an empty part with
`Content-Location`; outputs all asked by reference are a 204 with a `Link` header each
(rel .../results, title = output id). The same answer serves a synchronous execution, with a
`Link: <job>; rel=monitor` header. Each output is also at /jobs/{id}/results/{outputID}.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator

from flask import Blueprint, Response, request, stream_with_context
from werkzeug.wrappers import Response as WerkzeugResponse

from ccp import errors
from ccp.api.common import REL, base_url, find_job, json_response, manager
from ccp.api.downloads import send_download
from ccp.api.negotiation import JSON, negotiate, represent
from ccp.jobs import Job, JobStatus
from ccp.results import Part, Results

blueprint = Blueprint("results", __name__)
SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]")


@blueprint.get("/jobs/<jobid:job_id>/results")
def results(job_id: str) -> WerkzeugResponse:
    job = find_job(job_id)
    # A raw answer is the outputs themselves, in their own media types: only an explicit
    # f=html turns it into a page. A results document is negotiated as every resource is.
    raw = job.request.get("response") == "raw" and request.args.get("f") != "html"
    if not raw and negotiate() == "html":
        job = successful(job)
        return represent("html", results_of(job).document(), "results.html",
                         headers={"Link": link_header(job)}, title=f"Results of {job_id}",
                         job_id=job_id, links=result_links(job))
    return answer(successful(job))


@blueprint.get("/jobs/<jobid:job_id>/results/<output_id>")
def one_result(job_id: str, output_id: str) -> WerkzeugResponse:
    found = results_of(successful(find_job(job_id)))
    part = found.part(output_id)
    if part is None:
        raise errors.NotFound(
            f"job '{job_id}' has no output '{output_id[:64]}'"
            + (" (its files were not made)" if output_id in found.declared else ""),
            title="No such output")
    if part.key is not None:
        # The Method named the file: only safe characters reach the header.
        name = SAFE_NAME.sub("_", part.key.rsplit("/", 1)[-1])[:128] or output_id
        return send_download(manager().archives.download(job_id, part.key), part.media_type,
                             name if part.output.kind == "named" else f"{job_id}-{name}")
    return Response(stream_with_context(found.chunks(part)), mimetype=part.media_type,
                    headers={"Content-Disposition": f'attachment; filename="{output_id}.zip"'})


def successful(job: Job) -> Job:
    """The job, if it has results to give; the 1.0 exception otherwise."""
    if not job.is_final:
        raise errors.ResultNotReady(f"job '{job.identifier}' is {job.status}")
    if job.status != JobStatus.SUCCESSFUL:
        # The job's state, not the request, is at fault: 409 Conflict.
        raise errors.Conflict(f"job '{job.identifier}' is {job.status}: {job.message}",
                              title="Job failed" if job.status == JobStatus.FAILED
                              else "Job dismissed", jobID=job.identifier)
    if not job.stored:
        raise errors.ResultNotReady(f"job '{job.identifier}' has no stored archive: "
                                    f"{job.message}")
    return job


def results_of(job: Job) -> Results:
    ccp_manager = manager()
    return Results(ccp_manager.archives, job, f"{base_url()}/jobs/{job.identifier}",
                   ccp_manager.max_value_bytes)


def monitor_link(job: Job) -> str:
    return f'<{base_url()}/jobs/{job.identifier}>; rel=monitor; type="application/json"'


def sync_answer(job: Job) -> WerkzeugResponse:
    """The answer to a synchronous execution that has ended: its results, or the exception of
    its failure (as GET /jobs/{id}/results gives), linking the job either way."""
    try:
        successful(job)
    except errors.CCPError as err:
        err.headers["Link"] = monitor_link(job)
        raise
    response = answer(job)
    response.headers.add("Link", monitor_link(job))
    return response


def result_links(job: Job) -> list[dict[str, str]]:
    """What a results answer links, in its Link header (a results document has no member but
    outputs)."""
    url = f"{base_url()}/jobs/{job.identifier}"
    return [{"rel": "archive", "type": "application/zip", "href": f"{url}/archive"},
            {"rel": "outputs", "type": "application/zip", "href": f"{url}/outputs/output.zip"},
            {"rel": "provenance", "type": JSON, "href": f"{url}/provenance"},
            {"rel": "up", "type": JSON, "href": url}]


def link_header(job: Job) -> str:
    return ", ".join(f'<{link["href"]}>; rel="{link["rel"]}"; type="{link["type"]}"'
                     for link in result_links(job))


def answer(job: Job) -> WerkzeugResponse:
    found = results_of(job)
    links = link_header(job)
    if job.request.get("response") != "raw":
        return json_response(found.document(), headers={"Link": links})
    wanted = [(part, asked.transmission or "value") for asked in found.requested()
              if (part := found.part(asked.id)) is not None]
    if all(mode == "reference" for _, mode in wanted):
        response = Response(status=204)
        for part, _ in wanted:
            response.headers.add("Link", f'<{part.href}>; rel="{REL}results"; '
                                         f'type="{part.media_type}"; title="{part.id}"')
    elif len(wanted) == 1:
        part = wanted[0][0]
        response = Response(stream_with_context(found.chunks(part)), mimetype=part.media_type)
        if part.size is not None:
            response.headers["Content-Length"] = str(part.size)
    else:
        boundary = uuid.uuid4().hex
        response = Response(stream_with_context(_multipart(found, wanted, boundary)),
                            content_type=f'multipart/related; boundary="{boundary}"; '
                                         f'type="{wanted[0][0].media_type}"')
    response.headers.add("Link", links)
    return response


def _multipart(found: Results, wanted: list[tuple[Part, str]], boundary: str
               ) -> Iterator[bytes]:
    for part, mode in wanted:
        head = f"--{boundary}\r\nContent-ID: <{part.id}>\r\n"
        if mode == "reference":
            yield (head + f"Content-Location: {part.href}\r\n\r\n\r\n").encode()
            continue
        yield (head + f"Content-Type: {part.media_type}\r\n\r\n").encode()
        yield from found.chunks(part)
        yield b"\r\n"
    yield f"--{boundary}--\r\n".encode()
