"""Talking to one LXD server or cluster with pylxd: connecting, errors, operations.

`endpoint` absent: the local unix socket; `https://host:8443`: a remote LXD, with a client
certificate (`cert`, `key`) and the server's certificate checked as `verify` says (see
`_session`). pylxd is imported when first used.
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

from ccp.runtimes.base import RuntimeFailure
from ccp.runtimes.settings import LXDSettings

CONNECT_TIMEOUT = 10.0        # seconds to reach a remote LXD; reads of long execs never time out
OPERATION_TIMEOUT = 120.0     # for LXD to create, start, stop or delete a container


def socket_path() -> str:
    """The unix socket pylxd talks to when no endpoint is given."""
    if "LXD_DIR" in os.environ:
        return os.path.join(os.environ["LXD_DIR"], "unix.socket")
    if os.path.exists("/var/snap/lxd/common/lxd/unix.socket"):
        return "/var/snap/lxd/common/lxd/unix.socket"
    return "/var/lib/lxd/unix.socket"


class LXDServer:
    """The LXD an Infrastructure names: a pylxd client per project, made on first use."""

    def __init__(self, settings: LXDSettings) -> None:
        self.settings = settings
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()

    @property
    def label(self) -> str:
        """The endpoint, for messages and metadata."""
        return self.settings.endpoint or f"unix:{socket_path()}"

    def client(self, project: str | None = None) -> Any:
        project = project or self.settings.project
        with self._lock:
            if project not in self._clients:
                self._clients[project] = self._connect(project)
            return self._clients[project]

    def _connect(self, project: str) -> Any:
        import pylxd
        import requests
        from pylxd.exceptions import ClientConnectionFailed, LXDAPIException

        kwargs: dict[str, Any] = {"project": project}
        endpoint = self.settings.endpoint
        if endpoint:
            kwargs["endpoint"] = endpoint
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
            kwargs["session"] = _session(endpoint, verify, kwargs.get("cert"))
        try:
            client = pylxd.Client(**kwargs)
        except (ClientConnectionFailed, requests.RequestException, OSError) as err:
            hint = ""
            if "SSL" in str(err) or "Fingerprints did not match" in str(err):
                hint = (" (TLS: check the 'verify' setting: the server's certificate to pin, "
                        "a CA bundle, or false)")
            raise RuntimeFailure(
                f"LXD at {self.label} is unreachable: {err or type(err).__name__}{hint}"
            ) from err
        except LXDAPIException as err:
            raise RuntimeFailure(f"LXD at {self.label} refused the connection: {err}") from err
        if not client.trusted:
            raise RuntimeFailure(
                f"LXD at {self.label} does not trust this client: add its certificate "
                "with `lxc config trust add` (see docs/remote-lxd.md)")
        return client

    @contextmanager
    def errors(self, action: str) -> Iterator[None]:
        """Turn pylxd and connection errors into RuntimeFailure."""
        import requests
        from pylxd.exceptions import ClientConnectionFailed, LXDAPIException

        try:
            yield
        except (ClientConnectionFailed, requests.ConnectionError) as err:
            raise RuntimeFailure(f"LXD at {self.label} is unreachable: {err}") from err
        except (LXDAPIException, requests.RequestException) as err:
            raise RuntimeFailure(f"LXD could not {action}: {err}") from err

    def image_source(self, client: Any, image: str) -> tuple[dict[str, str], str]:
        """The create source for an alias or (partial) fingerprint in the local image store."""
        from pylxd.exceptions import NotFound

        if not image or "/" in image or image.startswith("."):
            raise RuntimeFailure(f"LXD image {image!r} is not an image alias or fingerprint")
        quoted = quote(image, safe="")
        with self.errors(f"look up image {image!r}"):
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
            f"{self.label} (project {self.settings.project}); import it with "
            "`lxc image import`")

    def wait_operation(self, client: Any, response: Any, action: str,
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
        with self.errors(action):
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

    def wait_running(self, client: Any, name: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            state = client.api.instances[name].state.get().json()["metadata"]
            if state.get("status") == "Running":
                return
            if time.monotonic() > deadline:
                raise RuntimeFailure(f"container {name} is {state.get('status')}, not Running, "
                                     f"{timeout:.0f} s after start")
            time.sleep(0.2)

    def stop(self, client: Any, name: str, timeout: float = OPERATION_TIMEOUT) -> None:
        """Stop at once (force); a container that is gone is stopped."""
        from pylxd.exceptions import NotFound

        try:
            with self.errors(f"stop container {name}"):
                response = client.api.instances[name].state.put(
                    json={"action": "stop", "force": True, "timeout": -1})
        except RuntimeFailure as err:
            if isinstance(err.__cause__, NotFound):
                return
            raise
        self.wait_operation(client, response, f"stop container {name}", timeout)

    def remove(self, client: Any, name: str) -> None:
        """Stop (force) and delete; an ephemeral container deletes itself once stopped."""
        from pylxd.exceptions import NotFound

        deadline = time.monotonic() + OPERATION_TIMEOUT
        last_error: RuntimeFailure | None = None
        while True:
            try:
                with self.errors(f"look up container {name}"):
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
                    self.stop(client, name, remaining)
                else:
                    with self.errors(f"delete container {name}"):
                        response = client.api.instances[name].delete()
                    self.wait_operation(client, response, f"delete container {name}",
                                        remaining)
            except RuntimeFailure as err:
                # e.g. an ephemeral container deleting itself right now: look again
                if isinstance(err.__cause__, NotFound):
                    return
                last_error = err
                time.sleep(0.5)


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
