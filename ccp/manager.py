"""CCP's pygeoapi process manager: Methods as processes, jobs in SQL, workers that run them.

pygeoapi loads it by dotted path (`server.manager.name: ccp.manager.CCPManager`). Building one
has no side effects beyond opening the job store; `start()` starts the workers, so pygeoapi
may build extra managers (for OpenAPI, say) without running anything.
"""

from __future__ import annotations

import collections
import json
import logging
import os
import re
import shutil
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from pygeoapi.process.base import JobNotFoundError, JobResultNotFoundError, UnknownProcessError
from pygeoapi.process.manager.base import BaseManager
from pygeoapi.util import JobStatus, RequestedProcessExecutionMode

from ccp import archive, errors, lifecycle, safejson, templating
from ccp.auth import ANONYMOUS, Requester, runtime_token
from ccp.jobstore import FINAL_STATUSES, JobNotFound, JobStore
from ccp.methodstore import MethodStore
from ccp.model import DescriptorError, Infrastructure, InputError, Method, resolve_inputs
from ccp.policy import RETRY_AFTER_SECONDS, Policy
from ccp.processor import CCPProcessor
from ccp.registry import Registry
from ccp.runtimes import runtime_for
from ccp.runtimes.base import Instance, Runtime
from ccp.storage import storage_from_config

LOGGER = logging.getLogger(__name__)

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
        self.concurrency = int(settings["concurrency"])
        self.max_import_bytes = int(settings.get("max_import_bytes") or 2 * 1024**3)
        self.heartbeat_timeout = float(settings["heartbeat_timeout"])
        self.base_url = str(settings["base_url"]).rstrip("/")
        self.registry = Registry.from_directories(
            base_dir / settings["methods"], base_dir / settings["infrastructures"])
        connection = settings.get("connection") or f"sqlite:///{self.data_dir / 'jobs.db'}"
        self.store = JobStore(connection)
        self.registry.store = MethodStore(self.store.engine)
        self.storage = storage_from_config(settings["storage"], self.data_dir)
        self.redirect_downloads = str(settings["storage"].get("redirect", "false")).lower() in (
            "1", "true", "yes")
        self.policy = Policy.from_config(settings.get("policy"))
        self.template_limits = templating.Limits(
            max_bytes=int(settings.get("max_script_bytes") or templating.Limits.max_bytes),
            seconds=float(settings.get("render_seconds") or templating.Limits.seconds))
        self.json_limits = safejson.JSONLimits(
            max_depth=int(settings.get("max_json_depth") or safejson.JSONLimits.max_depth))
        self.worker_id = f"{uuid.uuid4().hex[:12]}"
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._runtimes: dict[str, Runtime] = {}
        # infrastructure id -> problem (None when reachable); refreshed in the background so
        # listing Methods never waits on an engine.
        self.reachability: dict[str, str | None] = {}
        self._runtimes_lock = threading.Lock()

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

    # --- submitting and dismissing ---------------------------------------------------------

    def submit(self, process_id: str, request: Any, requester: Requester = ANONYMOUS,
               derived_from: str | None = None, method: Method | None = None,
               method_source: str | None = None) -> str:
        """Validate an execution request and queue it; returns the new job id.

        `method_source` says where the Method came from: `file` (the operator's methods
        folder), `deployed` (through the API) or `archive` (an imported Execution).
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
        self.store.add({
            "identifier": job_id,
            "process_id": method.id,
            "process_version": method.version,
            "infrastructure_id": infrastructure.id,
            "request": request,
            "inputs": inputs,
            "owner": requester.subject,
            "claims": requester.claims,
            "derived_from": derived_from,
            "method": method.to_dict(),
            "method_digest": method.digest,
            "method_source": method_source,
            "infrastructure": infrastructure.to_dict(),
        })
        self._wake.set()
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

    def dismiss(self, job_id: str, wait: float = 20.0) -> dict[str, Any]:
        """Dismiss a job: a queued one at once, a running one by cancel script + Destroy."""
        job = self.get_job(job_id)
        if job["status"] == "accepted" and self.store.dismiss_if_accepted(
                job_id, "Dismissed before it started"):
            return self.get_job(job_id)
        if self.store.request_dismiss(job_id):
            deadline = time.monotonic() + wait
            while time.monotonic() < deadline:
                job = self.get_job(job_id)
                if job["status"] in FINAL_STATUSES:
                    break
                time.sleep(0.1)
        return self.get_job(job_id)

    def reexecute(self, job_id: str, latest: bool = False,
                  requester: Requester = ANONYMOUS) -> str:
        """Run a finished job's request again: same Method version, or the current one.

        An imported Execution whose Method differs from this server's Method of that id and
        version re-runs as its own Method (source `archive`), never under the server's name.
        """
        job = self.get_job(job_id)
        if job["status"] not in FINAL_STATUSES:
            raise errors.Conflict(f"job '{job_id}' is {job['status']}: re-execute it when done",
                                  title="Job not finished")
        if latest:
            method = self.registry.method(job["process_id"])
            if method is None:
                raise errors.NoSuchProcess(job["process_id"])
            source = None
        else:
            method = Method.from_dict(job["method"])
            source = self.registry.source_of(method)
        return self.submit(method.id, job["request"], requester, derived_from=job_id,
                           method=method, method_source=source)

    def import_archive(self, zip_path: Path, requester: Requester = ANONYMOUS) -> str:
        """Register an exported Execution archive as a finished job; returns its id.

        The archive is untrusted: its paths, sizes and JSON are checked, and its Method keeps
        the archive as its source unless it is byte-identical to this server's Method of that
        id and version. A job id already in use (by anyone) gets a fresh one, so an import
        reveals nothing about other users' jobs.
        """
        limits = self.policy.limits_of(requester)
        max_bytes = min(filter(None, (limits.import_bytes, self.max_import_bytes)))
        scratch = self.data_dir / "tmp" / f"import-{uuid.uuid4().hex}"
        try:
            try:
                parsed = archive.extract_import(zip_path, scratch, max_bytes, self.json_limits)
                method = Method.from_dict(parsed["method"], "metadata/method.json")
                infrastructure = Infrastructure.from_dict(parsed["infrastructure"],
                                                          "metadata/infrastructure.json")
            except (archive.ArchiveRejected, DescriptorError) as err:
                raise errors.InvalidArchive(f"the archive was rejected: {err}") from err
            self.check_quota(requester, archive.directory_size(scratch))
            status = parsed["status"]
            job_id = original_id = str(status.get("jobID") or "")
            if not re.fullmatch(r"[A-Za-z0-9-]{8,64}", job_id) or self.store.exists(job_id):
                job_id = str(uuid.uuid4())
            source = self.registry.source_of(method) or "archive"
            self.storage.put_tree(archive.prefix_of(job_id), scratch)
            self.store.add({
                "identifier": job_id, "process_id": method.id,
                "process_version": method.version, "infrastructure_id": infrastructure.id,
                "status": status["status"], "progress": 100,
                "message": ("Imported" if job_id == original_id else
                            f"Imported as a new job (the archive's id {original_id[:64]!r} "
                            "was not available)") + f": {str(status.get('message', ''))[:2000]}",
                "started": _timestamp(status.get("started")),
                "finished": _timestamp(status.get("finished")),
                "request": parsed["request"],
                "inputs": status["inputs"] if isinstance(status.get("inputs"), dict) else {},
                "owner": requester.subject, "claims": requester.claims, "stored": True,
                "derived_from": _imported_id(status.get("derivedFrom")),
                "method": method.to_dict(), "infrastructure": infrastructure.to_dict(),
                "method_digest": method.digest, "method_source": source,
                "archive_bytes": archive.directory_size(scratch),
            })
            return job_id
        finally:
            shutil.rmtree(scratch, ignore_errors=True)

    def delete(self, job_id: str) -> None:
        """Remove a finished job and its stored archive."""
        self.get_job(job_id)
        self.storage.delete_prefix(archive.prefix_of(job_id))
        self.storage.delete_prefix(archive.export_prefix_of(job_id))
        self.store.delete(job_id)

    # --- pygeoapi's manager interface ---------------------------------------------------------

    def get_jobs(self, status: JobStatus | None = None, limit: int | None = None,
                 offset: int | None = None) -> dict:
        statuses = [status.value if isinstance(status, JobStatus) else status] if status else None
        found, total = self.store.list(status=statuses, limit=limit or 10, offset=offset or 0)
        return {"jobs": found, "numberMatched": total}

    def add_job(self, job_metadata: dict) -> str:
        raise NotImplementedError("CCP jobs are created by submit()")

    def update_job(self, job_id: str, update_dict: dict) -> bool:
        return self.store.update(job_id, **update_dict)

    def get_job(self, job_id: str) -> dict:
        try:
            return self.store.get(job_id)
        except JobNotFound as err:
            raise JobNotFoundError(job_id) from err

    def get_job_result(self, job_id: str) -> tuple[str, Any]:
        job = self.get_job(job_id)
        if job["status"] != "successful":
            raise JobResultNotFoundError(job_id)
        return "application/json", self.results(job)

    def delete_job(self, job_id: str) -> bool:
        job = self.get_job(job_id)
        if job["status"] in FINAL_STATUSES:
            self.delete(job_id)
        else:
            self.dismiss(job_id)
        return True

    def execute_process(self, process_id: str, data_dict: dict,
                        execution_mode: RequestedProcessExecutionMode | None = None,
                        requested_outputs: dict | None = None, subscriber: Any = None,
                        requested_response: Any = None) -> tuple:
        job_id = self.submit(process_id, {"inputs": data_dict, "outputs": requested_outputs or {}})
        headers = {"Preference-Applied": RequestedProcessExecutionMode.respond_async.value}
        return job_id, "application/json", None, JobStatus.accepted, headers

    # --- results ----------------------------------------------------------------------------

    def results(self, job: dict[str, Any]) -> dict[str, Any]:
        """The OGC results document of a successful job, from its stored archive."""
        prefix = archive.prefix_of(job["identifier"])
        job_url = f"{self.base_url}/jobs/{job['identifier']}"
        results: dict[str, Any] = {}
        for output_id, spec in job["method"].get("outputs", {}).items():
            media_type = spec.get("schema", {}).get("contentMediaType", "")
            if output_id in ("stdout", "stderr"):
                key = f"{prefix}/logs/execute.{output_id}.log"
                text = self.storage.read_bytes(key).decode() if self.storage.exists(key) else ""
                results[output_id] = {"value": text, "mediaType": "text/plain"}
            else:
                results[output_id] = {"href": f"{job_url}/outputs/output.zip",
                                      "type": media_type or "application/zip"}
        return results

    # --- workers ----------------------------------------------------------------------------

    def start(self) -> None:
        """Recover what a previous server left, then start the workers and the reaper."""
        if self._threads:
            return
        self.check_infrastructures()
        self.recover()
        for number in range(self.concurrency):
            thread = threading.Thread(target=self._work, name=f"ccp-worker-{number + 1}",
                                      daemon=True)
            thread.start()
            self._threads.append(thread)
        reaper = threading.Thread(target=self._reap, name="ccp-reaper", daemon=True)
        reaper.start()
        self._threads.append(reaper)

    def stop(self, timeout: float = 60) -> None:
        """Stop taking jobs; running executions are cancelled, destroyed and archived."""
        self._stopping.set()
        self._wake.set()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(timeout=max(0.1, deadline - time.monotonic()))
        self._threads = []

    def _work(self) -> None:
        while not self._stopping.is_set():
            try:
                job = self.store.claim_next(self.worker_id)
            except Exception:
                LOGGER.exception("claiming a job failed")
                job = None
            if job is None:
                self._wake.wait(1.0)
                self._wake.clear()
                continue
            self._wake.set()  # there may be more: let another idle worker look
            self._run(job)

    def _run(self, job: dict[str, Any]) -> None:
        job_id = job["identifier"]
        reporter = StoreReporter(self.store, job_id, self._stopping)
        try:
            execution = self._execution_of(job)
            runtime = self.runtime(execution.infrastructure)
            outcome = lifecycle.run(execution, runtime, self.storage, reporter)
        except Exception as err:
            LOGGER.exception("job %s could not run", job_id)
            self.store.update_running(job_id, status="failed", progress=100,
                                      message=f"Launch failed: {err}",
                                      finished=lifecycle.now_iso())
            return
        self.store.update_running(
            job_id, status=outcome.status, message=outcome.message, progress=100,
            finished=outcome.finished, stored=outcome.stored, outputs=outcome.outputs,
            archive_bytes=outcome.archive_bytes)

    def _runtime_env(self, job: dict[str, Any], infrastructure: Infrastructure) -> dict[str, str]:
        """A short-lived callback token, only where the Infrastructure asks for one."""
        secret = os.environ.get(self.settings.get("runtime_token_secret_env",
                                                  "CCP_RUNTIME_TOKEN_SECRET"), "")
        if not infrastructure.settings.get("runtimeToken") or not secret:
            return {}
        token = runtime_token(secret, job["identifier"], job.get("owner"),
                              float(job["inputs"].get("ccpmaxtime", 3600)))
        return {"CCP_TOKEN": token, "CCP_URL": self.base_url}

    def _execution_of(self, job: dict[str, Any]) -> lifecycle.Execution:
        infrastructure = Infrastructure.from_dict(job["infrastructure"])
        return lifecycle.Execution(
            job_id=job["identifier"],
            method=Method.from_dict(job["method"]),
            infrastructure=infrastructure,
            request=job["request"],
            inputs=job["inputs"],
            workdir=self.data_dir / "work" / job["identifier"],
            base_url=self.base_url,
            user=job["claims"] or {},
            derived_from=job.get("derived_from"),
            runtime_env=self._runtime_env(job, infrastructure),
            method_source=job.get("method_source") or "file",
            template_limits=self.template_limits,
        )

    def runtime(self, infrastructure: Infrastructure) -> Runtime:
        """One runtime (and engine client) per Infrastructure descriptor, reused."""
        key = json.dumps(infrastructure.raw, sort_keys=True)
        with self._runtimes_lock:
            if key not in self._runtimes:
                self._runtimes[key] = runtime_for(infrastructure)
            return self._runtimes[key]

    # --- recovery ---------------------------------------------------------------------------

    def recover(self) -> None:
        """Fail jobs whose server died and destroy their runtimes; clean orphans."""
        for job in self.store.stale_running(self.heartbeat_timeout):
            if self.store.take_over_if_stale(job["identifier"], self.worker_id,
                                             self.heartbeat_timeout):
                self._fail_lost(job)
        for infrastructure in self.registry.infrastructures.values():
            if self.reachability.get(infrastructure.id):
                continue  # unreachable: its orphans are cleaned once it is back
            try:
                self.runtime(infrastructure).destroy_orphans(self.store.is_orphan)
            except Exception as err:
                LOGGER.warning("orphan clean-up on %s failed: %s", infrastructure.id, err)

    def _fail_lost(self, job: dict[str, Any]) -> None:
        job_id = job["identifier"]
        message = ("Failed: the server stopped while this execution was running; "
                   "its runtime was destroyed")
        LOGGER.warning("job %s was left running by a dead server: failing it", job_id)
        stored, outcome_bytes = False, None
        try:
            execution = self._execution_of(job)
            runtime = self.runtime(execution.infrastructure)
            if job.get("instance"):
                runtime.destroy(Instance.from_dict(job["instance"]))
            outcome = lifecycle.record_lost(execution, runtime, self.storage, message,
                                            job.get("started"))
            stored, outcome_bytes = outcome.stored, outcome.archive_bytes
        except Exception:
            LOGGER.exception("cleaning up job %s failed", job_id)
        self.store.update_running(job_id, status="failed", message=message, progress=100,
                                  finished=lifecycle.now_iso(), stored=stored,
                                  archive_bytes=outcome_bytes)

    def retry_storage(self) -> list[str]:
        """Upload the archives a store could not take; return the job ids now stored.

        A job whose archive was kept on disk ended `failed`; once stored, it gets back the
        status its execution really had.
        """
        stored = []
        for job in self.store.list(status=list(FINAL_STATUSES), stored=False, limit=1000)[0]:
            archive_dir = self.data_dir / "work" / job["identifier"] / "archive"
            if job.get("stored") or not (archive_dir / "metadata" / "status.json").exists():
                continue
            try:
                self.storage.put_tree(archive.prefix_of(job["identifier"]), archive_dir)
            except Exception as err:
                LOGGER.warning("archive of %s still not stored: %s", job["identifier"], err)
                continue
            record = json.loads((archive_dir / "metadata" / "status.json").read_text())
            self.store.update(job["identifier"], stored=True, status=record["status"],
                              message=f"{record['message']} (archive stored on retry)")
            shutil.rmtree(archive_dir.parent, ignore_errors=True)
            stored.append(job["identifier"])
        return stored

    def check_infrastructures(self) -> None:
        for infrastructure in list(self.registry.infrastructures.values()):
            try:
                self.runtime(infrastructure).check()
                problem = None
            except Exception as err:
                problem = str(err) or type(err).__name__
            if problem != self.reachability.get(infrastructure.id, "unchecked"):
                if problem:  # said once when it happens, not at every check
                    LOGGER.warning("infrastructure %s is unreachable: %s", infrastructure.id,
                                   problem)
                elif infrastructure.id in self.reachability:
                    LOGGER.warning("infrastructure %s is reachable again", infrastructure.id)
            self.reachability[infrastructure.id] = problem

    def _reap(self) -> None:
        self.check_infrastructures()
        while not self._stopping.wait(max(1.0, self.heartbeat_timeout / 2)):
            for task in (self.recover, self.retry_storage, self.check_infrastructures):
                try:
                    task()
                except Exception:
                    LOGGER.exception("%s failed", task.__name__)


def _timestamp(value: Any) -> str | None:
    """An archive's time stamp, if it looks like one (archives are untrusted)."""
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d\d-\d\dT[0-9:.]+(Z|[+-]\d\d:\d\d)?",
                                               value):
        return value
    return None


def _imported_id(value: Any) -> str | None:
    return value if isinstance(value, str) and re.fullmatch(r"[A-Za-z0-9-]{8,64}", value) \
        else None


class StoreReporter:
    """The lifecycle's view of one job row."""

    def __init__(self, store: JobStore, job_id: str, stopping: threading.Event) -> None:
        self.store = store
        self.job_id = job_id
        self._stopping = stopping

    def stopping(self) -> bool:
        return self._stopping.is_set()

    def progress(self, phase: str, percent: int, message: str) -> None:
        self.store.update_running(self.job_id, durable=False, progress=percent, message=message)

    def instance_started(self, instance: dict[str, Any]) -> None:
        self.store.update_running(self.job_id, instance=instance)

    def heartbeat(self) -> None:
        self.store.update_running(self.job_id, durable=False, heartbeat=time.time())

    def dismiss_requested(self) -> bool:
        try:
            return bool(self.store.get(self.job_id)["dismiss_requested"])
        except JobNotFound:
            return True
