"""CCP's OpenAPI 3.0 document: every endpoint it serves, self-contained (no remote $refs),
so clients and fuzzers can rely on it offline. One module per group of paths; `parts` has
the shared pieces, `schemas` the components."""

from __future__ import annotations

from typing import Any

from ccp.jobcontrol import openapi as jobcontrol_openapi
from ccp.metrics import openapi as metrics_openapi
from ccp.openapi import jobs, processes
from ccp.openapi.parts import errors
from ccp.openapi.schemas import SCHEMAS


def document(base_url: str, title: str, auth: bool = False) -> dict[str, Any]:
    paths: dict[str, Any] = {**processes.paths(), **jobs.paths(), **metrics_openapi.paths(),
                             **jobcontrol_openapi.paths()}
    spec: dict[str, Any] = {
        "openapi": "3.0.3",
        "info": {"title": title, "version": "1.0.0",
                 "description": "CCP: Methods as OGC API - Processes, run as Executions"},
        "servers": [{"url": base_url}],
        "paths": paths,
        "components": {"schemas": jobcontrol_openapi.schemas(SCHEMAS)},
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
                    operation["responses"].update(errors(401))
    return spec

