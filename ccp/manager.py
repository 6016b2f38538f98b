"""CCP's pygeoapi process manager: the front door over Methods, jobs, workers and recovery.

pygeoapi loads it by dotted path (`server.manager.name: ccp.manager.CCPManager`). Building one
has no side effects beyond opening the job store; `start()` starts the workers and the
recovery thread, so pygeoapi may build extra managers (for OpenAPI, say) without running
anything. The pieces: `WorkerPool` (ccp.workers) claims and runs jobs through an `Executor`
(ccp.executor); `Recovery` (ccp.recovery) handles dead servers, orphans, storage retries and
reachability; `RuntimePool` (ccp.runtimepool) holds one runtime per Infrastructure;
`Archives` (ccp.archive) is where archives live; `Importer` (ccp.importing) takes uploads;
`Admission` (ccp.admission) checks an execution request and its requester's limits.
"""

from __future__ import annotations

import collections
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from pygeoapi.process.base import UnknownProcessError
from pygeoapi.process.manager.base import BaseManager

from ccp import (
    cache,
    errors,
    jobmanagement,
    references,
    safejson,
    syncexec,
    templating,
)
from ccp.admission import Admission
from ccp.archive import Archives
from ccp.auth import ANONYMOUS, Requester
from ccp.cache import ExecutionCache
from ccp.callbacks import Callbacks, CallbackSettings
from ccp.executor import Executor
from ccp.importing import Importer
from ccp.jobcontrol import parts as jobcontrol_parts
from ccp.jobmanagement import JobManagement
from ccp.jobs import Job, JobStatus
from ccp.jobstore import JobNotFound, JobStore
from ccp.methodstore import MethodStore
from ccp.metrics import Metering, MetricsSettings, prometheus
from ccp.model import Method
from ccp.outbound import OutboundPolicy
from ccp.policy import Policy
from ccp.processor import CCPProcessor
from ccp.recovery import Recovery
from ccp.registry import Registry
from ccp.runtimepool import RuntimePool
from ccp.storage import storage_from_config
from ccp.values import as_bool
from ccp.warmpool import WarmPools
from ccp.workers import WorkerPool

DEFAULTS = {
    "concurrency": 2,
    "heartbeat_timeout": 30,
    "data_dir": "ccp-data",
    "methods": "methods",
    "infrastructures": "infrastructures",
    "storage": {"type": "local"},
    "base_url": "http://localhost:5000",
    "verify_interval": 600,
    "sync_max_seconds": 60,
    "sync_max_waiting": 8,
    "max_value_bytes": 1024 * 1024,
}


class CCPManager(BaseManager):
    def __init__(self, manager_def: dict[str, Any]) -> None:
        super().__init__(manager_def)
        self.is_async = True
        settings = {**DEFAULTS, **manager_def}
        self.settings = settings
        base_dir = Path(settings.get("base_dir") or ".")
        self.data_dir = (base_dir / settings["data_dir"]).resolve()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.data_dir.chmod(0o700)  # the jobs, archives and work dirs are no one else's
        self.base_url = str(settings["base_url"]).rstrip("/")
        self.max_import_bytes = int(settings.get("max_import_bytes") or 2 * 1024**3)
        self.registry = Registry.from_directories(
            base_dir / settings["methods"], base_dir / settings["infrastructures"])
        connection = settings.get("connection") or f"sqlite:///{self.data_dir / 'jobs.db'}"
        self.store = JobStore(connection)
        self.registry.store = MethodStore(self.store.engine)
        self.archives = Archives(storage_from_config(settings["storage"], self.data_dir),
                                 self.data_dir)
        self.redirect_downloads = as_bool(settings["storage"].get("redirect"))
        self.policy = Policy.from_config(settings.get("policy"))
        self.template_limits = templating.Limits(
            max_bytes=int(settings.get("max_script_bytes") or templating.Limits.max_bytes),
            seconds=float(settings.get("render_seconds") or templating.Limits.seconds))
        self.json_limits = safejson.JSONLimits(
            max_depth=int(settings.get("max_json_depth") or safejson.JSONLimits.max_depth))
        self.worker_id = uuid.uuid4().hex[:12]
        self.runtimes = RuntimePool()
        self.metering = Metering(self.store.engine,
                                 MetricsSettings.from_config(settings.get("metrics")))
        self.warm = WarmPools(self.runtimes, lambda: self.registry.infrastructures,
                              self.worker_id)
        self.executor = Executor(self.store, self.archives, self.runtimes, self.base_url,
                                 self.template_limits,
                                 settings.get("runtime_token_secret_env",
                                              "CCP_RUNTIME_TOKEN_SECRET"),
                                 self.metering, self.warm)
        # job control and Infrastructure health (ccp.jobcontrol)
        self.records, self.jobcontrol, self.health, self.verifier = jobcontrol_parts.assemble(
            self.store, self.registry, self.runtimes, self.executor, self.worker_id, settings)
        # Synchronous execution: how long and how many requests may hold (ccp.syncexec).
        self.sync_max_seconds = float(settings["sync_max_seconds"])
        self.sync_holders = syncexec.Holders(int(settings["sync_max_waiting"]))
        self.finished = syncexec.FinishSignals()
        self.max_value_bytes = int(settings["max_value_bytes"])  # outputs given by value
        self.workers = WorkerPool(self.store, self.worker_id, int(settings["concurrency"]),
                                  self._run_job, self.health.unhealthy)
        self.recovery = Recovery(self.store, self.registry, self.runtimes, self.archives,
                                 self.executor, self.worker_id,
                                 float(settings["heartbeat_timeout"]), self.health)
        self.importer = Importer(self.store, self.archives, self.registry, self.json_limits)
        prometheus.describe_server(self.metering.registry, self)
        outbound = settings.get("outbound") or {}
        self.outbound = OutboundPolicy.from_config(outbound, self.base_url)
        self.sources = references.Sources(
            self.outbound, self.archives.storage, self.store,
            tuple(str(outbound.get("s3_shared_prefixes") or "").split(",")))
        self.admission = Admission(self.registry, self.store, self.policy, self.outbound,
                                   self.sources)
        self.callbacks = Callbacks(self.store, self.outbound,
                                   CallbackSettings.from_config(settings.get("callbacks")))
        self.executor.sources = self.sources
        self.executor.on_change = self.callbacks.job_changed
        self.job_management = JobManagement(self, float(settings.get("created_job_ttl")
                                                         or jobmanagement.DEFAULT_TTL))
        self.recovery.tasks.append(self.job_management.expire)
        self.cache = ExecutionCache(self.store, self.archives, self.runtimes,
                                    lambda: self.reachability, self.worker_id)
        self._started = False

    # pygeoapi sets `processes` from its resources; CCP's processes are the registry's Methods.
    @property
    def processes(self) -> collections.OrderedDict[str, dict]:
        return collections.OrderedDict(
            (method_id, {"processor": {"name": "ccp.processor.CCPProcessor"}})
            for method_id in sorted(self.registry.methods))

    @processes.setter
    def processes(self, _value: Any) -> None:
        pass

    def get_processor(self, process_id: str) -> CCPProcessor:
        method = self.registry.method(process_id)
        if method is None:
            raise UnknownProcessError(f"there is no process '{process_id}'")
        return CCPProcessor({"method": method})

    @property
    def reachability(self) -> dict[str, str | None]:
        """Infrastructure id -> why it cannot be reached (None: reachable)."""
        return self.recovery.reachability

    # --- life of the server ------------------------------------------------------------------

    def start(self) -> None:
        """Recover what a previous server left, then start the workers and the reaper."""
        if self._started:
            return
        self._started = True
        self.recovery.start()
        self.warm.start()
        self.health.start()
        self.verifier.start()
        self.workers.start()
        self.callbacks.start()

    def stop(self, timeout: float = 60) -> None:
        """Stop taking jobs; running executions are cancelled, destroyed and archived."""
        deadline = time.monotonic() + timeout
        self.workers.stop(deadline)
        self.verifier.stop(max(0.1, deadline - time.monotonic()))
        self.health.stop(max(0.1, deadline - time.monotonic()))
        self.warm.stop()
        self.recovery.stop(max(0.1, deadline - time.monotonic()))
        self.callbacks.stop(max(0.1, deadline - time.monotonic()))
        self._started = False

    def _run_job(self, job: Job, stopping: threading.Event) -> None:
        try:
            self.executor.run(job, stopping)
        finally:
            self.finished.announce(job.identifier)  # wakes a synchronous request waiting

    # --- jobs --------------------------------------------------------------------------------

    def wait_final(self, job_id: str, seconds: float) -> Job:
        """The job once it has ended, or as it is after `seconds`."""
        return syncexec.wait_until(self.finished, job_id, seconds,
                                   lambda: self.get_job(job_id), lambda job: job.is_final)

    def get_job(self, job_id: str, brief: bool = False) -> Job:
        try:
            return self.store.get(job_id, brief)
        except JobNotFound as err:
            raise errors.NoSuchJob(job_id) from err

    def submit(self, process_id: str, request: Any, requester: Requester = ANONYMOUS,
               derived_from: str | None = None, method: Method | None = None,
               method_source: str | None = None, use_cache: bool | None = None) -> str:
        """Validate an execution request and queue it; returns the new job id."""
        return self.accept(process_id, request, requester, derived_from, method,
                           method_source, use_cache).identifier

    def accept(self, process_id: str, request: Any, requester: Requester = ANONYMOUS,
               derived_from: str | None = None, method: Method | None = None,
               method_source: str | None = None, use_cache: bool | None = None) -> Job:
        """Validate an execution request and queue it; returns the job as accepted (a
        cache hit's as it is now, brief: what its status document needs).

        An identical earlier execution the requester may see completes it at once instead
        (ccp/cache.py), unless `use_cache` or the request's `cache` member says no.
        """
        record = self.admission.prepare(process_id, request, requester, derived_from, method,
                                        method_source)
        use_cache = cache.wanted(request) and use_cache is not False
        self.admission.check_quota(requester)
        earlier = self.cache.lookup(record, requester) if use_cache else None
        if earlier is not None:
            self.cache.serve(record, earlier, self.executor.execution_of)
            self.callbacks.job_changed(record["identifier"], request.get("subscriber"))
            return self.get_job(str(record["identifier"]), brief=True)
        job = self.store.add(record)
        self.workers.wake()
        return job

    def dismiss(self, job_id: str, wait: float = 20.0) -> Job:
        """Dismiss a job: a queued one at once, a running one by cancel script + Destroy."""
        job = self.get_job(job_id)
        if job.status in (JobStatus.ACCEPTED, JobStatus.CREATED) and \
                self.store.dismiss_if_waiting(job_id, "Dismissed before it started"):
            self.callbacks.job_changed(job_id, job.request.get("subscriber"))
            return self.get_job(job_id)
        if self.store.request_dismiss(job_id):
            deadline = time.monotonic() + wait
            while time.monotonic() < deadline and not self.get_job(job_id).is_final:
                time.sleep(0.1)
        return self.get_job(job_id)

    def reexecute(self, job_id: str, latest: bool = False,
                  requester: Requester = ANONYMOUS) -> str:
        """Run a finished job's request again: same Method version, or the current one.

        An imported Execution whose Method differs from this server's Method of that id and
        version re-runs as its own Method (source `archive`), never under the server's name.
        """
        job = self.get_job(job_id)
        if not job.is_final:
            raise errors.Conflict(f"job '{job_id}' is {job.status}: re-execute it when done",
                                  title="Job not finished")
        if latest:
            method = self.registry.method(job.process_id)
            if method is None:
                raise errors.NoSuchProcess(job.process_id)
        else:
            method = Method.from_dict(job.method)
        # a re-execution runs: it may be asked to show that the result is reproducible
        return self.submit(method.id, job.request, requester, derived_from=job_id,
                           method=method, use_cache=False)

    def import_archive(self, zip_path: Path, requester: Requester = ANONYMOUS) -> str:
        """Register an exported Execution archive as a finished job; returns its id."""
        return self.importer.run(zip_path, requester, self.import_limit(requester),
                                 self.admission.check_quota)

    def import_limit(self, requester: Requester) -> int:
        """The largest archive this requester may import, in bytes."""
        role_limit = self.policy.limits_of(requester).import_bytes
        return min(role_limit, self.max_import_bytes) if role_limit else self.max_import_bytes

    def delete(self, job_id: str) -> None:
        """Remove a finished job and its stored archive."""
        self.get_job(job_id)
        self.archives.delete(job_id)
        self.metering.delete(job_id)
        self.store.delete(job_id)
        self.records.forget_controls(job_id)

