"""The OpenAPI side of job control (CCP extensions, docs/job-control.md): suspend, resume and
extend a job; health and verify of an Infrastructure; the fields they add to StatusInfo and
to an Infrastructure. Merged into the document of ccp.openapi, which stays the one document."""

from __future__ import annotations

import copy
from typing import Any

from ccp.openapi.parts import ERROR, JOB_ID, JSON, errors, json_content, path_param

STATUS_FIELDS: dict[str, Any] = {
    "timeLimit": {"type": "number", "description": "CCP: seconds of running time allowed "
                  "(ccpmaxtime plus extensions)"},
    "extendedSeconds": {"type": "integer"},
    "suspended": {"type": "boolean", "description": "CCP: a running job that is suspended "
                  "(its status stays `running`)"},
    "suspendedSince": {"type": "string"},
    "suspendedSeconds": {"type": "number"},
}

INFRASTRUCTURE_FIELDS: dict[str, Any] = {
    "features": {"type": "object", "description": "The manifest: each feature true or false",
                 "additionalProperties": {"type": "boolean"}},
    "limits": {"type": "object"}, "health": {"type": "object"},
}

NEW_SCHEMAS: dict[str, Any] = {
    "Extend": {
        "type": "object", "required": ["seconds"],
        "properties": {"seconds": {"type": "integer", "minimum": 1, "maximum": 10**7}},
    },
    "Health": {
        "type": "object", "required": ["infrastructure", "healthy", "history"],
        "properties": {"infrastructure": {"type": "string"},
                       "healthy": {"type": "boolean", "nullable": True},
                       "problem": {"type": "string", "nullable": True},
                       "since": {"type": "string", "nullable": True},
                       "server": {"type": "string"}, "schedule": {"type": "object"},
                       "history": {"type": "array", "items": {"type": "object"}}},
    },
    "VerifyReport": {
        "type": "object", "required": ["infrastructure", "ok", "message"],
        "properties": {"infrastructure": {"type": "string"}, "ok": {"type": "boolean"},
                       "message": {"type": "string"}, "checked": {"type": "string"},
                       "matched": {"type": "array", "items": {"type": "string"}},
                       "orphansRemoved": {"type": "array", "items": {"type": "string"}},
                       "lostJobsFailed": {"type": "array", "items": {"type": "string"}},
                       "unknown": {"type": "array", "items": {"type": "string"}}},
    },
}


def schemas(base: dict[str, Any]) -> dict[str, Any]:
    """`base` (ccp.openapi's schemas, left as they are) with job control's fields and
    schemas added."""
    merged = copy.deepcopy(base)
    merged["StatusInfo"]["properties"].update(STATUS_FIELDS)
    merged["Infrastructure"]["properties"].update(INFRASTRUCTURE_FIELDS)
    merged.update(copy.deepcopy(NEW_SCHEMAS))
    return merged


def paths() -> dict[str, Any]:
    status = {"$ref": "#/components/schemas/StatusInfo"}
    infrastructure = path_param("infrastructureId", "Infrastructure identifier")
    result: dict[str, Any] = {}
    for action, summary in (("suspend", "Suspend a running Execution (CCP); its time limit "
                             "stands still"),
                            ("resume", "Resume a suspended Execution (CCP)")):
        result[f"/jobs/{{jobId}}/{action}"] = {
            "parameters": [JOB_ID],
            "post": {"summary": summary, "operationId": f"{action}Job",
                     "responses": {"200": json_content(status, "In force"),
                                   "202": json_content(status, "Asked; not yet in force"),
                                   **errors(404, 409)}}}
    result["/jobs/{jobId}/extend"] = {
        "parameters": [JOB_ID],
        "post": {"summary": "Extend an Execution's time limit (CCP), up to the "
                            "Infrastructure's maxTime", "operationId": "extendJob",
                 "requestBody": {"required": True, "content": {
                     JSON: {"schema": {"$ref": "#/components/schemas/Extend"}}}},
                 "responses": {"200": json_content(status), **errors(400, 404, 409)}}}
    health = {"$ref": "#/components/schemas/Health"}
    result["/infrastructures/{infrastructureId}/health"] = {
        "parameters": [infrastructure],
        "get": {"summary": "Health of an Infrastructure, with recent checks",
                "operationId": "getInfrastructureHealth",
                "responses": {"200": json_content(health), **errors(404)}},
        "post": {"summary": "Check now, probe included (admins)",
                 "operationId": "checkInfrastructureHealth",
                 "responses": {"200": json_content(health), **errors(403, 404)}}}
    result["/infrastructures/{infrastructureId}/verify"] = {
        "parameters": [infrastructure],
        "get": {"summary": "The newest verify reports (admins)",
                "operationId": "getVerifyReports",
                "responses": {"200": json_content({"type": "object"}), **errors(403, 404)}},
        "post": {"summary": "Compare the engine with the job store: remove orphans, fail "
                            "lost jobs (admins)", "operationId": "verifyInfrastructure",
                 "responses": {"200": json_content({"$ref": "#/components/schemas/VerifyReport"}),
                               "503": json_content(ERROR, "The engine cannot be reached"),
                               **errors(403, 404, 409)}}}
    return result
