"""OGC API - Processes - Part 1: Core 1.0, conformance class `json` (/conf/json/definition),
content negotiation between JSON and HTML, and the links: every link of every JSON resource
resolves, to the media type it declares."""

from __future__ import annotations

from typing import Any

import pytest
import requests
from conftest import ServerProcess
from ogc import (
    HTML,
    JSON,
    REL,
    exception,
    execute,
    get,
    live_server,  # noqa: F401  (the `live` fixture)
    media_type,
    wait_for,
)

# Operations, not documents: the execute link is POSTed to.
NOT_FOR_GET = {f"{REL}execute"}


@pytest.fixture(scope="module")
def job_ids(live: ServerProcess) -> dict[str, str]:
    ids = {"successful": execute(live, "hello-world"), "failed": execute(live, "always-fails")}
    for job_id in ids.values():
        wait_for(live, job_id)
    return ids


def json_resources(live: ServerProcess, job_ids: dict[str, str]) -> list[str]:
    """Every JSON resource of Part 1, for the processes and jobs this server has."""
    processes = [p["id"] for p in get(live, "/processes").json()["processes"]]
    return ["/", "/conformance", "/processes", "/jobs", "/infrastructures",
            *[f"/processes/{process_id}" for process_id in processes],
            *[f"/jobs/{job_id}" for job_id in job_ids.values()],
            f"/jobs/{job_ids['successful']}/results",
            *[f"/infrastructures/{i['id']}"
              for i in get(live, "/infrastructures").json()["infrastructures"]]]


def test_conformance_json_definition(live: ServerProcess, job_ids: dict[str, str]) -> None:
    """/conf/json/definition: `/`, `/conformance`, `/processes`, `/processes/{id}` and
    `/jobs/{id}` (and every other JSON resource) answer a request for application/json with
    200 and a JSON document of that media type, and so does an asynchronous execution."""
    for path in json_resources(live, job_ids):
        response = get(live, path, accept=JSON)
        assert response.status_code == 200, path
        assert media_type(response) == JSON, path
        assert isinstance(response.json(), dict)
    response = requests.post(f"{live.url}/processes/hello-world/execution", timeout=30,
                             json={"inputs": {}},
                             headers={"Accept": JSON, "Prefer": "respond-async"})
    assert response.status_code == 201 and media_type(response) == JSON
    wait_for(live, response.json()["jobID"])


@pytest.mark.parametrize("path", ["/", "/conformance", "/processes", "/processes/hello-world",
                                  "/jobs", "/infrastructures", "/infrastructures/local"])
def test_conformance_json_negotiation(live: ServerProcess, path: str) -> None:
    """Content negotiation (/req/core/http; /conf/json/definition, /conf/html/definition): the
    `f` parameter wins over Accept; without it Accept decides, */* and no Accept give JSON; a
    type the resource cannot give is 406, an unknown `f` 400 (OGC exceptions both)."""
    cases: list[tuple[dict[str, Any], str | None, str]] = [
        ({}, None, JSON), ({}, "*/*", JSON), ({}, JSON, JSON), ({}, HTML, HTML),
        ({}, "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", HTML),
        ({}, "application/json;q=0.5, text/html", HTML),
        ({"f": "json"}, HTML, JSON), ({"f": "html"}, JSON, HTML),
        ({"f": "json"}, "image/png", JSON),
    ]
    for params, accept, expected in cases:
        response = get(live, path, accept=accept, **params)
        assert response.status_code == 200, (params, accept, response.text[:300])
        assert media_type(response) == expected, (params, accept)
    exception(get(live, path, accept="application/xml"), 406)
    exception(get(live, path, accept="application/xml", f="xml"), 400)


def test_conformance_json_every_link_resolves(live: ServerProcess, job_ids: dict[str, str]
                                              ) -> None:
    """/req/core/pl-links, /req/job-list/links: every link of every JSON resource (and of the
    results' Link header) points at this server and answers GET with 2xx/3xx in the media type
    it declares; no links to pygeoapi leftovers (/collections, /TileMatrixSets)."""
    found: dict[str, str] = {}
    for path in json_resources(live, job_ids):
        response = get(live, path)
        for link in response.json().get("links", []):
            if link.get("rel") not in NOT_FOR_GET:
                found.setdefault(link["href"], link.get("type", ""))
    header = get(live, f"/jobs/{job_ids['successful']}/results").headers["Link"]
    for part in header.split(","):
        href = part.split(">")[0].strip().lstrip("<")
        found.setdefault(href, part.split('type="')[1].rstrip('"') if 'type="' in part else "")
    assert len(found) > 30
    for href, declared in found.items():
        assert href.startswith(f"{live.url}/"), f"a link off this server: {href}"
        assert "/collections" not in href and "TileMatrixSets" not in href, href
        response = requests.get(href, headers={"Accept": declared} if declared else {},
                                timeout=30, allow_redirects=False)
        assert 200 <= response.status_code < 400, (href, response.status_code, response.text[:200])
        assert declared, f"{href} declares no type"
        assert media_type(response) == declared, (href, declared, response.headers)
