"""Health of every Infrastructure: checked on a schedule, kept with its recent history.

A check asks the engine whether it answers (the runtime's `check()`) and, where the
Infrastructure names a `probeImage`, runs a probe: a new instance of that image running
`true`, destroyed at once, within `probeTimeout` seconds. The engine is asked every
`healthInterval` seconds; the probe runs every `probeInterval` seconds while it passes and at
every check once it failed, so dispatch resumes as soon as it passes again.

An Infrastructure is healthy when its engine answers and its last probe (if any) passed.
Workers do not claim executions of an unhealthy Infrastructure (see `unhealthy()`); those
wait in the queue, `accepted`, their message saying why, for at most `unhealthyWait` seconds
and then fail (see queue.py). Each server checks for itself: another server that can reach
the engine runs those executions meanwhile.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any

from ccp.jobcontrol.queue import HeldQueue
from ccp.jobcontrol.records import Check, Records
from ccp.logs import concise
from ccp.model import Infrastructure
from ccp.periodic import Periodic, run_each
from ccp.registry import Registry
from ccp.runtimepool import RuntimePool
from ccp.runtimes.base import Runtime, RuntimeFailure, now_iso

LOGGER = logging.getLogger(__name__)

PROBE_PREFIX = "probe-"
STALE_PROBE_SECONDS = 3600  # a probe instance older than this was left by a crash
LOOP_SECONDS = 1.0


@dataclass
class State:
    """What this server last found of one Infrastructure."""

    healthy: bool
    problem: str | None  # why it is unhealthy
    reachable_problem: str | None  # why the engine does not answer (None: it does)
    since: str  # when it became healthy or unhealthy
    since_seconds: float  # the same, time.time()
    checked: float  # time.monotonic() of the last check
    probed: float | None = None  # time.monotonic() of the last probe
    probe_ok: bool | None = None


def probe_id() -> str:
    """A probe's execution id: when it was made, so a left-over one can be recognised."""
    return f"{PROBE_PREFIX}{int(time.time())}-{uuid.uuid4().hex[:8]}"


def is_stale_probe(execution_id: str, now: float | None = None) -> bool:
    """An instance of a probe that should have ended long ago (its server crashed)."""
    if not execution_id.startswith(PROBE_PREFIX):
        return False
    made = execution_id[len(PROBE_PREFIX):].split("-", 1)[0]
    return made.isdigit() and (now or time.time()) - int(made) > STALE_PROBE_SECONDS


def run_probe(runtime: Runtime, image: str, timeout: float) -> None:
    """Launch `image`, run `true` in it, destroy it; RuntimeFailure unless all of it works
    within `timeout` seconds."""
    if "health-probe" not in runtime.capabilities:
        raise RuntimeFailure(f"the {runtime.type} runtime cannot run probes")
    outcome: dict[str, Any] = {}

    def probe() -> None:
        execution_id = probe_id()
        try:
            instance = runtime.launch(execution_id, image, {"ccptaskname": execution_id})
            try:
                code = runtime.run(instance, "true", timeout, lambda *_: None)
                if code != 0:
                    raise RuntimeFailure(f"`true` exited with code {code}")
            finally:
                runtime.destroy(instance)
            outcome["ok"] = True
        except Exception as err:
            outcome["error"] = err

    thread = threading.Thread(target=probe, name="ccp-probe", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        raise RuntimeFailure(f"the probe did not finish within {timeout:.0f} s")
    if "error" in outcome:
        raise RuntimeFailure(f"the probe failed: {concise(outcome['error'])}")


class HealthMonitor:
    def __init__(self, registry: Registry, runtimes: RuntimePool, records: Records,
                 server: str, queue: HeldQueue) -> None:
        self.registry = registry
        self.runtimes = runtimes
        self.records = records
        self.server = server
        self.queue = queue
        self.states: dict[str, State] = {}
        self._lock = threading.Lock()
        self._checking: dict[str, threading.Lock] = {}
        self._schedule = Periodic("ccp-health", LOOP_SECONDS,
                                  lambda: run_each((self.check_due, self._hold_queue)))

    # --- what the rest of the server reads ---------------------------------------------------

    @property
    def reachability(self) -> dict[str, str | None]:
        """Infrastructure id -> why its engine does not answer (None: it does)."""
        with self._lock:
            return {key: state.reachable_problem for key, state in self.states.items()}

    def unhealthy(self) -> set[str]:
        """The Infrastructures whose executions must wait in the queue."""
        with self._lock:
            return {key for key, state in self.states.items() if not state.healthy}

    def summary(self, infrastructure_id: str) -> dict[str, Any]:
        """This server's view: healthy (None: not checked yet), since when, why not."""
        with self._lock:
            state = self.states.get(infrastructure_id)
        if state is None:
            return {"healthy": None}
        return {"healthy": state.healthy, "since": state.since,
                **({"problem": state.problem} if state.problem else {})}

    def document(self, infrastructure: Infrastructure, history: int = 20) -> dict[str, Any]:
        """The health of one Infrastructure with its recent checks, newest first."""
        with self._lock:
            state = self.states.get(infrastructure.id)
        settings = infrastructure.settings
        document: dict[str, Any] = {
            "infrastructure": infrastructure.id,
            "healthy": None if state is None else state.healthy,
            "problem": None if state is None else state.problem,
            "since": None if state is None else state.since,
            "server": self.server,
            "schedule": {"intervalSeconds": settings.health_interval,
                         "probeImage": settings.probe_image,
                         "probeIntervalSeconds": settings.probe_interval,
                         "probeTimeoutSeconds": settings.probe_timeout,
                         "unhealthyWaitSeconds": settings.unhealthy_wait},
            "history": [check.to_dict()
                        for check in self.records.checks(infrastructure.id, "health", history)],
        }
        return document

    # --- checking ----------------------------------------------------------------------------

    def check(self, infrastructure: Infrastructure, probe: bool | None = None) -> Check:
        """Check one Infrastructure now (the probe too when `probe`, or when it is due)."""
        lock = self._checking.setdefault(infrastructure.id, threading.Lock())
        with lock:  # one check of an Infrastructure at a time
            return self._check(infrastructure, probe)

    def _check(self, infrastructure: Infrastructure, probe: bool | None) -> Check:
        settings = infrastructure.settings
        previous = self.states.get(infrastructure.id)
        if probe is None:
            probe = settings.probe_image is not None and (
                previous is None or previous.probed is None or previous.probe_ok is False
                or time.monotonic() - previous.probed >= settings.probe_interval)
        started = time.monotonic()
        detail: dict[str, Any] = {}
        runtime = self.runtimes.get(infrastructure)
        try:
            runtime.check()
            reachable_problem = None
        except Exception as err:
            reachable_problem = concise(err)
        detail["engine"] = {"ok": reachable_problem is None,
                            "latencyMs": _ms(time.monotonic() - started),
                            **({"message": reachable_problem} if reachable_problem else {})}
        probe_ok = previous.probe_ok if previous else None
        probed = previous.probed if previous else None
        if probe and settings.probe_image and reachable_problem is None:
            probe_started = time.monotonic()
            try:
                run_probe(runtime, settings.probe_image, settings.probe_timeout)
                probe_ok, probe_problem = True, None
            except Exception as err:
                probe_ok, probe_problem = False, concise(err, 400)
            probed = time.monotonic()
            detail["probe"] = {"ok": probe_ok, "image": settings.probe_image,
                               "latencyMs": _ms(probed - probe_started),
                               **({"message": probe_problem} if probe_problem else {})}
        elif probe_ok is False and settings.probe_image:
            detail["probe"] = {"ok": False, "image": settings.probe_image,
                               "message": "failed at its last run"}
        problem = reachable_problem
        if problem is None and probe_ok is False and settings.probe_image:
            problem = detail["probe"].get("message") or "the probe failed"
        healthy = problem is None
        message = "healthy" if healthy else problem or "unhealthy"
        if healthy and "probe" in detail:
            message = "healthy: the engine answers and the probe passed"
        elif healthy:
            message = "healthy: the engine answers"
        check = Check(infrastructure.id, "health", now_iso(), self.server, healthy,
                      _ms(time.monotonic() - started), message, detail)
        self._remember(infrastructure, check, reachable_problem, problem, probed, probe_ok)
        try:
            self.records.add_check(check)
        except Exception:
            LOGGER.exception("recording a health check of %s failed", infrastructure.id)
        return check

    def _remember(self, infrastructure: Infrastructure, check: Check,
                  reachable_problem: str | None, problem: str | None, probed: float | None,
                  probe_ok: bool | None) -> None:
        with self._lock:
            previous = self.states.get(infrastructure.id)
            since, since_seconds = check.checked, time.time()
            if previous is not None and previous.healthy == check.ok:
                since, since_seconds = previous.since, previous.since_seconds
            elif previous is not None or not check.ok:  # said once when it happens
                LOGGER.warning("infrastructure %s %s", infrastructure.id,
                               _change(check.ok, reachable_problem, problem, previous))
            self.states[infrastructure.id] = State(
                healthy=check.ok, problem=problem, reachable_problem=reachable_problem,
                since=since, since_seconds=since_seconds, checked=time.monotonic(),
                probed=probed, probe_ok=probe_ok)
        if check.ok and previous is not None and not previous.healthy:
            self.queue.released(infrastructure.id)

    def check_engines(self) -> None:
        """Ask every engine now whether it answers (no probes): at start-up, and on demand."""
        for infrastructure in list(self.registry.infrastructures.values()):
            self.check(infrastructure, probe=False)

    def check_due(self) -> None:
        """Check every Infrastructure whose next check is due."""
        for infrastructure in list(self.registry.infrastructures.values()):
            if self._schedule.stopping.is_set():
                return
            state = self.states.get(infrastructure.id)
            never_probed = infrastructure.settings.probe_image is not None and (
                state is None or (state.probed is None and state.reachable_problem is None))
            if state is None or never_probed or time.monotonic() - state.checked >= \
                    infrastructure.settings.health_interval:
                self.check(infrastructure)

    # --- the schedule ------------------------------------------------------------------------

    def start(self) -> None:
        """Check on schedule from now on (Recovery checks the engines once at start-up)."""
        self._schedule.start()

    def stop(self, timeout: float) -> None:
        self._schedule.stop(timeout)

    def _hold_queue(self) -> None:
        with self._lock:
            unhealthy = {key: state for key, state in self.states.items() if not state.healthy}
        for infrastructure_id, state in unhealthy.items():
            infrastructure = self.registry.infrastructures.get(infrastructure_id)
            if infrastructure is not None:
                self.queue.hold(infrastructure, state.problem or "unhealthy",
                                state.since_seconds)


def _change(healthy: bool, reachable_problem: str | None, problem: str | None,
            previous: State | None) -> str:
    """One line on what changed: unreachable, unhealthy (the probe), or fine again."""
    if reachable_problem:
        return f"unreachable: {reachable_problem}"
    if not healthy:
        return f"unhealthy: {problem}"
    if previous is not None and previous.reachable_problem:
        return "reachable again"
    return "healthy again"


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 1)
