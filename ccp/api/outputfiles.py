"""The files an Execution made: `/jobs/{id}/outputs` lists the members of its output.zip,
`/jobs/{id}/outputs/{path}` serves one of them (`/jobs/{id}/outputs/output.zip`, the whole
zip, is ccp.api.downloads').

A member is user data. Every answer carries `X-Content-Type-Options: nosniff` and a
Content-Security-Policy `sandbox` with nothing allowed, so even a member opened directly in
a browser runs no script; only types that cannot run anything (ccp.outputfiles.INLINE_TYPES) are
sent inline, everything else as an attachment.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO
from urllib.parse import quote

from flask import Blueprint, Response

from ccp import archive, errors, outputfiles
from ccp.api.common import base_url, finished_job, int_param, json_response, manager
from ccp.jobs import Job

blueprint = Blueprint("outputfiles", __name__)
DEFAULT_MAX_FILE_BYTES = 512 * 1024 * 1024
SANDBOX = "sandbox; default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'"


def links_of(job: Job) -> list[dict[str, str]]:
    if not (job.is_final and job.stored):
        return []
    return [{"rel": "outputs-list", "type": "application/json",
             "href": f"{base_url()}/jobs/{job.identifier}/outputs",
             "title": "The files inside output.zip, each at outputs/{path}"}]


def _zip_of(job_id: str) -> BinaryIO:
    finished_job(job_id)
    try:
        return manager().archives.open_seekable(job_id, archive.OUTPUT_ZIP)
    except FileNotFoundError as err:
        raise errors.NotFound(f"the archive of job '{job_id}' has no output.zip") from err


@blueprint.get("/jobs/<jobid:job_id>/outputs")
def list_outputs(job_id: str) -> Response:
    limit = int_param("limit", 1000, 1, 10000)
    offset = int_param("offset", 0, 0)
    finished_job(job_id)
    try:
        with manager().archives.open_seekable(job_id, archive.OUTPUT_ZIP) as stream:
            found = outputfiles.members(stream)
        zipped = True
    except FileNotFoundError:  # e.g. failed before Fetch: a finished job that made nothing
        found, zipped = [], False
    url = f"{base_url()}/jobs/{job_id}/outputs"
    page = found[offset:offset + limit]
    return json_response({
        "jobID": job_id,
        "numberMatched": len(found),
        "numberReturned": len(page),
        "totalBytes": sum(member.size for member in found),
        "files": [{**member.as_dict(), "href": f"{url}/{quote(member.name)}"}
                  for member in page],
        "links": [{"rel": "self", "type": "application/json", "href": url},
                  *([{"rel": "enclosure", "type": "application/zip",
                      "href": f"{url}/output.zip"}] if zipped else [])],
    })


@blueprint.get("/jobs/<jobid:job_id>/outputs/<path:path>")
def get_output(job_id: str, path: str) -> Response:
    outputfiles.checked_path(path)
    limit = int(manager().settings.get("max_output_file_bytes") or DEFAULT_MAX_FILE_BYTES)
    stream = _zip_of(job_id)
    try:
        member = outputfiles.find(stream, path)
    except BaseException:
        stream.close()
        raise
    if member.size > limit:
        stream.close()
        raise errors.PayloadTooLarge(
            f"{path[:200]!r} is {member.size} bytes, more than this server sends as one "
            f"file ({limit}): download output.zip instead")

    def chunks() -> Iterator[bytes]:
        with stream:
            yield from outputfiles.read(stream, path)

    inline = member.media_type in outputfiles.INLINE_TYPES
    text = member.media_type.startswith("text/") or member.media_type.endswith("json")
    response = Response(chunks(),  # needs no request context: it only reads the zip
                        content_type=member.media_type + ("; charset=utf-8" if text else ""))
    response.headers["Content-Length"] = str(member.size)
    filename = path.rsplit("/", 1)[-1]
    fallback = "".join(c if c.isascii() and c.isalnum() or c in "._-" else "_"
                       for c in filename) or "file"
    response.headers["Content-Disposition"] = (
        f"{'inline' if inline else 'attachment'}; filename=\"{fallback}\"; "
        f"filename*=UTF-8''{quote(filename)}")
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = SANDBOX
    response.headers["Cross-Origin-Resource-Policy"] = "same-origin"
    return response
