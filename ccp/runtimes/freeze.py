"""Suspending host processes: SIGSTOP until every one of them is stopped, SIGCONT to resume.

The local runtime's `suspend` (FrozenProcesses, mixed into it). A process can fork while the
others are being stopped, so stopping repeats until a pass finds every process of the
execution stopped (or gone): a stopped process cannot fork, so the set only shrinks once all
are stopped. `tagged` finds the processes of an execution without runner uids.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from ccp.runtimes.base import Instance, RuntimeFailure
from ccp.runtimes.runners import processes_of

STOP_TIMEOUT = 10.0
STOPPED_STATES = (b"T", b"t")


def state_of(pid: int) -> bytes | None:
    """The state letter in /proc/<pid>/stat (R, S, T, Z, ...), None when the process is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            text = handle.read()
    except OSError:
        return None
    return text[text.rindex(b")") + 2:].split()[0]


def _signal(pids: Iterable[int], number: int) -> None:
    for pid in pids:
        try:
            os.kill(pid, number)
        except (ProcessLookupError, PermissionError):
            pass


def stop_all(processes: Callable[[], list[int]]) -> int:
    """SIGSTOP every pid `processes()` lists until all are stopped; returns how many are."""
    deadline = time.monotonic() + STOP_TIMEOUT
    while True:
        pids = processes()
        running = [pid for pid in pids if state_of(pid) not in (*STOPPED_STATES, b"Z", None)]
        if not running:
            return len(pids)
        if time.monotonic() > deadline:
            raise RuntimeFailure(f"processes {running[:10]} did not stop within "
                                 f"{STOP_TIMEOUT:.0f} s")
        _signal(running, signal.SIGSTOP)
        time.sleep(0.01)


def continue_all(processes: Callable[[], list[int]]) -> None:
    """SIGCONT every pid `processes()` lists."""
    _signal(processes(), signal.SIGCONT)


def group_members(pgid: int) -> list[int]:
    """The live processes of process group `pgid`."""
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            if os.getpgid(int(entry.name)) == pgid:
                found.append(int(entry.name))
        except ProcessLookupError:
            continue
    return found


class FrozenProcesses:
    """Mixed into LocalRuntime: suspend and resume of an execution's host processes."""

    switch_uid: bool
    _groups: dict[str, int]  # execution id -> process group of its running script

    def suspend(self, instance: Instance) -> None:
        """SIGSTOP every process of the execution: its script's process group and, with a
        runner uid, everything that uid runs (a process that left the group included)."""
        stop_all(lambda: self._processes(instance))

    def resume(self, instance: Instance) -> None:
        continue_all(lambda: self._processes(instance))

    def _processes(self, instance: Instance) -> list[int]:
        found = set()
        group = self._groups.get(instance.execution_id)
        if group is not None:
            found.update(group_members(group))
        uid = instance.handle.get("uid")
        if self.switch_uid and isinstance(uid, int):
            found.update(processes_of(uid))
        elif not self.switch_uid:
            found.update(tagged(instance.execution_id))
        found.discard(os.getpid())
        return sorted(found)


def tagged(execution_id: str) -> list[int]:
    """The processes whose environment names this execution.

    Scripts can start background processes that leave the process group; the environment
    variable `ccptaskname` follows them, and survives a server crash (not a process that
    scrubs its environment: only runner uids catch those).
    """
    marker = f"ccptaskname={execution_id}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue
        if marker in environ.split(b"\0"):
            found.append(int(entry.name))
    return found
