"""The Infrastructures Methods run on, with whether this server can reach them."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response

from ccp import errors
from ccp.api.common import base_url, manager
from ccp.api.negotiation import negotiate, represent, self_links
from ccp.jobcontrol import manifest

blueprint = Blueprint("infrastructures", __name__)


def infrastructure_document(infrastructure_id: str, fmt: str = "json") -> dict[str, Any]:
    infrastructure = manager().registry.infrastructures.get(infrastructure_id)
    if infrastructure is None:
        raise errors.NotFound(f"there is no infrastructure '{infrastructure_id}'",
                              title="No such infrastructure")
    document = infrastructure.to_dict()
    checked = manager().reachability
    document["reachable"] = None if infrastructure.id not in checked else (
        checked[infrastructure.id] is None)
    if checked.get(infrastructure.id):
        document["problem"] = checked[infrastructure.id]
    document.update(manifest.manifest(infrastructure))
    document["health"] = manager().health.summary(infrastructure.id)
    if manager().warm.enabled(infrastructure):  # runtimes launched ahead, per image
        document["warmPool"] = {"size": getattr(infrastructure.settings, "warm_pool", 0),
                                "images": manager().warm.status(infrastructure.id)}
    document["links"] = self_links(f"{base_url()}/infrastructures/{infrastructure.id}", fmt,
                                   str(document.get("name") or infrastructure.id))
    document["links"].append({"rel": "health", "type": "application/json",
                              "href": f"{base_url()}/infrastructures/{infrastructure.id}/health",
                              "title": "Health checks, with recent history"})
    return document


@blueprint.get("/infrastructures")
def list_infrastructures() -> Response:
    fmt = negotiate()
    ids = sorted(manager().registry.infrastructures)
    document = {
        "infrastructures": [infrastructure_document(i) for i in ids],
        "links": self_links(f"{base_url()}/infrastructures", fmt, "Infrastructures"),
    }
    return represent(fmt, document, "infrastructures.html", title="Infrastructures")


@blueprint.get("/infrastructures/<infrastructure_id>")
def get_infrastructure(infrastructure_id: str) -> Response:
    fmt = negotiate()
    document = infrastructure_document(infrastructure_id, fmt)
    return represent(fmt, document, "infrastructure.html", title=document["links"][0].get(
        "title", infrastructure_id))
