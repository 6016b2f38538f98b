"""Execution inputs: each value checked against its OGC input description, then completed
with defaults and the control inputs resolved against the Infrastructure's limits."""

from __future__ import annotations

import copy
import math
from typing import TYPE_CHECKING, Any

from ccp import inputschema

if TYPE_CHECKING:
    from ccp.model import Infrastructure, Method


class InputError(ValueError):
    """An execution request does not match the Method's inputs."""

    def __init__(self, detail: str, code: str = "InvalidParameterValue") -> None:
        self.code = code
        super().__init__(detail)


def check_value(name: str, spec: dict, value: Any) -> Any:
    """Check one input value against its OGC input description; returns the value, with
    OGC qualified values (`{"value": ..., "mediaType": ...}`) unwrapped."""
    schema = spec.get("schema", {})
    max_occurs = spec.get("maxOccurs", 1)
    many = max_occurs == "unbounded" or (isinstance(max_occurs, int) and max_occurs > 1)
    where = f"input '{name}'"
    if isinstance(value, list) and schema.get("type") != "array" and (
            many or schema.get("type") is not None):
        if not many:
            raise InputError(f"{where} takes a single value, not a list")
        if isinstance(max_occurs, int) and len(value) > max_occurs:
            raise InputError(f"{where} takes at most {max_occurs} values, got {len(value)}")
        return [_check_one(schema, item, f"{where} value {number}")
                for number, item in enumerate(value, 1)]
    return _check_one(schema, value, where)


def _check_one(schema: dict, value: Any, where: str) -> Any:
    if isinstance(value, dict) and "href" in value and (
            schema.get("type") != "object" or inputschema.is_bbox(schema)):
        raise InputError(f"{where} is given by reference ({{\"href\": ...}}), which this "
                         "server does not take: give the value itself")
    value = _unqualified(schema, value, where)
    try:
        inputschema.check(schema, value, where)
    except inputschema.SchemaMismatch as err:
        raise InputError(str(err)) from err
    return value


def _unqualified(schema: dict, value: Any, where: str) -> Any:
    """The value of an OGC qualified value, its media type checked against the schema's.
    An object input takes `{"value": {...}}` as qualified, anything else as the object."""
    if not inputschema.is_qualified(value):
        return value
    if schema.get("type") == "object" and not isinstance(value["value"], dict):
        return value
    form = value.get("format") if isinstance(value.get("format"), dict) else value
    media = form.get("mediaType")
    accepted = inputschema.media_types(schema)
    if media is not None and accepted and (
            not isinstance(media, str) or media.split(";")[0].strip().lower() not in accepted):
        raise InputError(f"{where} takes {', '.join(sorted(accepted))}, not "
                         f"{inputschema.show(media)}")
    if form.get("encoding") not in (None, "base64", "binary", "utf-8", "UTF-8"):
        raise InputError(f"{where}: encoding {inputschema.show(form.get('encoding'))} is not "
                         "supported (base64 for binary data)")
    if form.get("encoding") == "base64" and isinstance(value["value"], str):
        try:
            inputschema.check({"type": "string", "contentEncoding": "base64"}, value["value"],
                              where)
        except inputschema.SchemaMismatch as err:
            raise InputError(str(err)) from err
    return value["value"]


def resolve_inputs(method: Method, given: Any, infrastructure: Infrastructure) -> dict[str, Any]:
    """Validate an execution request's inputs and complete them with defaults.

    Returns every declared input with a value (given or default) plus the control inputs
    resolved against the Infrastructure's limits.
    """
    if given is None:
        given = {}
    if not isinstance(given, dict):
        raise InputError("'inputs' must be an object keyed by input id")
    unknown = sorted(set(given) - set(method.inputs))
    if unknown:
        raise InputError(f"unknown input(s): {', '.join(unknown)}", "NoApplicableCode")
    resolved: dict[str, Any] = {}
    for name, spec in method.inputs.items():
        schema = spec.get("schema", {})
        if name in given:
            value = check_value(name, spec, given[name])
            if schema.get("readOnly") and "default" in schema and value != schema["default"]:
                raise InputError(f"input '{name}' is read-only and fixed to {schema['default']!r}")
            resolved[name] = value
        elif "default" in schema:
            resolved[name] = copy.deepcopy(schema["default"])
        elif spec.get("minOccurs", 1) >= 1:
            raise InputError(f"missing required input '{name}'", "MissingParameterValue")
        else:
            resolved[name] = None  # an optional input left out: empty in the scripts

    maxtime = resolved.get("ccpmaxtime")
    if maxtime is None:
        resolved["ccpmaxtime"] = infrastructure.max_time
    else:
        if isinstance(maxtime, bool) or not isinstance(maxtime, (int, float)) or maxtime <= 0 \
                or not math.isfinite(maxtime):
            raise InputError(f"'ccpmaxtime' must be a positive number of seconds, got {maxtime!r}")
        resolved["ccpmaxtime"] = min(maxtime, infrastructure.max_time)
    replicas = resolved.get("ccpreplicas") or 1
    if isinstance(replicas, bool) or not isinstance(replicas, int) or replicas < 1:
        raise InputError(f"'ccpreplicas' must be a positive integer, got {replicas!r}")
    if replicas > infrastructure.max_replicas:
        raise InputError(
            f"'ccpreplicas' {replicas} exceeds the maximum of {infrastructure.max_replicas} "
            f"on infrastructure '{infrastructure.id}'"
        )
    resolved["ccpreplicas"] = replicas
    return resolved
