"""The pieces of job control a server has, made in one place for the manager."""

from __future__ import annotations

from typing import Any

from ccp.executor import Executor
from ccp.jobcontrol.health import HealthMonitor
from ccp.jobcontrol.queue import HeldQueue
from ccp.jobcontrol.records import Records
from ccp.jobcontrol.service import JobControl
from ccp.jobcontrol.verify import Verifier
from ccp.jobstore import JobStore
from ccp.registry import Registry
from ccp.runtimepool import RuntimePool


def assemble(store: JobStore, registry: Registry, runtimes: RuntimePool, executor: Executor,
             worker_id: str, settings: dict[str, Any]
             ) -> tuple[Records, JobControl, HealthMonitor, Verifier]:
    """Records (the SQL), JobControl (suspend/resume/extend for the API), the health monitor
    (with the queue held for unhealthy Infrastructures) and the verifier, on `settings`'
    heartbeat_timeout and verify_interval (seconds; 0: verify on demand only)."""
    records = Records(store)
    health = HealthMonitor(registry, runtimes, records, worker_id, HeldQueue(records))
    verifier = Verifier(store, records, registry, runtimes, executor, worker_id,
                        float(settings["heartbeat_timeout"]),
                        float(settings["verify_interval"] or 0))
    return records, JobControl(store, records), health, verifier
