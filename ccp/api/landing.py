"""The landing page (pygeoapi's), conformance and the OpenAPI document."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, redirect, request
from pygeoapi.api import CONFORMANCE_CLASSES as pygeoapi_core_classes
from pygeoapi.api import APIRequest
from pygeoapi.api import landing_page as pygeoapi_landing_page
from werkzeug.wrappers import Response as WerkzeugResponse

from ccp.api.common import base_url, json_response
from ccp.openapi import document as openapi_document

blueprint = Blueprint("landing", __name__)

CONFORMANCE = [
    *pygeoapi_core_classes,
    "http://www.opengis.net/spec/ogcapi-processes-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-processes-1/1.0/conf/ogc-process-description",
    "http://www.opengis.net/spec/ogcapi-processes-1/1.0/conf/json",
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


def _pygeoapi(function: Any) -> Response:
    api = current_app.extensions["ccp"].api
    api_request = APIRequest.from_flask(request, api.locales)
    if not api_request.is_valid():
        headers, status, content = api.get_format_exception(api_request)
    else:
        headers, status, content = function(api, api_request)
    response = Response(content, status)
    for key, value in headers.items():
        response.headers[key] = value
    return response


@blueprint.get("/")
def landing() -> WerkzeugResponse:
    # Browsers get the web pages; OGC clients (Accept: application/json or */*) get JSON.
    if "f" not in request.args and request.accept_mimetypes.best_match(
            ["application/json", "text/html"]) == "text/html":
        return redirect("/ui/", 303)
    return _pygeoapi(pygeoapi_landing_page)


@blueprint.get("/conformance")
def conformance() -> Response:
    return json_response({"conformsTo": sorted(set(CONFORMANCE))})


@blueprint.get("/openapi")
def openapi() -> Response:
    context = current_app.extensions["ccp"]
    title = context.config.get("metadata", {}).get("identification", {}).get("title", "CCP")
    return json_response(openapi_document(base_url(), str(title), context.auth.enabled))
