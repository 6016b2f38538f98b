"""The results of a successful job: each output found in its archive, then given by value or
by reference (OGC API - Processes 1.0, results.yaml).

By value, in a results document, an output is
- a named output without contentMediaType (a JSON value): the value itself, or
  `{"value": {...}, "mediaType": "application/json"}` when it is an object (not a bbox);
- JSON (application/json, */*+json): `{"value": <the JSON>, "mediaType": ...}`;
- text (text/*): `{"value": "<the text>", "mediaType": ...}`;
- anything else: `{"value": "<base64>", "mediaType": ..., "encoding": "base64"}`.
Only outputs of at most `max_value_bytes` go by value; larger ones, several files of one glob
and files that are not what their media type says go by reference: `{"href", "type"}`.
By default `stdout` and `stderr` go by value, everything else by reference.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from ccp import archive, inputschema, outputs, safejson
from ccp.archive import Archives
from ccp.jobs import Job


@dataclass(frozen=True)
class Part:
    """One output of one job, found in its archive."""

    output: outputs.Output
    media_type: str
    href: str  # where it is served on its own
    key: str | None  # the archive part holding it; None: several files, served as a zip
    size: int | None  # None: not known without making it

    @property
    def id(self) -> str:
        return self.output.id


class Results:
    """The outputs of one successful job."""

    def __init__(self, archives: Archives, job: Job, job_url: str, max_value_bytes: int
                 ) -> None:
        self.archives = archives
        self.job = job
        self.job_url = job_url
        self.max_value_bytes = max_value_bytes
        self.declared = outputs.declared(job.method)
        self._named: dict[str, list[str]] | None = None

    def requested(self) -> list[outputs.Requested]:
        """What the job's request asked for; all outputs if that cannot be read (an imported
        archive's request is not checked like a submitted one)."""
        try:
            return outputs.selection(self.job.method, self.job.request)
        except outputs.OutputRequestError:
            return [outputs.Requested(output_id, None) for output_id in self.declared]

    def part(self, output_id: str) -> Part | None:
        """Where one output is; None when the job has no such output or it was not made."""
        output = self.declared.get(output_id)
        if output is None:
            return None
        own_url = f"{self.job_url}/results/{output_id}"
        if output.kind == "built-in" and output_id != "output":
            key = archive.phase_log("execute", output_id)
            return Part(output, output.media_type, own_url, key, self._size(key) or 0)
        if output.kind != "named":
            return Part(output, outputs.ZIP, f"{self.job_url}/outputs/output.zip",
                        archive.OUTPUT_ZIP, self._size(archive.OUTPUT_ZIP))
        files = self.named().get(output_id, [])
        if len(files) == 1:
            key = archive.named_output(output_id, files[0])
            return Part(output, output.media_type, own_url, key, self._size(key))
        if files:
            return Part(output, outputs.ZIP, own_url, None, None)
        return None

    def named(self) -> dict[str, list[str]]:
        if self._named is None:
            self._named = self.archives.named_files(self.job.identifier)
        return self._named

    def _size(self, key: str) -> int | None:
        try:
            return self.archives.size(self.job.identifier, key)
        except FileNotFoundError:
            return None

    def chunks(self, part: Part) -> Iterator[bytes]:
        """The bytes of one output, streamed from the store."""
        if part.key is None:
            return self.archives.stream_zip(self.job.identifier,
                                            archive.named_output(part.id))
        return self._read(part.key)

    def _read(self, key: str) -> Iterator[bytes]:
        try:
            download = self.archives.download(self.job.identifier, key)
        except FileNotFoundError:
            return iter(())  # a log the script never wrote to: empty
        return _stream(download.open)

    def document(self) -> dict[str, Any]:
        """The results document (results.yaml) of the outputs the request asked for."""
        entries: dict[str, Any] = {}
        for wanted in self.requested():
            part = self.part(wanted.id)
            if part is None:
                continue
            mode = wanted.transmission or (
                "value" if part.output.kind == "built-in" and part.id != "output"
                else "reference")
            value = self.value_of(part) if mode == "value" else None
            entries[part.id] = value if value is not None else self.reference(part)
        return entries

    def reference(self, part: Part) -> dict[str, Any]:
        return {"href": part.href, "type": part.media_type}

    def value_of(self, part: Part) -> Any:
        """The output as an inline value, or None when it goes by reference."""
        if part.key is None or part.size is None or part.size > self.max_value_bytes:
            return None
        data = b"".join(self.chunks(part))
        media = part.media_type
        if part.output.literal or outputs.is_json(media):
            try:
                value = safejson.loads(data)
            except safejson.JSONRejected:
                return None  # not the JSON it should be: the file speaks for itself
            if part.output.literal and not (isinstance(value, dict) and not _is_bbox(value)):
                return value
            return {"value": value, "mediaType": media}
        if outputs.media_type_of(media).startswith("text/") and not part.output.binary:
            try:
                return {"value": data.decode("utf-8"), "mediaType": media}
            except UnicodeDecodeError:
                pass
        return {"value": base64.b64encode(data).decode("ascii"), "mediaType": media,
                "encoding": "base64"}


def _is_bbox(value: dict[str, Any]) -> bool:
    try:
        inputschema.check({"format": "ogc-bbox"}, value, "output")
    except inputschema.SchemaMismatch:
        return False
    return True


def _stream(open_: Callable[[], Any]) -> Iterator[bytes]:
    with open_() as stream:
        while chunk := stream.read(archive.CHUNK):
            yield chunk
