"""Importing an exported Execution archive: the upload is untrusted.

Only `metadata/`, `auth/`, `outputs/`, `logs/` entries; no `..`, absolute paths, backslashes
or symlinks; entry count and expanded size limited while extracting (zip bombs, lying
headers); the JSON is parsed strictly; every way a zip can be damaged is the upload's fault.
"""

from __future__ import annotations

import re
import shutil
import uuid
import zipfile
import zlib
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ccp import errors, safejson
from ccp.archive import (
    CHUNK,
    INFRASTRUCTURE,
    METHOD,
    REQUEST,
    STATUS,
    Archives,
    directory_size,
)
from ccp.auth import Requester
from ccp.jobs import FINAL_VALUES
from ccp.jobstore import JobStore
from ccp.model import DescriptorError, Infrastructure, Method
from ccp.registry import Registry
from ccp.runtimes.base import iso_time

ALLOWED_TOP = ("metadata", "auth", "outputs", "logs")
REQUIRED = (REQUEST, METHOD, INFRASTRUCTURE, STATUS)
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
    if not isinstance(status, dict) or status.get("status") not in FINAL_VALUES:
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


class Importer:
    """Registers an exported Execution archive as a finished job of the requester."""

    def __init__(self, store: JobStore, archives: Archives, registry: Registry,
                 json_limits: safejson.JSONLimits) -> None:
        self.store = store
        self.archives = archives
        self.registry = registry
        self.json_limits = json_limits

    def run(self, zip_path: Path, requester: Requester, max_bytes: int,
            check_quota: Callable[[Requester, int], None]) -> str:
        """The new job's id. Its Method keeps the archive as its source unless it is
        byte-identical to this server's Method of that id and version. A job id already in
        use (by anyone) gets a fresh one, so an import reveals nothing of other users' jobs.
        """
        scratch = self.archives.data_dir / "tmp" / f"import-{uuid.uuid4().hex}"
        try:
            try:
                parsed = extract_import(zip_path, scratch, max_bytes, self.json_limits)
                method = Method.from_dict(parsed["method"], METHOD)
                infrastructure = Infrastructure.from_dict(parsed["infrastructure"],
                                                          INFRASTRUCTURE)
            except (ArchiveRejected, DescriptorError) as err:
                raise errors.InvalidArchive(f"the archive was rejected: {err}") from err
            size = directory_size(scratch)
            check_quota(requester, size)
            status = parsed["status"]
            job_id = original_id = str(status.get("jobID") or "")
            if not JOB_ID.fullmatch(job_id) or self.store.exists(job_id):
                job_id = str(uuid.uuid4())
            self.archives.store(job_id, scratch)
            message = "Imported" if job_id == original_id else (
                f"Imported as a new job (the archive's id {original_id[:64]!r} was not "
                "available)")
            self.store.add({
                "identifier": job_id, "process_id": method.id,
                "process_version": method.version, "infrastructure_id": infrastructure.id,
                "status": status["status"], "progress": 100,
                "message": f"{message}: {str(status.get('message', ''))[:2000]}",
                "started": _timestamp(status.get("started")),
                "finished": _timestamp(status.get("finished")),
                "request": parsed["request"],
                "inputs": status["inputs"] if isinstance(status.get("inputs"), dict) else {},
                "owner": requester.subject, "claims": requester.claims, "stored": True,
                "derived_from": _job_id_or_none(status.get("derivedFrom")),
                "method": method.to_dict(), "infrastructure": infrastructure.to_dict(),
                "method_digest": method.digest,
                "method_source": self.registry.source_of(method) or "archive",
                "archive_bytes": size,
            })
            return job_id
        finally:
            shutil.rmtree(scratch, ignore_errors=True)


JOB_ID = re.compile(r"[A-Za-z0-9-]{8,64}")


def _timestamp(value: Any) -> str | None:
    """An archive's time stamp, if it is one, in the store's own form (job lists filter and
    sort by them in SQL)."""
    if not isinstance(value, str) or not re.fullmatch(
            r"\d{4}-\d\d-\d\dT[0-9:.]+(Z|[+-]\d\d:\d\d)?", value):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return iso_time(moment if moment.tzinfo else moment.replace(tzinfo=UTC))


def _job_id_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) and JOB_ID.fullmatch(value) else None
