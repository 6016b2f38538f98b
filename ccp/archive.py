"""The Execution archive: what ran, with what, for whom, and what came out.

Layout (the same in the store, in the downloadable zip and in an imported zip):
    metadata/request.json  method.json  infrastructure.json  instance.json  status.json
    metadata/provenance.json  provenance.ttl
    auth/jwt.json
    outputs/output.zip        everything the method wrote to /ccp_data
    logs/execution.log        every line with time, phase, replica and stream
    logs/<phase>.stdout.log   logs/<phase>.stderr.log
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ccp import safejson
from ccp.storage.base import Storage

OUTPUT_ZIP = "outputs/output.zip"
CHUNK = 1024 * 1024


def prefix_of(job_id: str) -> str:
    return f"executions/{job_id}"


def export_prefix_of(job_id: str) -> str:
    """Where a whole-archive zip is kept when downloads redirect to the store."""
    return f"exports/{job_id}"


def write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")


def zip_outputs(source: Path, destination: Path) -> list[dict[str, Any]]:
    """Zip the fetched /ccp_data tree; return name, size and sha256 of every file in it."""
    files = []
    destination.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(destination, "w", zipfile.ZIP_DEFLATED, allowZip64=True) as archive:
        for path in sorted(source.rglob("*")):
            if path.is_symlink() or not path.is_file():
                continue
            name = path.relative_to(source).as_posix()
            digest = hashlib.sha256()
            with path.open("rb") as data, archive.open(name, "w", force_zip64=True) as member:
                while chunk := data.read(CHUNK):
                    digest.update(chunk)
                    member.write(chunk)
            files.append({"name": name, "size": path.stat().st_size,
                          "sha256": digest.hexdigest()})
    return files


class _ChunkSink:
    """A write-only file object whose bytes are taken out as chunks by a generator."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = []
        self.offset = 0

    def write(self, data: bytes) -> int:
        self.chunks.append(bytes(data))
        self.offset += len(data)
        return len(data)

    def tell(self) -> int:
        return self.offset

    def flush(self) -> None:
        pass

    def take(self) -> bytes:
        data, self.chunks = b"".join(self.chunks), []
        return data


def stream_zip(storage: Storage, job_id: str) -> Iterator[bytes]:
    """The whole archive as one zip, streamed from the store without holding it in memory."""
    prefix = prefix_of(job_id)
    sink = _ChunkSink()
    with zipfile.ZipFile(sink, "w", zipfile.ZIP_DEFLATED, allowZip64=True) as archive:
        for name in storage.list(prefix):
            compression = zipfile.ZIP_STORED if name.endswith(".zip") else zipfile.ZIP_DEFLATED
            info = zipfile.ZipInfo(name, date_time=(2000, 1, 1, 0, 0, 0))
            info.compress_type = compression
            info.external_attr = 0o644 << 16
            with storage.open(f"{prefix}/{name}") as data, \
                    archive.open(info, "w", force_zip64=True) as member:
                while chunk := data.read(CHUNK):
                    member.write(chunk)
                    yield sink.take()
            yield sink.take()
    yield sink.take()


def materialize_zip(storage: Storage, job_id: str, scratch: Path) -> str:
    """Store the whole archive as one zip (once) and return its key."""
    key = f"{export_prefix_of(job_id)}/ccp-{job_id}.zip"
    if storage.exists(key):
        return key
    folder = scratch / f"export-{job_id}"
    folder.mkdir(parents=True, exist_ok=True)
    try:
        with (folder / f"ccp-{job_id}.zip").open("wb") as target:
            for chunk in stream_zip(storage, job_id):
                target.write(chunk)
        storage.put_tree(export_prefix_of(job_id), folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return key


def directory_size(path: Path) -> int:
    return sum(os.path.getsize(p) for p in path.rglob("*") if p.is_file())


# --- import: archives are untrusted ------------------------------------------------------------

ALLOWED_TOP = ("metadata", "auth", "outputs", "logs")
REQUIRED = ("metadata/request.json", "metadata/method.json", "metadata/infrastructure.json",
            "metadata/status.json")
MAX_ENTRIES = 10000


class ArchiveRejected(ValueError):
    """The uploaded archive is not an acceptable CCP Execution archive."""


def check_entry_name(name: str) -> str:
    """Reject every path that could land outside the extraction folder."""
    if not name or "\\" in name or "\0" in name:
        raise ArchiveRejected(f"entry {name!r}: invalid characters in the path")
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        raise ArchiveRejected(f"entry {name!r}: absolute paths are not allowed")
    parts = name.rstrip("/").split("/")
    if any(part in ("", ".", "..") for part in parts):
        raise ArchiveRejected(f"entry {name!r}: '..', '.' and empty path parts are not allowed")
    if parts[0] not in ALLOWED_TOP:
        raise ArchiveRejected(f"entry {name!r}: only {', '.join(ALLOWED_TOP)}/ are allowed")
    return name


def extract_import(zip_path: Path, destination: Path, max_bytes: int,
                   json_limits: safejson.JSONLimits = safejson.DEFAULT_LIMITS) -> dict[str, Any]:
    """Validate and extract an Execution archive; return its parsed metadata files."""
    try:
        _extract(zip_path, destination, max_bytes)
    except ArchiveRejected:
        raise
    # A zip can be broken in many ways that only show while reading it (bad CRC, truncated
    # or unknown compression): each is the upload's fault.
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, EOFError,
            zlib.error, ValueError, IsADirectoryError, NotADirectoryError,
            FileExistsError) as err:
        raise ArchiveRejected(f"the zip file is damaged: {err}") from err
    parsed = {}
    for name in REQUIRED:
        try:
            parsed[name.split("/")[1][:-5]] = safejson.loads((destination / name).read_bytes(),
                                                             json_limits)
        except safejson.JSONRejected as err:
            raise ArchiveRejected(f"{name} is refused: {err}") from err
    status = parsed["status"]
    if not isinstance(status, dict) or status.get("status") not in (
            "successful", "failed", "dismissed"):
        raise ArchiveRejected("metadata/status.json must hold a final 'status' "
                              "(successful, failed or dismissed)")
    if not isinstance(parsed["request"], dict):
        raise ArchiveRejected("metadata/request.json must be a JSON object")
    return parsed


def _extract(zip_path: Path, destination: Path, max_bytes: int) -> None:
    try:
        archive = zipfile.ZipFile(zip_path)
    except zipfile.BadZipFile as err:
        raise ArchiveRejected("the upload is not a zip file") from err
    with archive:
        entries = archive.infolist()
        if len(entries) > MAX_ENTRIES:
            raise ArchiveRejected(f"too many entries ({len(entries)} > {MAX_ENTRIES})")
        total = 0
        for entry in entries:
            check_entry_name(entry.filename)
            if (entry.external_attr >> 16) & 0o170000 == 0o120000:
                raise ArchiveRejected(f"entry {entry.filename!r}: symbolic links are not allowed")
            total += entry.file_size
            if total > max_bytes:
                raise ArchiveRejected(f"the archive expands to more than {max_bytes} bytes")
        names = {entry.filename for entry in entries}
        missing = [name for name in REQUIRED if name not in names]
        if missing:
            raise ArchiveRejected(f"missing {', '.join(missing)}")
        written = 0
        for entry in entries:
            if entry.is_dir():
                continue
            target = destination / entry.filename
            target.parent.mkdir(parents=True, exist_ok=True)
            with archive.open(entry) as source, target.open("wb") as sink:
                while chunk := source.read(CHUNK):
                    written += len(chunk)
                    if written > max_bytes:  # sizes in the zip header can lie
                        raise ArchiveRejected(f"the archive expands to more than {max_bytes} bytes")
                    sink.write(chunk)
