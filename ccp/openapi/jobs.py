"""The OpenAPI paths of the jobs (Part 1, Part 4, CCP's archive, provenance, logs, stubs) and
of the Infrastructures."""

from __future__ import annotations

from typing import Any

from ccp.openapi.parts import (
    CALLBACKS,
    FORMAT,
    JOB_ID,
    JOB_LIST_FILTERS,
    JOB_STATUSES,
    JSON,
    LANG,
    NO_CONTENT_RESULTS,
    PROV_FORMATS,
    PROV_MEDIA_TYPES,
    PROV_SCHEMAS,
    STATUS_INFO,
    binary,
    errors,
    json_content,
    json_or_html,
    path_param,
    results,
)


def paths() -> dict[str, Any]:
    return {
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
                    "responses": {"200": json_or_html({"$ref": "#/components/schemas/JobList"}),
                                  **errors(400, 406)}},
            "post": {"summary": "Create a job, not started yet (Part 4)",
                     "operationId": "createJob",
                     "requestBody": {"required": True, "content": {
                         JSON: {"schema": {"$ref": "#/components/schemas/JobDefinition"}}}},
                     "responses": {"201": {"description": "Created (status created)",
                                           "headers": {"Location": {"schema": {
                                               "type": "string"}}},
                                           "content": {JSON: {"schema": STATUS_INFO}}},
                                   **errors(400, 403, 404, 409, 413, 415, 422, 429)},
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
                     "responses": {"201": json_content({"$ref": "#/components/schemas/StatusInfo"},
                                                "Imported"), **errors(400, 403, 413, 429)}},
        },
        "/jobs/{jobId}": {
            "parameters": [JOB_ID],
            "get": {"summary": "Status of an Execution", "operationId": "getStatus",
                    "parameters": [FORMAT],
                    "responses": {"200": json_or_html(STATUS_INFO),
                                  **errors(400, 404, 406)}},
            "delete": {"summary": "Dismiss a running Execution, or delete a finished one",
                       "operationId": "dismiss", "parameters": [FORMAT],
                       "responses": {"200": json_or_html(STATUS_INFO),
                                     **errors(400, 404, 406)}},
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
                      "responses": {"200": json_content(STATUS_INFO),
                                    **errors(400, 403, 404, 413, 415, 422, 423)}},
        },
        "/jobs/{jobId}/dismiss": {
            "parameters": [JOB_ID],
            "post": {"summary": "Dismiss a queued or running Execution; a finished one is left "
                                "as it is, archive included (CCP extension)",
                     "operationId": "dismissOnly",
                     "responses": {"200": json_content({"$ref": "#/components/schemas/StatusInfo"}),
                                   **errors(404)}},
        },
        "/jobs/{jobId}/results": {
            "parameters": [JOB_ID],
            "get": {"summary": "Results of a successful Execution (as its request asked: "
                               "document, or raw)", "operationId": "getResult",
                    "responses": {"200": results("The results"), "204": NO_CONTENT_RESULTS,
                                  **errors(404, 409)}},
            "post": {"summary": "Start a created job (Part 4)", "operationId": "startJob",
                     "responses": {"200": json_content(STATUS_INFO), **errors(404, 423, 429)}},
        },
        "/jobs/{jobId}/results/{outputId}": {
            "parameters": [JOB_ID, path_param("outputId", "Output identifier")],
            "get": {"summary": "One output of a successful Execution, with its media type "
                               "(several files of one glob: a zip)",
                    "operationId": "getOutput",
                    "responses": {"200": binary("*/*", "The output"),
                                  "302": {"description": "Redirect to a presigned URL"},
                                  **errors(404, 409)}},
        },
        "/jobs/{jobId}/definition": {
            "parameters": [JOB_ID],
            "get": {"summary": "The definition the job was created with (Part 4)",
                    "operationId": "getJobDefinition",
                    "responses": {"200": json_content(
                        {"$ref": "#/components/schemas/JobDefinition"}),
                                  **errors(404)}},
        },
        "/jobs/{jobId}/inputs": {
            "parameters": [JOB_ID],
            "get": {"summary": "Every input of the job, defaults included (Part 4)",
                    "operationId": "getJobInputs",
                    "responses": {"200": json_content({"$ref": "#/components/schemas/JobInputs"}),
                                  **errors(404)}},
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
                                  **errors(400, 404, 406)}},
        },
        "/jobs/{jobId}/archive": {
            "parameters": [JOB_ID],
            "get": {"summary": "The whole Execution archive", "operationId": "getArchive",
                    "responses": {"200": binary("application/zip", "Archive"),
                                  "302": {"description": "Redirect to a presigned URL"},
                                  **errors(404)}},
        },
        "/jobs/{jobId}/outputs/output.zip": {
            "parameters": [JOB_ID],
            "get": {"summary": "Everything the Method wrote to /ccp_data",
                    "operationId": "getOutputs",
                    "responses": {"200": binary("application/zip", "Outputs"),
                                  "302": {"description": "Redirect to a presigned URL"},
                                  **errors(404)}},
        },
        "/jobs/{jobId}/provenance": {
            "parameters": [JOB_ID],
            "get": {"summary": "W3C PROV record", "operationId": "getProvenance",
                    "parameters": [{"name": "f", "in": "query", "schema": {
                        "type": "string", "enum": PROV_FORMATS}}],
                    "responses": {"200": {"description": "PROV-JSON, Turtle, XML or PROV-N"},
                                  **errors(400, 404, 406)}},
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
                                  **errors(400, 404)}},
        },
        "/jobs/{jobId}/reexecute": {
            "parameters": [JOB_ID],
            "post": {"summary": "Run the same request again", "operationId": "reexecute",
                     "parameters": [{"name": "method", "in": "query", "schema": {
                         "type": "string", "enum": ["same", "latest"]}}],
                     "responses": {"201": json_content({"$ref": "#/components/schemas/StatusInfo"},
                                                "Accepted"), **errors(400, 403, 404, 409, 429)}},
        },
        "/jobs/{jobId}/code/{lang}": {
            "parameters": [JOB_ID, LANG],
            "get": {"summary": "Client stub requesting the same Execution",
                    "operationId": "getJobCode",
                    "responses": {"200": {"description": "Source code"}, **errors(400, 404)}},
        },
        "/infrastructures": {
            "get": {"summary": "List Infrastructures", "operationId": "getInfrastructures",
                    "parameters": [FORMAT],
                    "responses": {"200": json_or_html({"type": "object", "required": [
                        "infrastructures"], "properties": {"infrastructures": {
                            "type": "array",
                            "items": {"$ref": "#/components/schemas/Infrastructure"}}}}),
                                  **errors(400, 406)}},
        },
        "/infrastructures/{infrastructureId}": {
            "parameters": [path_param("infrastructureId", "Infrastructure identifier")],
            "get": {"summary": "Describe an Infrastructure", "operationId": "getInfrastructure",
                    "parameters": [FORMAT],
                    "responses": {"200": json_or_html(
                        {"$ref": "#/components/schemas/Infrastructure"}),
                                  **errors(400, 404, 406)}},
        },
    }
