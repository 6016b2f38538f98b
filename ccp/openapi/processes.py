"""The OpenAPI paths of the landing page, conformance, this document and the processes
(Part 1 execution, Part 2 deploy/replace/undeploy, versions, code stubs)."""

from __future__ import annotations

from typing import Any

from ccp.openapi.parts import (
    CALLBACKS,
    DEPLOY_BODY,
    FORMAT,
    HTML,
    JSON,
    LANG,
    NO_CONTENT_RESULTS,
    OPENAPI_JSON,
    PROCESS_ID,
    errors,
    json_content,
    json_or_html,
    path_param,
    results,
)


def paths() -> dict[str, Any]:
    any_object = {"type": "object"}
    return {
        "/": {"get": {"summary": "Landing page", "operationId": "getLandingPage",
                      "parameters": [FORMAT],
                      "responses": {"200": json_or_html({"$ref": "#/components/schemas/Landing"}),
                                    **errors(400, 406)}}},
        "/conformance": {"get": {
            "summary": "Conformance classes", "operationId": "getConformance",
            "parameters": [FORMAT],
            "responses": {"200": json_or_html({"type": "object", "required": ["conformsTo"],
                                            "properties": {"conformsTo": {
                                                "type": "array",
                                                "items": {"type": "string"}}}}),
                          **errors(400, 406)}}},
        "/openapi": {"get": {"summary": "This document, or (f=html) the page to read and try it",
                             "operationId": "getOpenAPI", "parameters": [FORMAT],
                             "responses": {"200": {"description": "OK", "content": {
                                 OPENAPI_JSON: {"schema": any_object},
                                 HTML: {"schema": {"type": "string"}}}},
                                 **errors(400, 406)}}},
        "/processes": {
            "get": {"summary": "List Methods", "operationId": "getProcesses",
                    "parameters": [{"name": "limit", "in": "query",
                                    "schema": {"type": "integer", "minimum": 1,
                                               "maximum": 2147483647}}, FORMAT],
                    "responses": {"200": json_or_html({"$ref": "#/components/schemas/ProcessList"}),
                                  **errors(400, 406)}},
            "post": {"summary": "Deploy a Method (OGC API - Processes Part 2)",
                     "operationId": "deploy",
                     "requestBody": {"required": True, "content": DEPLOY_BODY},
                     "responses": {"201": json_content(
                         {"$ref": "#/components/schemas/ProcessSummary"}, "Deployed"),
                                   **errors(400, 403, 409, 413, 415)}},
        },
        "/processes/{processId}": {
            "parameters": [PROCESS_ID],
            "get": {"summary": "Describe a Method", "operationId": "getProcessDescription",
                    "parameters": [FORMAT],
                    "responses": {"200": json_or_html({"$ref": "#/components/schemas/Method"}),
                                  **errors(400, 404, 406)}},
            "put": {"summary": "Replace a Method", "operationId": "replace",
                    "requestBody": {"required": True, "content": DEPLOY_BODY},
                    "responses": {"204": {"description": "Replaced"},
                                  **errors(400, 403, 404, 409, 413, 415)}},
            "delete": {"summary": "Undeploy a Method", "operationId": "undeploy",
                       "responses": {"204": {"description": "Undeployed"},
                                     **errors(403, 404)}},
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
                         "200": results("Synchronous: the results"),
                         "201": {"description": "Accepted; Location names the job",
                                 "headers": {"Location": {"schema": {"type": "string"}},
                                             "Preference-Applied": {
                                                 "schema": {"type": "string"}}},
                                 "content": {JSON: {"schema": {
                                     "$ref": "#/components/schemas/StatusInfo"}}}},
                         "204": NO_CONTENT_RESULTS,
                         **errors(400, 403, 404, 409, 413, 429)},
                     "callbacks": CALLBACKS},
        },
        "/processes/{processId}/package": {
            "parameters": [PROCESS_ID],
            "get": {"summary": "The OGC Application Package that deploys the Method again",
                    "operationId": "getPackage",
                    "responses": {"200": {"description": "Application package", "content": {
                        "application/ogcapppkg+json": {"schema": {
                            "$ref": "#/components/schemas/ApplicationPackage"}}}},
                        **errors(404)}},
        },
        "/processes/{processId}/versions": {
            "parameters": [PROCESS_ID],
            "get": {"summary": "Versions of a Method", "operationId": "getProcessVersions",
                    "responses": {"200": json_content(any_object), **errors(404, 406)}},
        },
        "/processes/{processId}/versions/{version}": {
            "parameters": [PROCESS_ID, path_param("version", "Method version")],
            "get": {"summary": "One version of a Method", "operationId": "getProcessVersion",
                    "responses": {"200": json_content({"$ref": "#/components/schemas/Method"}),
                                  **errors(404, 406)}},
        },
        "/processes/{processId}/code/{lang}": {
            "parameters": [PROCESS_ID, LANG],
            "get": {"summary": "Client stub executing the Method with its defaults",
                    "operationId": "getProcessCode",
                    "responses": {"200": {"description": "Source code"}, **errors(400, 404)}},
        },
    }
