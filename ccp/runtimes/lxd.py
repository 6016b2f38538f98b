"""The LXD runtime: one ephemeral system container per execution, driven with pylxd.

The container is made from an image that is already in the LXD image store (alias or
fingerprint; no image server is contacted), gets the Infrastructure's memory/CPU limits and
the label `user.ccp.execution=<execution id>` (orphan clean-up finds it by that label), and is
removed by Destroy. Scripts run with `sh -c` through LXD's exec API; their output is streamed
over LXD's websockets line by line. `/ccp_data` is pulled back through LXD's file API.

Infrastructure settings (all optional):
  endpoint    "https://host:8443" for a remote LXD or cluster; absent: the local unix socket
  cert, key   client certificate and key files, trusted with `lxc config trust add`
  verify      the server's certificate (pinned, as `lxc remote add` does) or a CA bundle
              file, or false; default true (the CAs of certifi)
  project     LXD project (default "default")
  profile     list of profiles (default ["default"]); must give the container a root disk
  target      cluster member to place the container on
  privileged  run a privileged container (default false)
  memory      e.g. "512m" -> limits.memory (and limits.memory.swap=false: no swapping past it)
  cpus        -> limits.cpu (rounded up to a CPU count; a fraction also sets
              limits.cpu.allowance, e.g. 0.5 -> "50ms/100ms")
  maxTime     seconds, the ceiling of ccpmaxtime
"""

from __future__ import annotations

import codecs
import hashlib
import logging
import math
import os
import re
import stat
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

from ws4py.exc import WebSocketException

from ccp.model import Infrastructure
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
from ccp.runtimes.settings import LXDSettings

LOGGER = logging.getLogger(__name__)

EXECUTION_KEY = "user.ccp.execution"
NAME_PREFIX = "ccp-"
CONNECT_TIMEOUT = 10.0        # seconds to reach a remote LXD; reads of long execs never time out
FILE_READ_TIMEOUT = 60.0      # a stall this long while pulling a file is an error
SCAN_TIMEOUT = 120.0          # for listing the special files in /ccp_data
OPERATION_TIMEOUT = 120.0     # for LXD to create, start, stop or delete a container
STOP_WAIT = 30.0              # seconds to wait for the exec thread after a forced stop
POLL = 0.05
MAX_LINE = 64 * 1024          # a line longer than this is emitted in pieces
CHUNK = 1024 * 1024
_NAME_ALLOWED = re.compile(r"[^a-z0-9-]+")
_HEX_ID = re.compile(r"^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$")


# Prints the paths of the FIFOs, sockets and devices under /ccp_data, NUL-terminated, with
# nothing but POSIX sh: LXD's file API would block for ever opening a FIFO, so Fetch skips them.
SPECIAL_FILES_SCRIPT = r"""
walk() {
  for f in "$1"/* "$1"/.[!.]* "$1"/..?*; do
    if [ -L "$f" ]; then :
    elif [ -d "$f" ]; then walk "$f"
    elif [ -e "$f" ] && [ ! -f "$f" ]; then printf '%s\0' "$f"
    fi
  done
}
if [ -d /ccp_data ] && [ ! -L /ccp_data ]; then walk /ccp_data; fi
exit 0
"""


def instance_name(execution_id: str) -> str:
    """A valid LXD instance name for an execution: `ccp-<short id>`.

    LXD names are at most 63 characters of letters, digits and hyphens, start with a letter
    and do not end with a hyphen. A UUID gives its first 12 hex digits; any other id its
    cleaned-up text plus a hash, so that different ids keep different names.
    """
    lowered = execution_id.lower()
    if _HEX_ID.match(lowered):
        return NAME_PREFIX + lowered.replace("-", "")[:12]
    digest = hashlib.sha256(execution_id.encode()).hexdigest()[:10]
    cleaned = _NAME_ALLOWED.sub("-", lowered).strip("-")[:46].strip("-")
    return f"{NAME_PREFIX}{cleaned}-{digest}" if cleaned else f"{NAME_PREFIX}{digest}"


def memory_limit(memory_bytes: int) -> str:
    """LXD's limits.memory for a byte count: MiB when it is whole MiB, else bytes."""
    mib = 1024 * 1024
    return f"{memory_bytes // mib}MiB" if memory_bytes % mib == 0 else f"{memory_bytes}B"


def cpu_limits(cpus: float) -> dict[str, str]:
    """limits.cpu as a CPU count (rounded up); a fraction also caps the CPU time."""
    config = {"limits.cpu": str(max(1, math.ceil(cpus)))}
    if cpus != math.ceil(cpus):
        config["limits.cpu.allowance"] = f"{max(1, round(cpus * 100))}ms/100ms"
    return config


def _socket_path() -> str:
    """The unix socket pylxd talks to when no endpoint is given."""
    if "LXD_DIR" in os.environ:
        return os.path.join(os.environ["LXD_DIR"], "unix.socket")
    if os.path.exists("/var/snap/lxd/common/lxd/unix.socket"):
        return "/var/snap/lxd/common/lxd/unix.socket"
    return "/var/lib/lxd/unix.socket"


class LXDRuntime(Runtime):
    type = "lxd"

    settings: LXDSettings

    def __init__(self, infrastructure: Infrastructure) -> None:
        super().__init__(infrastructure)
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()

    # --- settings ---------------------------------------------------------------------------

    @property
    def endpoint(self) -> str | None:
        return self.settings.endpoint

    @property
    def endpoint_label(self) -> str:
        return self.endpoint or f"unix:{_socket_path()}"

    @property
    def project(self) -> str:
        return self.settings.project

    @property
    def profiles(self) -> list[str]:
        return list(self.settings.profile)

    @property
    def target(self) -> str | None:
        return self.settings.target

    @property
    def privileged(self) -> bool:
        return self.settings.privileged

    # --- the client -------------------------------------------------------------------------

    def client(self, project: str | None = None) -> Any:
        """The pylxd client for a project, made on first use."""
        project = project or self.project
        with self._lock:
            if project not in self._clients:
                self._clients[project] = self._connect(project)
            return self._clients[project]

    def _connect(self, project: str) -> Any:
        import pylxd
        import requests
        from pylxd.exceptions import ClientConnectionFailed, LXDAPIException

        kwargs: dict[str, Any] = {"project": project}
        if self.endpoint:
            kwargs["endpoint"] = self.endpoint
            kwargs["timeout"] = (CONNECT_TIMEOUT, None)
            cert, key = self.settings.cert, self.settings.key
            if cert or key:
                if not (cert and key):
                    raise RuntimeFailure("LXD settings 'cert' and 'key' go together")
                for path in (cert, key):
                    if not Path(path).is_file():
                        raise RuntimeFailure(f"LXD client certificate file {path} is missing")
                kwargs["cert"] = (str(cert), str(key))
            verify = self.settings.verify
            if isinstance(verify, str) and not Path(verify).is_file():
                raise RuntimeFailure(f"LXD server certificate file {verify} is missing")
            kwargs["session"] = _session(self.endpoint, verify, kwargs.get("cert"))
        try:
            client = pylxd.Client(**kwargs)
        except (ClientConnectionFailed, requests.RequestException, OSError) as err:
            hint = ""
            if "SSL" in str(err) or "Fingerprints did not match" in str(err):
                hint = (" (TLS: check the 'verify' setting: the server's certificate to pin, "
                        "a CA bundle, or false)")
            raise RuntimeFailure(
                f"LXD at {self.endpoint_label} is unreachable: {err or type(err).__name__}{hint}"
            ) from err
        except LXDAPIException as err:
            raise RuntimeFailure(f"LXD at {self.endpoint_label} refused the connection: {err}"
                                 ) from err
        if not client.trusted:
            raise RuntimeFailure(
                f"LXD at {self.endpoint_label} does not trust this client: add its certificate "
                "with `lxc config trust add` (see docs/remote-lxd.md)")
        return client

    def check(self) -> None:
        with self._errors("answer"):
            self.client().api.get()

    @contextmanager
    def _errors(self, action: str) -> Iterator[None]:
        """Turn pylxd and connection errors into RuntimeFailure."""
        import requests
        from pylxd.exceptions import ClientConnectionFailed, LXDAPIException

        try:
            yield
        except (ClientConnectionFailed, requests.ConnectionError) as err:
            raise RuntimeFailure(f"LXD at {self.endpoint_label} is unreachable: {err}") from err
        except (LXDAPIException, requests.RequestException) as err:
            raise RuntimeFailure(f"LXD could not {action}: {err}") from err

    def _client_of(self, instance: Instance) -> Any:
        return self.client(instance.handle.get("project") or self.project)

    # --- Launch -----------------------------------------------------------------------------

    def launch(self, execution_id: str, image: str, env: dict[str, str], replicas: int = 1
               ) -> Instance:
        if replicas != 1:
            raise RuntimeFailure("the LXD runtime runs exactly one replica")
        client = self.client()
        name = instance_name(execution_id)
        source, fingerprint = self._image_source(client, image)
        environment = {**env, "ccptaskname": env.get("ccptaskname", execution_id),
                       "ccptaskid": "1", "CCP_DATA": DATA_PATH}
        config = {f"environment.{key}": str(value) for key, value in environment.items()}
        config[EXECUTION_KEY] = execution_id
        config["security.privileged"] = "true" if self.privileged else "false"
        if self.settings.memory:
            config["limits.memory"] = memory_limit(self.settings.memory)
            config["limits.memory.swap"] = "false"  # the limit is RAM, not RAM + swap
        if self.settings.cpus:
            config.update(cpu_limits(self.settings.cpus))
        request = {
            "name": name,
            "type": "container",
            "ephemeral": True,
            "source": source,
            "config": config,
            "profiles": self.profiles,
        }
        action = f"create container {name} from image {image!r}"
        with self._errors(action):
            response = client.api.instances.post(json=request, target=self.target)
        instance = Instance(
            execution_id=execution_id,
            runtime=self.type,
            handle={
                "name": name,
                "image": image,
                "fingerprint": fingerprint,
                "endpoint": self.endpoint_label,
                "project": self.project,
                "profiles": self.profiles,
                "target": self.target,
                "serverVersion": client.host_info.get("environment", {}).get("server_version"),
            },
        )
        try:
            self._wait_operation(client, response, action)
            with self._errors(f"start container {name}"):
                response = client.api.instances[name].state.put(
                    json={"action": "start", "timeout": int(OPERATION_TIMEOUT)})
            self._wait_operation(client, response, f"start container {name}")
            with self._errors(f"start container {name}"):
                self._wait_running(client, name)
                lxd_instance = client.instances.get(name)
                instance.handle["location"] = getattr(lxd_instance, "location", None)
                instance.handle["limits"] = _limits_of(lxd_instance.expanded_config or {})
                lxd_instance.files.mk_dir(DATA_PATH, mode="0755")
        except BaseException:
            try:
                self._remove(client, name)
            except Exception as err:  # orphan clean-up finds it by its label later
                LOGGER.warning("removing LXD container %s after a failed start: %s", name, err)
            raise
        return instance

    def _image_source(self, client: Any, image: str) -> tuple[dict[str, str], str]:
        """The create source for an alias or (partial) fingerprint in the local image store."""
        from pylxd.exceptions import NotFound

        if not image or "/" in image or image.startswith("."):
            raise RuntimeFailure(f"LXD image {image!r} is not an image alias or fingerprint")
        quoted = quote(image, safe="")
        with self._errors(f"look up image {image!r}"):
            try:
                # resolved once: the fingerprint recorded is the one the container is made of
                target = client.api.images.aliases[quoted].get().json()["metadata"]["target"]
                return {"type": "image", "fingerprint": target}, target
            except NotFound:
                pass
            if re.fullmatch(r"[0-9a-fA-F]{6,64}", image):
                try:
                    found = client.api.images[quoted].get().json()["metadata"]["fingerprint"]
                    return {"type": "image", "fingerprint": found}, found
                except NotFound:
                    pass
        raise RuntimeFailure(
            f"LXD image {image!r} is neither an alias nor a fingerprint in the image store of "
            f"{self.endpoint_label} (project {self.project}); import it with `lxc image import`")

    def _wait_operation(self, client: Any, response: Any, action: str,
                        timeout: float | None = None) -> None:
        """Wait for the background operation LXD started, at most `timeout` seconds.

        pylxd's own wait has no time limit, and an LXD operation can hang for ever (a
        delete behind a stuck file transfer, say): this one fails instead.
        """
        from pylxd.exceptions import NotFound

        timeout = OPERATION_TIMEOUT if timeout is None else timeout
        operation = (response.json() or {}).get("operation")
        if not operation:
            return
        operation_id = operation.rstrip("/").rsplit("/", 1)[-1]
        deadline = time.monotonic() + timeout
        with self._errors(action):
            while True:
                wait = max(1, min(30, int(deadline - time.monotonic())))
                try:
                    metadata = client.api.operations[operation_id].wait.get(
                        params={"timeout": str(wait)}).json().get("metadata") or {}
                except NotFound:
                    return  # finished and already forgotten
                status = metadata.get("status")
                if status == "Success":
                    return
                if status in ("Failure", "Cancelled"):
                    raise RuntimeFailure(f"LXD could not {action}: {metadata.get('err')}")
                if time.monotonic() >= deadline:
                    raise RuntimeFailure(f"LXD did not {action} within {timeout:.0f} s "
                                         f"(operation {operation_id} is {status})")

    def _wait_running(self, client: Any, name: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            state = client.api.instances[name].state.get().json()["metadata"]
            if state.get("status") == "Running":
                return
            if time.monotonic() > deadline:
                raise RuntimeFailure(f"container {name} is {state.get('status')}, not Running, "
                                     f"{timeout:.0f} s after start")
            time.sleep(0.2)

    # --- Run --------------------------------------------------------------------------------

    def run(self, instance: Instance, script: str, timeout: float, log: LogSink) -> int:
        if instance.cancelled.is_set():
            raise RuntimeCancelled("cancelled")
        client = self._client_of(instance)
        name = instance.handle["name"]
        with self._errors(f"find container {name}"):
            lxd_instance = client.instances.get(name)
        # The environment lives in the container's config only (LXD applies it to every
        # exec; it is passed again to be explicit), never in the handle: the handle goes to
        # the job store, and the environment may hold a callback token.
        environment = {key[len("environment."):]: value
                       for key, value in (lxd_instance.config or {}).items()
                       if key.startswith("environment.")}
        stdout = _LineSplitter(lambda line: log(1, "stdout", line))
        stderr = _LineSplitter(lambda line: log(1, "stderr", line))
        result: dict[str, Any] = {}

        def execute() -> None:
            try:
                result["exit"] = lxd_instance.execute(
                    ["sh", "-c", script],
                    environment=environment,
                    decode=False,
                    stdout_handler=stdout.feed,
                    stderr_handler=stderr.feed,
                ).exit_code
            except BaseException as err:  # reported by run()
                result["error"] = err

        thread = threading.Thread(target=execute, name=f"lxd-exec-{name}", daemon=True)
        deadline = time.monotonic() + timeout
        thread.start()
        try:
            while thread.is_alive():
                if instance.cancelled.is_set():
                    self._kill(client, name, thread)
                    raise RuntimeCancelled("cancelled")
                if time.monotonic() > deadline:
                    self._kill(client, name, thread)
                    raise RuntimeTimeout(f"still running after {timeout:.0f} s")
                thread.join(POLL)
        finally:
            stdout.close()
            stderr.close()
        if instance.cancelled.is_set():
            raise RuntimeCancelled("cancelled")
        if "error" in result:
            error = result["error"]
            if isinstance(error, OSError | WebSocketException):
                # The exec's websocket broke (LXD busy or restarted): the script's fate is
                # unknown, so the phase fails rather than being run twice.
                raise RuntimeFailure(f"the connection to LXD at {self.endpoint_label} broke "
                                     f"while the script ran in {name}: {error}") from error
            with self._errors(f"run a script in container {name}"):
                raise error
        return int(result["exit"])

    def _kill(self, client: Any, name: str, thread: threading.Thread) -> None:
        """Stop the container at once: every process in it dies and the exec returns."""
        try:
            self._stop(client, name)
        except Exception as err:
            LOGGER.warning("stopping LXD container %s failed: %s", name, err)
        thread.join(STOP_WAIT)
        if thread.is_alive():
            LOGGER.warning("the exec in LXD container %s did not return after a forced stop",
                           name)

    # --- Fetch ------------------------------------------------------------------------------

    def fetch(self, instance: Instance, destination: Path) -> None:
        """Pull /ccp_data into `destination`; symlinks and special files are skipped.

        Regular files and directories only: a symlink is not followed (it could point
        anywhere on the host side of the copy) and a FIFO would block LXD's file API.
        """
        from pylxd.exceptions import NotFound

        client = self._client_of(instance)
        name = instance.handle["name"]
        files = client.api.instances[name].files
        special = self._special_files(client, name)
        destination.mkdir(parents=True, exist_ok=True)
        root = destination.resolve()
        pending = [(DATA_PATH, root)]
        with self._errors(f"copy {DATA_PATH} out of container {name}"):
            while pending:
                remote, local = pending.pop()
                if remote in special:
                    LOGGER.warning("fetch from %s: skipping special file %s", name, remote)
                    continue
                try:
                    response = files.get(params={"path": remote}, is_api=False, stream=True,
                                         timeout=(CONNECT_TIMEOUT, FILE_READ_TIMEOUT))
                except NotFound:
                    if remote == DATA_PATH:
                        return
                    raise
                with response:
                    kind = response.headers.get("X-LXD-type")
                    mode = _mode(response.headers.get("X-LXD-mode"))
                    if kind == "directory":
                        if local != root:
                            _safe_mkdir(root, local, mode)
                        for entry in response.json().get("metadata") or []:
                            if _safe_name(entry):
                                pending.append((f"{remote}/{entry}", local / entry))
                    elif kind == "file":
                        _safe_write(root, local, mode, response.iter_content(CHUNK))
                    # symlinks are not followed and not copied: nothing may point outside

    def _special_files(self, client: Any, name: str) -> set[str]:
        """Paths of the FIFOs, sockets and device files under /ccp_data."""
        with self._errors(f"find container {name}"):
            lxd_instance = client.instances.get(name)
        chunks: list[bytes] = []
        result: dict[str, Any] = {}

        def scan() -> None:
            try:
                result["exit"] = lxd_instance.execute(
                    ["sh", "-c", SPECIAL_FILES_SCRIPT], decode=False,
                    stdout_handler=chunks.append, stderr_handler=lambda _data: None,
                ).exit_code
            except BaseException as err:  # reported below
                result["error"] = err

        thread = threading.Thread(target=scan, name=f"lxd-scan-{name}", daemon=True)
        thread.start()
        thread.join(SCAN_TIMEOUT)
        if thread.is_alive():
            raise RuntimeFailure(f"listing {DATA_PATH} in container {name} took over "
                                 f"{SCAN_TIMEOUT:.0f} s")
        if "error" in result:
            with self._errors(f"list {DATA_PATH} in container {name}"):
                raise result["error"]
        if result.get("exit") != 0:
            raise RuntimeFailure(f"listing {DATA_PATH} in container {name} failed "
                                 f"(exit code {result.get('exit')})")
        return {path.decode("utf-8", "replace")
                for path in b"".join(chunks).split(b"\0") if path}

    # --- Destroy ----------------------------------------------------------------------------

    def destroy(self, instance: Instance) -> None:
        name = instance.handle.get("name")
        if not name:
            return
        self._remove(self._client_of(instance), name)

    def _stop(self, client: Any, name: str, timeout: float = OPERATION_TIMEOUT) -> None:
        """Stop at once (force); a container that is gone is stopped."""
        from pylxd.exceptions import NotFound

        try:
            with self._errors(f"stop container {name}"):
                response = client.api.instances[name].state.put(
                    json={"action": "stop", "force": True, "timeout": -1})
        except RuntimeFailure as err:
            if isinstance(err.__cause__, NotFound):
                return
            raise
        self._wait_operation(client, response, f"stop container {name}", timeout)

    def _remove(self, client: Any, name: str) -> None:
        """Stop (force) and delete; an ephemeral container deletes itself once stopped."""
        from pylxd.exceptions import NotFound

        deadline = time.monotonic() + OPERATION_TIMEOUT
        last_error: RuntimeFailure | None = None
        while True:
            try:
                with self._errors(f"look up container {name}"):
                    status = client.api.instances[name].get().json()["metadata"]["status"]
            except RuntimeFailure as err:
                if isinstance(err.__cause__, NotFound):
                    return
                raise  # unreachable: Destroy is retried, and orphan clean-up comes later
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise RuntimeFailure(
                    f"LXD container {name} is still there ({status}) after "
                    f"{OPERATION_TIMEOUT:.0f} s" + (f": {last_error}" if last_error else ""))
            try:
                if status in ("Running", "Frozen", "Starting", "Stopping", "Freezing"):
                    self._stop(client, name, remaining)
                else:
                    with self._errors(f"delete container {name}"):
                        response = client.api.instances[name].delete()
                    self._wait_operation(client, response, f"delete container {name}",
                                         remaining)
            except RuntimeFailure as err:
                # e.g. an ephemeral container deleting itself right now: look again
                if isinstance(err.__cause__, NotFound):
                    return
                last_error = err
                time.sleep(0.5)

    # --- Describe ---------------------------------------------------------------------------

    def describe(self, instance: Instance) -> dict[str, Any]:
        handle = instance.handle
        description: dict[str, Any] = {
            "runtime": self.type,
            "isolation": "LXD system container (privileged)" if self.privileged
            else "LXD system container (unprivileged, user namespace)",
            "instance": handle.get("name"),
            "image": handle.get("image"),
            "fingerprint": handle.get("fingerprint"),
            "endpoint": handle.get("endpoint"),
            "project": handle.get("project"),
            "profiles": handle.get("profiles"),
            "target": handle.get("target"),
            "location": handle.get("location"),
            "serverVersion": handle.get("serverVersion"),
            "limits": handle.get("limits", {}),
            "started": instance.started,
            "stopped": now_iso(),
        }
        try:
            client = self._client_of(instance)
            description["serverVersion"] = client.host_info["environment"]["server_version"]
            lxd_instance = client.instances.get(handle["name"])
            description["limits"] = _limits_of(lxd_instance.expanded_config or {})
            description["location"] = getattr(lxd_instance, "location", None)
            description["createdAt"] = getattr(lxd_instance, "created_at", None)
            description["architecture"] = getattr(lxd_instance, "architecture", None)
        except Exception as err:  # gone already (a forced stop deletes it): keep launch facts
            LOGGER.debug("describing LXD container %s: %s", handle.get("name"), err)
        return description

    # --- Orphans ----------------------------------------------------------------------------

    def destroy_orphans(self, is_orphan: Callable[[str], bool]) -> list[str]:
        client = self.client()
        with self._errors("list containers"):
            listed = client.api.instances.get(params={"recursion": "1"}).json()["metadata"]
        cleaned = []
        for entry in listed:
            execution_id = (entry.get("config") or {}).get(EXECUTION_KEY)
            if execution_id and is_orphan(execution_id):
                LOGGER.warning("destroying LXD container %s left by execution %s",
                               entry["name"], execution_id)
                self._remove(client, entry["name"])
                cleaned.append(execution_id)
        return cleaned


def _session(endpoint: str, verify: bool | str, cert: tuple[str, str] | None) -> Any:
    """The HTTPS session for a remote LXD.

    `verify` false: no check; true: the CAs of `certifi`; a file: either a CA bundle (a CA
    certificate or several certificates: normal chain and hostname checks) or the server's
    own certificate (its fingerprint is pinned, as `lxc remote add` does; LXD's self-signed
    certificates need this). Environment settings such as REQUESTS_CA_BUNDLE, which requests
    would let override `verify`, are ignored; proxies from the environment are honoured.
    """
    import requests
    from pylxd.client import LXDSSLAdapter

    session = requests.Session()
    session.trust_env = False
    session.proxies.update(requests.utils.get_environ_proxies(endpoint))
    session.cert = cert
    session.verify = verify
    if isinstance(verify, str) and not _is_ca_bundle(verify):
        session.mount(endpoint, LXDSSLAdapter())
    return session


def _is_ca_bundle(path: str) -> bool:
    from cryptography import x509

    try:
        certificates = x509.load_pem_x509_certificates(Path(path).read_bytes())
    except (OSError, ValueError) as err:
        raise RuntimeFailure(f"LXD 'verify' file {path} is not a PEM certificate: {err}"
                             ) from err
    if len(certificates) != 1:
        return True
    try:
        return bool(certificates[0].extensions.get_extension_for_class(
            x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False


def _limits_of(config: dict[str, str]) -> dict[str, Any]:
    keys = ("limits.memory", "limits.memory.swap", "limits.cpu", "limits.cpu.allowance",
            "security.privileged")
    return {key: config[key] for key in keys if key in config}


class _LineSplitter:
    """Bytes in chunks from a websocket -> whole decoded lines; a partial line waits."""

    def __init__(self, emit: Callable[[str], None]) -> None:
        self.emit = emit
        self.decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self.pending = ""
        self.lock = threading.Lock()

    def feed(self, data: bytes | str) -> None:
        text = data if isinstance(data, str) else self.decoder.decode(data)
        with self.lock:
            self.pending += text
            *lines, self.pending = self.pending.split("\n")
            while len(self.pending) > MAX_LINE:
                lines.append(self.pending[:MAX_LINE])
                self.pending = self.pending[MAX_LINE:]
        for line in lines:
            self._emit(line)

    def close(self) -> None:
        with self.lock:
            rest, self.pending = self.pending + self.decoder.decode(b"", final=True), ""
        if rest:
            self._emit(rest)

    def _emit(self, line: str) -> None:
        try:
            self.emit(line.rstrip("\r"))
        except Exception:  # a log sink failing must not stop the websocket thread
            LOGGER.exception("log sink failed")


def _mode(header: str | None) -> int:
    try:
        return int(header or "644", 8) & 0o777
    except ValueError:
        return 0o644


def _safe_name(entry: Any) -> bool:
    return (isinstance(entry, str) and entry not in ("", ".", "..")
            and "/" not in entry and "\\" not in entry and "\0" not in entry)


def _inside(root: Path, path: Path) -> bool:
    parent = Path(os.path.realpath(path.parent))
    return parent == root or root in parent.parents


def _safe_mkdir(root: Path, path: Path, mode: int) -> None:
    if not _inside(root, path):
        raise RuntimeFailure(f"refusing to write outside the destination: {path}")
    if path.is_symlink():
        raise RuntimeFailure(f"refusing to write through a symlink: {path}")
    path.mkdir(mode=mode | 0o700, exist_ok=True)


def _safe_write(root: Path, path: Path, mode: int, chunks: Iterator[bytes]) -> None:
    if not _inside(root, path):
        raise RuntimeFailure(f"refusing to write outside the destination: {path}")
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0)
    descriptor = os.open(path, flags, mode | 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            raise RuntimeFailure(f"refusing to write to a non-regular file: {path}")
        for chunk in chunks:
            handle.write(chunk)
