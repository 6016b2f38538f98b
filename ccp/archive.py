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
from collections.abc import Iterator
from pathlib import Path
from typing import Any

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
