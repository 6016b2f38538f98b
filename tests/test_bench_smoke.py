"""The benchmarks keep working: `python -m bench.run --smoke` runs every one and summarises.

Not a timed test: the figures are printed, never asserted. It needs what the benchmarks need
(the Docker engine of $DOCKER_HOST with the test image) and fails, never skips, without it.
"""

from __future__ import annotations

import subprocess
import sys

import pytest
from conftest import REPO

BENCHMARKS = ("docker_overhead", "local_overhead", "cache_hit", "throughput", "scale",
              "fairness")


@pytest.mark.docker
def test_bench_smoke_runs_every_benchmark() -> None:
    result = subprocess.run([sys.executable, "-m", "bench.run", "--smoke"], cwd=REPO,
                            capture_output=True, text=True, timeout=600)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-6000:]
    summary = result.stdout.split("SUMMARY", 1)
    assert len(summary) == 2, output[-6000:]
    for name in BENCHMARKS:
        assert name in summary[1], f"{name} missing from the summary:\n{summary[1]}"
    assert "BROKEN" not in summary[1], summary[1]
