"""CCP's pygeoapi process manager: the front door over Methods, jobs, workers and recovery.

pygeoapi loads it by dotted path (`server.manager.name: ccp.manager.CCPManager`). Building one
has no side effects beyond opening the job store; `start()` starts the workers and the
recovery thread, so pygeoapi may build extra managers (for OpenAPI, say) without running
anything. The pieces: `WorkerPool` (ccp.workers) claims and runs jobs through an `Executor`
(ccp.executor); `Recovery` (ccp.recovery) handles dead servers, orphans, storage retries and
reachability; `RuntimePool` (ccp.runtimepool) holds one runtime per Infrastructure;
`Archives` (ccp.archive) is where archives live; `Importer` (ccp.importing) takes uploads.
"""

from __future__ import annotations

import collections
import time
import uuid
from pathlib import Path
from typing import Any

from pygeoapi.process.base import UnknownProcessError
from pygeoapi.process.manager.base import BaseManager

from ccp import cache, errors, safejson, templating
from ccp.archive import Archives
from ccp.auth import ANONYMOUS, Requester
from ccp.cache import ExecutionCache
from ccp.executor import Executor
from ccp.importing import Importer
from ccp.inputs import InputError, resolve_inputs
from ccp.jobs import Job, JobStatus
from ccp.jobstore import JobNotFound, JobStore
from ccp.methodstore import MethodStore
from ccp.model import Method
from ccp.policy import RETRY_AFTER_SECONDS, Policy
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
        self.warm = WarmPools(self.runtimes, lambda: self.registry.infrastructures,
                              self.worker_id)
        self.executor = Executor(self.store, self.archives, self.runtimes, self.base_url,
                                 self.template_limits,
                                 settings.get("runtime_token_secret_env",
                                              "CCP_RUNTIME_TOKEN_SECRET"), self.warm)
        self.workers = WorkerPool(self.store, self.worker_id, int(settings["concurrency"]),
                                  self.executor.run)
        self.recovery = Recovery(self.store, self.registry, self.runtimes, self.archives,
                                 self.executor, self.worker_id,
                                 float(settings["heartbeat_timeout"]))
        self.importer = Importer(self.store, self.archives, self.registry, self.json_limits)
        self.cache = ExecutionCache(self.store, self.archives, self.runtimes,
                                    self.recovery.reachability, self.worker_id)
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
        self.workers.start()

    def stop(self, timeout: float = 60) -> None:
        """Stop taking jobs; running executions are cancelled, destroyed and archived."""
        deadline = time.monotonic() + timeout
        self.workers.stop(deadline)
        self.warm.stop()
        self.recovery.stop(max(0.1, deadline - time.monotonic()))
        self._started = False

    # --- jobs --------------------------------------------------------------------------------

    def get_job(self, job_id: str) -> Job:
        try:
            return self.store.get(job_id)
        except JobNotFound as err:
            raise errors.NoSuchJob(job_id) from err

    def submit(self, process_id: str, request: Any, requester: Requester = ANONYMOUS,
               derived_from: str | None = None, method: Method | None = None,
               method_source: str | None = None, use_cache: bool | None = None) -> str:
        """Validate an execution request and queue it; returns the new job id.

        `method_source` says where the Method came from: `file` (the operator's methods
        folder), `deployed` (through the API) or `archive` (an imported Execution).
        An identical earlier execution the requester may see completes it at once instead
        (ccp/cache.py), unless `use_cache` or the request's `cache` member says no.
        """
        method = method or self.registry.method(process_id)
        if method is None:
            raise errors.NoSuchProcess(process_id)
        if not isinstance(request, dict):
            raise errors.InvalidParameter("the execution request must be a JSON object")
        for key in ("inputs", "outputs"):
            if key in request and not isinstance(request[key], dict):
                raise errors.InvalidParameter(f"'{key}' must be an object keyed by {key[:-1]} id")
        if request.get("response", "raw") not in ("raw", "document"):
            raise errors.InvalidParameter("'response' must be 'raw' or 'document'")
        use_cache = cache.wanted(request) and use_cache is not False
        infrastructure = self.registry.infrastructure_of(method)
        if infrastructure is None:
            raise errors.Conflict(
                f"method '{method.id}' needs infrastructure '{method.infrastructure_id}', "
                "which this server does not know", title="Method not executable")
        # Not this server's Method byte for byte: it runs as the one recorded with an
        # Execution (an archive's), under its own identity.
        method_source = method_source or self.registry.source_of(method) or "archive"
        if method_source != "file":
            self.policy.check_may_run_user_method(requester, infrastructure)
        try:
            inputs = resolve_inputs(method, request.get("inputs"), infrastructure)
        except InputError as err:
            if err.code == "MissingParameterValue":
                raise errors.MissingParameter(str(err)) from err
            title = "Unknown input" if err.code == "NoApplicableCode" else None
            raise errors.InvalidParameter(str(err), title=title) from err
        self.check_quota(requester)
        job_id = str(uuid.uuid4())
        record = {
            "identifier": job_id, "process_id": method.id,
            "process_version": method.version, "infrastructure_id": infrastructure.id,
            "request": request, "inputs": inputs, "owner": requester.subject,
            "claims": requester.claims, "derived_from": derived_from,
            "method": method.to_dict(), "method_digest": method.digest,
            "method_source": method_source, "infrastructure": infrastructure.to_dict(),
        }
        earlier = self.cache.lookup(method, infrastructure, inputs, requester) \
            if use_cache else None
        if earlier is not None:
            self.cache.serve(record, earlier, self.executor.execution_of)
            return job_id
        self.store.add(record)
        self.workers.wake()
        return job_id

    def check_quota(self, requester: Requester, adding_bytes: int = 0) -> None:
        """Refuse what would take one user past their role's limits."""
        limits = self.policy.limits_of(requester)
        if limits.active_executions and \
                self.store.active_count(requester.subject) >= limits.active_executions:
            raise errors.TooManyJobs(
                f"you have {limits.active_executions} executions queued or running, the most "
                "your role may have: wait for some to finish, or dismiss some",
                retry_after=RETRY_AFTER_SECONDS)
        if limits.stored_bytes:
            stored = self.store.stored_bytes(requester.subject)
            if stored + adding_bytes > limits.stored_bytes:
                raise errors.StorageQuotaExceeded(
                    f"your stored archives take {stored} bytes"
                    + (f" and this one {adding_bytes} more" if adding_bytes else "")
                    + f", over your role's quota of {limits.stored_bytes} bytes: delete "
                    "finished jobs you no longer need (DELETE /jobs/{id})")

    def dismiss(self, job_id: str, wait: float = 20.0) -> Job:
        """Dismiss a job: a queued one at once, a running one by cancel script + Destroy."""
        job = self.get_job(job_id)
        if job.status == JobStatus.ACCEPTED and self.store.dismiss_if_accepted(
                job_id, "Dismissed before it started"):
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
                                 self.check_quota)

    def import_limit(self, requester: Requester) -> int:
        """The largest archive this requester may import, in bytes."""
        role_limit = self.policy.limits_of(requester).import_bytes
        return min(role_limit, self.max_import_bytes) if role_limit else self.max_import_bytes

    def delete(self, job_id: str) -> None:
        """Remove a finished job and its stored archive."""
        self.get_job(job_id)
        self.archives.delete(job_id)
        self.store.delete(job_id)

