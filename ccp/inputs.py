"""Execution inputs: each value checked against its OGC input description, then completed
with defaults and the control inputs resolved against the Infrastructure's limits."""

from __future__ import annotations

import copy
import math
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ccp.model import Infrastructure, Method


class InputError(ValueError):
    """An execution request does not match the Method's inputs."""

    def __init__(self, detail: str, code: str = "InvalidParameterValue") -> None:
        self.code = code
        super().__init__(detail)


def check_value(name: str, spec: dict, value: Any) -> Any:
    """Check one input value against its OGC input description; returns the value."""
    schema = spec.get("schema", {})
    max_occurs = spec.get("maxOccurs", 1)
    if isinstance(value, list) and schema.get("type") != "array":
        if max_occurs != "unbounded" and max_occurs <= 1:
            raise InputError(f"input '{name}' takes a single value, not a list")
        for item in value:
            _check_scalar(name, schema, item)
        return value
    _check_scalar(name, schema, value)
    return value


def _check_scalar(name: str, schema: dict, value: Any) -> None:
    expected = schema.get("type")
    checks = {
        "string": lambda v: isinstance(v, str),
        "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
        "boolean": lambda v: isinstance(v, bool),
        "array": lambda v: isinstance(v, list),
        "object": lambda v: isinstance(v, dict),
    }
    if expected in checks and not checks[expected](value):
        raise InputError(f"input '{name}' must be of type {expected}, got {value!r}")
    if expected in (None, "string") and isinstance(value, (dict, list)):
        raise InputError(f"input '{name}' must be a plain value, got {type(value).__name__}")
    if "enum" in schema and value not in schema["enum"]:
        raise InputError(f"input '{name}' must be one of {schema['enum']}, got {value!r}")
    if isinstance(value, float) and not math.isfinite(value):
        raise InputError(f"input '{name}' must be a finite number, got {value!r}")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            raise InputError(f"input '{name}' must be >= {schema['minimum']}, got {value}")
        if "maximum" in schema and value > schema["maximum"]:
            raise InputError(f"input '{name}' must be <= {schema['maximum']}, got {value}")
    if isinstance(value, str) and "maxLength" in schema and len(value) > schema["maxLength"]:
        raise InputError(f"input '{name}' is longer than {schema['maxLength']} characters")


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
            value = given[name]
            if isinstance(value, dict) and "value" in value and schema.get("type") != "object":
                value = value["value"]  # OGC qualified input value
            check_value(name, spec, value)
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
