"""The OpenAPI paths of the metrics, statistics and outputs routes (ccp.api.metrics,
ccp.api.outputfiles), merged into ccp.openapi's document."""

from __future__ import annotations

from typing import Any


def paths() -> dict[str, Any]:
    from ccp.openapi.parts import JOB_ID, errors, json_content, path_param

    def integer(name: str, minimum: int, description: str) -> dict[str, Any]:
        return {"name": name, "in": "query", "description": description,
                "schema": {"type": "integer", "minimum": minimum, "maximum": 2147483647}}

    links = {"type": "array", "items": {"$ref": "#/components/schemas/Link"}}
    metrics = {"type": "object", "required": ["jobID", "status", "columns", "samples", "phases"],
               "properties": {"jobID": {"type": "string"}, "status": {"type": "string"},
                              "interval": {"type": "number"},
                              "columns": {"type": "array", "items": {"type": "string"}},
                              "samples": {"type": "array", "items": {"type": "object"}},
                              "phases": {"type": "array", "items": {"type": "object"}},
                              "links": links}}
    statistics = {"type": "object", "required": ["jobID", "status", "phases", "phaseSeconds"],
                  "properties": {"jobID": {"type": "string"}, "status": {"type": "string"},
                                 "cpuSeconds": {"type": "number", "nullable": True},
                                 "peakMemoryBytes": {"type": "integer", "nullable": True},
                                 "networkRxBytes": {"type": "integer", "nullable": True},
                                 "networkTxBytes": {"type": "integer", "nullable": True},
                                 "blockReadBytes": {"type": "integer", "nullable": True},
                                 "blockWriteBytes": {"type": "integer", "nullable": True},
                                 "phases": {"type": "array", "items": {"type": "object"}},
                                 "phaseSeconds": {"type": "object"},
                                 "replicas": {"type": "array", "items": {"type": "object"}},
                                 "links": links}}
    return {
        "/jobs/{jobId}/metrics": {
            "parameters": [JOB_ID],
            "get": {"summary": "Samples of every replica (CPU, memory, network, block I/O), "
                               "live while it runs", "operationId": "getJobMetrics",
                    "parameters": [
                        {"name": "f", "in": "query",
                         "schema": {"type": "string", "enum": ["json", "csv"]}},
                        integer("after", -1, "Only the sampling rounds after this one")],
                    "responses": {"200": {"description": "Samples", "content": {
                        "application/json": {"schema": metrics},
                        "text/csv": {"schema": {"type": "string"}}}},
                        **errors(400, 404)}},
        },
        "/jobs/{jobId}/statistics": {
            "parameters": [JOB_ID],
            "get": {"summary": "What an Execution used: CPU-seconds, peak memory, bytes, "
                               "time in each phase", "operationId": "getJobStatistics",
                    "responses": {"200": json_content(statistics), **errors(404)}},
        },
        "/jobs/{jobId}/outputs": {
            "parameters": [JOB_ID],
            "get": {"summary": "The files inside output.zip", "operationId": "getOutputFiles",
                    "parameters": [integer("limit", 1, "Page size (at most 10000)"),
                                   integer("offset", 0, "Files to skip")],
                    "responses": {"200": json_content({"type": "object",
                                                "required": ["files", "numberMatched"],
                                                "properties": {
                                                    "files": {"type": "array",
                                                              "items": {"type": "object"}},
                                                    "numberMatched": {"type": "integer"},
                                                    "links": links}}),
                                  **errors(400, 404, 409)}},
        },
        "/jobs/{jobId}/outputs/{path}": {
            "parameters": [JOB_ID, path_param("path", "A file's path inside output.zip")],
            "get": {"summary": "One file of output.zip, with its media type",
                    "operationId": "getOutputFile",
                    "responses": {"200": {"description": "The file", "content": {
                        "*/*": {"schema": {"type": "string", "format": "binary"}}}},
                        **errors(400, 404, 409, 413)}},
        },
        "/statistics": {
            "get": {"summary": "Executions per day by status, the queue, running per "
                               "Infrastructure (a user's own; all for admins)",
                    "operationId": "getStatistics",
                    "parameters": [integer("days", 1, "Days back from today (at most 366)")],
                    "responses": {"200": json_content({"type": "object",
                                                "required": ["days", "queued", "running"],
                                                "properties": {
                                                    "days": {"type": "array",
                                                             "items": {"type": "object"}},
                                                    "queued": {"type": "integer"},
                                                    "running": {"type": "object"},
                                                    "infrastructures": {
                                                        "type": "array",
                                                        "items": {"type": "object"}}}}),
                                  **errors(400)}},
        },
        "/metrics": {
            "get": {"summary": "Operator metrics in Prometheus' text format (with auth on: "
                               "admins, or the scrape token)", "operationId": "getMetrics",
                    "responses": {"200": {"description": "Prometheus text format",
                                          "content": {"text/plain": {"schema": {
                                              "type": "string"}}}},
                                  **errors(403, 404)}},
        },
    }
