"""Run the benchmarks and print a summary table.

    python -m bench.run [--smoke] [--only NAME[,NAME...]]

NAME is one of docker_overhead, local_overhead, cache_hit, throughput, scale, fairness. Targets are
reported, never asserted: the exit code is 0 when every benchmark ran (all its jobs successful
and archived), whatever the figures; 1 when one broke. `--smoke` runs a handful of executions
of each (what CI runs to keep the benchmarks working); the full run gives the figures in
docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import sys
import time
import traceback
from collections.abc import Callable

from bench import (
    cache_hit,
    common,
    docker_overhead,
    fairness,
    local_overhead,
    scale,
    throughput,
)

BENCHMARKS: dict[str, Callable[[bool], common.Result]] = {
    "docker_overhead": docker_overhead.run,
    "local_overhead": local_overhead.run,
    "cache_hit": cache_hit.run,
    "throughput": throughput.run,
    "scale": scale.run,
    "fairness": fairness.run,
}


def table(results: list[common.Result], info: dict, smoke: bool, seconds: float) -> str:
    rows = [("benchmark", "result", "target", "verdict")]
    rows += [(r.name, r.headline, r.target, r.verdict()) for r in results]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    lines = [f"SUMMARY ({'smoke' if smoke else 'full'} run, {seconds:.0f} s)",
             common.machine_line(info), f"load average at the end: {common.loadavg()}"]
    for number, row in enumerate(rows):
        lines.append(" | ".join(cell.ljust(widths[i]) if i < 3 else cell
                                for i, cell in enumerate(row)))
        if number == 0:
            lines.append("-+-".join("-" * w for w in widths) + "-+--------")
    for result in results:
        for problem in result.problems:
            lines.append(f"{result.name}: PROBLEM: {problem}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true",
                        help="a handful of runs of each benchmark (CI)")
    parser.add_argument("--only", action="append", default=[],
                        help="run only these (comma-separated or repeated): "
                        + ", ".join(BENCHMARKS))
    args = parser.parse_args(argv)
    names = [n.strip() for item in args.only for n in item.split(",") if n.strip()]
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark(s) {', '.join(unknown)}; choose from "
                     f"{', '.join(BENCHMARKS)}")
    names = names or list(BENCHMARKS)
    info = common.machine()
    began = time.perf_counter()
    results = []
    for name in names:
        try:
            results.append(BENCHMARKS[name](args.smoke))
        except Exception as err:  # one broken benchmark must not hide the others
            traceback.print_exc()
            results.append(common.Result(name=name, headline=f"failed: {err}"[:200],
                                         target="-", met=None, machine=info, ok=False,
                                         problems=[f"{type(err).__name__}: {err}"]))
        sys.stdout.flush()
    print()
    print(table(results, info, args.smoke, time.perf_counter() - began))
    return 0 if all(result.ok for result in results) else 1


if __name__ == "__main__":
    sys.exit(main())
