"""The Execution archive: what ran, with what, for whom, and what came out.

This module owns every name in it and every place it lives; nothing else builds a key or a
path of an archive. Layout (the same in the store, in the downloadable zip and in an
imported zip):
    metadata/request.json  method.json  infrastructure.json  instance.json  status.json
    metadata/staged-inputs.json   inputs given by reference: source, path, size, sha256
    metadata/provenance.json  provenance.ttl (in the zip: made from the JSON when zipped)
    metadata/metrics.csv      what each replica used, sampled while it ran (ccp.metrics)
    auth/jwt.json
    outputs/output.zip        everything the method wrote to /ccp_data
    outputs/named/<output id>/<path>   the files of each named output (ccp.outputs)
    logs/execution.log        every line with time, phase, replica and stream
    logs/<phase>.stdout.log   logs/<phase>.stderr.log
While an execution runs, the archive grows in its work dir (`<data dir>/work/<job id>/
archive`); when it ends, it is stored at `executions/<job id>/` in the Storage.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, BinaryIO, cast

from ccp import provenance
from ccp.storage.base import Storage
from ccp.storage.ranged import open_ranged

REQUEST = "metadata/request.json"
METHOD = "metadata/method.json"
INFRASTRUCTURE = "metadata/infrastructure.json"
INSTANCE = "metadata/instance.json"
STATUS = "metadata/status.json"
PROVENANCE_JSON = "metadata/provenance.json"
PROVENANCE_TTL = "metadata/provenance.ttl"
METRICS_CSV = "metadata/metrics.csv"
STAGED_INPUTS = "metadata/staged-inputs.json"
CLAIMS = "auth/jwt.json"
OUTPUT_ZIP = "outputs/output.zip"
NAMED_OUTPUTS = "outputs/named"
LOGS = "logs"
EXECUTION_LOG = "logs/execution.log"
CHUNK = 1024 * 1024


def phase_log(phase: str, stream: str, replica: int = 1) -> str:
    """`logs/<phase>.<stream>.log` (`.replica-N` before the stream for replicas 2..N)."""
    suffix = "" if replica == 1 else f".replica-{replica}"
    return f"{LOGS}/{phase.lower()}{suffix}.{stream}.log"


def named_output(output_id: str, name: str = "") -> str:
    """`outputs/named/<output id>/<name>`: a file of a named output, by its path under
    /ccp_data (the output's folder when `name` is empty)."""
    folder = f"{NAMED_OUTPUTS}/{output_id}"
    return f"{folder}/{name}" if name else folder


def prefix_of(job_id: str) -> str:
    return f"executions/{job_id}"


def export_prefix_of(job_id: str) -> str:
    """Where a whole-archive zip is kept when downloads redirect to the store."""
    return f"exports/{job_id}"


def work_dir(data_dir: Path, job_id: str) -> Path:
    """Where one execution keeps its files while it runs."""
    return data_dir / "work" / job_id


def staging_dir(data_dir: Path, job_id: str) -> Path:
    """Where the archive grows while the execution runs, and waits if the store is down."""
    return work_dir(data_dir, job_id) / "archive"


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


def stream_zip(storage: Storage, job_id: str, part: str = "") -> Iterator[bytes]:
    """The whole archive (or the files under one part of it) as one zip, streamed from the
    store without holding it in memory.

    The Turtle PROV is made here from the stored PROV-JSON (the execution stores only the
    JSON: converting it costs more than the rest of archiving a short execution)."""
    prefix = f"{prefix_of(job_id)}/{part}" if part else prefix_of(job_id)
    names = storage.list(prefix)
    made: dict[str, Callable[[], bytes]] = {}
    json_name, ttl_name = (_under(part, name) for name in (PROVENANCE_JSON, PROVENANCE_TTL))
    if json_name in names and ttl_name and ttl_name not in names:
        made[ttl_name] = lambda: provenance.convert(
            storage.read_bytes(f"{prefix}/{json_name}").decode(), "ttl").encode()
    sink = _ChunkSink()
    with zipfile.ZipFile(cast(IO[bytes], sink), "w", zipfile.ZIP_DEFLATED,
                         allowZip64=True) as archive:
        for name in sorted([*names, *made]):
            compression = zipfile.ZIP_STORED if name.endswith(".zip") else zipfile.ZIP_DEFLATED
            info = zipfile.ZipInfo(name, date_time=(2000, 1, 1, 0, 0, 0))
            info.compress_type = compression
            info.external_attr = 0o644 << 16
            with (io.BytesIO(made[name]()) if name in made
                  else storage.open(f"{prefix}/{name}")) as data, \
                    archive.open(info, "w", force_zip64=True) as member:
                while chunk := data.read(CHUNK):
                    member.write(chunk)
                    yield sink.take()
            yield sink.take()
    yield sink.take()


def _under(part: str, name: str) -> str | None:
    """`name` (of the whole archive) relative to `part`, or None when not under it."""
    if not part:
        return name
    return name[len(part) + 1:] if name.startswith(f"{part.rstrip('/')}/") else None


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


@dataclass(frozen=True)
class Download:
    """A stored file to send: its size, how to read it, and a direct URL where the store
    gives one."""

    size: int
    open: Callable[[], BinaryIO]
    presigned_url: Callable[[], str | None]


class Archives:
    """The stored archives, and the ones still growing in work dirs: what the API and the
    manager ask for, by job id and part name."""

    def __init__(self, storage: Storage, data_dir: Path) -> None:
        self.storage = storage
        self.data_dir = data_dir

    def key(self, job_id: str, part: str) -> str:
        return f"{prefix_of(job_id)}/{part}"

    def store(self, job_id: str, directory: Path) -> None:
        """Store the archive grown in `directory`, which is consumed (moved, on the same
        file system, rather than copied)."""
        self.storage.put_tree(prefix_of(job_id), directory, move=True)

    def exists(self, job_id: str, part: str) -> bool:
        return self.storage.exists(self.key(job_id, part))

    def read_bytes(self, job_id: str, part: str) -> bytes:
        return self.storage.read_bytes(self.key(job_id, part))

    def read_text(self, job_id: str, part: str) -> str:
        """A stored part as text; empty when the archive has no such part."""
        key = self.key(job_id, part)
        if not self.storage.exists(key):
            return ""
        return self.storage.read_bytes(key).decode("utf-8", "replace")

    def log_bytes(self, job_id: str, final: bool, offset: int = 0) -> bytes:
        """The execution log from byte `offset` on: the stored one once final, else the one
        growing on disk (the same bytes, so a reader's offset stays valid across the two)."""
        if final and self.exists(job_id, EXECUTION_LOG):
            return self.read_bytes(job_id, EXECUTION_LOG)[offset:]
        live = staging_dir(self.data_dir, job_id) / EXECUTION_LOG
        if not live.exists():
            return b""
        with live.open("rb") as log:
            log.seek(offset)
            return log.read()

    def stream_zip(self, job_id: str, part: str = "") -> Iterator[bytes]:
        return stream_zip(self.storage, job_id, part)

    def named_files(self, job_id: str) -> dict[str, list[str]]:
        """Output id -> the stored files of each named output (paths under /ccp_data)."""
        found: dict[str, list[str]] = {}
        for name in self.storage.list(f"{prefix_of(job_id)}/{NAMED_OUTPUTS}"):
            output_id, _, path = name.partition("/")
            if path:
                found.setdefault(output_id, []).append(path)
        return found

    def size(self, job_id: str, part: str) -> int:
        return self.storage.size(self.key(job_id, part))

    def open_seekable(self, job_id: str, part: str) -> BinaryIO:
        """One stored part as a seekable file, read in ranges (a zip's members, say);
        FileNotFoundError if the archive has no such part."""
        return open_ranged(self.storage, self.key(job_id, part))

    def download(self, job_id: str, part: str) -> Download:
        """One stored part to send; FileNotFoundError if the archive has no such part."""
        return self._download(self.key(job_id, part))

    def whole_zip_download(self, job_id: str) -> Download:
        """The whole archive as one stored zip (made once), for redirected downloads."""
        return self._download(materialize_zip(self.storage, job_id, self.data_dir / "tmp"))

    def _download(self, key: str) -> Download:
        size = self.storage.size(key)
        return Download(size, lambda: self.storage.open(key),
                        lambda: self.storage.presigned_url(key))

    def location(self, job_id: str, part: str = "") -> str:
        """Where a stored archive (or one part of it) is, for people: a path or a URL."""
        return self.storage.location(f"{prefix_of(job_id)}/{part}" if part else prefix_of(job_id))

    def copy_results(self, source_job: str, target_job: str) -> int:
        """Store the outputs (output.zip and the named outputs) and the script logs of one
        stored archive in another (a cache hit's); returns the bytes copied. The execution
        log, metadata and PROV are each archive's own."""
        copied = 0
        for part in self.storage.list(prefix_of(source_job)):
            if part.startswith(("outputs/", f"{LOGS}/")) and part != EXECUTION_LOG:
                self.storage.copy(self.key(source_job, part), self.key(target_job, part))
                copied += self.storage.size(self.key(target_job, part))
        return copied

    def delete(self, job_id: str) -> None:
        self.storage.delete_prefix(prefix_of(job_id))
        self.storage.delete_prefix(export_prefix_of(job_id))

    def pending_status(self, job_id: str) -> dict[str, Any] | None:
        """The status record of an archive kept on disk for a retry, if there is one."""
        path = staging_dir(self.data_dir, job_id) / STATUS
        return json.loads(path.read_text()) if path.exists() else None

    def store_pending(self, job_id: str) -> None:
        """Store an archive kept on disk, then remove its work dir."""
        self.store(job_id, staging_dir(self.data_dir, job_id))
        shutil.rmtree(work_dir(self.data_dir, job_id), ignore_errors=True)


