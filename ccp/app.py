"""The Flask app factory: configuration → pygeoapi API + CCP manager → routes.

Nothing happens at import time; `create_app()` builds everything and, unless told not to,
starts the workers.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import Flask, Response, g, request
from pygeoapi.api import API
from pygeoapi.util import yaml_load
from werkzeug.exceptions import HTTPException
from werkzeug.routing import BaseConverter

from ccp import errors, web, workbench
from ccp.api import BLUEPRINTS
from ccp.auth import Authenticator
from ccp.manager import CCPManager

LOGGER = logging.getLogger(__name__)
DEFAULT_CONFIG = Path(__file__).resolve().parent.parent / "pygeoapi-config.yml"
DEFAULT_MAX_BODY = 1024 * 1024


class JobIdConverter(BaseConverter):
    """A job id segment (a UUID, or an imported archive's id); `import` is a route of its own
    (POST /jobs/import), not a job. Anything else is a 404 before any lookup."""

    regex = r"(?!import$)[A-Za-z0-9-]{1,64}"


class ProcessIdConverter(BaseConverter):
    """A process id segment: model.ID_PATTERN; anything else is a 404 before any lookup."""

    regex = r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}"


@dataclass
class CCPContext:
    api: API
    manager: CCPManager
    config: dict[str, Any]
    auth: Authenticator


def load_config(path: Path | str | None = None) -> dict[str, Any]:
    """Read the pygeoapi configuration, with `${VAR:-default}` from the environment."""
    path = Path(path or os.environ.get("PYGEOAPI_CONFIG") or DEFAULT_CONFIG).resolve()
    with path.open(encoding="utf-8") as handle:
        config = yaml_load(handle)
    manager = config.setdefault("server", {}).setdefault("manager", {})
    manager.setdefault("name", "ccp.manager.CCPManager")
    manager.setdefault("base_dir", str(path.parent))
    manager.setdefault("base_url", config["server"].get("url", "http://localhost:5000"))
    config.setdefault("resources", {})
    return config


def create_app(config: dict[str, Any] | None = None, start_workers: bool = True) -> Flask:
    config = config if config is not None else load_config()
    # pygeoapi serves the landing page; CCP builds its own OpenAPI document (ccp.openapi).
    pygeoapi_api = API(config, {})
    manager = pygeoapi_api.manager
    if not isinstance(manager, CCPManager):
        raise RuntimeError("server.manager.name must be ccp.manager.CCPManager")

    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = int(config["server"].get("max_body_bytes",
                                                                 DEFAULT_MAX_BODY))
    app.url_map.strict_slashes = False
    app.url_map.converters["jobid"] = JobIdConverter
    app.url_map.converters["processid"] = ProcessIdConverter
    auth = Authenticator.from_config(config["server"].get("auth"))
    app.extensions["ccp"] = CCPContext(pygeoapi_api, manager, config, auth)

    @app.before_request
    def authenticate() -> None:
        if not auth.enabled or auth.is_public(request.path) or auth.checks_itself(request.path):
            return
        g.ccp_requester = auth.requester(request.headers.get("Authorization"))

    for blueprint in BLUEPRINTS:
        app.register_blueprint(blueprint)
    app.register_blueprint(workbench.blueprint)
    app.register_blueprint(web.blueprint)
    _register_error_handlers(app)
    if start_workers:
        manager.start()
    return app


def _register_error_handlers(app: Flask) -> None:
    """Every error becomes an OGC exception document here, and nowhere else."""

    def as_json(error: errors.CCPError) -> Response:
        response = Response(json.dumps(error.to_dict(), indent=2), error.status,
                            mimetype="application/json")
        for key, value in error.headers.items():
            response.headers[key] = value
        return response

    @app.errorhandler(errors.CCPError)
    def domain_error(error: errors.CCPError) -> Response:
        return as_json(error)

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Response:
        titles = {413: "Payload too large"}
        response = as_json(errors.APIError(
            error.code or 500, titles.get(error.code or 500, error.name),
            error.description or error.name))
        for key, value in error.get_headers():
            if key.lower() != "content-type":  # keeps Allow on 405, for one
                response.headers[key] = value
        return response

    @app.errorhandler(Exception)
    def unexpected(error: Exception) -> Response:
        LOGGER.exception("unexpected error")
        return as_json(errors.CCPError("the server failed to handle this request; see its log"))
