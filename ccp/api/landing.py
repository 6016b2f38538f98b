"""The landing page and the conformance declaration."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app

from ccp.api.common import REL, base_url
from ccp.api.negotiation import (
    HTML,
    JSON,
    OPENAPI_JSON,
    negotiate,
    represent,
    safe_href,
    self_links,
)

blueprint = Blueprint("landing", __name__)
blueprint.add_app_template_global(safe_href)  # for the links of every OGC resource page

# Only what holds, each class proven by tests/test_conformance_*.py.
CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-processes-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-processes-1/1.0/conf/ogc-process-description",
    "http://www.opengis.net/spec/ogcapi-processes-1/1.0/conf/json",
    "http://www.opengis.net/spec/ogcapi-processes-1/1.0/conf/html",
    "http://www.opengis.net/spec/ogcapi-processes-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-processes-1/1.0/conf/job-list",
    "http://www.opengis.net/spec/ogcapi-processes-1/1.0/conf/dismiss",
    "http://www.opengis.net/spec/ogcapi-processes-1/1.0/conf/callback",
    "http://www.opengis.net/spec/ogcapi-processes-2/1.0/conf/deploy-replace-undeploy",
    "http://www.opengis.net/spec/ogcapi-processes-2/1.0/conf/ogcapppkg",
    "http://www.opengis.net/spec/ogcapi-processes-2/1.0/conf/docker",
    "http://www.opengis.net/spec/ogcapi-processes-4/1.0/conf/job-management",
    "http://www.opengis.net/spec/ogcapi-processes-4/1.0/conf/provenance",
]


def landing_document(fmt: str) -> dict[str, Any]:
    identification = current_app.extensions["ccp"].config.get("metadata", {}).get(
        "identification", {})
    url = base_url()
    return {
        "title": str(identification.get("title", "CCP")),
        "description": str(identification.get("description", "")),
        "links": [
            *self_links(f"{url}/", fmt, "This document"),
            {"rel": "service-desc", "type": OPENAPI_JSON, "href": f"{url}/openapi?f=json",
             "title": "The API definition (OpenAPI 3.0)"},
            {"rel": "service-doc", "type": HTML, "href": f"{url}/openapi?f=html",
             "title": "The API documentation"},
            {"rel": f"{REL}conformance", "type": JSON, "href": f"{url}/conformance",
             "title": "Conformance classes this server implements"},
            {"rel": f"{REL}processes", "type": JSON, "href": f"{url}/processes",
             "title": "Methods (processes)"},
            {"rel": f"{REL}job-list", "type": JSON, "href": f"{url}/jobs",
             "title": "Executions (jobs)"},
            {"rel": "infrastructures", "type": JSON, "href": f"{url}/infrastructures",
             "title": "Infrastructures Methods run on"},
            {"rel": "related", "type": HTML, "href": f"{url}/ui/",
             "title": "The CCP web pages: browse, write and execute Methods"},
        ],
    }


@blueprint.get("/")
def landing() -> Response:
    fmt = negotiate()
    document = landing_document(fmt)
    return represent(fmt, document, "landing.html", title=document["title"])


@blueprint.get("/conformance")
def conformance() -> Response:
    fmt = negotiate()
    document = {"conformsTo": sorted(set(CONFORMANCE)),
                "links": self_links(f"{base_url()}/conformance", fmt)}
    return represent(fmt, document, "conformance.html", title="Conformance")
