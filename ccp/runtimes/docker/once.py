"""run-once for the docker runtime: a single script as the container's main process.

An execution whose Method has only an execute script (a cancel script aside) needs no
keep-alive: its container is created with `sh -c <script>` as its command and started when
the lifecycle runs that script, the way `docker run` runs a command. The script's output is
the container's (attached before the start, so nothing is missed), its exit code the
container's; a timeout or a dismissal kills the container. What this saves per execution is
an exec (a process spawned inside the container) and the kill of a running keep-alive when
the container is removed. `/ccp_data` is fetched from the stopped container; Destroy removes
it. As with `docker run`, the script is the container's PID 1: signals it does not handle,
sent to itself, do not end it.

A warm container (warm.py) can run its execution's only script the same way: its PID 1
waits, reading its standard input, for a script ending with a line only its handle knows
(a random marker), and becomes that script; the execution's environment is exported on the
script's first line. Without a script it is a keep-alive, and scripts are execs.

The script's digest (not the script: the handle goes to the job store) marks the instance;
`run` of exactly that script starts it, any other script (a cancel script while it runs) is
an exec beside it.
"""

from __future__ import annotations

import hashlib
import shlex
import threading
from collections.abc import Callable, Iterator
from typing import Any

import docker
from docker.utils.socket import demux_adaptor, frames_iter

from ccp.runtimes.base import DATA_PATH, Instance, LogSink, RuntimeFailure
from ccp.runtimes.deadline import wait_for_script
from ccp.runtimes.docker.engine import DockerEngine
from ccp.runtimes.output import splitters

EXIT_CODE_WAIT = 30.0


def script_digest(script: str) -> str:
    return hashlib.sha256(script.encode()).hexdigest()[:32]


def is_main_script(instance: Instance, script: str) -> bool:
    """The script this run-once instance was made for, not yet started."""
    return (instance.handle.get("mainScript") == script_digest(script)
            and not instance.handle.get("mainStarted"))


class RunOnce:
    """Mixed into DockerRuntime: launch_once and the run of the main script."""

    docker: DockerEngine
    exec_env: dict[str, dict[str, str]]
    # DockerRuntime's (annotations only: a method here would hide the runtime's)
    start_container: Callable[..., Instance]

    def launch_once(self, execution_id: str, image: str, env: dict[str, str], script: str,
                    replicas: int = 1) -> Instance:
        if replicas != 1:
            raise RuntimeFailure("the docker runtime runs exactly one replica")
        return self.start_container(execution_id, image, env, {}, main_script=script)

    def run_main(self, instance: Instance, script: str, timeout: float, log: LogSink) -> int:
        """Start the container (or, a warm one, give its waiting PID 1 the script) and
        follow its main process to its end."""
        api = self.docker.api
        container_id = instance.handle["container"]
        lines = splitters(log, 1)
        marker = instance.handle.get("scriptMarker")
        with self.docker.errors("starting the script"):
            instance.handle["mainStarted"] = True
            if marker:
                socket = api.attach_socket(container_id, params={
                    "stdin": 1, "stdout": 1, "stderr": 1, "stream": 1,
                    "detachKeys": "ctrl-@"})  # NUL: never in a script
                frames: Iterator[tuple[bytes | None, bytes | None]] = (
                    demux_adaptor(*frame) for frame in frames_iter(socket, tty=False))
                getattr(socket, "_sock", socket).sendall(
                    self.delivery(instance, script, marker).encode())
            else:
                frames = api.attach(container_id, stdout=True, stderr=True, stream=True,
                                    logs=True, demux=True)
                api.start(container_id)
        stream: Any = socket if marker else frames

        def pump() -> None:
            try:
                for out, err in frames:
                    if out:
                        lines["stdout"].feed(out)
                    if err:
                        lines["stderr"].feed(err)
            except Exception:
                pass  # the connection went away: the exit code tells what happened
            finally:
                for splitter in lines.values():
                    splitter.close()

        reader = threading.Thread(target=pump, daemon=True, name="ccp-main-script")
        reader.start()

        def ended(seconds: float) -> bool:
            reader.join(seconds)
            return not reader.is_alive()

        try:
            wait_for_script(ended, instance, timeout, stop=lambda: self._kill(container_id))
            with self.docker.errors("reading the exit code"):
                return int(api.wait(container_id, timeout=EXIT_CODE_WAIT)["StatusCode"])
        finally:
            try:
                stream.close()
            except Exception:
                pass
            reader.join(2)

    def delivery(self, instance: Instance, script: str, marker: str) -> str:
        """What a warm container's waiting PID 1 reads: the execution's environment and
        `/ccp_data` on the script's first line (line numbers stay the script's), the script,
        the end marker."""
        env = self.exec_env.get(instance.execution_id, {})
        first = " ".join(f"export {key}={shlex.quote(value)};" for key, value in env.items())
        if instance.handle.get("makeDataDir"):
            first += f" mkdir -p {DATA_PATH} 2>/dev/null;"
        if any(line == marker for line in script.splitlines()):
            raise RuntimeFailure("the script holds the warm container's end marker")
        return f"{first} {script}\n{marker}\n"

    def _kill(self, container_id: str) -> None:
        try:
            self.docker.api.kill(container_id)
        except docker.errors.APIError:
            pass  # it ended by itself meanwhile

    def main_oom_killed(self, instance: Instance) -> bool:
        try:
            state = self.docker.api.inspect_container(instance.handle["container"])["State"]
        except Exception:
            return False
        return bool(state.get("OOMKilled"))
