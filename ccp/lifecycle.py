"""One Execution, top to bottom: Launch → Deploy → Execute → Fetch → Undeploy → Destroy.

request → validated inputs → rendered scripts → runtime → /ccp_data → zip → archive + PROV
→ storage → job result. Any failure goes straight to Destroy; Destroy always runs; an
archive is always written, failed and dismissed executions included.
"""

from __future__ import annotations

import logging
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from ccp import archive, provenance, templating
from ccp import outputs as output_kinds
from ccp.archive import Archives
from ccp.executionlog import ExecutionLog
from ccp.jobcontrol.controller import Controller, Requests
from ccp.jobs import JobStatus
from ccp.metrics import Meter, prov_attributes, samples, summarize
from ccp.model import Infrastructure, Method
from ccp.references import DownloadFailed, Reference, Sources, download_all, drop_unchanged
from ccp.runtimes.base import (
    DATA_PATH,
    RUN_ONCE,
    Instance,
    Runtime,
    RuntimeCancelled,
    RuntimeFailure,
    RuntimeTimeout,
    now_iso,
)
from ccp.runtimes.runclock import Deadline, RunClock
from ccp.watchdog import Watchdog

LOGGER = logging.getLogger(__name__)

PROGRESS = {"Download": 7, "Launch": 10, "Stage": 20, "Deploy": 25, "Execute": 40,
            "Fetch": 80, "Undeploy": 85, "Destroy": 90, "Archive": 95}


class Reporter(Protocol):
    """How the lifecycle talks to the job store, without knowing it."""

    def progress(self, phase: str, percent: int, message: str) -> None: ...
    def instance_started(self, instance: dict[str, Any]) -> None: ...
    def heartbeat(self) -> None: ...
    def requests(self) -> Requests: ...
    def suspension(self, since: str | None, seconds: float, withdraw: bool = False) -> None: ...
    def controls(self) -> list[dict[str, Any]]: ...
    def stopping(self) -> bool: ...


class WarmSource(Protocol):
    """Runtimes launched ahead (ccp.warmpool): one adopted by this execution, or None."""

    def take(self, infrastructure: Infrastructure, image: str, replicas: int,
             execution_id: str, env: dict[str, str], main_script: str | None = None
             ) -> Instance | None: ...


@dataclass
class Execution:
    job_id: str
    method: Method
    infrastructure: Infrastructure
    request: dict[str, Any]
    inputs: dict[str, Any]
    workdir: Path  # the execution's own files; removed once its archive is stored
    archive_dir: Path  # where the archive grows (inside workdir)
    base_url: str
    user: dict[str, Any] = field(default_factory=dict)
    derived_from: str | None = None
    runtime_env: dict[str, str] = field(default_factory=dict)
    method_source: str = "file"  # file, deployed or archive
    template_limits: templating.Limits = field(default_factory=templating.Limits)
    references: list[Reference] = field(default_factory=list)  # inputs given by href
    sources: Sources | None = None  # where they are downloaded from
    staged_inputs: list[dict[str, Any]] = field(default_factory=list)  # what was staged
    cache_of: str | None = None  # served from the archive of this identical execution


@dataclass
class Outcome:
    status: JobStatus  # successful, failed or dismissed
    message: str
    started: str
    finished: str
    outputs: list[dict[str, Any]] = field(default_factory=list)
    stored: bool = True
    archive_bytes: int | None = None
    statistics: dict[str, Any] | None = None  # what it used (ccp.metrics.summary)
    image_digest: str | None = None  # what the runtime ran, by content (for the cache)


class PhaseFailed(RuntimeError):
    pass


def run(execution: Execution, runtime: Runtime, archives: Archives, reporter: Reporter,
        meter: Meter | None = None, warm: WarmSource | None = None) -> Outcome:
    started = now_iso()
    meter = meter or Meter(execution.job_id, runtime)
    workdir = execution.workdir
    archive_dir = execution.archive_dir
    log = ExecutionLog(archive_dir)
    inputs = execution.inputs
    clock = RunClock()  # stands still while suspended; extensions add to it
    deadline = Deadline(clock, float(inputs["ccpmaxtime"]))
    instance: Instance | None = None
    phase = "Launch"
    outputs: list[dict[str, Any]] = []
    watchdog = Watchdog(runtime, reporter, log,
                        Controller(runtime, clock, log, reporter, float(inputs["ccpmaxtime"])))

    def enter(name: str, message: str) -> None:
        nonlocal phase
        if watchdog.cancel_requested.is_set():
            raise RuntimeCancelled("dismissed")
        phase = watchdog.control.phase = name
        meter.phase(name)
        log.event(name, message)
        reporter.progress(name, PROGRESS[name], f"{name}: {message}")

    watchdog.start()
    try:
        scripts = templating.render_all(execution.method.scripts, inputs,
                                        execution.template_limits)
        watchdog.cancel_script = scripts.get("cancel")
        if execution.references and execution.sources is not None:
            enter("Download", f"{len(execution.references)} input(s) given by reference")
            execution.staged_inputs = download_all(
                execution.references, execution.sources, workdir / "stage",
                lambda text: log.event("Download", text), watchdog.cancel_requested.is_set)
        enter("Launch", f"starting {inputs['ccpimage']} on {execution.infrastructure.id}")
        # Suspension waits for a script to run: a launch or staging cannot be paused, nor a
        # run-once container before its script starts it (or once the script has ended it).
        clock.take(watchdog.cancel_requested.is_set)
        instance = _launch(execution, runtime, warm, log, scripts)
        instance.clock = clock
        reporter.instance_started(instance.to_dict())
        watchdog.instance = instance
        meter.watch(instance)
        if execution.staged_inputs:
            enter("Stage", f"copying {len(execution.staged_inputs)} input(s) to "
                  f"{DATA_PATH}/inputs")
            runtime.stage_inputs(instance, workdir / "stage" / "inputs")
            shutil.rmtree(workdir / "stage", ignore_errors=True)
        for name in ("Deploy", "Execute"):
            if name.lower() in scripts:
                enter(name, f"running the {name.lower()} script")
                _run_script(runtime, instance, name, scripts[name.lower()], deadline, log)
        enter("Fetch", "copying /ccp_data")
        fetched = workdir / "ccp_data"
        clock.take(watchdog.cancel_requested.is_set)  # held since the last script anyway
        runtime.fetch(instance, fetched)
        for root in ([fetched / f"replica-{n}" for n in range(1, instance.replicas + 1)]
                     if instance.replicas > 1 else [fetched]):
            drop_unchanged(root, execution.staged_inputs)
        outputs = archive.zip_outputs(fetched, archive_dir / archive.OUTPUT_ZIP)
        named, missing = output_kinds.collect(execution.method.raw, fetched, archive_dir,
                                              inputs["ccpreplicas"])
        outputs += named
        for output_id in missing:
            log.event("Fetch", f"named output '{output_id}' matched no file")
        shutil.rmtree(fetched, ignore_errors=True)
        if "undeploy" in scripts:
            enter("Undeploy", "running the undeploy script")
            _run_script(runtime, instance, "Undeploy", scripts["undeploy"], deadline, log)
        status, message = JobStatus.SUCCESSFUL, "Execution successful"
    except RuntimeCancelled:
        if reporter.stopping():
            status, message = JobStatus.FAILED, (f"Failed: the server shut down during {phase}; "
                                         "runtime destroyed")
        else:
            status, message = JobStatus.DISMISSED, f"Dismissed during {phase}; runtime destroyed"
    except RuntimeTimeout:
        extended = watchdog.control.limit - float(inputs["ccpmaxtime"])
        status, message = JobStatus.FAILED, (
            f"Timeout: the execution exceeded ccpmaxtime of {inputs['ccpmaxtime']} s"
            + (f" (extended by {extended:.0f} s)" if extended else "")
            + f" during {phase} and was stopped"
        )
    except (PhaseFailed, DownloadFailed) as err:
        status, message = JobStatus.FAILED, str(err)
    except templating.RenderError as err:
        status, message = JobStatus.FAILED, f"Launch failed: a script could not be rendered: {err}"
    except RuntimeFailure as err:  # the engine said no or went away: expected, not a bug
        LOGGER.warning("execution %s failed in %s: %s", execution.job_id, phase, err)
        status, message = JobStatus.FAILED, f"{phase} failed: {err}"
    except Exception as err:
        LOGGER.exception("execution %s failed in %s", execution.job_id, phase)
        status, message = JobStatus.FAILED, f"{phase} failed: {err}"
    finally:
        watchdog.stop()

    reporter.progress("Destroy", PROGRESS["Destroy"], f"Destroy: removing the runtime ({status})")
    log.event("Destroy", "removing the runtime")
    meter.phase("Destroy")
    description = _destroy(runtime, instance, log)
    meter.finish()
    log.event("Done", message)
    finished = now_iso()

    reporter.progress("Archive", PROGRESS["Archive"], "Archive: storing the execution record")
    control = {"timeLimit": watchdog.control.limit,
               "suspendedSeconds": round(clock.suspended_seconds(), 3),
               "requests": _quietly(reporter.controls, [])}
    digest = instance.handle.get("imageDigest") if instance is not None else None
    outcome = Outcome(status, message, started, finished, outputs,
                      statistics=_write_metrics(meter, execution.archive_dir),
                      image_digest=digest)
    return _archive(execution, archives, description, outcome, control)


def _launch(execution: Execution, runtime: Runtime, warm: WarmSource | None,
            log: ExecutionLog, scripts: dict[str, str]) -> Instance:
    """A warm runtime launched ahead for this image, if there is one; else a new one, made
    to run the execute script as its main process when that is the only script."""
    image, replicas = execution.inputs["ccpimage"], execution.inputs["ccpreplicas"]
    env = {**execution.runtime_env, "ccptaskname": execution.job_id}
    only = scripts["execute"] if set(scripts) - {"cancel"} == {"execute"} else None
    instance = warm.take(execution.infrastructure, image, replicas, execution.job_id,
                         env, only) if warm is not None else None
    if instance is not None:
        log.event("Launch", f"took a warm runtime launched ahead at "
                            f"{instance.handle['warm']['launched']}")
        return instance
    if only is not None and RUN_ONCE in runtime.capabilities:
        instance = runtime.launch_once(execution.job_id, image, env, only, replicas=replicas)
        log.event("Launch", "created; the execute script is its main process")
        return instance
    return runtime.launch(execution.job_id, image, env, replicas=replicas)


def record_lost(execution: Execution, runtime: Runtime, archives: Archives, message: str,
                started: str | None) -> Outcome:
    """Write the archive of an execution whose server died under it."""
    ExecutionLog(execution.archive_dir).event("Destroy", message)
    finished = now_iso()
    started = started or finished
    description = {"runtime": runtime.type, "lost": True, "destroyed": finished}
    return _archive(execution, archives, description,
                    Outcome(JobStatus.FAILED, message, started, finished))


def record_cache_hit(execution: Execution, archives: Archives, instance: dict[str, Any],
                     outputs: list[dict[str, Any]]) -> Outcome:
    """Write the archive of an execution served from the cache: nothing runs; the outputs
    and script logs are those of `execution.cache_of`, which ran the same Method on the same
    inputs and image (ccp/cache.py)."""
    earlier = execution.cache_of
    started = now_iso()
    log = ExecutionLog(execution.archive_dir)
    log.event("Cache", f"the same Method, inputs and image as Execution {earlier}: its "
                       "outputs are this one's; no runtime was launched")
    message = f"Successful from the cache: the outputs of Execution {earlier}"
    log.event("Done", message)
    outcome = _archive(execution, archives, instance,
                       Outcome(JobStatus.SUCCESSFUL, message, started, now_iso(), outputs))
    if outcome.stored and earlier:
        try:
            outcome.archive_bytes = (outcome.archive_bytes or 0) + archives.copy_results(
                earlier, execution.job_id)
        except Exception as err:
            LOGGER.exception("copying the outputs of %s failed", earlier)
            return Outcome(JobStatus.FAILED, f"the outputs of Execution {earlier} could not be "
                           f"copied from the cache: {err}", started, outcome.finished,
                           archive_bytes=outcome.archive_bytes)
    return outcome


def _archive(execution: Execution, archives: Archives, instance: dict[str, Any],
             outcome: Outcome, control: dict[str, Any] | None = None) -> Outcome:
    """Write metadata and PROV, then store the archive; if the store fails, keep it on disk
    for a retry and say so. `control`: the time limit, suspension and control requests."""
    archive_dir = execution.archive_dir
    control = control or {}
    _write_metadata(execution, instance, outcome.status, outcome.message, outcome.started,
                    outcome.finished, archive_dir, control, outcome.statistics)
    _write_provenance(execution, instance, outcome.status, outcome.started, outcome.finished,
                      outcome.outputs, archive_dir, control, outcome.statistics)
    outcome.archive_bytes = archive.directory_size(archive_dir)
    try:
        archives.store(execution.job_id, archive_dir)
    except Exception as err:
        LOGGER.exception("storing the archive of %s failed", execution.job_id)
        return Outcome(JobStatus.FAILED, f"The archive could not be stored ({err}); it is kept "
                       f"on the server for a retry ({outcome.status}: {outcome.message})",
                       outcome.started, outcome.finished, outcome.outputs, stored=False,
                       archive_bytes=outcome.archive_bytes, statistics=outcome.statistics)
    shutil.rmtree(execution.workdir, ignore_errors=True)
    return outcome


def _run_script(runtime: Runtime, instance: Instance, phase: str, script: str,
                deadline: Deadline, log: ExecutionLog) -> None:
    # held until the script runs (wait_for_script lets go): no suspension while it starts;
    # held again once it has ended (a suspension is of a running script)
    instance.clock.take(instance.cancelled.is_set)
    try:
        remaining = deadline.remaining()
        if remaining <= 0:
            raise RuntimeTimeout("no time left")
        code = runtime.run(instance, script, remaining,
                           lambda replica, stream, text: log.line(phase, replica, stream, text))
    finally:
        instance.clock.take(instance.cancelled.is_set)
    if code != 0:
        reason = runtime.exit_reason(instance, code)
        raise PhaseFailed(f"{phase} failed: the {phase.lower()} script exited with code {code}"
                          + (f" ({reason})" if reason else ""))


def _destroy(runtime: Runtime, instance: Instance | None, log: ExecutionLog) -> dict[str, Any]:
    if instance is None:
        return {"runtime": runtime.type, "launched": False}
    try:
        description = runtime.describe(instance)
    except Exception as err:
        description = {"runtime": runtime.type, "describeError": str(err)}
    # launched ahead by a warm pool (member id, launched, adopted), or for this execution
    description["warm"] = instance.handle.get("warm") or False
    for attempt in range(3):
        try:
            runtime.destroy(instance)
            description["destroyed"] = now_iso()
            break
        except Exception as err:
            log.event("Destroy", f"attempt {attempt + 1} failed: {err}")
            time.sleep(1)
    else:
        description["destroyError"] = "not destroyed; the orphan clean-up will retry"
    return description


def _write_metrics(meter: Meter, archive_dir: Path) -> dict[str, Any] | None:
    """metadata/metrics.csv from the meter's samples; returns their summary. Metrics never
    fail an execution: if they cannot be written, the archive goes without them."""
    try:
        taken, phases = meter.collected()
        (archive_dir / archive.METRICS_CSV).parent.mkdir(parents=True, exist_ok=True)
        (archive_dir / archive.METRICS_CSV).write_text(samples.to_csv(taken))
        return summarize(taken, phases, meter.interval)
    except Exception:
        LOGGER.exception("the metrics of %s could not be written", meter.job_id)
        return None


def _write_metadata(execution: Execution, instance: dict[str, Any], status: str, message: str,
                    started: str, finished: str, archive_dir: Path,
                    control: dict[str, Any], statistics: dict[str, Any] | None = None) -> None:
    archive.write_json(archive_dir / archive.REQUEST, execution.request)
    archive.write_json(archive_dir / archive.METHOD, execution.method.to_dict())
    archive.write_json(archive_dir / archive.INFRASTRUCTURE, execution.infrastructure.to_dict())
    archive.write_json(archive_dir / archive.INSTANCE, instance)
    archive.write_json(archive_dir / archive.STATUS, {
        "jobID": execution.job_id,
        "processID": execution.method.id,
        "processVersion": execution.method.version,
        "infrastructure": execution.infrastructure.id,
        "status": status,
        "message": message,
        "started": started,
        "finished": finished,
        "inputs": execution.inputs,
        "derivedFrom": execution.derived_from,
        "cacheOf": execution.cache_of,
        "method": {"digest": execution.method.digest, "source": execution.method_source},
        **{key: control[key] for key in ("timeLimit", "suspendedSeconds") if key in control},
        "statistics": statistics,
    })
    archive.write_json(archive_dir / archive.CLAIMS, execution.user)
    if execution.references:
        archive.write_json(archive_dir / archive.STAGED_INPUTS, execution.staged_inputs)


def _write_provenance(execution: Execution, instance: dict[str, Any], status: str,
                      started: str, finished: str, outputs: list[dict[str, Any]],
                      archive_dir: Path, control: dict[str, Any],
                      statistics: dict[str, Any] | None = None) -> None:
    facts = provenance.ProvenanceFacts(
        job_id=execution.job_id,
        base_url=execution.base_url,
        method=execution.method.to_dict(),
        infrastructure=execution.infrastructure.to_dict(),
        inputs=execution.inputs,
        image=execution.inputs["ccpimage"],
        status=status,
        started=started,
        ended=finished,
        user=execution.user,
        outputs=[provenance.OutputFile(o["name"], o["size"], o["sha256"], o.get("output", ""))
                 for o in outputs],
        derived_from=execution.derived_from,
        method_digest=execution.method.digest,
        method_source=execution.method_source,
        controls=control.get("requests", []),
        time_limit=control.get("timeLimit"),
        suspended_seconds=control.get("suspendedSeconds", 0.0),
        statistics=prov_attributes(statistics) if statistics else {},
        staged_inputs=execution.staged_inputs,
        warm_runtime=bool(instance.get("warm")),
        cache_of=execution.cache_of,
    )
    doc = provenance.build(facts)
    (archive_dir / archive.PROVENANCE_JSON).parent.mkdir(parents=True, exist_ok=True)
    # Turtle is made from this when the archive is zipped (archive.stream_zip)
    (archive_dir / archive.PROVENANCE_JSON).write_text(provenance.serialize(doc, "json"))


def _quietly(read: Any, default: Any) -> Any:
    """What `read()` returns, or `default` when it fails (the archive is written anyway)."""
    try:
        return read()
    except Exception:
        LOGGER.exception("reading %s failed", getattr(read, "__name__", read))
        return default
