"""OGC API - Processes - Part 1: Core 1.0, conformance class `oas30` (/conf/oas30/...),
against a live server: the API definition in JSON and HTML, its structure (checked with a
schema of OpenAPI 3.0 written here), and that it describes what the server does."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from conftest import ServerProcess
from ogc import (
    HTML,
    OPENAPI_JSON,
    execute,
    get,
    html_page,
    links,
    live_server,  # noqa: F401  (the `live` fixture)
    media_type,
    validate,
    wait_for,
)

METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
STATUS = r"^([1-5][0-9][0-9]|[1-5]XX|default)$"

# OpenAPI 3.0.3, the parts a definition must have (sections 4.7.1 OpenAPI Object, 4.7.2 Info,
# 4.7.8 Paths, 4.7.9 Path Item, 4.7.10 Operation, 4.7.12 Parameter, 4.7.16 Responses,
# 4.7.17 Response, 4.7.11 Media Type, 4.7.27 Security Scheme).
PARAMETER = {
    "type": "object", "required": ["name", "in"],
    "properties": {"name": {"type": "string"},
                   "in": {"enum": ["query", "header", "path", "cookie"]},
                   "required": {"type": "boolean"}, "schema": {"type": "object"},
                   "style": {"enum": ["matrix", "label", "form", "simple", "spaceDelimited",
                                      "pipeDelimited", "deepObject"]},
                   "explode": {"type": "boolean"}},
    "if": {"properties": {"in": {"const": "path"}}},
    "then": {"required": ["name", "in", "required"],
             "properties": {"required": {"const": True}}},
}
MEDIA_TYPES = {"type": "object", "additionalProperties": {
    "type": "object", "properties": {"schema": {"type": "object"}}}}
OPERATION = {
    "type": "object", "required": ["responses"],
    "properties": {
        "operationId": {"type": "string"}, "summary": {"type": "string"},
        "parameters": {"type": "array", "items": PARAMETER},
        "requestBody": {"type": "object", "required": ["content"],
                        "properties": {"content": MEDIA_TYPES}},
        "responses": {"type": "object", "minProperties": 1,
                      "propertyNames": {"pattern": STATUS},
                      "additionalProperties": {
                          "type": "object", "required": ["description"],
                          "properties": {"description": {"type": "string"},
                                         "content": MEDIA_TYPES,
                                         "headers": {"type": "object"}}}},
        "security": {"type": "array", "items": {"type": "object"}},
    },
}
OPENAPI_30 = {
    "type": "object", "required": ["openapi", "info", "paths"],
    "properties": {
        "openapi": {"type": "string", "pattern": r"^3\.0\.\d+$"},
        "info": {"type": "object", "required": ["title", "version"],
                 "properties": {"title": {"type": "string"}, "version": {"type": "string"}}},
        "servers": {"type": "array", "items": {"type": "object", "required": ["url"]}},
        "paths": {"type": "object", "propertyNames": {"pattern": "^/"},
                  "additionalProperties": {
                      "type": "object",
                      "properties": {"parameters": {"type": "array", "items": PARAMETER},
                                     **{method: OPERATION for method in METHODS}}}},
        "components": {"type": "object", "properties": {
            "schemas": {"type": "object"},
            "securitySchemes": {"type": "object", "additionalProperties": {
                "type": "object", "required": ["type"],
                "properties": {"type": {"enum": ["apiKey", "http", "oauth2",
                                                 "openIdConnect"]}}}}}},
    },
}


def definition(server: ServerProcess) -> dict[str, Any]:
    response = get(server, "/openapi", accept=OPENAPI_JSON)
    assert response.status_code == 200 and media_type(response) == OPENAPI_JSON
    return response.json()


def operation(document: dict[str, Any], method: str, path: str) -> dict[str, Any]:
    """The operation of the API definition whose path template matches `path`."""
    for template, item in document["paths"].items():
        pattern = "^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)) + "$"
        if re.match(pattern, path) and method in item:
            # a literal segment beats a template (/jobs/import over /jobs/{jobId})
            if "{" not in template or not any(
                    t == path and method in i for t, i in document["paths"].items()):
                return item[method]
    raise AssertionError(f"{method.upper()} {path} is not in the API definition")


def test_conformance_oas30_definition_in_json_and_html(live: ServerProcess) -> None:
    """/conf/oas30/oas-definition-1: the landing page links the definition in JSON (relation
    service-desc, media type application/vnd.oai.openapi+json;version=3.0, served as that) and
    an HTML version (service-doc, text/html)."""
    landing = get(live, "/").json()
    (desc,), (doc,) = links(landing, "service-desc"), links(landing, "service-doc")
    assert desc["type"] == OPENAPI_JSON and doc["type"] == HTML
    response = get(live, desc["href"], accept=OPENAPI_JSON)
    assert response.status_code == 200 and media_type(response) == OPENAPI_JSON
    assert response.json()["openapi"].startswith("3.0.")
    for accept in ("application/vnd.oai.openapi+json", "application/json", "*/*", None):
        assert media_type(get(live, "/openapi", accept=accept)) == OPENAPI_JSON, accept
    page = html_page(get(live, doc["href"], accept=HTML))
    assert desc["href"].removeprefix(live.url) in page.hrefs or desc["href"] in page.hrefs
    html_page(get(live, "/openapi", accept=HTML))


def test_conformance_oas30_definition_is_openapi_30(live: ServerProcess) -> None:
    """/conf/oas30/oas-definition-2: the JSON definition conforms to OpenAPI 3.0 (its
    structure, checked with a schema of OpenAPI 3.0.3 written here) and every $ref in it
    resolves inside the document (it is self-contained)."""
    document = definition(live)
    validate(document, OPENAPI_30)
    refs = re.findall(r'"\$ref": "([^"]+)"', json.dumps(document))
    assert refs
    for ref in set(refs):
        assert ref.startswith("#/"), f"a remote $ref: {ref}"
        node: Any = document
        for part in ref[2:].split("/"):
            assert isinstance(node, dict) and part in node, f"{ref} does not resolve"
            node = node[part]
    for template, item in document["paths"].items():
        names = set(re.findall(r"\{([^}]+)\}", template))
        for method in (m for m in METHODS if m in item):
            declared = {p["name"] for p in [*item.get("parameters", []),
                                            *item[method].get("parameters", [])]
                        if p["in"] == "path"}
            assert declared == names, (template, method)


@pytest.fixture(scope="module")
def job_ids(live: ServerProcess) -> Iterator[dict[str, str]]:
    ids = {"successful": execute(live, "hello-world"), "failed": execute(live, "always-fails")}
    for job_id in ids.values():
        wait_for(live, job_id)
    ids["running"] = execute(live, "sleep", {"seconds": 600})
    wait_for(live, ids["running"], ("running",))
    yield ids
    requests.delete(f"{live.url}/jobs/{ids['running']}", timeout=30)


def test_conformance_oas30_implements_every_get(live: ServerProcess,
                                                job_ids: dict[str, str]) -> None:
    """/conf/oas30/oas-impl: every GET path of the definition, with its path parameters
    filled in, is served, and answers a status the definition gives for it."""
    values = {"processId": "hello-world", "jobId": job_ids["successful"], "lang": "python",
              "version": "1.0.0", "infrastructureId": "local", "outputId": "greeting",
              "path": "hello.txt"}
    document = definition(live)
    for template, item in document["paths"].items():
        if "get" not in item:
            continue
        path = re.sub(r"\{([^}]+)\}", lambda m: values[m.group(1)], template)
        response = requests.get(f"{live.url}{path}", timeout=60, allow_redirects=False)
        assert response.status_code < 400, (template, response.status_code, response.text[:300])
        assert str(response.status_code) in item["get"]["responses"], template


def test_conformance_oas30_completeness(live: ServerProcess, job_ids: dict[str, str]) -> None:
    """/conf/oas30/completeness, /conf/oas30/exceptions-codes: for each operation, the status
    codes the server answers (successes and its errors: 400, 403, 404, 406, 409, 415) are in
    the definition, each with a response object."""
    document = definition(live)
    url, failed, running = live.url, job_ids["failed"], job_ids["running"]
    hello = json.loads((Path(__file__).resolve().parent.parent / "methods" /
                        "hello-world.json").read_text())
    cases: list[tuple[str, str, dict[str, Any], int]] = [
        ("get", "/processes", {"params": {"limit": "0"}}, 400),
        ("get", "/processes", {"headers": {"Accept": "application/xml"}}, 406),
        ("get", "/processes/no-such", {}, 404),
        ("get", "/jobs", {"params": {"datetime": "never"}}, 400),
        ("get", "/jobs", {"params": {"f": "pdf"}}, 400),
        ("get", f"/jobs/{failed}", {"headers": {"Accept": "image/png"}}, 406),
        ("get", f"/jobs/{running}/results", {}, 404),
        ("get", f"/jobs/{failed}/results", {}, 409),
        ("get", "/conformance", {"headers": {"Accept": "application/xml"}}, 406),
        ("get", "/openapi", {"params": {"f": "yaml"}}, 400),
        ("get", "/infrastructures/none", {}, 404),
        ("get", "/processes/hello-world/versions", {"headers": {"Accept": HTML}}, 406),
        ("post", "/processes/hello-world/execution", {"json": {"inputs": {"name": 1}}}, 400),
        ("post", "/processes", {"data": "{}", "headers": {"Content-Type": "text/plain"}}, 415),
        ("post", "/processes", {"json": hello}, 403),
        ("put", "/processes/hello-world", {"json": hello}, 403),
        ("delete", "/processes/hello-world", {}, 403),
        ("delete", "/jobs/00000000-0000-4000-8000-000000000002", {}, 404),
    ]
    for method, path, options, status in cases:
        response = requests.request(method, f"{url}{path}", timeout=30, **options)
        assert response.status_code == status, (method, path, response.text[:300])
        responses = operation(document, method, path)["responses"]
        assert str(status) in responses, f"{method.upper()} {path}: {status} is not declared"
        assert responses[str(status)]["description"]


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    server = ServerProcess(tmp_path_factory.mktemp("secured") / "data", CCP_AUTH="true",
                           CCP_JWT_SECRET="oas30-test-secret-0123456789abcdef0123").start()
    yield server
    server.stop()


def test_conformance_oas30_security(secured: ServerProcess) -> None:
    """/conf/oas30/security: with access control on, the definition describes the scheme (a
    bearer JWT) and each protected operation names it, and those operations refuse a request
    without it with a declared 401."""
    document = get(secured, "/openapi", accept=OPENAPI_JSON).json()
    schemes = document["components"]["securitySchemes"]
    assert schemes["bearer"] == {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
    for template, item in document["paths"].items():
        for method in (m for m in METHODS if m in item):
            public = template in ("/", "/conformance", "/openapi")
            assert ("security" in item[method]) != public, (template, method)
            if not public:
                assert {"bearer": []} in item[method]["security"]
                assert "401" in item[method]["responses"]
    for path in ("/processes", "/jobs", "/processes/hello-world", "/infrastructures"):
        response = requests.get(f"{secured.url}{path}", timeout=30)
        assert response.status_code == 401, path
    for path in ("/", "/conformance", "/openapi", "/openapi?f=html"):
        assert requests.get(f"{secured.url}{path}", timeout=30).status_code == 200, path
