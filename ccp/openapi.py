"""CCP's OpenAPI 3.0 document: every endpoint it serves, self-contained (no remote $refs),
so clients and fuzzers can rely on it offline."""

from __future__ import annotations

from typing import Any

from ccp.jobs import STATUS_VALUES
from ccp.metrics import openapi as metrics_openapi
from ccp.runtimes import RUNTIME_TYPES

JSON = "application/json"
HTML = "text/html"
OPENAPI_JSON = "application/vnd.oai.openapi+json;version=3.0"
ERROR = {"$ref": "#/components/schemas/Exception"}
JOB_STATUSES = list(STATUS_VALUES)
PROV_FORMATS = ["json", "jsonld", "ttl", "nt", "xml", "provn"]
LANGUAGES = ["python", "r", "julia", "ipynb"]


def _json(schema: dict[str, Any], description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {JSON: {"schema": schema}}}


def _document(schema: dict[str, Any], description: str = "OK") -> dict[str, Any]:
    """A resource served as JSON or, with ?f=html or Accept: text/html, as an HTML page."""
    return {"description": description, "content": {JSON: {"schema": schema},
                                                    HTML: {"schema": {"type": "string"}}}}


def _binary(media_type: str, description: str) -> dict[str, Any]:
    return {"description": description,
            "content": {media_type: {"schema": {"type": "string", "format": "binary"}}}}


def _results(description: str) -> dict[str, Any]:
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


def _errors(*codes: int) -> dict[str, Any]:
    titles = {400: "Bad request", 401: "Unauthorized", 403: "Forbidden", 404: "Not found",
              406: "Not acceptable", 409: "Conflict", 413: "Payload too large",
              415: "Unsupported media type", 422: "Unsupported schema",
              423: "Locked: the job has started", 429: "Too many executions (see Retry-After)"}
    return {str(code): _json(ERROR, titles[code]) for code in codes}


def _path_param(name: str, description: str, enum: list[str] | None = None) -> dict[str, Any]:
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
PROCESS_ID = _path_param("processId", "Method (process) identifier")
JOB_ID = _path_param("jobId", "Execution (job) identifier")
LANG = _path_param("lang", "Language of the stub", LANGUAGES)
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

SCHEMAS: dict[str, Any] = {
    "Exception": {
        "type": "object",
        "required": ["type", "title", "status", "detail"],
        "properties": {"type": {"type": "string"}, "title": {"type": "string"},
                       "status": {"type": "integer"}, "detail": {"type": "string"},
                       "problems": {"type": "array", "items": {"type": "string"}}},
    },
    "Link": {
        "type": "object", "required": ["href"],
        "properties": {"href": {"type": "string"}, "rel": {"type": "string"},
                       "type": {"type": "string"}, "title": {"type": "string"}},
    },
    "StatusInfo": {
        "type": "object",
        "required": ["type", "jobID", "status", "processID"],
        "properties": {
            "id": {"type": "string", "description": "The job id (Part 4)"},
            "process": {"type": "string", "description": "The process URI (Part 4)"},
            "type": {"type": "string", "enum": ["process"]},
            "processID": {"type": "string"}, "processVersion": {"type": "string"},
            "jobID": {"type": "string"},
            "status": {"type": "string", "enum": JOB_STATUSES},
            "message": {"type": "string"},
            "progress": {"type": "integer", "minimum": 0, "maximum": 100},
            "created": {"type": "string"},
            "started": {"type": "string", "format": "date-time"},
            "finished": {"type": "string", "format": "date-time"},
            "updated": {"type": "string"},
            "infrastructure": {"type": "string"},
            "image": {"type": "string", "nullable": True},
            "derivedFrom": {"type": "string"},
            "cacheHit": {"type": "object", "description": "Served from the cache: the "
                         "identical earlier Execution whose outputs this one has",
                         "properties": {"jobID": {"type": "string"},
                                        "href": {"type": "string"}}},
            "warmRuntime": {"type": "boolean",
                            "description": "Ran in a runtime a warm pool launched ahead"},
            "method": {"type": "object", "description": "Which Method ran, by content: "
                       "source `file`/`deployed` is this server's Method of processID and "
                       "processVersion; `archive` is an imported Execution's own Method",
                       "properties": {"digest": {"type": "string"},
                                      "source": {"type": "string",
                                                 "enum": ["file", "deployed", "archive"]}}},
            "links": {"type": "array", "items": {"$ref": "#/components/schemas/Link"}},
        },
    },
    "JobList": {
        "type": "object", "required": ["jobs", "links"],
        "properties": {"jobs": {"type": "array",
                                "items": {"$ref": "#/components/schemas/StatusInfo"}},
                       "numberMatched": {"type": "integer"},
                       "numberReturned": {"type": "integer"},
                       "links": {"type": "array", "items": {"$ref": "#/components/schemas/Link"}}},
    },
    "ProcessSummary": {
        "type": "object", "required": ["id", "version"],
        "properties": {"id": {"type": "string"}, "version": {"type": "string"},
                       "title": {"type": "string"}, "executable": {"type": "boolean"},
                       "readOnly": {"type": "boolean"}, "mutable": {"type": "boolean"},
                       "notExecutableBecause": {"type": "string"},
                       "jobControlOptions": {"type": "array", "items": {
                           "type": "string",
                           "enum": ["sync-execute", "async-execute", "dismiss"]}},
                       "links": {"type": "array", "items": {"$ref": "#/components/schemas/Link"}}},
    },
    "ProcessList": {
        "type": "object", "required": ["processes", "links"],
        "properties": {"processes": {"type": "array",
                                     "items": {"$ref": "#/components/schemas/ProcessSummary"}},
                       "links": {"type": "array", "items": {"$ref": "#/components/schemas/Link"}}},
    },
    "Method": {
        "type": "object",
        "description": "An OGC process description plus additionalParameters (lifecycle "
                       "scripts) and a compatibleWith link to an Infrastructure",
        "required": ["id", "version", "title", "inputs", "additionalParameters", "links"],
        "properties": {"id": {"type": "string"}, "version": {"type": "string"},
                       "title": {"type": "string"}, "inputs": {"type": "object"},
                       "outputs": {"type": "object"},
                       "additionalParameters": {"type": "object"},
                       "deterministic": {"type": "boolean", "default": False,
                                         "description": "The same inputs on the same image "
                                         "always give the same outputs: an identical earlier "
                                         "Execution may be served from the cache"},
                       "links": {"type": "array", "items": {"type": "object"}}},
    },
    "Landing": {
        "type": "object", "required": ["links"],
        "properties": {"title": {"type": "string"}, "description": {"type": "string"},
                       "links": {"type": "array", "items": {"$ref": "#/components/schemas/Link"}}},
    },
    "Execute": {
        "type": "object",
        "properties": {
            "inputs": {"type": "object", "description": "Values, or references "
                       "{\"href\": URL} (http, https, s3 of this server's store) "
                       "staged at /ccp_data/inputs/<input id>"},
            "outputs": {"type": "object", "description": "Outputs to give (all if left out), "
                        "each {transmissionMode, format}; an unknown id is a 400",
                        "additionalProperties": {"$ref": "#/components/schemas/OutputRequest"}},
            "response": {"type": "string", "enum": ["raw", "document"],
                         "description": "raw: the outputs themselves (one: its media type; "
                         "several: multipart/related; by reference: 204 + Link headers). "
                         "document (CCP's default when left out): the results document"},
            "subscriber": {"$ref": "#/components/schemas/Subscriber"},
            "cache": {"type": "boolean", "default": True,
                      "description": "false: run even when an identical earlier Execution of "
                      "a deterministic Method could be served from the cache"}},
    },
    "OutputRequest": {
        "type": "object",
        "properties": {"transmissionMode": {"type": "string", "enum": ["value", "reference"]},
                       "format": {"type": "object", "properties": {
                           "mediaType": {"type": "string"}, "encoding": {"type": "string"},
                           "schema": {}}}},
    },
    "Results": {
        "type": "object",
        "description": "Output id -> its value, a qualified value {value, mediaType, "
                       "encoding} or a link {href, type}",
        "additionalProperties": {},
    },
    "ApplicationPackage": {
        "type": "object",
        "description": "OGC Application Package: executionUnit of type ccp (image, "
                       "infrastructure, scripts) or docker/oci (image, command)",
        "properties": {"processDescription": {"type": "object"},
                       "executionUnit": {}},
    },
    "Subscriber": {
        "type": "object",
        "description": "Callback URIs (class callback), under the outbound policy",
        "properties": {"successUri": {"type": "string", "format": "uri"},
                       "inProgressUri": {"type": "string", "format": "uri"},
                       "failedUri": {"type": "string", "format": "uri"}},
    },
    "JobDefinition": {
        "type": "object",
        "description": "Part 4: an execute request naming its process",
        "required": ["process"],
        "properties": {"process": {"type": "string", "description": "<server>/processes/<id>, "
                                   "/processes/<id> or <id>"},
                       "inputs": {"type": "object"}, "outputs": {"type": "object"},
                       "response": {"type": "string", "enum": ["raw", "document"]},
                       "subscriber": {"$ref": "#/components/schemas/Subscriber"}},
    },
    "JobInputs": {
        "type": "object", "required": ["inputs", "outputs"],
        "properties": {"inputs": {"type": "object"}, "outputs": {"type": "object"},
                       "links": {"type": "array", "items": {"$ref": "#/components/schemas/Link"}}},
    },
    "Infrastructure": {
        "type": "object", "required": ["id", "name", "type"],
        "properties": {"id": {"type": "string"}, "name": {"type": "string"},
                       "type": {"type": "string", "enum": list(RUNTIME_TYPES)},
                       "reachable": {"type": "boolean", "nullable": True},
                       "problem": {"type": "string"},
                       "description": {"type": "string"}, "settings": {"type": "object"}},
    },
}


STATUS_INFO = {"$ref": "#/components/schemas/StatusInfo"}
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


def document(base_url: str, title: str, auth: bool = False) -> dict[str, Any]:
    any_object = {"type": "object"}
    paths: dict[str, Any] = {
        "/": {"get": {"summary": "Landing page", "operationId": "getLandingPage",
                      "parameters": [FORMAT],
                      "responses": {"200": _document({"$ref": "#/components/schemas/Landing"}),
                                    **_errors(400, 406)}}},
        "/conformance": {"get": {
            "summary": "Conformance classes", "operationId": "getConformance",
            "parameters": [FORMAT],
            "responses": {"200": _document({"type": "object", "required": ["conformsTo"],
                                            "properties": {"conformsTo": {
                                                "type": "array",
                                                "items": {"type": "string"}}}}),
                          **_errors(400, 406)}}},
        "/openapi": {"get": {"summary": "This document, or (f=html) the page to read and try it",
                             "operationId": "getOpenAPI", "parameters": [FORMAT],
                             "responses": {"200": {"description": "OK", "content": {
                                 OPENAPI_JSON: {"schema": any_object},
                                 HTML: {"schema": {"type": "string"}}}},
                                 **_errors(400, 406)}}},
        "/processes": {
            "get": {"summary": "List Methods", "operationId": "getProcesses",
                    "parameters": [{"name": "limit", "in": "query",
                                    "schema": {"type": "integer", "minimum": 1,
                                               "maximum": 2147483647}}, FORMAT],
                    "responses": {"200": _document({"$ref": "#/components/schemas/ProcessList"}),
                                  **_errors(400, 406)}},
            "post": {"summary": "Deploy a Method (OGC API - Processes Part 2)",
                     "operationId": "deploy",
                     "requestBody": {"required": True, "content": DEPLOY_BODY},
                     "responses": {"201": _json({"$ref": "#/components/schemas/ProcessSummary"},
                                                "Deployed"),
                                   **_errors(400, 403, 409, 413, 415)}},
        },
        "/processes/{processId}": {
            "parameters": [PROCESS_ID],
            "get": {"summary": "Describe a Method", "operationId": "getProcessDescription",
                    "parameters": [FORMAT],
                    "responses": {"200": _document({"$ref": "#/components/schemas/Method"}),
                                  **_errors(400, 404, 406)}},
            "put": {"summary": "Replace a Method", "operationId": "replace",
                    "requestBody": {"required": True, "content": DEPLOY_BODY},
                    "responses": {"204": {"description": "Replaced"},
                                  **_errors(400, 403, 404, 409, 413, 415)}},
            "delete": {"summary": "Undeploy a Method", "operationId": "undeploy",
                       "responses": {"204": {"description": "Undeployed"},
                                     **_errors(403, 404)}},
        },
        "/processes/{processId}/execution": {
            "parameters": [PROCESS_ID],
            "post": {"summary": "Execute a Method: synchronously (200, 204) when it declares "
                                "sync-execute and the client does not prefer respond-async, "
                                "within the server's cap; else asynchronously (201)",
                     "operationId": "execute",
                     "parameters": [{"name": "Prefer", "in": "header", "required": False,
                                     "description": "respond-async and/or wait=<seconds> "
                                     "(RFC 7240)", "schema": {"type": "string"}}],
                     "requestBody": {"required": True, "content": {
                         JSON: {"schema": {"$ref": "#/components/schemas/Execute"}}}},
                     "responses": {
                         "200": _results("Synchronous: the results"),
                         "201": {"description": "Accepted; Location names the job",
                                 "headers": {"Location": {"schema": {"type": "string"}},
                                             "Preference-Applied": {
                                                 "schema": {"type": "string"}}},
                                 "content": {JSON: {"schema": {
                                     "$ref": "#/components/schemas/StatusInfo"}}}},
                         "204": NO_CONTENT_RESULTS,
                         **_errors(400, 403, 404, 409, 413, 429)},
                     "callbacks": CALLBACKS},
        },
        "/processes/{processId}/package": {
            "parameters": [PROCESS_ID],
            "get": {"summary": "The OGC Application Package that deploys the Method again",
                    "operationId": "getPackage",
                    "responses": {"200": {"description": "Application package", "content": {
                        "application/ogcapppkg+json": {"schema": {
                            "$ref": "#/components/schemas/ApplicationPackage"}}}},
                        **_errors(404)}},
        },
        "/processes/{processId}/versions": {
            "parameters": [PROCESS_ID],
            "get": {"summary": "Versions of a Method", "operationId": "getProcessVersions",
                    "responses": {"200": _json(any_object), **_errors(404, 406)}},
        },
        "/processes/{processId}/versions/{version}": {
            "parameters": [PROCESS_ID, _path_param("version", "Method version")],
            "get": {"summary": "One version of a Method", "operationId": "getProcessVersion",
                    "responses": {"200": _json({"$ref": "#/components/schemas/Method"}),
                                  **_errors(404, 406)}},
        },
        "/processes/{processId}/code/{lang}": {
            "parameters": [PROCESS_ID, LANG],
            "get": {"summary": "Client stub executing the Method with its defaults",
                    "operationId": "getProcessCode",
                    "responses": {"200": {"description": "Source code"}, **_errors(400, 404)}},
        },
        "/jobs": {
            "get": {"summary": "List Executions", "operationId": "getJobs",
                    "parameters": [
                        {"name": "limit", "in": "query",
                         "description": "Page size; values above 1000 are taken as 1000",
                         "schema": {"type": "integer", "minimum": 1,
                                    "maximum": 2147483647}},
                        {"name": "offset", "in": "query",
                         "schema": {"type": "integer", "minimum": 0,
                                    "maximum": 2147483647}},
                        {"name": "status", "in": "query", "style": "form", "explode": False,
                         "schema": {"type": "array",
                                    "items": {"type": "string", "enum": JOB_STATUSES}}},
                        {"name": "processID", "in": "query", "style": "form",
                         "explode": False,
                         "schema": {"type": "array", "items": {"type": "string"}}},
                        *JOB_LIST_FILTERS, FORMAT],
                    "responses": {"200": _document({"$ref": "#/components/schemas/JobList"}),
                                  **_errors(400, 406)}},
            "post": {"summary": "Create a job, not started yet (Part 4)",
                     "operationId": "createJob",
                     "requestBody": {"required": True, "content": {
                         JSON: {"schema": {"$ref": "#/components/schemas/JobDefinition"}}}},
                     "responses": {"201": {"description": "Created (status created)",
                                           "headers": {"Location": {"schema": {
                                               "type": "string"}}},
                                           "content": {JSON: {"schema": STATUS_INFO}}},
                                   **_errors(400, 403, 404, 409, 413, 415, 422, 429)},
                     "callbacks": CALLBACKS},
        },
        "/jobs/import": {
            "post": {"summary": "Import an exported Execution archive",
                     "operationId": "importJob",
                     "requestBody": {"required": True, "content": {
                         "application/zip": {"schema": {"type": "string", "format": "binary"}},
                         "multipart/form-data": {"schema": {
                             "type": "object", "required": ["file"],
                             "properties": {"file": {"type": "string", "format": "binary"}}}}}},
                     "responses": {"201": _json({"$ref": "#/components/schemas/StatusInfo"},
                                                "Imported"), **_errors(400, 403, 413, 429)}},
        },
        "/jobs/{jobId}": {
            "parameters": [JOB_ID],
            "get": {"summary": "Status of an Execution", "operationId": "getStatus",
                    "parameters": [FORMAT],
                    "responses": {"200": _document({"$ref": "#/components/schemas/StatusInfo"}),
                                  **_errors(400, 404, 406)}},
            "delete": {"summary": "Dismiss a running Execution, or delete a finished one",
                       "operationId": "dismiss", "parameters": [FORMAT],
                       "responses": {"200": _document({"$ref": "#/components/schemas/StatusInfo"}),
                                     **_errors(400, 404, 406)}},
            "patch": {"summary": "Change a created job: a JSON merge patch of its definition "
                                 "(Part 4)", "operationId": "updateJob",
                      "requestBody": {"required": True, "content": {JSON: {"schema": {
                          "type": "object", "description": "null removes a member",
                          "properties": {
                              "process": {"type": "string", "nullable": True},
                              "inputs": {"type": "object", "nullable": True},
                              "outputs": {"type": "object", "nullable": True},
                              "response": {"type": "string", "nullable": True},
                              "subscriber": {"type": "object", "nullable": True}}}}}},
                      "responses": {"200": _json(STATUS_INFO),
                                    **_errors(400, 403, 404, 413, 415, 422, 423)}},
        },
        "/jobs/{jobId}/dismiss": {
            "parameters": [JOB_ID],
            "post": {"summary": "Dismiss a queued or running Execution; a finished one is left "
                                "as it is, archive included (CCP extension)",
                     "operationId": "dismissOnly",
                     "responses": {"200": _json({"$ref": "#/components/schemas/StatusInfo"}),
                                   **_errors(404)}},
        },
        "/jobs/{jobId}/results": {
            "parameters": [JOB_ID],
            "get": {"summary": "Results of a successful Execution (as its request asked: "
                               "document, or raw)", "operationId": "getResult",
                    "responses": {"200": _results("The results"), "204": NO_CONTENT_RESULTS,
                                  **_errors(404, 409)}},
            "post": {"summary": "Start a created job (Part 4)", "operationId": "startJob",
                     "responses": {"200": _json(STATUS_INFO), **_errors(404, 423, 429)}},
        },
        "/jobs/{jobId}/results/{outputId}": {
            "parameters": [JOB_ID, _path_param("outputId", "Output identifier")],
            "get": {"summary": "One output of a successful Execution, with its media type "
                               "(several files of one glob: a zip)",
                    "operationId": "getOutput",
                    "responses": {"200": _binary("*/*", "The output"),
                                  "302": {"description": "Redirect to a presigned URL"},
                                  **_errors(404, 409)}},
        },
        "/jobs/{jobId}/definition": {
            "parameters": [JOB_ID],
            "get": {"summary": "The definition the job was created with (Part 4)",
                    "operationId": "getJobDefinition",
                    "responses": {"200": _json({"$ref": "#/components/schemas/JobDefinition"}),
                                  **_errors(404)}},
        },
        "/jobs/{jobId}/inputs": {
            "parameters": [JOB_ID],
            "get": {"summary": "Every input of the job, defaults included (Part 4)",
                    "operationId": "getJobInputs",
                    "responses": {"200": _json({"$ref": "#/components/schemas/JobInputs"}),
                                  **_errors(404)}},
        },
        "/jobs/{jobId}/prov": {
            "parameters": [JOB_ID],
            "get": {"summary": "W3C PROV of the job, so far (Part 4); Accept or f=",
                    "operationId": "getJobProv",
                    "parameters": [{"name": "f", "in": "query", "schema": {
                        "type": "string", "enum": PROV_FORMATS}}],
                    "responses": {"200": {"description": "PROV-JSON (default), PROV-O as "
                                          "JSON-LD, Turtle or N-Triples, PROV-XML, PROV-N",
                                          "content": {media: {"schema": PROV_SCHEMAS.get(
                                              media, {"type": "string"})}
                                              for media in PROV_MEDIA_TYPES}},
                                  **_errors(400, 404, 406)}},
        },
        "/jobs/{jobId}/archive": {
            "parameters": [JOB_ID],
            "get": {"summary": "The whole Execution archive", "operationId": "getArchive",
                    "responses": {"200": _binary("application/zip", "Archive"),
                                  "302": {"description": "Redirect to a presigned URL"},
                                  **_errors(404)}},
        },
        "/jobs/{jobId}/outputs/output.zip": {
            "parameters": [JOB_ID],
            "get": {"summary": "Everything the Method wrote to /ccp_data",
                    "operationId": "getOutputs",
                    "responses": {"200": _binary("application/zip", "Outputs"),
                                  "302": {"description": "Redirect to a presigned URL"},
                                  **_errors(404)}},
        },
        "/jobs/{jobId}/provenance": {
            "parameters": [JOB_ID],
            "get": {"summary": "W3C PROV record", "operationId": "getProvenance",
                    "parameters": [{"name": "f", "in": "query", "schema": {
                        "type": "string", "enum": PROV_FORMATS}}],
                    "responses": {"200": {"description": "PROV-JSON, Turtle, XML or PROV-N"},
                                  **_errors(400, 404, 406)}},
        },
        "/jobs/{jobId}/logs": {
            "parameters": [JOB_ID],
            "get": {"summary": "Log lines so far", "operationId": "getLogs",
                    "parameters": [{"name": "offset", "in": "query",
                                    "description": "Give the log from this byte on",
                                    "schema": {"type": "integer", "minimum": 0,
                                               "maximum": 2147483647}}],
                    "responses": {"200": {"description": "Log",
                                          "headers": {"X-Log-Offset": {"schema": {
                                              "type": "integer"}}},
                                          "content": {"text/plain": {"schema": {
                                              "type": "string"}}}},
                                  **_errors(400, 404)}},
        },
        "/jobs/{jobId}/reexecute": {
            "parameters": [JOB_ID],
            "post": {"summary": "Run the same request again", "operationId": "reexecute",
                     "parameters": [{"name": "method", "in": "query", "schema": {
                         "type": "string", "enum": ["same", "latest"]}}],
                     "responses": {"201": _json({"$ref": "#/components/schemas/StatusInfo"},
                                                "Accepted"), **_errors(400, 403, 404, 409, 429)}},
        },
        "/jobs/{jobId}/code/{lang}": {
            "parameters": [JOB_ID, LANG],
            "get": {"summary": "Client stub requesting the same Execution",
                    "operationId": "getJobCode",
                    "responses": {"200": {"description": "Source code"}, **_errors(400, 404)}},
        },
        "/infrastructures": {
            "get": {"summary": "List Infrastructures", "operationId": "getInfrastructures",
                    "parameters": [FORMAT],
                    "responses": {"200": _document({"type": "object", "required": [
                        "infrastructures"], "properties": {"infrastructures": {
                            "type": "array",
                            "items": {"$ref": "#/components/schemas/Infrastructure"}}}}),
                                  **_errors(400, 406)}},
        },
        "/infrastructures/{infrastructureId}": {
            "parameters": [_path_param("infrastructureId", "Infrastructure identifier")],
            "get": {"summary": "Describe an Infrastructure", "operationId": "getInfrastructure",
                    "parameters": [FORMAT],
                    "responses": {"200": _document({"$ref": "#/components/schemas/Infrastructure"}),
                                  **_errors(400, 404, 406)}},
        },
    }
    paths.update(metrics_openapi.paths())
    spec: dict[str, Any] = {
        "openapi": "3.0.3",
        "info": {"title": title, "version": "1.0.0",
                 "description": "CCP: Methods as OGC API - Processes, run as Executions"},
        "servers": [{"url": base_url}],
        "paths": paths,
        "components": {"schemas": SCHEMAS},
    }
    if auth:
        spec["components"]["securitySchemes"] = {
            "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}}
        for path, item in paths.items():
            if path in ("/", "/conformance", "/openapi"):
                continue
            for method, operation in item.items():
                if method != "parameters":
                    operation["security"] = [{"bearer": []}]
                    operation["responses"].update(_errors(401))
    return spec
