"""The components/schemas of CCP's OpenAPI document: the OGC documents and CCP's own."""

from __future__ import annotations

from typing import Any

from ccp.openapi.parts import JOB_STATUSES
from ccp.runtimes import RUNTIME_TYPES

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
