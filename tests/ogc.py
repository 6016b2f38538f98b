"""What CCP's own OGC conformance suite (tests/test_conformance_*.py) shares: a live server per
test module, the JSON schemas of OGC API - Processes - Part 1: Core 1.0 written here from the
standard's text and its schema files (not copied from CCP's OpenAPI), and small HTTP helpers.

The schemas follow the 1.0 schema files (core/openapi/schemas/*.yaml of the standard's
repository, branch 1.0.0-maintenance) as JSON Schema 2020-12. Date-times are checked with a
pattern (RFC 3339, 5.6), so no optional format checker is needed.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from html.parser import HTMLParser
from typing import Any

import jsonschema
import pytest
import requests
from conftest import ServerProcess

OGC = "http://www.opengis.net/"
REL = f"{OGC}def/rel/ogc/1.0/"
CONF = f"{OGC}spec/ogcapi-processes-1/1.0/conf/"
PART2_CONF = f"{OGC}spec/ogcapi-processes-2/1.0/conf/"
EXCEPTIONS = f"{OGC}def/exceptions/ogcapi-processes-1/1.0/"
PART2_EXCEPTIONS = f"{OGC}def/exceptions/ogcapi-processes-2/1.0/"
JSON = "application/json"
HTML = "text/html"
OPENAPI_JSON = "application/vnd.oai.openapi+json;version=3.0"
FINAL = ("successful", "failed", "dismissed")
DATE_TIME = (r"^\d{4}-\d\d-\d\d[Tt]\d\d:\d\d:\d\d(\.\d+)?([Zz]|[+-]\d\d:\d\d)$")

# --- schemas (OGC API - Processes - Part 1: Core 1.0) ----------------------------------------

LINK = {  # link.yaml
    "type": "object", "required": ["href"],
    "properties": {"href": {"type": "string"}, "rel": {"type": "string"},
                   "type": {"type": "string"}, "hreflang": {"type": "string"},
                   "title": {"type": "string"}},
}
LINKS = {"type": "array", "items": LINK}

LANDING_PAGE = {  # landingPage.yaml
    "type": "object", "required": ["links"],
    "properties": {"title": {"type": "string"}, "description": {"type": "string"},
                   "links": LINKS},
}

CONF_CLASSES = {  # confClasses.yaml
    "type": "object", "required": ["conformsTo"],
    "properties": {"conformsTo": {"type": "array", "items": {"type": "string"}}},
}

EXCEPTION = {  # exception.yaml (RFC 7807)
    "type": "object", "required": ["type"],
    "properties": {"type": {"type": "string"}, "title": {"type": "string"},
                   "status": {"type": "integer"}, "detail": {"type": "string"},
                   "instance": {"type": "string"}},
}

METADATA = {  # metadata.yaml
    "type": "object",
    "properties": {"title": {"type": "string"}, "role": {"type": "string"},
                   "href": {"type": "string"}},
}

ADDITIONAL_PARAMETER = {  # additionalParameter.yaml
    "type": "object", "required": ["name", "value"],
    "properties": {"name": {"type": "string"},
                   "value": {"type": "array", "items": {"oneOf": [
                       {"type": "string"}, {"type": "number"}, {"type": "integer"},
                       {"type": "array", "items": {}}, {"type": "object"}]}}},
}

DESCRIPTION_TYPE = {  # descriptionType.yaml
    "type": "object",
    "properties": {
        "title": {"type": "string"}, "description": {"type": "string"},
        "keywords": {"type": "array", "items": {"type": "string"}},
        "metadata": {"type": "array", "items": METADATA},
        "additionalParameters": {"allOf": [METADATA, {
            "type": "object",
            "properties": {"parameters": {"type": "array", "items": ADDITIONAL_PARAMETER}}}]},
    },
}

JOB_CONTROL_OPTIONS = {"enum": ["sync-execute", "async-execute", "dismiss"]}
TRANSMISSION_MODE = {"enum": ["value", "reference"]}

PROCESS_SUMMARY = {  # processSummary.yaml
    "allOf": [DESCRIPTION_TYPE, {
        "type": "object", "required": ["id", "version"],
        "properties": {"id": {"type": "string"}, "version": {"type": "string"},
                       "jobControlOptions": {"type": "array", "items": JOB_CONTROL_OPTIONS},
                       "outputTransmission": {"type": "array", "items": TRANSMISSION_MODE},
                       "links": LINKS}}],
}

PROCESS_LIST = {  # processList.yaml
    "type": "object", "required": ["processes", "links"],
    "properties": {"processes": {"type": "array", "items": PROCESS_SUMMARY}, "links": LINKS},
}

REFERENCE = {  # reference.yaml
    "type": "object", "required": ["$ref"], "properties": {"$ref": {"type": "string"}}}


def _schema_or_reference() -> dict[str, Any]:
    return {"oneOf": [{"$ref": "#"}, REFERENCE]}


# schema.yaml: the OpenAPI 3.0 Schema Object an input or output declares. Recursive, so it is
# its own document ("#" is itself); additionalProperties: false as in the standard.
SCHEMA_OBJECT: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "oneOf": [REFERENCE, {
        "type": "object",
        "properties": {
            "title": {"type": "string"},
            "multipleOf": {"type": "number", "exclusiveMinimum": 0},
            "maximum": {"type": "number"},
            "exclusiveMaximum": {"type": "boolean"},
            "minimum": {"type": "number"},
            "exclusiveMinimum": {"type": "boolean"},
            "maxLength": {"type": "integer", "minimum": 0},
            "minLength": {"type": "integer", "minimum": 0},
            "pattern": {"type": "string"},
            "maxItems": {"type": "integer", "minimum": 0},
            "minItems": {"type": "integer", "minimum": 0},
            "uniqueItems": {"type": "boolean"},
            "maxProperties": {"type": "integer", "minimum": 0},
            "minProperties": {"type": "integer", "minimum": 0},
            "required": {"type": "array", "items": {"type": "string"}, "minItems": 1,
                         "uniqueItems": True},
            "enum": {"type": "array", "items": {}, "minItems": 1},
            "type": {"enum": ["array", "boolean", "integer", "number", "object", "string"]},
            "not": _schema_or_reference(),
            "allOf": {"type": "array", "items": _schema_or_reference()},
            "oneOf": {"type": "array", "items": _schema_or_reference()},
            "anyOf": {"type": "array", "items": _schema_or_reference()},
            "items": _schema_or_reference(),
            "properties": {"type": "object", "additionalProperties": _schema_or_reference()},
            "additionalProperties": {"oneOf": [{"$ref": "#"}, REFERENCE, {"type": "boolean"}]},
            "description": {"type": "string"},
            "format": {"type": "string"},
            "default": {},
            "nullable": {"type": "boolean"},
            "readOnly": {"type": "boolean"},
            "writeOnly": {"type": "boolean"},
            "example": {},
            "deprecated": {"type": "boolean"},
            "contentMediaType": {"type": "string"},
            "contentEncoding": {"type": "string"},
            "contentSchema": {"type": "string"},
        },
        "additionalProperties": False,
    }],
}

INPUT_DESCRIPTION = {  # inputDescription.yaml (its schema checked with SCHEMA_OBJECT)
    "allOf": [DESCRIPTION_TYPE, {
        "type": "object", "required": ["schema"],
        "properties": {"minOccurs": {"type": "integer"},
                       "maxOccurs": {"oneOf": [{"type": "integer"}, {"enum": ["unbounded"]}]},
                       "schema": {"type": "object"}}}],
}

OUTPUT_DESCRIPTION = {  # outputDescription.yaml
    "allOf": [DESCRIPTION_TYPE, {"type": "object", "required": ["schema"],
                                 "properties": {"schema": {"type": "object"}}}],
}

PROCESS = {  # process.yaml
    "allOf": [PROCESS_SUMMARY, {
        "type": "object",
        "properties": {"inputs": {"type": "object", "additionalProperties": INPUT_DESCRIPTION},
                       "outputs": {"type": "object",
                                   "additionalProperties": OUTPUT_DESCRIPTION}}}],
}

STATUS_INFO = {  # statusInfo.yaml + statusCode.yaml
    "type": "object", "required": ["jobID", "status", "type"],
    "properties": {
        "processID": {"type": "string"},
        "type": {"enum": ["process"]},
        "jobID": {"type": "string"},
        "status": {"enum": ["accepted", "running", "successful", "failed", "dismissed"]},
        "message": {"type": "string"},
        "created": {"type": "string", "pattern": DATE_TIME},
        "started": {"type": "string", "pattern": DATE_TIME},
        "finished": {"type": "string", "pattern": DATE_TIME},
        "updated": {"type": "string", "pattern": DATE_TIME},
        "progress": {"type": "integer", "minimum": 0, "maximum": 100},
        "links": LINKS,
    },
}

JOB_LIST = {  # jobList.yaml
    "type": "object", "required": ["jobs", "links"],
    "properties": {"jobs": {"type": "array", "items": STATUS_INFO}, "links": LINKS},
}

FORMAT = {  # format.yaml
    "type": "object",
    "properties": {"mediaType": {"type": "string"}, "encoding": {"type": "string"},
                   "schema": {"oneOf": [{"type": "string"}, {"type": "object"}]}},
}
BBOX = {  # bbox.yaml
    "type": "object", "required": ["bbox"],
    "properties": {"bbox": {"oneOf": [{"type": "array", "minItems": 4, "maxItems": 4,
                                       "items": {"type": "number"}},
                                      {"type": "array", "minItems": 6, "maxItems": 6,
                                       "items": {"type": "number"}}]},
                   "crs": {"type": "string"}},
}
INPUT_VALUE_NO_OBJECT = {"oneOf": [  # inputValueNoObject.yaml (binaryInputValue: a string)
    {"type": "string"}, {"type": "number"}, {"type": "boolean"}, {"type": "array"}, BBOX]}
QUALIFIED_VALUE = {"allOf": [FORMAT, {  # qualifiedInputValue.yaml
    "type": "object", "required": ["value"],
    "properties": {"value": {"anyOf": [INPUT_VALUE_NO_OBJECT, {"type": "object"}]}}}]}
RESULTS = {  # results.yaml: every member is an output, inline or by reference
    "type": "object",
    "additionalProperties": {"anyOf": [INPUT_VALUE_NO_OBJECT, QUALIFIED_VALUE, LINK]},
}


def validate(instance: Any, schema: dict[str, Any]) -> None:
    """Fail with every violation of `schema`, not only the first."""
    validator = jsonschema.Draft202012Validator(schema)
    problems = [f"{'/'.join(map(str, error.absolute_path)) or '(root)'}: {error.message}"
                for error in validator.iter_errors(instance)]
    assert problems == [], "\n".join(problems[:20])


def exception(response: requests.Response, status: int, type_: str | None = None) -> dict:
    """An OGC exception document with this status (and type)."""
    assert response.status_code == status, (response.status_code, response.text[:800])
    assert response.headers["Content-Type"].startswith(JSON)
    document = response.json()
    validate(document, EXCEPTION)
    if type_ is not None:
        assert document["type"] == type_, document
    return document


# --- a live server ---------------------------------------------------------------------------

@pytest.fixture(scope="module", name="live")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """`ccp serve` in its own process on a real socket, for one test module."""
    server = ServerProcess(tmp_path_factory.mktemp("ogc") / "data").start()
    yield server
    server.stop()


def get(server: ServerProcess, path: str, accept: str | None = JSON, **params: Any
        ) -> requests.Response:
    headers = {"Accept": accept} if accept else {}
    url = path if path.startswith("http") else f"{server.url}{path}"
    return requests.get(url, headers=headers, params=params or None, timeout=30)


def execute(server: ServerProcess, process_id: str, inputs: dict[str, Any] | None = None
            ) -> str:
    """/conf/core/process-execute-op, asynchronously: the new job's id."""
    response = requests.post(f"{server.url}/processes/{process_id}/execution",
                             json={"inputs": inputs or {}}, timeout=30,
                             headers={"Prefer": "respond-async"})
    assert response.status_code == 201, response.text[:800]
    job_id = response.json()["jobID"]
    assert response.headers["Location"].endswith(f"/jobs/{job_id}")
    return job_id


def wait_for(server: ServerProcess, job_id: str, statuses: tuple[str, ...] = FINAL,
             timeout: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    job: dict[str, Any] = {}
    while time.monotonic() < deadline:
        job = get(server, f"/jobs/{job_id}").json()
        if job["status"] in statuses:
            return job
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} never reached {statuses}: {job}")


def links(document: dict[str, Any], rel: str) -> list[dict[str, Any]]:
    return [link for link in document.get("links", []) if link.get("rel") == rel]


def media_type(response: requests.Response) -> str:
    """The Content-Type without charset (parameters that name a version stay)."""
    parts = [part.strip() for part in response.headers.get("Content-Type", "").split(";")]
    return ";".join([parts[0], *[p for p in parts[1:] if not p.startswith("charset")]])


class Page(HTMLParser):
    """An HTML page's doctype, <a href>s and body text."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.doctype = ""
        self.hrefs: list[str] = []
        self.text: list[str] = []
        self.tags: set[str] = set()
        self.feed(html)
        self.close()

    def handle_decl(self, decl: str) -> None:
        self.doctype = decl

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        if tag == "a":
            self.hrefs.extend(value for name, value in attrs if name == "href" and value)

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    @property
    def body_text(self) -> str:
        return " ".join(" ".join(self.text).split())


def html_page(response: requests.Response) -> Page:
    """/conf/html/definition: a 200 text/html answer, parsed."""
    assert response.status_code == 200, response.text[:500]
    assert media_type(response) == HTML, response.headers.get("Content-Type")
    page = Page(response.text)
    assert page.doctype.lower() == "doctype html", page.doctype  # HTML5
    assert {"html", "head", "title", "body"} <= page.tags
    return page


def same_href(href: str, hrefs: list[str], server: ServerProcess) -> bool:
    """Is `href` (absolute) among a page's hrefs, absolute or relative to the server?"""
    return href in hrefs or href.removeprefix(server.url) in hrefs
