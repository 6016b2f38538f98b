"""The CLI's view of a CCP: its HTTP API, over the network (`--server`) or in this process.

Either way the CLI speaks OGC API – Processes and nothing else: POST /processes/{id}/execution,
GET /jobs, /jobs/{id}, /jobs/{id}/logs, /jobs/{id}/results, /jobs/{id}/archive,
/jobs/{id}/outputs/output.zip and DELETE /jobs/{id}. In-process the same requests go to the
app that `ccp.app.create_app` builds, through Flask's test client: no socket, and the very
answers and errors a server gives. The one difference: in-process, locations are where the
archive really is (a path, or an s3:// URL) instead of the server's URLs.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

from ccp import archive
from ccp.jobs import FINAL_VALUES

LOGGER = logging.getLogger("ccp.cli")
FINAL_STATUSES = FINAL_VALUES
LOOPBACK = ("localhost", "127.0.0.1", "::1")
CHUNK = 1024 * 1024


class ClientError(Exception):
    """CCP answered with an OGC exception, or could not be reached."""


@dataclass
class Reply:
    status: int
    headers: Mapping[str, str]
    chunks: Iterable[bytes]
    close: Callable[[], None]

    def content(self) -> bytes:
        try:
            return b"".join(self.chunks)
        finally:
            self.close()

    def json(self) -> Any:
        content = self.content()
        try:
            return json.loads(content)
        except ValueError as err:
            raise ClientError(f"CCP answered {self.status} with something that is not JSON: "
                              f"{content[:200]!r}") from err


# Executions answer at once with their job, even of Methods that can run synchronously.
ASYNC = "respond-async"


class Transport(Protocol):
    where: str

    def request(self, method: str, path: str, *, params: dict[str, Any] | None = None,
                body: Any = None) -> Reply: ...

    def close(self) -> None: ...


class HTTPTransport:
    """A CCP server's HTTP API, with a bearer token when given one."""

    def __init__(self, url: str, token: str | None) -> None:
        import requests

        self.where = url.rstrip("/")
        self.session = requests.Session()
        self.session.headers["User-Agent"] = "ccp-cli"
        self.session.headers["Prefer"] = ASYNC  # the CLI follows every job itself
        if token:
            self.session.headers["Authorization"] = f"Bearer {token}"
            address = urlsplit(self.where)
            if address.scheme == "http" and address.hostname not in LOOPBACK:
                LOGGER.warning("the token goes to %s unencrypted: use https", self.where)

    def request(self, method: str, path: str, *, params: dict[str, Any] | None = None,
                body: Any = None) -> Reply:
        import requests

        from ccp.logs import concise

        try:
            response = self.session.request(method, self.where + path, params=params, json=body,
                                            stream=True, timeout=(10, 300))
        except requests.RequestException as err:
            raise ClientError(f"cannot reach {self.where}: {concise(err)}") from err
        return Reply(response.status_code, response.headers, response.iter_content(CHUNK),
                     response.close)

    def close(self) -> None:
        self.session.close()


class InProcessTransport:
    """The app of this machine's configuration, called directly: the operator's own data dir,
    so no authentication (as `ccp serve` with auth off)."""

    def __init__(self, config_path: str | None, workers: bool) -> None:
        from ccp import logs
        from ccp.app import create_app, load_config

        config = load_config(config_path)
        logs.setup(config.get("logging", {}).get("level"))
        config["server"]["auth"] = {**(config["server"].get("auth") or {}), "enabled": False}
        self.app = create_app(config, start_workers=workers)
        self.manager = self.app.extensions["ccp"].manager
        self.where = str(self.manager.data_dir)
        self.client = self.app.test_client()

    def request(self, method: str, path: str, *, params: dict[str, Any] | None = None,
                body: Any = None) -> Reply:
        response = self.client.open(path, method=method, query_string=params, json=body,
                                    headers={"Prefer": ASYNC}, buffered=False)
        return Reply(response.status_code, dict(response.headers), response.iter_encoded(),
                     response.close)

    def stored_at(self, job_id: str, part: str = "") -> str:
        """Where a job's archive (or one file of it) is stored: a path, or an s3:// URL."""
        return self.manager.archives.location(job_id, part)

    def close(self) -> None:
        self.manager.stop()


# Where each job link of a results or status document is, in an archive.
ARCHIVE_PARTS = {"archive": "", "outputs/output.zip": archive.OUTPUT_ZIP,
                 "provenance": archive.PROVENANCE_JSON}


class Client:
    def __init__(self, transport: Transport) -> None:
        self.transport = transport

    @property
    def where(self) -> str:
        return self.transport.where

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.transport.close()

    def call(self, method: str, path: str, *, params: dict[str, Any] | None = None,
             body: Any = None) -> Reply:
        """One request; an error answer becomes a ClientError with CCP's own words."""
        reply = self.transport.request(method, path, params=params, body=body)
        if reply.status < 400:
            return reply
        content = reply.content()
        try:
            problem = json.loads(content)
            message = f"{problem.get('title', 'Error')}: {problem.get('detail', '')}"
        except (ValueError, AttributeError):
            message = content.decode("utf-8", "replace").strip()[:300] or "no details"
        raise ClientError(f"{method} {path} answered {reply.status}: {message}")

    def submit(self, process_id: str, inputs: dict[str, Any]) -> dict[str, Any]:
        return self.call("POST", f"/processes/{process_id}/execution",
                         body={"inputs": inputs}).json()

    def status(self, job_id: str) -> dict[str, Any]:
        return self.call("GET", f"/jobs/{job_id}").json()

    def logs(self, job_id: str, offset: int = 0) -> bytes:
        """The job's log from byte `offset` on."""
        return self.call("GET", f"/jobs/{job_id}/logs", params={"offset": offset}).content()

    def results(self, job_id: str) -> dict[str, Any]:
        return self._located(job_id, self.call("GET", f"/jobs/{job_id}/results").json())

    def jobs(self, status: list[str] | None = None, process: list[str] | None = None,
             limit: int = 20) -> tuple[list[dict[str, Any]], int]:
        params: dict[str, Any] = {"limit": limit}
        if status:
            params["status"] = ",".join(status)
        if process:
            params["processID"] = ",".join(process)
        document = self.call("GET", "/jobs", params=params).json()
        return document.get("jobs", []), int(document.get("numberMatched") or 0)

    def dismiss(self, job_id: str) -> dict[str, Any]:
        """Dismiss a queued or running job; a finished one is left alone (POST .../dismiss
        never removes an archive, where DELETE on a finished job would)."""
        return self.call("POST", f"/jobs/{job_id}/dismiss").json()

    def download(self, job_id: str, outputs: bool, target: Path) -> int:
        """Write the job's archive zip (or its output.zip) to `target`; returns its size."""
        path = f"/jobs/{job_id}/outputs/output.zip" if outputs else f"/jobs/{job_id}/archive"
        reply = self.call("GET", path)
        partial = target.with_name(target.name + ".partial")
        size = 0
        try:
            with partial.open("wb") as handle:
                for chunk in reply.chunks:
                    handle.write(chunk)
                    size += len(chunk)
            os.replace(partial, target)  # no half-written file under the name asked for
        finally:
            reply.close()
            partial.unlink(missing_ok=True)
        return size

    def archive_location(self, job: dict[str, Any]) -> str | None:
        """The archive of a finished job: its URL, or in-process where it is stored."""
        link = next((link["href"] for link in job.get("links", [])
                     if link.get("rel") == "archive"), None)
        return link and self._local(job["jobID"], link)

    def _located(self, job_id: str, document: dict[str, Any]) -> dict[str, Any]:
        for entry in document.values():
            if isinstance(entry, dict) and isinstance(entry.get("href"), str):
                entry["href"] = self._local(job_id, entry["href"])
        return document

    def _local(self, job_id: str, href: str) -> str:
        """In-process, a link to a job's archive part becomes the place it is stored."""
        if not isinstance(self.transport, InProcessTransport):
            return href
        job_url = f"{self.transport.manager.base_url}/jobs/{job_id}/"
        part = href[len(job_url):] if href.startswith(job_url) else None
        return self.transport.stored_at(job_id, ARCHIVE_PARTS[part]) \
            if part in ARCHIVE_PARTS else href


def connect(server: str | None, token: str | None, config: str | None,
            workers: bool = False) -> Client:
    """A remote CCP when `server` is given, else this machine's, in-process (with its
    workers running when `workers`: to run executions rather than look at them)."""
    if server:
        return Client(HTTPTransport(server, token))
    return Client(InProcessTransport(config, workers))

