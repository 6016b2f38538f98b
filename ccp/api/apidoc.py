"""The API definition: OpenAPI 3.0 as JSON, and as a Swagger UI page.

Swagger UI's files come from the `flask-swagger-ui` package and are served from this server
(no CDN). Its own page has an inline script, which the Content-Security-Policy of CCP's pages
forbids; CCP's page loads the bundle plus ccp/web/static/swagger.js instead.
"""

from __future__ import annotations

from importlib import resources

from flask import Blueprint, Response, current_app

from ccp.api.common import base_url, json_response
from ccp.api.negotiation import OPENAPI, OPENAPI_JSON, negotiate, represent
from ccp.openapi import document as openapi_document

blueprint = Blueprint("apidoc", __name__)

# Under /ui/ so that, like the web pages' own files, they need no token with auth on.
swagger_files = Blueprint("swagger_ui", __name__,
                          static_folder=str(resources.files("flask_swagger_ui") / "dist"),
                          static_url_path="/ui/swagger-ui")


@blueprint.get("/openapi")
def openapi() -> Response:
    fmt = negotiate(OPENAPI)
    if fmt == "html":
        return represent(fmt, None, "openapi.html", title="API",
                         definition=f"{base_url()}/openapi?f=json")
    context = current_app.extensions["ccp"]
    title = context.config.get("metadata", {}).get("identification", {}).get("title", "CCP")
    response = json_response(openapi_document(base_url(), str(title), context.auth.enabled))
    response.headers["Content-Type"] = OPENAPI_JSON
    return response
