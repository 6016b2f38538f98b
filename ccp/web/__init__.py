"""HTML pages for people: Method list, editor, execution form, executions, job page, overview.

The pages are static shells (Jinja2 templates without any user data) plus plain JavaScript
that reads and changes everything through the JSON API with `fetch()`, so the pages and the
API can never disagree. Ids in a page's URL are read by the page's script from
`location.pathname`, not rendered into the HTML. Register with
`app.register_blueprint(ccp.web.blueprint)`; everything lives under `/ui/`.

The OGC resources' own HTML pages (templates/ogc/, rendered by ccp.api.negotiation) share
base.html, style.css and `security_headers`; they do carry user data, autoescaped.
"""

from __future__ import annotations

from flask import Blueprint, Response, render_template

blueprint = Blueprint("web", __name__, url_prefix="/ui", template_folder="templates",
                      static_folder="static", static_url_path="/static")

# Scripts and styles come only from /ui/static/ (no inline code, no CDN); data only from
# this origin. A string that slipped into the DOM as markup still could not run.
CONTENT_SECURITY_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self'; "
                           "img-src 'self' data:; connect-src 'self'; object-src 'none'; "
                           "base-uri 'none'; form-action 'self'; frame-ancestors 'none'")


@blueprint.after_request
def security_headers(response: Response) -> Response:
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    if response.mimetype == "text/html":
        response.headers.setdefault("Cache-Control", "no-cache")
    return response


def page(template: str, name: str, title: str) -> str:
    return render_template(template, page=name, title=title)


@blueprint.get("/")
def home() -> str:
    return page("home.html", "home", "CCP")


@blueprint.get("/methods")
def methods() -> str:
    return page("methods.html", "methods", "Methods")


@blueprint.get("/methods/new")
def new_method() -> str:
    return page("editor.html", "editor", "New Method")


@blueprint.get("/methods/<process_id>/edit")
def edit_method(process_id: str) -> str:
    return page("editor.html", "methods", "Edit Method")


@blueprint.get("/methods/<process_id>/execute")
def execute_method(process_id: str) -> str:
    return page("execute.html", "methods", "Execute")


@blueprint.get("/executions")
def executions() -> str:
    return page("executions.html", "executions", "Executions")


@blueprint.get("/executions/<job_id>")
def execution(job_id: str) -> str:
    return page("job.html", "executions", "Execution")


@blueprint.get("/infrastructures/<infrastructure_id>")
def infrastructure(infrastructure_id: str) -> str:
    return page("infrastructure.html", "home", "Infrastructure")


@blueprint.get("/overview")
def overview() -> str:
    return page("overview.html", "overview", "Overview")
