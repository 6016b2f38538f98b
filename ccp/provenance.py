"""W3C PROV record of one Execution, built with the `prov` library."""

from __future__ import annotations

import io
import json
import warnings
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from prov.constants import XSD_ANYURI
from prov.model import Literal, ProvDocument

CCP_NS = "https://ccp.example.org/ns#"
# f= value -> (serializer, media type). "ttl", "jsonld" and "nt" are PROV-O in RDF.
FORMATS = {
    "json": ("json", "application/json"),
    "jsonld": ("json-ld", "application/ld+json"),
    "ttl": ("turtle", "text/turtle"),
    "nt": ("nt", "application/n-triples"),
    "xml": ("xml", "application/xml"),
    "provn": ("provn", "text/provenance-notation"),
}
RDF_FORMATS = ("json-ld", "turtle", "nt")


@dataclass
class OutputFile:
    name: str
    size: int
    sha256: str
    output: str = ""  # the named output it belongs to; empty: a file of output.zip


@dataclass
class ProvenanceFacts:
    job_id: str
    base_url: str
    method: dict[str, Any]
    infrastructure: dict[str, Any]
    inputs: dict[str, Any]
    image: str
    status: str
    started: str | None  # None until it starts (a job not run yet)
    ended: str | None
    user: dict[str, Any] = field(default_factory=dict)
    outputs: list[OutputFile] = field(default_factory=list)
    derived_from: str | None = None
    method_digest: str = ""
    method_source: str = "file"  # file, deployed or archive
    # suspend/resume/extend requests: {"at", "action", "requester", "seconds"}
    controls: list[dict[str, Any]] = field(default_factory=list)
    time_limit: float | None = None  # ccpmaxtime plus extensions, seconds
    suspended_seconds: float = 0.0
    statistics: dict[str, float | int] = field(default_factory=dict)  # what it used
    warm_runtime: bool = False  # ran in a runtime a warm pool launched ahead
    cache_of: str | None = None  # a cache hit: the identical execution whose outputs it has
    # inputs given by reference, as staged: name, index, source, path, size, sha256
    staged_inputs: list[dict[str, Any]] = field(default_factory=list)


def _local(text: str, safe: str = "") -> str:
    """A user-given string as the local part of a qualified name: nothing can break out."""
    return quote(str(text), safe=safe)


def build(facts: ProvenanceFacts) -> ProvDocument:
    doc = ProvDocument()
    base = facts.base_url.rstrip("/") + "/"
    doc.add_namespace("ccp", CCP_NS)
    doc.add_namespace("job", f"{base}jobs/")
    doc.add_namespace("process", f"{base}processes/")
    doc.add_namespace("infra", f"{base}infrastructures/")
    doc.add_namespace("image", "urn:ccp:image:")
    doc.add_namespace("user", "urn:ccp:user:")
    doc.add_namespace("method", "urn:ccp:method:")

    job = f"job:{facts.job_id}"
    execution_attributes: dict[str, Any] = {
        "prov:type": "ccp:Execution", "ccp:status": facts.status,
        "prov:label": f"Execution of {facts.method['id']} {facts.method.get('version', '')}",
        "ccp:warmRuntime": facts.warm_runtime, "ccp:cacheHit": bool(facts.cache_of),
        **{f"ccp:{_local(name)}": value for name, value in sorted(facts.statistics.items())}}
    if facts.time_limit is not None:
        execution_attributes["ccp:timeLimit"] = facts.time_limit
    if facts.suspended_seconds:
        execution_attributes["ccp:suspendedSeconds"] = facts.suspended_seconds
    activity = doc.activity(job, facts.started, facts.ended, execution_attributes)
    method_id, version = str(facts.method["id"]), str(facts.method.get("version", ""))
    attributes = {"prov:type": "ccp:Method", "prov:label": facts.method.get("title", method_id),
                  "ccp:version": version, "ccp:source": facts.method_source}
    if facts.method_digest:
        attributes["ccp:digest"] = facts.method_digest
    if facts.method_source in ("file", "deployed"):
        method = doc.entity(f"process:{_local(method_id)}/versions/{_local(version)}",
                            attributes)
    else:
        # Not this server's Method of that id and version: named by its content, with the
        # id and version it claims.
        attributes.update({"ccp:claimedId": method_id, "ccp:claimedVersion": version,
                           "prov:label": f"Method from an imported archive (claims {method_id} "
                           f"{version})"})
        method = doc.entity(f"method:{_local(facts.method_digest or 'unknown')}", attributes)
    doc.used(activity, method)

    staged = {(record["name"], record.get("index")): record for record in facts.staged_inputs}
    for name, value in sorted(facts.inputs.items()):
        described: dict[str, Any] = {
            "prov:type": "ccp:Input", "prov:label": name,
            "prov:value": value if isinstance(value, (str, int, float, bool))
            else json.dumps(value)}
        described.update(_staged(staged.get((name, None))))
        entity = doc.entity(f"job:{facts.job_id}/inputs/{name}", described)
        doc.used(activity, entity)
    for (name, index), record in sorted((key, record) for key, record in staged.items()
                                        if key[1] is not None):
        item: dict[str, Any] = {"prov:label": f"{name} [{index}]"}
        item.update(_staged(record))
        entity = doc.entity(f"job:{facts.job_id}/inputs/{_local(name)}/{index}", item)
        doc.used(activity, entity)

    image = doc.entity(f"image:{_local(facts.image)}", {"prov:type": "ccp:RuntimeImage",
                                                "prov:label": facts.image})
    doc.used(activity, image)

    infrastructure = doc.agent(
        f"infra:{_local(facts.infrastructure['id'])}",
        {"prov:type": "prov:SoftwareAgent", "ccp:infrastructureType":
         facts.infrastructure.get("type", ""),
         "prov:label": facts.infrastructure.get("name", facts.infrastructure["id"])},
    )
    doc.wasAssociatedWith(activity, infrastructure)

    subject = facts.user.get("sub") or "anonymous"
    user = doc.agent(f"user:{_local(subject)}",
                     {"prov:type": "prov:Person", "prov:label": subject})
    doc.wasAssociatedWith(activity, user, method)
    doc.actedOnBehalfOf(infrastructure, user)

    for output in facts.outputs:
        attributes = {"prov:type": "ccp:OutputFile", "prov:label": output.name,
                      "ccp:size": output.size, "ccp:sha256": output.sha256}
        name = f"job:{facts.job_id}/outputs/{_local(output.name, safe='/')}"
        if output.output:
            attributes.update({"prov:type": "ccp:NamedOutput", "ccp:output": output.output})
            name = (f"job:{facts.job_id}/results/{_local(output.output)}/"
                    f"{_local(output.name, safe='/')}")
        entity = doc.entity(name, attributes)
        doc.wasGeneratedBy(entity, activity, facts.ended)
        doc.wasAttributedTo(entity, user)

    _add_controls(doc, facts, activity)
    if facts.cache_of:
        # nothing ran: every output is the one the identical earlier execution made
        cached_id = _local(facts.cache_of)
        cached = doc.activity(f"job:{cached_id}", other_attributes={
            "prov:type": "ccp:Execution"})
        doc.wasInformedBy(activity, cached)
        for name in sorted({_local(output.name, safe="/") for output in facts.outputs}):
            doc.wasDerivedFrom(f"job:{facts.job_id}/outputs/{name}",
                               f"job:{cached_id}/outputs/{name}",
                               other_attributes={"prov:type": "ccp:CacheHit"})

    if facts.derived_from:
        earlier_id = _local(facts.derived_from)
        earlier = doc.activity(f"job:{earlier_id}", other_attributes={
            "prov:type": "ccp:Execution"})
        doc.wasInformedBy(activity, earlier)
        doc.wasDerivedFrom(f"job:{facts.job_id}/request", f"job:{earlier_id}/request")
    return doc


def _add_controls(doc: ProvDocument, facts: ProvenanceFacts, execution: Any) -> None:
    """Each suspend, resume or extend request: an activity of the person who asked, which
    informed the Execution."""
    agents = {_local(facts.user.get("sub") or "anonymous")}  # made by build()
    for number, control in enumerate(facts.controls, start=1):
        action = str(control.get("action", ""))
        attributes: dict[str, Any] = {"prov:type": f"ccp:{action.capitalize()}",
                                      "prov:label": f"{action} requested"}
        if control.get("seconds") is not None:
            attributes["ccp:seconds"] = control["seconds"]
        request = doc.activity(f"job:{facts.job_id}/controls/{number}", control.get("at"),
                               control.get("at"), attributes)
        requester = str(control.get("requester") or "anonymous")
        if _local(requester) not in agents:
            agents.add(_local(requester))
            doc.agent(f"user:{_local(requester)}",
                      {"prov:type": "prov:Person", "prov:label": requester})
        doc.wasAssociatedWith(request, f"user:{_local(requester)}")
        doc.wasInformedBy(execution, request)


def _staged(record: dict[str, Any] | None) -> dict[str, Any]:
    """What PROV says of an input given by reference: where it came from and its bytes."""
    if record is None:
        return {}
    attributes: dict[str, Any] = {"prov:type": "ccp:StagedInput",
                  "ccp:href": Literal(record["source"], XSD_ANYURI),
                  "ccp:stagedAt": record["path"], "ccp:size": record["size"],
                  "ccp:sha256": record["sha256"]}
    if record.get("mediaType"):
        attributes["ccp:mediaType"] = record["mediaType"]
    return attributes


def serialize(doc: ProvDocument, fmt: str) -> str:
    """One of FORMATS' keys: json, jsonld, ttl, nt, xml, provn."""
    if fmt == "provn":
        return doc.get_provn()
    serializer, _ = FORMATS[fmt]
    stream = io.StringIO()
    if serializer in RDF_FORMATS:
        with warnings.catch_warnings():  # rdflib's N-Triples warns that it writes UTF-8
            warnings.simplefilter("ignore", UserWarning)
            doc.serialize(stream, format="rdf", rdf_format=serializer)
    else:
        doc.serialize(stream, format=serializer, indent=2)
    return stream.getvalue()


class ConversionFailed(ValueError):
    """A stored record cannot be written in the format asked for."""


def convert(prov_json: str, fmt: str) -> str:
    if fmt == "json":
        return prov_json
    try:
        return serialize(ProvDocument.deserialize(content=prov_json, format="json"), fmt)
    except Exception as err:  # the prov and rdflib serializers raise many kinds
        raise ConversionFailed(f"this record cannot be given as {fmt}: {err}; "
                               "ask for f=json") from err
