"""A small client of the CCP HTTP API (OGC API - Processes), on the standard library only.

It knows URLs and JSON, nothing of QGIS: the plugin hands it the server's address and the
headers that carry the credentials. Every failure is a `CCPError` with a message for people.
"""

from __future__ import annotations

import json
import shutil
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

TIMEOUT = 30  # seconds; a DELETE of a running job waits up to 20 s on the server
FINAL_STATUSES = ("successful", "failed", "dismissed")


class CCPError(Exception):
    """A request to the CCP server failed; `status` is the HTTP status (0: no answer)."""

    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


class Client:
    def __init__(self, url: str, headers: dict[str, str] | None = None,
                 timeout: float = TIMEOUT) -> None:
        self.url = url.rstrip("/")
        self.headers = dict(headers or {})
        self.timeout = timeout

    # --- processes -----------------------------------------------------------------------

    def processes(self) -> list[dict[str, Any]]:
        return self.get_json("/processes")["processes"]

    def process(self, process_id: str) -> dict[str, Any]:
        return self.get_json(f"/processes/{_quote(process_id)}")

    def describe_all(self, workers: int = 8) -> list[dict[str, Any]]:
        """Every process description (the list has no inputs), fetched in parallel."""
        ids = [summary["id"] for summary in self.processes()]
        with ThreadPoolExecutor(max_workers=max(1, min(workers, len(ids)))) as pool:
            return list(pool.map(self.process, ids))

    def execute(self, process_id: str, inputs: dict[str, Any]) -> dict[str, Any]:
        """Submit an execution; returns the job's status info (with `jobID`)."""
        return self.request_json("POST", f"/processes/{_quote(process_id)}/execution",
                                 {"inputs": inputs}, {"Prefer": "respond-async"})

    def infrastructure(self, infrastructure_id: str) -> dict[str, Any]:
        return self.get_json(f"/infrastructures/{_quote(infrastructure_id)}")

    def infrastructures(self) -> dict[str, dict[str, Any]]:
        """Every Infrastructure (with its manifest), by id."""
        listed = self.get_json("/infrastructures").get("infrastructures") or []
        return {str(entry.get("id")): entry for entry in listed if isinstance(entry, dict)}

    # --- jobs ----------------------------------------------------------------------------

    def job_url(self, job_id: str) -> str:
        return f"{self.url}/jobs/{_quote(job_id)}"

    def job(self, job_id: str) -> dict[str, Any]:
        return self.get_json(f"/jobs/{_quote(job_id)}")

    def logs(self, job_id: str) -> str:
        return self.request("GET", f"/jobs/{_quote(job_id)}/logs").decode("utf-8", "replace")

    def dismiss(self, job_id: str) -> dict[str, Any]:
        return self.request_json("DELETE", f"/jobs/{_quote(job_id)}")

    def results(self, job_id: str) -> dict[str, Any]:
        return self.get_json(f"/jobs/{_quote(job_id)}/results")

    def download(self, url: str, destination: Path) -> Path:
        """Stream `url` (absolute, or a path on this server) into a file."""
        with self._open("GET", url) as response, open(destination, "wb") as out:
            shutil.copyfileobj(response, out, 1024 * 1024)
        return destination

    # --- plumbing ------------------------------------------------------------------------

    def get_json(self, path: str) -> Any:
        return self.request_json("GET", path)

    def request_json(self, method: str, path: str, body: Any = None,
                     headers: dict[str, str] | None = None) -> Any:
        raw = self.request(method, path, body, headers)
        try:
            return json.loads(raw)
        except ValueError as err:
            raise CCPError(f"{method} {self._absolute(path)}: the answer is not JSON") from err

    def request(self, method: str, path: str, body: Any = None,
                headers: dict[str, str] | None = None) -> bytes:
        with self._open(method, path, body, headers) as response:
            return response.read()

    def _absolute(self, path: str) -> str:
        return path if path.startswith(("http://", "https://")) else f"{self.url}{path}"

    def _open(self, method: str, path: str, body: Any = None,
              extra: dict[str, str] | None = None) -> Any:
        url = self._absolute(path)
        headers = {"Accept": "application/json", **self.headers, **(extra or {})}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(url, data=data, method=method, headers=headers)
        try:
            return _OPENER.open(request, timeout=self.timeout)
        except urllib.error.HTTPError as err:
            raise CCPError(f"{method} {url}: {err.code} {_problem(err)}", err.code) from None
        except (urllib.error.URLError, OSError) as err:
            reason = getattr(err, "reason", err)
            raise CCPError(f"cannot reach the CCP server at {self.url}: {reason}") from None


class _RedirectHandler(urllib.request.HTTPRedirectHandler):
    """Follows redirects (downloads may go to presigned storage URLs) without carrying the
    credentials to another host: a presigned URL needs none, and the token is not theirs."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # noqa: ANN001, ANN201
        new = super().redirect_request(req, fp, code, msg, headers, newurl)
        if new is not None and urllib.parse.urlsplit(newurl).netloc != \
                urllib.parse.urlsplit(req.full_url).netloc:
            new.remove_header("Authorization")
        return new


_OPENER = urllib.request.build_opener(_RedirectHandler)


def _quote(segment: str) -> str:
    return urllib.parse.quote(segment, safe="")


def _problem(err: urllib.error.HTTPError) -> str:
    """The title and detail of an OGC exception document, else the reason phrase."""
    try:
        document = json.loads(err.read())
    except (ValueError, OSError):
        return str(err.reason)
    if not isinstance(document, dict):
        return str(err.reason)
    title = document.get("title") or err.reason
    detail = document.get("detail") or document.get("description")
    return f"{title}: {detail}" if detail else str(title)
