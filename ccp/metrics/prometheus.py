"""`/metrics` for Prometheus: what the job store and this server know, in the text format.

From the store (every server of a cluster says the same): executions by status and Method,
the queue depth and the executions running per Infrastructure. From this server: how long
its executions spent in each phase (a histogram, ccp.metrics.metering), samples that failed,
and whether each Infrastructure answers its health check.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from ccp.metrics import overview

if TYPE_CHECKING:
    from ccp.manager import CCPManager

# The classic text format that every Prometheus reads (CCP's names need no escaping).
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class ServerCollector(Collector):
    """Read at every scrape: nothing is counted twice, nothing goes stale."""

    def __init__(self, manager: CCPManager) -> None:
        self.manager = manager

    def collect(self) -> Iterator[Metric]:
        engine = self.manager.store.engine
        executions = GaugeMetricFamily(
            "ccp_executions", "Executions in the job store, by status and Method",
            labels=["status", "method"])
        for status, method, count in sorted(overview.by_status_and_method(engine)):
            executions.add_metric([status, method], count)
        yield executions
        yield GaugeMetricFamily("ccp_queue_depth", "Executions accepted and waiting for a "
                                "worker", value=overview.queued(engine))
        running = GaugeMetricFamily("ccp_running_executions", "Executions running, by "
                                    "Infrastructure", labels=["infrastructure"])
        counts = overview.running_by_infrastructure(engine)
        infrastructures = self.manager.registry.infrastructures
        for name in sorted(set(infrastructures) | set(counts)):
            running.add_metric([name], counts.get(name, 0))
        yield running
        up = GaugeMetricFamily("ccp_infrastructure_up", "1 when the Infrastructure answered "
                               "its last health check, 0 when it did not",
                               labels=["infrastructure", "type"])
        reachability = dict(self.manager.reachability)
        for infrastructure_id, infrastructure in sorted(infrastructures.items()):
            if infrastructure_id in reachability:  # not yet checked: no value
                up.add_metric([infrastructure_id, infrastructure.type],
                              0 if reachability[infrastructure_id] else 1)
        yield up


def describe_server(registry: CollectorRegistry, manager: CCPManager) -> None:
    registry.register(ServerCollector(manager))


def exposition(registry: CollectorRegistry) -> bytes:
    return generate_latest(registry)
