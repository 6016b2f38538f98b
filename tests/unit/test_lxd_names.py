"""LXD names and limits for an execution (pure functions of the LXD runtime)."""

from __future__ import annotations

from ccp.runtimes.lxd import cpu_limits, instance_name, memory_limit


def test_instance_names_are_valid_lxd_names() -> None:
    job = "0b6f4f5e-1f1c-4e7a-9a51-0c7d3f1b2a3c"
    assert instance_name(job) == "ccp-0b6f4f5e1f1c"
    for odd in ("Some_ID.with.dots", "9" * 200, "---", "é"):
        name = instance_name(odd)
        assert len(name) <= 63 and name[0].isalpha() and not name.endswith("-"), name
        assert all(c.isalnum() or c == "-" for c in name) and name.isascii(), name
    assert instance_name("a.b") != instance_name("a_b")


def test_memory_and_cpu_limits() -> None:
    assert memory_limit(128 * 2**20) == "128MiB"
    assert memory_limit(1000) == "1000B"
    assert cpu_limits(1) == {"limits.cpu": "1"}
    assert cpu_limits(1.5) == {"limits.cpu": "2", "limits.cpu.allowance": "150ms/100ms"}
    assert cpu_limits(0.25) == {"limits.cpu": "1", "limits.cpu.allowance": "25ms/100ms"}
