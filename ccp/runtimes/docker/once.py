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

The script's digest (not the script: the handle goes to the job store) marks the instance;
`run` of exactly that script starts it, any other script (a cancel script while it runs) is
an exec beside it.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable

import docker

from ccp.runtimes.base import Instance, LogSink, RuntimeFailure
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
    # DockerRuntime's (annotations only: a method here would hide the runtime's)
    start_container: Callable[..., Instance]

    def launch_once(self, execution_id: str, image: str, env: dict[str, str], script: str,
                    replicas: int = 1) -> Instance:
        if replicas != 1:
            raise RuntimeFailure("the docker runtime runs exactly one replica")
        return self.start_container(execution_id, image, env, {}, main_script=script)

    def run_main(self, instance: Instance, timeout: float, log: LogSink) -> int:
        """Start the container and follow its main process to its end."""
        api = self.docker.api
        container_id = instance.handle["container"]
        lines = splitters(log, 1)
        with self.docker.errors("starting the script"):
            stream = api.attach(container_id, stdout=True, stderr=True, stream=True,
                                logs=True, demux=True)
            instance.handle["mainStarted"] = True
            api.start(container_id)

        def pump() -> None:
            try:
                for out, err in stream:
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
