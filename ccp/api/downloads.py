"""What an Execution left: the whole archive, its outputs, its provenance and its log."""

from __future__ import annotations

from flask import Blueprint, Response, redirect, request, stream_with_context
from werkzeug.wrappers import Response as WerkzeugResponse

from ccp import archive, errors, provenance
from ccp.api.common import find_job, finished_job, int_param, manager
from ccp.archive import Download

blueprint = Blueprint("downloads", __name__)


def send_download(download: Download, mimetype: str, filename: str) -> WerkzeugResponse:
    if manager().redirect_downloads and (url := download.presigned_url()):
        return redirect(url, 302)

    def chunks():
        with download.open() as stream:
            while chunk := stream.read(archive.CHUNK):
                yield chunk

    response = Response(stream_with_context(chunks()), mimetype=mimetype)
    response.headers["Content-Length"] = str(download.size)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@blueprint.get("/jobs/<jobid:job_id>/archive")
def download_archive(job_id: str) -> WerkzeugResponse:
    finished_job(job_id)
    archives = manager().archives
    if manager().redirect_downloads:
        return send_download(archives.whole_zip_download(job_id), "application/zip",
                     f"ccp-{job_id}.zip")
    response = Response(stream_with_context(archives.stream_zip(job_id)),
                        mimetype="application/zip")
    response.headers["Content-Disposition"] = f'attachment; filename="ccp-{job_id}.zip"'
    return response


@blueprint.get("/jobs/<jobid:job_id>/outputs/output.zip")
def download_outputs(job_id: str) -> WerkzeugResponse:
    finished_job(job_id)
    filename = f"{job_id}-output.zip"
    try:
        download = manager().archives.download(job_id, archive.OUTPUT_ZIP)
    except FileNotFoundError as err:
        raise errors.NotFound(f"{filename} is not in the archive") from err
    return send_download(download, "application/zip", filename)


@blueprint.get("/jobs/<jobid:job_id>/provenance")
def get_provenance(job_id: str) -> Response:
    finished_job(job_id)
    fmt = request.args.get("f", "json")
    if fmt not in provenance.FORMATS:
        raise errors.InvalidParameter(f"'f' must be one of {', '.join(provenance.FORMATS)}")
    prov_json = manager().archives.read_text(job_id, archive.PROVENANCE_JSON)
    try:
        converted = provenance.convert(prov_json, fmt)
    except provenance.ConversionFailed as err:
        raise errors.NotAcceptable(str(err)) from err
    return Response(converted, mimetype=provenance.FORMATS[fmt][1])


@blueprint.get("/jobs/<jobid:job_id>/logs")
def get_logs(job_id: str) -> Response:
    """The log so far; `?offset=N` gives it from byte N on, and `X-Log-Offset` says where the
    next read starts, so a follower reads each byte once."""
    job = find_job(job_id)
    offset = int_param("offset", 0, 0)
    data = manager().archives.log_bytes(job_id, job.is_final, offset)
    response = Response(data, mimetype="text/plain")
    response.headers["X-Log-Offset"] = str(offset + len(data))
    return response
