"""From a claimed job to a finished one: build the Execution, run its lifecycle on the right
runtime, record the outcome in the job store."""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from typing import Any

from ccp import archive, lifecycle, templating
from ccp.archive import Archives
from ccp.auth import runtime_token
from ccp.cache import key_of_run
from ccp.jobcontrol.controller import Requests
from ccp.jobcontrol.records import Records
from ccp.jobs import Job, JobStatus
from ccp.jobstore import JobStore
from ccp.metrics import Metering
from ccp.model import Infrastructure, Method
from ccp.references import Reference, Sources
from ccp.runtimepool import RuntimePool
from ccp.runtimes.base import Instance

LOGGER = logging.getLogger(__name__)


class Executor:
    def __init__(self, store: JobStore, archives: Archives, runtimes: RuntimePool,
                 base_url: str, template_limits: templating.Limits,
                 runtime_token_secret_env: str = "CCP_RUNTIME_TOKEN_SECRET",
                 metering: Metering | None = None,
                 warm: lifecycle.WarmSource | None = None) -> None:
        self.store = store
        self.warm = warm
        self.archives = archives
        self.runtimes = runtimes
        self.base_url = base_url
        self.template_limits = template_limits
        self.runtime_token_secret_env = runtime_token_secret_env
        self.metering = metering
        self.sources: Sources | None = None  # where inputs by reference come from
        # (job id, subscriber) after each change of a job: subscriber callbacks
        self.on_change: Callable[[str, Any], None] = lambda _job_id, _subscriber: None

    def run(self, job: Job, stopping: threading.Event) -> None:
        """Run one claimed job to its end; the store gets its final status."""
        subscriber = job.request.get("subscriber")
        reporter = StoreReporter(self.store, job.identifier, stopping,
                                 lambda: self.on_change(job.identifier, subscriber))
        self.on_change(job.identifier, subscriber)
        try:
            execution = self.execution_of(job)
            runtime = self.runtimes.get(execution.infrastructure)
            meter = self.metering.meter(job, runtime) if self.metering else None
            outcome = lifecycle.run(execution, runtime, self.archives, reporter, meter,
                                    self.warm)
            if self.metering:
                self.metering.flush()  # its samples are in the store before it is final
        except Exception as err:
            LOGGER.exception("job %s could not run", job.identifier)
            self.store.update_running(job.identifier, status=JobStatus.FAILED, progress=100,
                                      message=f"Launch failed: {err}",
                                      finished=lifecycle.now_iso())
            self.on_change(job.identifier, subscriber)
            return
        if not self.store.update_running(
                job.identifier, status=outcome.status, message=outcome.message, progress=100,
                finished=outcome.finished, stored=outcome.stored, outputs=outcome.outputs,
                archive_bytes=outcome.archive_bytes, suspended_since=None,
                cache_key=key_of_run(job, outcome.image_digest)
                if outcome.status == JobStatus.SUCCESSFUL else None):
            # ended meanwhile by someone else (verify found its runtime gone): its status
            # stays, but the archive written is there
            self.store.update(job.identifier, stored=outcome.stored,
                              archive_bytes=outcome.archive_bytes)
        self.on_change(job.identifier, subscriber)

    def fail_lost(self, job: Job) -> None:
        """A job whose server died under it: destroy its runtime, archive what is known."""
        message = ("Failed: the server stopped while this execution was running; "
                   "its runtime was destroyed")
        LOGGER.warning("job %s was left running by a dead server: failing it", job.identifier)
        stored, archive_bytes = False, None
        try:
            execution = self.execution_of(job)
            runtime = self.runtimes.get(execution.infrastructure)
            if job.instance:
                runtime.destroy(Instance.from_dict(job.instance))
            outcome = lifecycle.record_lost(execution, runtime, self.archives, message,
                                            job.started)
            stored, archive_bytes = outcome.stored, outcome.archive_bytes
        except Exception:
            LOGGER.exception("cleaning up job %s failed", job.identifier)
        self.store.update_running(job.identifier, status=JobStatus.FAILED, message=message,
                                  progress=100, finished=lifecycle.now_iso(), stored=stored,
                                  archive_bytes=archive_bytes, suspended_since=None)
        self.on_change(job.identifier, job.request.get("subscriber"))

    def execution_of(self, job: Job) -> lifecycle.Execution:
        infrastructure = Infrastructure.from_dict(job.infrastructure)
        return lifecycle.Execution(
            job_id=job.identifier,
            method=Method.from_dict(job.method),
            infrastructure=infrastructure,
            request=job.request,
            inputs=job.inputs,
            workdir=archive.work_dir(self.archives.data_dir, job.identifier),
            archive_dir=archive.staging_dir(self.archives.data_dir, job.identifier),
            base_url=self.base_url,
            user=job.claims,
            derived_from=job.derived_from,
            runtime_env=self._runtime_env(job, infrastructure),
            method_source=job.method_source or "file",
            template_limits=self.template_limits,
            cache_of=job.cache_of,
            references=[Reference.from_dict(r) for r in job.input_references or []],
            sources=self.sources,
        )

    def _runtime_env(self, job: Job, infrastructure: Infrastructure) -> dict[str, str]:
        """A short-lived callback token, only where the Infrastructure asks for one."""
        secret = os.environ.get(self.runtime_token_secret_env, "")
        if not infrastructure.settings.runtime_token or not secret:
            return {}
        token = runtime_token(secret, job.identifier, job.owner,
                              float(job.inputs.get("ccpmaxtime", 3600)))
        return {"CCP_TOKEN": token, "CCP_URL": self.base_url}


class StoreReporter:
    """The lifecycle's view of one job row."""

    def __init__(self, store: JobStore, job_id: str, stopping: threading.Event,
                 changed: Callable[[], None] = lambda: None) -> None:
        self.store = store
        self.job_id = job_id
        self._stopping = stopping
        self._records = Records(store)
        self._changed = changed

    def stopping(self) -> bool:
        return self._stopping.is_set()

    def progress(self, phase: str, percent: int, message: str) -> None:
        self.store.update_running(self.job_id, durable=False, progress=percent, message=message)
        self._changed()

    def instance_started(self, instance: dict[str, Any]) -> None:
        # Not flushed to disk: it survives a crash of the server, not of the machine, and
        # the orphan clean-up finds a runtime by its labels anyway.
        self.store.update_running(self.job_id, durable=False, instance=instance)

    def heartbeat(self) -> None:
        self.store.update_running(self.job_id, durable=False, heartbeat=time.time())

    def requests(self) -> Requests:
        return self._records.requests(self.job_id)

    def suspension(self, since: str | None, seconds: float, withdraw: bool = False) -> None:
        values: dict[str, Any] = {"suspended_since": since, "suspended_seconds": seconds}
        if withdraw:
            values["suspend_requested"] = False
        self.store.update_running(self.job_id, **values)

    def controls(self) -> list[dict[str, Any]]:
        return self._records.controls(self.job_id)
