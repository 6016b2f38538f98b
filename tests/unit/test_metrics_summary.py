"""The pure parts of execution metrics: counters that restart, rates, the summary, the CSV
round trip (and hostile CSV), PROV attributes; output paths and media types."""

from __future__ import annotations

import math

import pytest

from ccp import errors, outputfiles
from ccp.metrics import Phase, Sample, prov_attributes, summarize
from ccp.metrics.samples import COLUMNS, from_csv, increase, rows, to_csv
from ccp.runtimes.docker import cgroups
from ccp.runtimes.usage import Usage, from_docker_stats, from_lxd_state

T0 = 1_700_000_000.0


def sample(seq: int, replica: int, cpu: float | None, memory: int | None, phase: str = "Execute",
           rx: int | None = None) -> Sample:
    return Sample(seq=seq, at=T0 + seq, replica=replica, phase=phase, cpu_seconds=cpu,
                  memory_bytes=memory, memory_limit_bytes=1000, network_rx_bytes=rx)


def test_metrics_a_counter_that_drops_started_again_from_zero() -> None:
    assert increase(None, 5.0) == 5.0
    assert increase(5.0, 7.5) == 2.5
    assert increase(7.5, 2.0) == 2.0  # restarted: what it counted since
    assert increase(7.5, None) is None


def test_metrics_summary_of_two_replicas_with_a_restart() -> None:
    taken = [
        sample(1, 1, 1.0, 100, "Deploy", rx=10), sample(1, 2, 0.5, 300, "Deploy", rx=0),
        sample(2, 1, 3.0, 400, rx=30), sample(2, 2, 2.5, 350, rx=5),
        sample(3, 1, 0.5, 50, rx=40),  # replica 1's processes were new: CPU counted anew
        sample(3, 2, 4.0, 100, rx=5),
    ]
    phases = [Phase(1, "Launch", T0, T0 + 0.5), Phase(2, "Deploy", T0 + 0.5, T0 + 1.5),
              Phase(3, "Execute", T0 + 1.5, T0 + 3.25), Phase(4, "Destroy", T0 + 3.25, None)]
    summary = summarize(taken, phases, interval=1.0)
    assert summary["cpuSeconds"] == pytest.approx(3.5 + 4.0)
    by_replica = {r["replica"]: r for r in summary["replicas"]}
    assert by_replica[1]["cpuSeconds"] == pytest.approx(3.5)
    assert by_replica[2]["cpuSeconds"] == pytest.approx(4.0)
    assert summary["peakMemoryBytes"] == 750  # round 2: 400 + 350, more than any other
    assert by_replica[2]["peakMemoryBytes"] == 350 and by_replica[1]["peakMemoryBytes"] == 400
    assert summary["networkRxBytes"] == 45 and by_replica[2]["networkRxBytes"] == 5
    assert summary["networkTxBytes"] is None  # never reported
    assert summary["memoryLimitBytes"] == 1000
    assert summary["samples"] == 6 and summary["interval"] == 1.0
    assert summary["phaseSeconds"] == {"Launch": 0.5, "Deploy": 1.0, "Execute": 1.75}
    assert summary["phases"][-1]["finished"] is None and summary["phases"][-1]["seconds"] is None


def test_metrics_summary_of_nothing() -> None:
    summary = summarize([], [])
    assert summary["cpuSeconds"] is None and summary["peakMemoryBytes"] is None
    assert summary["samples"] == 0 and summary["replicas"] == [] and summary["phases"] == []


def test_metrics_rows_carry_the_cpu_percent_since_the_previous_round() -> None:
    table = list(rows([sample(1, 1, 1.0, 10), sample(2, 1, 1.5, 10), sample(3, 1, 0.25, 10)]))
    assert [row["cpu_percent"] for row in table] == [None, 50.0, 25.0]
    assert list(table[0]) == list(COLUMNS)
    assert table[0]["time"].endswith("Z")


def test_metrics_csv_round_trip_and_hostile_rows() -> None:
    taken = [sample(1, 1, 1.25, 2048, rx=7), sample(1, 2, None, None)]
    text = to_csv(taken)
    assert text.splitlines()[0] == ",".join(COLUMNS)
    back = from_csv(text)
    assert [(s.seq, s.replica, s.cpu_seconds, s.memory_bytes, s.network_rx_bytes)
            for s in back] == [(1, 1, 1.25, 2048, 7), (1, 2, None, None, None)]
    assert back[0].at == pytest.approx(T0 + 1, abs=0.001)
    hostile = text + "\n".join([
        "not-a-time,1,1,Execute,1,,,,,,,,",
        "2026-01-01T00:00:00Z,x,1,Execute,1,,,,,,,,",
        "2026-01-01T00:00:00Z,2,1,Execute,nan,,,,,,,,",
        "2026-01-01T00:00:00Z,2,1,Execute,1,,1e999,,,,,,",
        "2026-01-01T00:00:00Z,3,1," + "P" * 100 + ",1,,,,,,,,",
    ]) + "\n"
    kept = from_csv(hostile)
    assert len(kept) == 3 and len(kept[-1].phase) == 16
    assert all(s.cpu_seconds is None or math.isfinite(s.cpu_seconds) for s in kept)


def test_metrics_prov_attributes_are_flat_numbers() -> None:
    summary = summarize([sample(1, 1, 2.0, 500)], [Phase(1, "Execute", T0, T0 + 2)])
    attributes = prov_attributes(summary)
    assert attributes == {"cpuSeconds": 2.0, "peakMemoryBytes": 500, "memoryLimitBytes": 1000,
                          "secondsInExecute": 2.0}


def test_metrics_usage_from_the_engines_answers() -> None:
    docker_v1 = {
        "cpu_stats": {"cpu_usage": {"total_usage": 2_500_000_000}},
        "memory_stats": {"usage": 50_000, "limit": 1_000_000,
                         "stats": {"total_inactive_file": 10_000}},
        "networks": {"eth0": {"rx_bytes": 100, "tx_bytes": 20},
                     "eth1": {"rx_bytes": 1, "tx_bytes": 2}},
        "blkio_stats": {"io_service_bytes_recursive": [
            {"op": "Read", "value": 4096}, {"op": "Write", "value": 8192},
            {"op": "Total", "value": 12288}]},
        "pids_stats": {"current": 3},
    }
    assert from_docker_stats(docker_v1, 2) == Usage(
        replica=2, cpu_seconds=2.5, memory_bytes=40_000, memory_limit_bytes=1_000_000,
        network_rx_bytes=101, network_tx_bytes=22, block_read_bytes=4096,
        block_write_bytes=8192, processes=3)
    docker_v2_no_network = {"memory_stats": {"usage": 100, "stats": {"inactive_file": 40}},
                            "blkio_stats": {"io_service_bytes_recursive": [
                                {"op": "read", "value": 1}, {"op": "write", "value": 2}]}}
    usage = from_docker_stats(docker_v2_no_network, 1)
    assert (usage.cpu_seconds, usage.memory_bytes, usage.network_rx_bytes) == (None, 60, 0)
    assert (usage.block_read_bytes, usage.block_write_bytes) == (1, 2)
    lxd = {"cpu": {"usage": 1_000_000_000}, "memory": {"usage": 4096}, "processes": 2,
           "network": {"lo": {"type": "loopback", "counters": {"bytes_received": 999}},
                       "eth0": {"type": "broadcast",
                                "counters": {"bytes_received": 10, "bytes_sent": 5}}}}
    assert from_lxd_state(lxd, 1, 2048, (7, 8)) == Usage(
        replica=1, cpu_seconds=1.0, memory_bytes=4096, memory_limit_bytes=2048,
        network_rx_bytes=10, network_tx_bytes=5, block_read_bytes=7, block_write_bytes=8,
        processes=2)


@pytest.mark.parametrize("path", ["a.txt", "dir/b c.csv", "naïve/ü.txt", ".hidden", "a..b"])
def test_preview_paths_that_name_a_member(path: str) -> None:
    assert outputfiles.checked_path(path) == path


@pytest.mark.parametrize("path", ["", "/etc/passwd", "../x", "a/../b", "a//b", "./a", "a/.",
                                  "a\\b", "a\x00b", "a\nb", "x" * 1025])
def test_preview_paths_that_could_mean_something_else_are_refused(path: str) -> None:
    with pytest.raises(errors.InvalidParameter):
        outputfiles.checked_path(path)


def test_preview_media_types() -> None:
    assert outputfiles.media_type("m/points.GeoJSON") == "application/geo+json"
    assert outputfiles.media_type("t.csv") == "text/csv"
    assert outputfiles.media_type("i.png") == "image/png"
    assert outputfiles.media_type("page.html") == "text/html"
    assert outputfiles.media_type("blob") == "application/octet-stream"
    assert "text/html" not in outputfiles.INLINE_TYPES
    assert "image/svg+xml" not in outputfiles.INLINE_TYPES


def test_metrics_usage_from_a_cgroup_v2_tree_as_docker_reads_it(tmp_path) -> None:
    container_id = "ab" * 32
    (tmp_path / "cgroup.controllers").write_text("cpu io memory pids\n")
    place = tmp_path / "system.slice" / f"docker-{container_id}.scope"  # systemd driver
    place.mkdir(parents=True)
    files = {"cpu.stat": "usage_usec 2500000\nuser_usec 2000000\n",
             "memory.current": "50000\n", "memory.max": "1000000\n",
             "memory.stat": "anon 100\ninactive_file 10000\n",
             "io.stat": "8:0 rbytes=4096 wbytes=8192 rios=1 wios=2\n"
                        "8:16 rbytes=1 wbytes=2 rios=1 wios=1\n",
             "pids.current": "3\n", "cgroup.procs": ""}
    for name, text in files.items():
        (place / name).write_text(text)
    assert cgroups.usage(container_id, 2, tmp_path) == Usage(
        replica=2, cpu_seconds=2.5, memory_bytes=40_000, memory_limit_bytes=1_000_000,
        network_rx_bytes=0, network_tx_bytes=0, block_read_bytes=4097,
        block_write_bytes=8194, processes=3)
    assert cgroups.usage("cd" * 32, 1, tmp_path) is None  # not here: the API is asked
    assert cgroups.usage("short", 1, tmp_path) is None
    (place / "memory.max").write_text("max\n")  # no limit: the host's memory, as Docker says
    found = cgroups.usage(container_id, 2, tmp_path)
    assert found is not None and found.memory_limit_bytes and found.memory_limit_bytes > 2**20
