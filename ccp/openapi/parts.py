"""The pieces every part of CCP's OpenAPI document is built from: media types, responses,
errors and parameters."""

from __future__ import annotations

from typing import Any

from ccp.jobs import STATUS_VALUES

JSON = "application/json"
HTML = "text/html"
OPENAPI_JSON = "application/vnd.oai.openapi+json;version=3.0"
ERROR = {"$ref": "#/components/schemas/Exception"}
JOB_STATUSES = list(STATUS_VALUES)
PROV_FORMATS = ["json", "jsonld", "ttl", "nt", "xml", "provn"]
LANGUAGES = ["python", "r", "julia", "ipynb"]


def json_content(schema: dict[str, Any], description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {JSON: {"schema": schema}}}


def json_or_html(schema: dict[str, Any], description: str = "OK") -> dict[str, Any]:
    """A resource served as JSON or, with ?f=html or Accept: text/html, as an HTML page."""
    return {"description": description, "content": {JSON: {"schema": schema},
                                                    HTML: {"schema": {"type": "string"}}}}


def binary(media_type: str, description: str) -> dict[str, Any]:
    return {"description": description,
            "content": {media_type: {"schema": {"type": "string", "format": "binary"}}}}


def results(description: str) -> dict[str, Any]:
    """A results answer: the document, several raw outputs, or one raw output of its type."""
    return {"description": description,
            "headers": {"Link": {"description": "rel=monitor (the job, when synchronous), "
                                 "archive, outputs, provenance",
                                 "schema": {"type": "string"}}},
            "content": {JSON: {"schema": {"$ref": "#/components/schemas/Results"}},
                        "multipart/related": {"schema": {"type": "string",
                                                         "format": "binary"}},
                        "*/*": {"schema": {"type": "string", "format": "binary"}}}}


NO_CONTENT_RESULTS = {"description": "response raw, every output by reference: one Link "
                      "header per output (rel .../results, title = output id)",
                      "headers": {"Link": {"schema": {"type": "string"}}}}


def errors(*codes: int) -> dict[str, Any]:
    titles = {400: "Bad request", 401: "Unauthorized", 403: "Forbidden", 404: "Not found",
              406: "Not acceptable", 409: "Conflict", 413: "Payload too large",
              415: "Unsupported media type", 422: "Unsupported schema",
              423: "Locked: the job has started", 429: "Too many executions (see Retry-After)"}
    return {str(code): json_content(ERROR, titles[code]) for code in codes}


def path_param(name: str, description: str, enum: list[str] | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string"}
    if enum:
        schema["enum"] = enum
    return {"name": name, "in": "path", "required": True, "description": description,
            "schema": schema}


DEPLOY_BODY = {
    JSON: {"schema": {"anyOf": [{"$ref": "#/components/schemas/Method"},
                                {"$ref": "#/components/schemas/ApplicationPackage"}]}},
    "application/ogcapppkg+json": {"schema": {
        "$ref": "#/components/schemas/ApplicationPackage"}},
}
PROCESS_ID = path_param("processId", "Method (process) identifier")
JOB_ID = path_param("jobId", "Execution (job) identifier")
LANG = path_param("lang", "Language of the stub", LANGUAGES)
FORMAT = {"name": "f", "in": "query", "required": False,
          "description": "The representation; without it the Accept header decides",
          "schema": {"type": "string", "enum": ["json", "html"]}}
JOB_LIST_FILTERS = [
    {"name": "type", "in": "query", "style": "form", "explode": False,
     "description": "Job types; every CCP job is of type `process`",
     "schema": {"type": "array", "items": {"type": "string"}}},
    {"name": "datetime", "in": "query",
     "description": "When jobs were created: an RFC 3339 date-time (the span of its "
     "precision) or an interval a/b, ../b, a/..",
     "schema": {"type": "string"}},
    {"name": "minDuration", "in": "query",
     "description": "Jobs that ran at least this many seconds (running: until now)",
     "schema": {"type": "integer", "minimum": 0, "maximum": 2147483647}},
    {"name": "maxDuration", "in": "query",
     "description": "Jobs that ran at most this many seconds (running: until now)",
     "schema": {"type": "integer", "minimum": 0, "maximum": 2147483647}},
]

STATUS_INFO: dict[str, Any] = {"$ref": "#/components/schemas/StatusInfo"}
PROV_MEDIA_TYPES = ("application/json", "application/ld+json", "text/turtle",
                    "application/n-triples", "application/xml", "text/provenance-notation")
PROV_SCHEMAS = {"application/json": {"type": "object"}, "application/ld+json": {}}
# What the server POSTs to a subscriber's URIs (class callback).
CALLBACKS = {
    "jobSucceeded": {"{$request.body#/subscriber/successUri}": {"post": {
        "requestBody": {"content": {JSON: {"schema": {"type": "object", "description":
                                                      "The results document"}}}},
        "responses": {"200": {"description": "Received (any 2xx)"}}}}},
    "jobFailed": {"{$request.body#/subscriber/failedUri}": {"post": {
        "requestBody": {"content": {JSON: {"schema": STATUS_INFO}}},
        "responses": {"200": {"description": "Received (any 2xx)"}}}}},
    "jobInProgress": {"{$request.body#/subscriber/inProgressUri}": {"post": {
        "requestBody": {"content": {JSON: {"schema": STATUS_INFO}}},
        "responses": {"200": {"description": "Received (any 2xx)"}}}}},
}

