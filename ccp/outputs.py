"""A Method's outputs: which kind each is, the files named outputs keep, and what a request
may ask of them.

Three kinds of output:
- built-in: `output` (everything written to /ccp_data, zipped) and `stdout` / `stderr` (the
  execute script's streams);
- named: an output that declares `"path"`, a path or glob under /ccp_data (`points.geojson`,
  `tiles/*.tif`). At Fetch the matching files are kept in the archive (archive.named_output)
  and each named output is served on its own, with its media type: `schema.contentMediaType`,
  or `application/json` when there is none (the file then holds the value as JSON). A glob is
  matched like Python's fnmatch (`*` also crosses `/`) against paths relative to /ccp_data
  (to each replica's /ccp_data when there are several). One matching file is the output
  itself; several are served together as a zip (application/zip); none: the output is absent;
- any other declared output stands for the zip, as `output` does.

An execution request's `outputs` selects and shapes outputs (OGC API - Processes 1.0):
`{"<id>": {"transmissionMode": "value"|"reference", "format": {"mediaType": ...}}}`.
"""

from __future__ import annotations

import fnmatch
import hashlib
import re
import shutil
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from ccp import archive

ZIP = "application/zip"
TEXT = "text/plain"
JSON = "application/json"
BUILT_IN = {"output": ZIP, "stdout": TEXT, "stderr": TEXT}
TRANSMISSION_MODES = ("value", "reference")
MAX_PATTERN = 1024
REPLICA_DIR = re.compile(r"^replica-[0-9]+/")
# type/subtype, then parameters: it goes into HTTP headers as it is.
MEDIA_TYPE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}/[A-Za-z0-9!#$&^_.+*-]{1,127}"
                        r"(;[ ]?[A-Za-z0-9!#$&^_.+-]{1,64}=[A-Za-z0-9!#$&^_.+/:-]{1,128}){0,8}$")
# A named output's id is a URL path segment and a folder name in the archive.
OUTPUT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


class OutputRequestError(ValueError):
    """An execution request asks for outputs the Method does not have, or in a way it cannot
    give them."""


@dataclass(frozen=True)
class Output:
    id: str
    kind: str  # "built-in", "named" or "zip"
    media_type: str
    pattern: str = ""  # named outputs: the path or glob under /ccp_data
    literal: bool = False  # named outputs without contentMediaType: a JSON value
    binary: bool = False  # the schema says contentEncoding base64/binary


def media_type_of(value: Any) -> str:
    """The bare media type (no parameters), lower case."""
    return str(value or "").split(";")[0].strip().lower()


def is_json(media_type: str) -> bool:
    bare = media_type_of(media_type)
    return bare == JSON or bare.endswith("+json")


def normalize_pattern(pattern: str) -> str:
    return pattern.removeprefix("/ccp_data/").removeprefix("./")


def declared(method: dict[str, Any]) -> dict[str, Output]:
    """Every output of a Method (its descriptor as a dict), by id, in declaration order."""
    found: dict[str, Output] = {}
    for output_id, spec in (method.get("outputs") or {}).items():
        schema = _schema_of(spec)
        declared_type = schema.get("contentMediaType")
        binary = schema.get("contentEncoding") in ("base64", "binary")
        if output_id in BUILT_IN:
            found[output_id] = Output(output_id, "built-in", BUILT_IN[output_id])
        elif isinstance(spec.get("path"), str):
            found[output_id] = Output(
                output_id, "named", str(declared_type or JSON),
                normalize_pattern(spec["path"]), literal=not declared_type, binary=binary)
        else:
            found[output_id] = Output(output_id, "zip", str(declared_type or ZIP))
    return found


def _schema_of(spec: dict[str, Any]) -> dict[str, Any]:
    schema = spec.get("schema")
    return schema if isinstance(schema, dict) else {}


def check_descriptor(output_id: str, spec: dict[str, Any]) -> list[str]:
    """What is wrong with one output's `path` and media type, for DescriptorError."""
    where = f"output '{output_id}'"
    problems = []
    schema = _schema_of(spec)
    media = schema.get("contentMediaType")
    if media is not None and (not isinstance(media, str) or not MEDIA_TYPE.match(media)):
        problems.append(f"{where}: 'schema.contentMediaType' must be a media type, e.g. "
                        "text/csv or image/tiff; application=geotiff")
    if "path" not in spec:
        return problems
    pattern = spec["path"]
    if output_id in BUILT_IN:
        return [*problems, f"{where} is built in: it cannot have a 'path'"]
    if not OUTPUT_ID.match(output_id):
        problems.append(f"{where}: an output with a 'path' needs an id of letters, digits, "
                        "'.', '_', '-'")
    if not isinstance(pattern, str) or not pattern.strip():
        return [*problems, f"{where}: 'path' must be a non-empty string"]
    normal = normalize_pattern(pattern)
    parts = PurePosixPath(normal).parts
    if len(pattern) > MAX_PATTERN or "\0" in pattern or "\\" in pattern:
        problems.append(f"{where}: 'path' must be at most {MAX_PATTERN} characters, without "
                        "NUL or backslashes")
    elif normal.startswith("/") or not parts or ".." in parts:
        problems.append(f"{where}: 'path' must be relative to /ccp_data, without '..' "
                        f"(got {pattern[:80]!r})")
    return problems


def collect(method: dict[str, Any], fetched: Path, archive_dir: Path, replicas: int = 1
            ) -> tuple[list[dict[str, Any]], list[str]]:
    """Keep the files of every named output in the archive being written.

    Returns one record per kept file (output id, name relative to /ccp_data, size, sha256) and
    the ids of named outputs that matched no file.
    """
    files = sorted(path for path in fetched.rglob("*")
                   if path.is_file() and not path.is_symlink()) if fetched.is_dir() else []
    kept: list[dict[str, Any]] = []
    missing: list[str] = []
    for output in declared(method).values():
        if output.kind != "named":
            continue
        matched = 0
        for path in files:
            name = path.relative_to(fetched).as_posix()
            relative = REPLICA_DIR.sub("", name) if replicas > 1 else name
            if not fnmatch.fnmatchcase(relative, output.pattern):
                continue
            target = archive_dir / archive.named_output(output.id, name)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
            kept.append({"output": output.id, "name": name, "size": target.stat().st_size,
                         "sha256": _sha256(target)})
            matched += 1
        if not matched:
            missing.append(output.id)
    return kept, missing


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as data:
        while chunk := data.read(archive.CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass(frozen=True)
class Requested:
    """How a request wants one output."""

    id: str
    transmission: str | None  # None: the server chooses


def selection(method: dict[str, Any], request: dict[str, Any]) -> list[Requested]:
    """The outputs a request asks for, in its order (all declared ones when it names none);
    OutputRequestError on unknown ids, transmission modes or formats."""
    outputs = declared(method)
    asked = request.get("outputs")
    if not asked:
        return [Requested(output_id, None) for output_id in outputs]
    if not isinstance(asked, dict):
        raise OutputRequestError("'outputs' must be an object keyed by output id")
    unknown = sorted(set(asked) - set(outputs))
    if unknown:
        raise OutputRequestError(f"unknown output(s): {', '.join(o[:64] for o in unknown)}; "
                                 f"this process has {', '.join(outputs) or 'none'}")
    chosen = []
    for output_id, wanted in asked.items():
        if wanted is None:
            wanted = {}
        if not isinstance(wanted, dict):
            raise OutputRequestError(f"output '{output_id}' must be an object "
                                     "(transmissionMode, format)")
        mode = wanted.get("transmissionMode")
        if mode is not None and mode not in TRANSMISSION_MODES:
            raise OutputRequestError(f"output '{output_id}': 'transmissionMode' must be "
                                     f"'value' or 'reference', got {str(mode)[:40]!r}")
        _check_format(outputs[output_id], wanted.get("format"))
        chosen.append(Requested(output_id, mode))
    return chosen


def _check_format(output: Output, wanted: Any) -> None:
    if wanted is None:
        return
    if not isinstance(wanted, dict):
        raise OutputRequestError(f"output '{output.id}': 'format' must be an object")
    media = wanted.get("mediaType")
    if media is not None and media_type_of(media) != media_type_of(output.media_type):
        raise OutputRequestError(f"output '{output.id}' is only available as "
                                 f"{output.media_type}, not {str(media)[:80]!r}")
