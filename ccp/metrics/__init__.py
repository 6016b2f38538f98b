"""Execution metrics: what each run used and how it went (samples, phases, summaries), and
the server's operator metrics for Prometheus.

    samples.py    one sample / phase, the metrics.csv table and its CSV
    summary.py    CPU-seconds, peak memory, bytes in/out, time per phase
    meter.py      one execution's sampling thread and phase clock
    store.py      samples and phases in the job store's database
    metering.py   the server's settings, meters, and reading it all back
    prometheus.py /metrics: executions, queue, running, phases, Infrastructure health
    overview.py   executions per day, queue and running per Infrastructure, for the UI
The runtimes' side is `Runtime.sample()` ("metrics" capability, ccp/runtimes/usage.py).
"""

from ccp.metrics.meter import Meter
from ccp.metrics.metering import Metering, MetricsSettings
from ccp.metrics.samples import Phase, Sample
from ccp.metrics.summary import prov_attributes, summarize

__all__ = ["Meter", "Metering", "MetricsSettings", "Phase", "Sample", "prov_attributes",
           "summarize"]
