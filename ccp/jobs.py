"""The job record and its status: one definition, used by the store, the manager and the API."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, fields
from typing import Any


class JobStatus(enum.StrEnum):
    """OGC API - Processes status codes; `created` (Part 4) is a job defined but not started
    yet, which no worker ever claims."""

    CREATED = "created"
    ACCEPTED = "accepted"
    RUNNING = "running"
    SUCCESSFUL = "successful"
    FAILED = "failed"
    DISMISSED = "dismissed"

    @property
    def is_final(self) -> bool:
        return self in FINAL


FINAL = frozenset({JobStatus.SUCCESSFUL, JobStatus.FAILED, JobStatus.DISMISSED})
ACTIVE = frozenset({JobStatus.ACCEPTED, JobStatus.RUNNING})
STATUS_VALUES = tuple(status.value for status in JobStatus)
FINAL_VALUES = tuple(status.value for status in JobStatus if status in FINAL)
JOB_TYPE = "process"  # every CCP job is an OGC API - Processes job
# Left out of a brief Job (job lists, the answer to a submission): a status document shows
# none of them, and decoding their JSON was most of what a job list cost.
BRIEF_SKIPS = ("request", "claims", "outputs", "method", "infrastructure", "input_references")


@dataclass(frozen=True)
class JobFilter:
    """The job-list filters of OGC API - Processes beyond status and process: job types,
    a window on `created` (canonical time stamps: from inclusive, before exclusive) and
    bounds on the duration in seconds (running: until now; finished: until `finished`)."""

    types: tuple[str, ...] | None = None
    created_from: str | None = None
    created_before: str | None = None
    min_duration: int | None = None
    max_duration: int | None = None


@dataclass
class Job:
    """One row of the job store, decoded."""

    identifier: str
    process_id: str
    status: JobStatus
    created: str
    updated: str
    process_version: str = ""
    infrastructure_id: str = ""
    message: str = ""
    progress: int = 0
    started: str | None = None
    finished: str | None = None
    request: dict[str, Any] = field(default_factory=dict)
    inputs: dict[str, Any] = field(default_factory=dict)
    owner: str | None = None
    claims: dict[str, Any] = field(default_factory=dict)
    worker: str | None = None
    heartbeat: float | None = None
    instance: dict[str, Any] | None = None
    dismiss_requested: bool = False
    stored: bool = False
    outputs: list[dict[str, Any]] | None = None
    derived_from: str | None = None
    method: dict[str, Any] = field(default_factory=dict)
    infrastructure: dict[str, Any] = field(default_factory=dict)
    method_digest: str | None = None
    method_source: str | None = None
    archive_bytes: int | None = None
    suspend_requested: bool = False
    suspended_since: str | None = None
    suspended_seconds: float = 0.0
    extended_seconds: int = 0
    input_references: list[dict[str, Any]] | None = None
    cache_key: str | None = None
    cache_of: str | None = None

    @property
    def is_final(self) -> bool:
        return self.status in FINAL

    @classmethod
    def from_mapping(cls, values: dict[str, Any]) -> Job:
        known = {f.name for f in fields(cls)}
        job = cls(**{key: value for key, value in values.items() if key in known})
        job.status = JobStatus(job.status)
        job.request = job.request or {}
        job.inputs = job.inputs or {}
        job.claims = job.claims or {}
        job.method = job.method or {}
        job.infrastructure = job.infrastructure or {}
        job.dismiss_requested = bool(job.dismiss_requested)
        job.stored = bool(job.stored)
        job.suspend_requested = bool(job.suspend_requested)
        job.suspended_seconds = float(job.suspended_seconds or 0)
        job.extended_seconds = int(job.extended_seconds or 0)
        return job
