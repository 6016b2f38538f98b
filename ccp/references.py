"""Inputs by reference: `{"href": ...}` values, checked when a job is submitted, downloaded
when it runs, staged into its runtime at `/ccp_data/inputs/<name>`.

An input given by reference renders in the scripts (`{{ name }}`) as the path of its staged
file, `/ccp_data/inputs/<name>`; in a list, each reference becomes
`/ccp_data/inputs/<name>/<n>` (n from 1, its position in the list) and plain values stay.
Only inputs whose schema is a string (or has no type), with no `enum` and not read-only,
take references; the control inputs never do.

Where a reference may point:
- `http://` and `https://` under the outbound policy (ccp.outbound);
- `s3://<bucket>/<key>` in this server's own S3 archive store only, for objects the requester
  may read: anything for an admin (and for the one user of a server without auth); for a plain
  user, the stored archives of their own Executions (`[prefix/]executions/<job id>/...`) and
  the prefixes the operator shares (`outbound.s3_shared_prefixes`). A refusal says the same
  whether the object is someone else's or absent. When the job runs, an archive read on a
  user's behalf must still belong to the same owner.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, Any

from ccp import errors
from ccp.auth import Requester
from ccp.inputs import InputError
from ccp.jobstore import JobNotFound, JobStore
from ccp.outbound import OutboundPolicy, OutboundRefused
from ccp.pinnedhttp import FetchFailed
from ccp.runtimes.base import DATA_PATH, RuntimeCancelled
from ccp.storage.base import Storage

LINK_KEYS = frozenset({"href", "type", "rel", "title", "hreflang"})
MAX_REFERENCES = 64
CONTROL_INPUTS = ("ccpimage", "ccpmaxtime", "ccpreplicas")
CHUNK = 1024 * 1024


class DownloadFailed(RuntimeError):
    """An input given by reference could not be downloaded when the job ran."""


@dataclass(frozen=True)
class Reference:
    """One input value given by reference, as recorded with its job."""

    name: str
    href: str
    index: int | None = None  # position (from 1) in a list input; None for a single value
    type: str | None = None  # the media type the client announced
    key: str | None = None  # s3: the key relative to the store's prefix
    job: str | None = None  # s3: the Execution whose archive holds it, read for its owner
    owner: str | None = None

    @property
    def relative_path(self) -> str:
        """Where it is staged, relative to /ccp_data."""
        own = f"inputs/{self.name}"
        return own if self.index is None else f"{own}/{self.index}"

    @property
    def path(self) -> str:
        return f"{DATA_PATH}/{self.relative_path}"

    def to_dict(self) -> dict[str, Any]:
        return {key: value for key, value in asdict(self).items() if value is not None}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Reference:
        return cls(str(data["name"]), str(data["href"]), data.get("index"), data.get("type"),
                   data.get("key"), data.get("job"), data.get("owner"))


def is_reference(value: Any) -> bool:
    return isinstance(value, dict) and "href" in value


def split(inputs_schema: dict[str, dict], given: Any) -> tuple[Any, list[Reference]]:
    """The given inputs with every reference replaced by the path it will be staged at, and
    the references (not yet checked against the policy). InputError for misplaced ones."""
    if not isinstance(given, dict):
        return given, []
    replaced = dict(given)
    found: list[Reference] = []
    for name, value in given.items():
        spec = inputs_schema.get(name)
        if spec is None:
            continue  # an unknown input: resolve_inputs says so
        if is_reference(value):
            _check_accepts(name, spec)
            found.append(_reference(name, None, value))
            replaced[name] = found[-1].path
        elif isinstance(value, list) and any(is_reference(item) for item in value):
            _check_accepts(name, spec)
            items = []
            for index, item in enumerate(value, start=1):
                if is_reference(item):
                    found.append(_reference(name, index, item))
                    item = found[-1].path
                items.append(item)
            replaced[name] = items
    if len(found) > MAX_REFERENCES:
        raise InputError(f"{len(found)} inputs are given by reference; at most "
                         f"{MAX_REFERENCES} may be")
    return replaced, found


def _check_accepts(name: str, spec: dict) -> None:
    schema = _object(spec.get("schema"))
    if schema.get("type") == "array":
        schema = _object(schema.get("items"))
    if name in CONTROL_INPUTS or schema.get("readOnly") or "enum" in schema \
            or schema.get("type") not in (None, "string"):
        raise InputError(f"input '{name}' cannot be given by reference (href): only free "
                         "string inputs can, and they then name the staged file")


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _reference(name: str, index: int | None, value: dict[str, Any]) -> Reference:
    unknown = sorted(set(value) - LINK_KEYS)
    if unknown:
        raise InputError(f"input '{name}': a reference holds href (and type, rel, title, "
                         f"hreflang), not {', '.join(unknown)}")
    href, media_type = value["href"], value.get("type")
    if not isinstance(href, str) or not href:
        raise InputError(f"input '{name}': 'href' must be a non-empty string")
    if media_type is not None and not isinstance(media_type, str):
        raise InputError(f"input '{name}': 'type' must be a media type string")
    return Reference(name, href, index, media_type)


class Sources:
    """Where inputs by reference come from: the web, under the outbound policy, and this
    server's S3 archive store, for what the requester may read."""

    def __init__(self, policy: OutboundPolicy, storage: Storage, store: JobStore,
                 shared_prefixes: tuple[str, ...] = ()) -> None:
        self.policy = policy
        self.storage = storage
        self.store = store
        self.shared_prefixes = tuple(p.strip("/") + "/" for p in shared_prefixes if p.strip("/"))

    # --- at submission ----------------------------------------------------------------------

    def check(self, reference: Reference, requester: Requester) -> Reference:
        """The reference, checked for this requester (with what its download will need);
        an OGC exception when the server will not fetch it."""
        where = f"input '{reference.name}'"
        if reference.href.lower().startswith("s3://"):
            return self._check_s3(reference, requester)
        try:
            self.policy.check(reference.href)
        except OutboundRefused as err:
            raise errors.OutboundRefused(f"{where}: {err}") from err
        return reference

    def _check_s3(self, reference: Reference, requester: Requester) -> Reference:
        where = f"input '{reference.name}'"
        bucket = getattr(self.storage, "bucket", None)
        if bucket is None:
            raise errors.InvalidParameter(f"{where}: this server keeps its archives on disk, "
                                          "so it has no s3:// objects to read")
        bucket_name, _, full_key = reference.href[len("s3://"):].partition("/")
        prefix = str(getattr(self.storage, "prefix", "") or "")
        key = full_key[len(prefix) + 1:] if prefix and full_key.startswith(prefix + "/") \
            else (full_key if not prefix else "")
        parts = key.split("/")
        if bucket_name != bucket or not key or any(p in ("", ".", "..") for p in parts) \
                or "\0" in key or len(key) > 1024:
            raise self._not_readable(reference.href, where)
        job_id, owner = self._permit(key, parts, requester, reference.href, where)
        try:
            size = self.storage.size(key)
        except FileNotFoundError as err:
            raise errors.InvalidParameter(f"{where}: there is no object {reference.href}"
                                          ) from err
        if size > self.policy.max_bytes:
            raise errors.InvalidParameter(f"{where}: {reference.href} is {size} bytes, more "
                                          f"than the {self.policy.max_bytes} allowed")
        return Reference(reference.name, reference.href, reference.index, reference.type,
                         key, job_id, owner)

    def _permit(self, key: str, parts: list[str], requester: Requester, href: str,
                where: str) -> tuple[str | None, str | None]:
        """(the Execution whose archive it is, its owner) when the requester may read `key`."""
        if parts[0] in ("executions", "exports") and len(parts) >= 3:
            try:
                job = self.store.get(parts[1])
            except JobNotFound:
                job = None
            if job is not None and job.stored and requester.may_see_owner(job.owner):
                return job.identifier, job.owner
        if requester.sees_everything or key.startswith(self.shared_prefixes or ("\0",)):
            return None, None
        raise self._not_readable(href, where)

    def _not_readable(self, href: str, where: str) -> errors.Forbidden:
        """One answer for every s3:// refusal: it tells nothing of what exists."""
        bucket = getattr(self.storage, "bucket", "")
        prefix = str(getattr(self.storage, "prefix", "") or "")
        base = f"s3://{bucket}/{prefix + '/' if prefix else ''}"
        shared = ", ".join(f"{base}{p}" for p in self.shared_prefixes) or "none here"
        return errors.Forbidden(
            f"{where}: {href[:200]} is not an object you may read; readable are the archives "
            f"of your own stored Executions ({base}executions/<job id>/...) and the shared "
            f"prefixes ({shared})")

    # --- when the job runs ------------------------------------------------------------------

    def download(self, reference: Reference, sink: IO[bytes], limit: int,
                 should_stop: Callable[[], bool]) -> dict[str, Any]:
        """Copy one reference into `sink`; its size, sha256 and media type."""
        if reference.key is None:
            got = self.policy.download(reference.href, sink, limit, should_stop)
            return {"size": got.size, "sha256": got.sha256,
                    "mediaType": reference.type or got.media_type}
        if reference.job is not None:  # still the archive of the same owner's Execution
            try:
                job = self.store.get(reference.job)
            except JobNotFound:
                job = None
            if job is None or not job.stored or job.owner != reference.owner:
                raise FetchFailed(f"{reference.href} is no longer there")
        size = self.storage.size(reference.key)
        if size > limit:
            raise FetchFailed(f"{reference.href} is {size} bytes, more than the {limit} "
                              "allowed")
        digest, copied = hashlib.sha256(), 0
        with self.storage.open(reference.key) as stream:
            while chunk := stream.read(CHUNK):
                copied += len(chunk)
                if copied > limit or should_stop():
                    raise FetchFailed(f"{reference.href}: stopped after {copied} bytes")
                digest.update(chunk)
                sink.write(chunk)
        return {"size": copied, "sha256": digest.hexdigest(), "mediaType": reference.type}


def download_all(references: list[Reference], sources: Sources, directory: Path,
                 event: Callable[[str], None],
                 should_stop: Callable[[], bool]) -> list[dict[str, Any]]:
    """Download every reference into `directory/<its path under /ccp_data>`; the record of
    each staged input (name, source, path, size, sha256, media type)."""
    left = sources.policy.max_total_bytes
    staged = []
    for reference in references:
        target = directory / reference.relative_path
        target.parent.mkdir(parents=True, exist_ok=True)
        event(f"input '{reference.name}' from {reference.href[:200]}")
        try:
            with target.open("xb") as sink:
                got = sources.download(reference, sink, min(sources.policy.max_bytes, left),
                                       should_stop)
        except (FetchFailed, OutboundRefused, OSError) as err:
            if should_stop():
                raise RuntimeCancelled("dismissed while downloading inputs") from err
            raise DownloadFailed(f"Download failed: input '{reference.name}': {err}") from err
        left -= got["size"]
        event(f"input '{reference.name}': {got['size']} bytes, sha256 {got['sha256']}")
        record = {"name": reference.name, "source": reference.href, "path": reference.path,
                  **got}
        if reference.index is not None:
            record["index"] = reference.index
        staged.append(record)
    return staged


def drop_unchanged(fetched: Path, staged: list[dict[str, Any]]) -> None:
    """Leave staged inputs the scripts did not change out of the outputs: the archive records
    their source, size and sha256 instead. A changed one is an output like any other."""
    for record in staged:
        path = fetched / record["path"][len(DATA_PATH) + 1:]
        if path.is_symlink() or not path.is_file() or path.stat().st_size != record["size"]:
            continue
        digest = hashlib.sha256()
        with path.open("rb") as data:
            while chunk := data.read(CHUNK):
                digest.update(chunk)
        if digest.hexdigest() == record["sha256"]:
            path.unlink()
    for directory in sorted((p for p in (fetched / "inputs").rglob("*") if p.is_dir()),
                            key=lambda p: -len(p.parts)) if (fetched / "inputs").is_dir() else []:
        _remove_if_empty(directory)
    _remove_if_empty(fetched / "inputs")


def _remove_if_empty(directory: Path) -> None:
    try:
        os.rmdir(directory)
    except OSError:
        pass
