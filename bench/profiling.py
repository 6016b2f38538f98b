"""Run executions in-process through `ccp.lifecycle.run` (no HTTP, no worker threads) and say
where the time goes, with pyinstrument.

The path is the one a worker takes: `CCPManager.submit` (validation + INSERT), the job store's
`claim_next`, then the manager's own `Executor.run` (the Execution built from the job,
`lifecycle.run`, the final `update_running`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ccp import lifecycle
from ccp.manager import CCPManager


def make_manager(data_dir: Path, methods: Path, infrastructures: Path) -> CCPManager:
    """A manager with no workers started: the benchmark drives every job itself."""
    return CCPManager({"name": "ccp.manager.CCPManager", "processes": {},
                       "data_dir": str(data_dir), "methods": str(methods),
                       "infrastructures": str(infrastructures), "connection": "",
                       "storage": {"type": "local"}, "base_url": "http://127.0.0.1:5000"})


def run_one(manager: CCPManager, process_id: str) -> str:
    """Submit, claim and run one job on this thread; returns its final status."""
    job_id = manager.submit(process_id, {"inputs": {}})
    job = manager.store.claim_next(manager.worker_id)
    if job is None or job.identifier != job_id:
        raise RuntimeError(f"could not claim job {job_id}")
    manager.executor.run(job, threading.Event())
    return manager.get_job(job_id).status.value


def time_runs(action: Callable[[], str], count: int) -> list[float]:
    times = []
    for _ in range(count):
        started = time.perf_counter()
        status = action()
        times.append(time.perf_counter() - started)
        if status != "successful":
            raise RuntimeError(f"an in-process execution ended {status}")
    return times


def _key(frame: Any) -> str:
    return f"{frame.function}  {frame.file_path_short or frame.file_path or '?'}:{frame.line_no}"


def inclusive_times(root: Any, keep: Callable[[Any], bool]) -> dict[str, float]:
    """Wall time inside each function (callees included), recursion counted once."""
    totals: dict[str, float] = {}

    def walk(frame: Any, active: frozenset[str]) -> None:
        if frame.is_synthetic:
            return
        key = _key(frame)
        if keep(frame) and key not in active:
            totals[key] = totals.get(key, 0.0) + frame.time
        for child in frame.children:
            walk(child, active | {key})

    walk(root, frozenset())
    return totals


def self_times(root: Any) -> dict[str, float]:
    """Wall time spent in each function's own code (library code included)."""
    totals: dict[str, float] = {}

    def walk(frame: Any) -> None:
        if frame.is_synthetic:
            return  # "[self]" and friends: counted in their parent's total_self_time
        own = frame.total_self_time
        if own > 0:
            key = _key(frame)
            totals[key] = totals.get(key, 0.0) + own
        for child in frame.children:
            walk(child)

    walk(root)
    return totals


def is_ccp(frame: Any) -> bool:
    path = frame.file_path or ""
    return "/ccp/" in path and "/bench/" not in path


def profile(action: Callable[[], str], count: int, top: int = 15) -> dict[str, Any]:
    """Run `action` `count` times under pyinstrument; print and return the top items."""
    try:
        from pyinstrument import Profiler
    except ImportError:
        print("  pyinstrument is not installed (`pip install pyinstrument`): no profile")
        return {}

    profiler = Profiler(interval=0.001, async_mode="disabled")
    profiler.start()
    try:
        for _ in range(count):
            action()
    finally:
        session = profiler.stop()
    root = session.root_frame()
    if root is None:
        print("  (pyinstrument recorded nothing)")
        return {}
    total = session.duration
    per = 1000 / count
    inclusive = sorted(inclusive_times(root, is_ccp).items(), key=lambda kv: -kv[1])[:top]
    own = sorted(self_times(root).items(), key=lambda kv: -kv[1])[:top]
    print(f"  pyinstrument, {count} executions, {total * per:.1f} ms each "
          f"(sampling every 1 ms; wall time on this thread, waits included)")
    print("  CCP functions by inclusive time (callees included), ms per execution:")
    for key, seconds in inclusive:
        print(f"    {seconds * per:8.2f}  {100 * seconds / total:5.1f}%  {key}")
    print("  functions by self time (any library), ms per execution:")
    for key, seconds in own:
        print(f"    {seconds * per:8.2f}  {100 * seconds / total:5.1f}%  {key}")
    return {"per_execution_ms": total * per,
            "inclusive_ms": {k: v * per for k, v in inclusive},
            "self_ms": {k: v * per for k, v in own}}


class Timers:
    """Wrap functions (module functions or class methods) with wall-clock timers, for the
    duration of a `with` block, in this process only. Nested targets are included in their
    callers' figures."""

    def __init__(self, targets: list[tuple[Any, str, str]]) -> None:
        self.targets = targets
        self.totals: dict[str, list[float]] = {label: [0.0, 0] for _, _, label in targets}
        self._saved: list[tuple[Any, str, Any]] = []
        self._lock = threading.Lock()

    def _wrap(self, function: Callable[..., Any], label: str) -> Callable[..., Any]:
        totals, lock = self.totals, self._lock

        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                elapsed = time.perf_counter() - started
                with lock:
                    totals[label][0] += elapsed
                    totals[label][1] += 1

        timed.__wrapped__ = function  # type: ignore[attr-defined]
        return timed

    def __enter__(self) -> Timers:
        for owner, name, label in self.targets:
            # None: inherited by a class, so removing the wrapper restores it
            original = vars(owner).get(name)
            self._saved.append((owner, name, original))
            setattr(owner, name, self._wrap(getattr(owner, name), label))
        return self

    def __exit__(self, *_exc: object) -> None:
        for owner, name, original in reversed(self._saved):
            if original is None:
                delattr(owner, name)
            else:
                setattr(owner, name, original)
        self._saved = []

    def report(self, executions: int, wall: float) -> dict[str, dict[str, float]]:
        """Print ms per execution and calls per execution for every target."""
        print(f"  component timings (no profiler; wrapped with perf_counter), {executions} "
              f"executions, {wall / executions * 1000:.1f} ms each; nested rows are part of "
              "the row above them:")
        found = {}
        for label, (seconds, calls) in self.totals.items():
            if not calls:
                continue
            per = seconds / executions * 1000
            found[label] = {"ms": per, "calls": calls / executions}
            print(f"    {per:8.2f} ms  {calls / executions:5.1f} calls  {label}")
        return found


def lifecycle_targets(runtime_class: type) -> list[tuple[Any, str, str]]:
    """What one execution calls, in the order of the data path; indentation = nesting."""
    from ccp import archive, executor, jobstore, manager, provenance, templating, warmpool
    from ccp.storage import local

    return [
        (manager.CCPManager, "submit", "CCPManager.submit (validate + INSERT)"),
        (jobstore.JobStore, "add", "  JobStore.add"),
        (jobstore.JobStore, "claim_next", "JobStore.claim_next"),
        (lifecycle, "run", "lifecycle.run"),
        (templating, "render_all", "  templating.render_all"),
        (warmpool.WarmPools, "take", "  WarmPools.take (a warm runtime, if any)"),
        (runtime_class, "image_digest", f"    {runtime_class.__name__}.image_digest"),
        (runtime_class, "adopt", f"    {runtime_class.__name__}.adopt"),
        (executor.StoreReporter, "progress", "  StoreReporter.progress"),
        (executor.StoreReporter, "instance_started", "  StoreReporter.instance_started"),
        (runtime_class, "launch", f"  {runtime_class.__name__}.launch"),
        (runtime_class, "run", f"  {runtime_class.__name__}.run (the script)"),
        (runtime_class, "fetch", f"  {runtime_class.__name__}.fetch"),
        (archive, "zip_outputs", "  archive.zip_outputs"),
        (lifecycle, "_destroy", "  lifecycle._destroy"),
        (runtime_class, "describe", f"    {runtime_class.__name__}.describe"),
        (runtime_class, "destroy", f"    {runtime_class.__name__}.destroy"),
        (lifecycle.Watchdog, "stop", "  Watchdog.stop (join)"),
        (lifecycle, "_write_metadata", "  lifecycle._write_metadata (6 JSON files)"),
        (lifecycle, "_write_provenance", "  lifecycle._write_provenance"),
        (provenance, "build", "    provenance.build"),
        (provenance, "serialize", "    provenance.serialize (json)"),
        (local.LocalStorage, "put_tree", "  LocalStorage.put_tree (move archive)"),
        (jobstore.JobStore, "update_running", "JobStore.update_running (all callers)"),
    ]


def docker_api_targets() -> list[tuple[Any, str, str]]:
    """The engine API calls of the docker runtime (docker-py's low-level client)."""
    from docker.api.client import APIClient

    calls = ("inspect_image", "create_container", "put_archive", "start", "exec_create",
             "exec_start", "exec_inspect", "get_archive", "version", "inspect_container",
             "rename", "containers", "remove_container")
    return [(APIClient, name, f"engine API {name}") for name in calls]
