"""Caching identical executions: a deterministic Method run again on the same inputs and the
same image completes at once from the archive of the earlier run.

A Method declares `"deterministic": true` (model.py) when the same inputs on the same image
always give the same outputs. A successful execution of such a Method records its cache key:
the sha256 of the Method's digest (its whole descriptor, scripts included), the
Infrastructure, the image digest (what the engine ran, by content: Docker's image id, LXD's
fingerprint, for local the host's identity, see Runtime.image_digest) and every input but
`ccpmaxtime` (how long it may run changes nothing it makes). A new execution with the same
key, submitted by someone who may see the earlier one (its owner; an admin, or anyone on a
server without auth), is not queued: it is a new job, successful at once, whose archive holds
the earlier outputs and script logs (copied inside the store), its own request, metadata and
PROV (`ccp:cacheHit`, each output `prov:wasDerivedFrom` the earlier one), and whose status
says `cacheHit`. A request refuses the cache with `"cache": false`; re-executions never use
it; a changed Method has another digest and never hits.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable
from typing import Any

from ccp import errors, lifecycle
from ccp.archive import Archives
from ccp.auth import Requester
from ccp.jobs import Job, JobStatus
from ccp.jobstore import JobStore
from ccp.model import Infrastructure
from ccp.runtimepool import RuntimePool
from ccp.runtimes.base import now_iso

LOGGER = logging.getLogger(__name__)
IGNORED_INPUTS = ("ccpmaxtime",)


def cache_key(method_digest: str, infrastructure_id: str, image_digest: str,
              inputs: dict[str, Any]) -> str:
    """What identical executions share (see the module's doc)."""
    identity = {"method": method_digest, "infrastructure": infrastructure_id,
                "image": image_digest,
                "inputs": {k: v for k, v in inputs.items() if k not in IGNORED_INPUTS}}
    text = json.dumps(identity, sort_keys=True, separators=(",", ":"), default=str)
    return f"sha256:{hashlib.sha256(text.encode()).hexdigest()}"


def key_of_run(job: Job, image_digest: str | None) -> str | None:
    """The cache key a finished run of `job` records: only for a deterministic Method whose
    image digest the runtime told."""
    if not image_digest or job.method.get("deterministic") is not True \
            or not job.method_digest or job.input_references:
        return None
    return cache_key(job.method_digest, job.infrastructure_id, image_digest, job.inputs)


def wanted(request: dict[str, Any]) -> bool:
    """The request's `cache` member: true (the default) or false (always run)."""
    value = request.get("cache", True)
    if not isinstance(value, bool):
        raise errors.InvalidParameter("'cache' must be true (an identical earlier execution "
                                      "may stand in for this one) or false (always run)")
    return value


def performance_facts(job: Job, base_url: str) -> dict[str, Any]:
    """What a job's status document says of the cache and warm pools: `cacheHit` (the
    execution whose outputs it has) and `warmRuntime` (it ran in a runtime launched ahead)."""
    facts: dict[str, Any] = {}
    if job.cache_of:
        facts["cacheHit"] = {"jobID": job.cache_of, "href": f"{base_url}/jobs/{job.cache_of}"}
    if ((job.instance or {}).get("handle") or {}).get("warm"):
        facts["warmRuntime"] = True
    return facts


class ExecutionCache:
    def __init__(self, store: JobStore, archives: Archives, runtimes: RuntimePool,
                 reachability: Callable[[], dict[str, str | None]], worker_id: str) -> None:
        self.store = store
        self.archives = archives
        self.runtimes = runtimes
        # infrastructure id -> problem, as the health monitor has it now
        self.reachability = reachability
        self.worker_id = worker_id

    def lookup(self, record: dict[str, Any], requester: Requester) -> Job | None:
        """The earlier execution the job `record` (CCPManager.prepare's) would repeat, if
        the requester may see one. Never for inputs given by reference: what they point at
        may have changed."""
        if record["method"].get("deterministic") is not True or record.get("input_references") \
                or self.reachability().get(record["infrastructure_id"]):
            return None
        infrastructure = Infrastructure.from_dict(record["infrastructure"])
        digest = self.runtimes.get(infrastructure).image_digest(record["inputs"]["ccpimage"])
        if not digest:
            return None
        key = cache_key(record["method_digest"], infrastructure.id, digest, record["inputs"])
        return self.store.find_cached(key, requester.subject, requester.sees_everything)

    def serve(self, record: dict[str, Any], earlier: Job,
              execution_of: Callable[[Job], lifecycle.Execution]) -> None:
        """Add the job of `record` and finish it from `earlier`'s archive, here and now.

        It is `running` on this server until its archive is stored (a server dying
        meanwhile leaves it to the reaper, as any running job)."""
        started = now_iso()
        self.store.add({
            **record, "status": JobStatus.RUNNING, "worker": self.worker_id,
            "heartbeat": time.time(), "started": started, "progress": 50,
            "cache_of": earlier.identifier,
            "message": f"Cache hit: reusing the outputs of Execution {earlier.identifier}"})
        job = self.store.get(record["identifier"])
        instance = {"runtime": job.infrastructure.get("type"), "launched": False,
                    "warm": False, "cacheHit": {
                        "jobID": earlier.identifier, "finished": earlier.finished,
                        "cacheKey": earlier.cache_key,
                        "imageDigest": (earlier.instance or {}).get("handle", {})
                        .get("imageDigest")}}
        try:
            outcome = lifecycle.record_cache_hit(execution_of(job), self.archives, instance,
                                                 earlier.outputs or [])
        except Exception as err:
            LOGGER.exception("serving job %s from the cache failed", job.identifier)
            self.store.update_running(job.identifier, status=JobStatus.FAILED, progress=100,
                                      message=f"Failed serving it from the cache: {err}",
                                      finished=now_iso())
            return
        self.store.update_running(
            job.identifier, status=outcome.status, message=outcome.message, progress=100,
            finished=outcome.finished, stored=outcome.stored, outputs=outcome.outputs,
            archive_bytes=outcome.archive_bytes)
