"""Which representation a request gets, and the HTML one.

`?f=json|html` wins; without it the Accept header decides (text/html → HTML;
application/json or */* → JSON; no Accept header → JSON). A resource asked for a type it
cannot give answers 406. The HTML pages are Jinja2 templates (autoescaped: titles,
descriptions and job messages are user data) rendered from the very document the JSON
representation serves, in the look of the /ui/ pages and under the same
Content-Security-Policy.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode, urlsplit

from flask import Response, render_template, request

from ccp import errors, web
from ccp.api.common import json_response

JSON = "application/json"
HTML = "text/html"
OPENAPI_JSON = "application/vnd.oai.openapi+json;version=3.0"

# What a resource offers: the `f` value → the media types that select it, in order of
# preference (the first format wins a tie, so */* gets JSON).
DOCUMENT: dict[str, tuple[str, ...]] = {"json": (JSON,), "html": (HTML,)}
JSON_ONLY: dict[str, tuple[str, ...]] = {"json": (JSON,)}
OPENAPI: dict[str, tuple[str, ...]] = {
    "json": (OPENAPI_JSON, "application/vnd.oai.openapi+json", JSON), "html": (HTML,)}


def negotiate(offers: dict[str, tuple[str, ...]] = DOCUMENT) -> str:
    """The format ('json' or 'html') this request gets: 400 for an unknown `f`, 406 for an
    Accept header nothing here satisfies."""
    asked = request.args.get("f")
    if asked is not None:
        if asked not in offers:
            raise errors.InvalidParameter(
                f"'f' must be one of {', '.join(offers)}, got {asked[:40]!r}")
        return asked
    if not request.accept_mimetypes:
        return next(iter(offers))
    by_type = {media: name for name, types in offers.items() for media in types}
    best = request.accept_mimetypes.best_match(list(by_type))
    if best is None:
        served = ", ".join(types[0] for types in offers.values())
        raise errors.NotAcceptable(
            f"this resource is served as {served} (or ask with ?f=), not as "
            f"{request.headers.get('Accept', '')[:80]!r}")
    return by_type[best]


def with_format(href: str, fmt: str) -> str:
    """`href` with `f=<fmt>` added to its query."""
    return f"{href}{'&' if '?' in href else '?'}{urlencode({'f': fmt})}"


def self_links(href: str, fmt: str, title: str | None = None) -> list[dict[str, Any]]:
    """`self` in the format of this response and `alternate` in the other one."""
    links = []
    for name, media_type in (("json", JSON), ("html", HTML)):
        link = {"rel": "self" if name == fmt else "alternate", "type": media_type,
                "href": with_format(href, name)}
        if title:
            link["title"] = title if name == fmt else f"{title} ({name.upper()})"
        links.append(link)
    return sorted(links, key=lambda link: link["rel"] != "self")


def represent(fmt: str, document: Any, template: str, status: int = 200,
              headers: dict[str, str] | None = None, **context: Any) -> Response:
    """The document as JSON, or rendered into `template` (under ogc/) as HTML."""
    if fmt != "html":
        return json_response(document, status, headers)
    return html_response(render_template(f"ogc/{template}", doc=document, page="api",
                                         **context), status, headers)


def safe_href(href: Any) -> bool:
    """May this href be an <a href>? Only http(s) and relative references: a user's
    `javascript:` link stays text."""
    if not isinstance(href, str):
        return False
    scheme = urlsplit(href.strip()).scheme.lower()
    return scheme in ("http", "https") or (scheme == "" and not href.strip().startswith("//"))


def html_response(html: str, status: int = 200,
                  headers: dict[str, str] | None = None) -> Response:
    response = Response(html, status, mimetype=HTML)
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return web.security_headers(response)
