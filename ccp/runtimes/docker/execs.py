"""Scripts running in containers: `sh -c script` as an exec, its output pumped to the log."""

from __future__ import annotations

import threading
import time

import docker

from ccp.runtimes.base import LogSink, RuntimeFailure
from ccp.runtimes.output import splitters

POLL_SECONDS = 0.01  # the engine may report the exit a moment after the output ends
EXIT_CODE_WAIT = 10.0


class ScriptExec:
    """`sh -c script` in one container; a thread reads its output into the log."""

    def __init__(self, api: docker.APIClient, container_id: str, replica: int, script: str,
                 log: LogSink, environment: list[str] | None = None) -> None:
        self.api = api
        self.replica = replica
        self.lines = splitters(log, replica)
        self.exec_id = api.exec_create(container_id, ["sh", "-c", script], stdout=True,
                                       stderr=True, stdin=False,
                                       environment=environment)["Id"]
        self.stream = api.exec_start(self.exec_id, stream=True, demux=True)
        self.thread = threading.Thread(target=self._pump, daemon=True,
                                       name=f"ccp-exec-{replica}")
        self.thread.start()

    @property
    def running(self) -> bool:
        return self.thread.is_alive()

    def _pump(self) -> None:
        try:
            for out, err in self.stream:
                if out:
                    self.lines["stdout"].feed(out)
                if err:
                    self.lines["stderr"].feed(err)
        except Exception:
            pass  # the connection went away: exit_code() tells what happened
        finally:
            for splitter in self.lines.values():
                splitter.close()

    def exit_code(self) -> int:
        deadline = time.monotonic() + EXIT_CODE_WAIT
        while True:
            info = self.api.exec_inspect(self.exec_id)
            if not info.get("Running") and info.get("ExitCode") is not None:
                return int(info["ExitCode"])
            if time.monotonic() > deadline:
                raise RuntimeFailure("the script's output ended but the engine reports no "
                                     "exit code")
            time.sleep(POLL_SECONDS)

    def close(self) -> None:
        try:
            self.stream.close()
        except Exception:
            pass


def all_ended(execs: list[ScriptExec], seconds: float) -> bool:
    """Wait up to `seconds` for the first exec still running; True when none runs."""
    running = [e for e in execs if e.running]
    if running:
        running[0].thread.join(seconds)
    return not any(e.running for e in execs)


def interrupt(api: docker.APIClient, container_ids: list[str], execs: list[ScriptExec]
              ) -> None:
    """Kill every script process (all but PID 1) in the containers, then stop reading."""
    for container_id in container_ids:
        try:
            killer = api.exec_create(container_id, ["sh", "-c", "kill -9 -1"], user="0")
            api.exec_start(killer["Id"])
        except Exception:
            try:  # no sh, no pids left, ...: stop the whole container instead
                api.kill(container_id)
            except Exception:
                pass
    for running in execs:
        running.close()
        running.thread.join(timeout=2)


def oom_kills(api: docker.APIClient, container_id: str) -> int:
    """OOM kills in the container's memory cgroup, read from inside (remote engines too)."""
    probe = ("cat /sys/fs/cgroup/memory.events /sys/fs/cgroup/memory/memory.oom_control "
             "2>/dev/null")
    try:
        output = api.exec_start(api.exec_create(container_id, ["sh", "-c", probe])["Id"])
    except Exception:
        return 0
    kills = 0
    for line in output.decode("utf-8", "replace").splitlines():
        name, _, value = line.partition(" ")
        if name == "oom_kill" and value.strip().isdigit():
            kills += int(value)
    return kills
