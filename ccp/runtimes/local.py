"""The local runtime: scripts run as host subprocesses in a private work dir.

For development and tests only. It gives NO isolation: a script runs with the server's user
and can read whatever that user can. `ccpimage` is recorded but not used. `/ccp_data` in a
script is rewritten to the execution's own `ccp_data/` dir, which is also in `$CCP_DATA`.
"""

from __future__ import annotations

import os
import platform
import resource
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ccp.runtimes.base import (
    DATA_PATH,
    Instance,
    LogSink,
    Runtime,
    RuntimeCancelled,
    RuntimeFailure,
    RuntimeTimeout,
    now_iso,
)
from ccp.runtimes.settings import LocalSettings

SAFE_PATH = "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"


class LocalRuntime(Runtime):
    type = "local"
    settings: LocalSettings

    @property
    def root(self) -> Path:
        configured = self.settings.work_root
        return Path(configured) if configured else Path(tempfile.gettempdir()) / "ccp-local"

    def launch(self, execution_id: str, image: str, env: dict[str, str], replicas: int = 1
               ) -> Instance:
        if replicas != 1:
            raise RuntimeFailure("the local runtime runs exactly one replica")
        workdir = self.root / execution_id
        data = workdir / "ccp_data"
        data.mkdir(parents=True, exist_ok=True)
        environment = {
            "PATH": SAFE_PATH,
            "HOME": str(workdir),
            "LANG": "C.UTF-8",
            "CCP_DATA": str(data),
            **env,
            "ccptaskid": "1",
        }
        return Instance(
            execution_id=execution_id,
            runtime=self.type,
            handle={"workdir": str(workdir), "env": environment, "image": image},
        )

    def run(self, instance: Instance, script: str, timeout: float, log: LogSink) -> int:
        workdir = Path(instance.handle["workdir"])
        script = script.replace(DATA_PATH, str(workdir / "ccp_data"))
        script_file = workdir / f"script-{time.monotonic_ns()}.sh"
        script_file.write_text(script)
        try:
            process = subprocess.Popen(
                ["/bin/sh", str(script_file)],
                cwd=workdir,
                env=instance.handle["env"],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,  # own process group: kill reaches every child
                preexec_fn=self._apply_limits if self.settings.memory else None,
            )
        except OSError as err:
            raise RuntimeFailure(f"cannot start /bin/sh: {err}") from err
        readers = [
            _pump(process.stdout, lambda line: log(1, "stdout", line)),
            _pump(process.stderr, lambda line: log(1, "stderr", line)),
        ]
        deadline = time.monotonic() + timeout
        try:
            while True:
                try:
                    # wait() returns as soon as the script ends; the timeout only bounds
                    # how late a cancel or the deadline is noticed.
                    process.wait(timeout=0.05)
                    break
                except subprocess.TimeoutExpired:
                    pass
                if instance.cancelled.is_set():
                    _kill_group(process.pid)
                    raise RuntimeCancelled("cancelled")
                if time.monotonic() > deadline:
                    _kill_group(process.pid)
                    raise RuntimeTimeout(f"still running after {timeout:.0f} s")
        finally:
            for reader in readers:
                reader.join(timeout=5)
            script_file.unlink(missing_ok=True)
        return process.returncode

    def _apply_limits(self) -> None:
        memory = self.settings.memory
        if memory:
            resource.setrlimit(resource.RLIMIT_AS, (memory, memory))

    def fetch(self, instance: Instance, destination: Path) -> None:
        source = Path(instance.handle["workdir"]) / "ccp_data"
        if source.is_dir():
            shutil.copytree(source, destination, dirs_exist_ok=True, symlinks=True)

    def destroy(self, instance: Instance) -> None:
        _kill_tagged(instance.execution_id)
        workdir = instance.handle.get("workdir")
        if workdir and Path(workdir).parent == self.root:
            shutil.rmtree(workdir, ignore_errors=True)

    def describe(self, instance: Instance) -> dict[str, Any]:
        return {
            "runtime": self.type,
            "isolation": "none: host subprocess with the server's user",
            "host": platform.node(),
            "platform": platform.platform(),
            "image": instance.handle.get("image"),
            "imageUsed": False,
            "limits": {"memoryBytes": self.settings.memory, "cpus": None},
            "started": instance.started,
            "stopped": now_iso(),
        }

    def destroy_orphans(self, is_orphan: Callable[[str], bool]) -> list[str]:
        cleaned = []
        if not self.root.is_dir():
            return cleaned
        for workdir in self.root.iterdir():
            if workdir.is_dir() and is_orphan(workdir.name):
                self.destroy(Instance(workdir.name, self.type, {"workdir": str(workdir)}))
                cleaned.append(workdir.name)
        return cleaned


def _pump(stream, emit: Callable[[str], None]) -> threading.Thread:
    def read() -> None:
        for raw in iter(stream.readline, b""):
            emit(raw.decode("utf-8", "replace").rstrip("\n"))
        stream.close()

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    return thread


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _kill_tagged(execution_id: str) -> None:
    """Kill every process whose environment names this execution.

    Scripts can start background processes that leave the process group; the environment
    variable `ccptaskname` follows them, and survives a server crash.
    """
    marker = f"ccptaskname={execution_id}".encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue
        if marker in environ.split(b"\0"):
            try:
                os.kill(int(entry.name), signal.SIGKILL)
            except ProcessLookupError:
                pass
