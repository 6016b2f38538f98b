"""One input value against its OGC input schema: the subset of JSON Schema (OpenAPI 3.0
dialect) that process descriptions use, checked strictly and without fetching anything.

Checked: `type` (and `nullable`), `enum`, `const`, `minimum`/`maximum` with
`exclusiveMinimum`/`exclusiveMaximum` (booleans as in OpenAPI 3.0, or numbers as in JSON
Schema), `minLength`/`maxLength`, `minItems`/`maxItems`, `items`, `required`/`properties`/
`additionalProperties: false`, `allOf` (every one), `oneOf`/`anyOf` (at least one),
`contentEncoding: base64` (or `format: byte`), and the OGC formats `ogc-bbox` (bbox.yaml:
`{"bbox": [4 or 6 numbers], "crs": "..."}`) and `geojson-geometry`/`-feature`/
`-feature-collection`.
Not checked: `pattern` (an author's regular expression run on a user's string invites a
denial of service) and `$ref` (never resolved: it could point anywhere). Whatever passes is
still bounded JSON (ccp.safejson) and reaches scripts quoted (ccp.templating).
"""

from __future__ import annotations

import binascii
import math
from base64 import b64decode
from typing import Any

TYPES = {
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "array": lambda v: isinstance(v, list),
    "object": lambda v: isinstance(v, dict),
    "null": lambda v: v is None,
}
GEOMETRY_TYPES = ("Point", "MultiPoint", "LineString", "MultiLineString", "Polygon",
                  "MultiPolygon", "GeometryCollection")
GEOJSON_FORMATS = {"geojson-geometry": GEOMETRY_TYPES, "geojson-feature": ("Feature",),
                   "geojson-feature-collection": ("FeatureCollection",)}
QUALIFIERS = frozenset({"mediaType", "encoding", "schema", "format"})
MAX_CRS = 256
MAX_SHOWN = 60


class SchemaMismatch(ValueError):
    """A value does not match its input schema; the message names where."""


def show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= MAX_SHOWN else text[:MAX_SHOWN] + "..."


def is_bbox(schema: dict[str, Any]) -> bool:
    """Whether a schema is OGC's bounding box (format ogc-bbox, or a $ref to bbox.yaml)."""
    if schema.get("format") == "ogc-bbox":
        return True
    if str(schema.get("$ref", "")).endswith(("bbox.yaml", "bbox.json")):
        return True
    return any(isinstance(part, dict) and is_bbox(part) for part in schema.get("allOf", []))


def media_types(schema: dict[str, Any]) -> set[str]:
    """The content media types a schema (or one of its alternatives) declares."""
    found = {str(schema["contentMediaType"]).split(";")[0].strip().lower()} \
        if schema.get("contentMediaType") else set()
    for key in ("oneOf", "anyOf", "allOf"):
        for part in schema.get(key, []) if isinstance(schema.get(key), list) else []:
            if isinstance(part, dict):
                found |= media_types(part)
    return found


def is_qualified(value: Any) -> bool:
    """An OGC qualified value: `{"value": ..., "mediaType"/"encoding"/"schema"/"format": ...}`."""
    return isinstance(value, dict) and "value" in value and set(value) - {"value"} <= QUALIFIERS


def check(schema: dict[str, Any], value: Any, where: str) -> None:
    """SchemaMismatch naming `where` (e.g. "input 'x'") and the reason, if `value` does not
    match `schema`."""
    if isinstance(value, float) and not math.isfinite(value):
        raise SchemaMismatch(f"{where} must be a finite number, got {show(value)}")
    if value is None and schema.get("nullable") is True:
        return
    expected = schema.get("type")
    if isinstance(expected, str) and expected in TYPES and not TYPES[expected](value):
        raise SchemaMismatch(f"{where} must be of type {expected}, got {show(value)}")
    if expected == "string" and (schema.get("contentEncoding") == "base64"
                                 or schema.get("format") == "byte"):  # OpenAPI 3.0: base64
        _check_base64(value, where)
    if "enum" in schema and isinstance(schema["enum"], list) and not any(
            _same(value, option) for option in schema["enum"]):
        raise SchemaMismatch(f"{where} must be one of {show(schema['enum'])}, got {show(value)}")
    if "const" in schema and not _same(value, schema["const"]):
        raise SchemaMismatch(f"{where} must be {show(schema['const'])}, got {show(value)}")
    if isinstance(value, int | float) and not isinstance(value, bool):
        _check_number(schema, value, where)
    elif isinstance(value, str):
        _check_length(schema, len(value), where, "characters", "Length")
    elif isinstance(value, list):
        _check_array(schema, value, where)
    elif isinstance(value, dict):
        _check_object(schema, value, where)
    if is_bbox(schema):
        _check_bbox(value, where)
    if schema.get("format") in GEOJSON_FORMATS:
        _check_geojson(value, str(schema["format"]), where)
    _check_combinations(schema, value, where)


def _same(value: Any, option: Any) -> bool:
    # 1 == True in Python; in JSON they differ.
    return value == option and isinstance(value, bool) == isinstance(option, bool)


def _check_base64(value: str, where: str) -> None:
    try:
        b64decode(value.encode("ascii"), validate=True)
    except (binascii.Error, ValueError, UnicodeEncodeError) as err:
        raise SchemaMismatch(f"{where} must be base64-encoded binary data") from err


def _number(value: Any) -> float | None:
    return value if isinstance(value, int | float) and not isinstance(value, bool) else None


def _check_number(schema: dict[str, Any], value: float, where: str) -> None:
    low, high = _number(schema.get("minimum")), _number(schema.get("maximum"))
    low_exclusive, high_exclusive = schema.get("exclusiveMinimum"), schema.get("exclusiveMaximum")
    if low is not None and (value < low or (low_exclusive is True and value == low)):
        raise SchemaMismatch(f"{where} must be {'>' if low_exclusive is True else '>='} {low}, "
                             f"got {value}")
    if high is not None and (value > high or (high_exclusive is True and value == high)):
        raise SchemaMismatch(f"{where} must be {'<' if high_exclusive is True else '<='} "
                             f"{high}, got {value}")
    # JSON Schema's numeric forms: the bound itself.
    if (bound := _number(low_exclusive)) is not None and value <= bound:
        raise SchemaMismatch(f"{where} must be > {bound}, got {value}")
    if (bound := _number(high_exclusive)) is not None and value >= bound:
        raise SchemaMismatch(f"{where} must be < {bound}, got {value}")


def _check_length(schema: dict[str, Any], size: int, where: str, unit: str, key: str) -> None:
    low, high = schema.get(f"min{key}"), schema.get(f"max{key}")
    if isinstance(high, int) and size > high:
        raise SchemaMismatch(f"{where} is longer than {high} {unit}")
    if isinstance(low, int) and size < low:
        raise SchemaMismatch(f"{where} is shorter than {low} {unit}")


def _check_array(schema: dict[str, Any], value: list, where: str) -> None:
    _check_length(schema, len(value), where, "items", "Items")
    items = schema.get("items")
    if isinstance(items, dict):
        for index, item in enumerate(value):
            check(items, item, f"{where}[{index}]")


def _check_object(schema: dict[str, Any], value: dict, where: str) -> None:
    raw = schema.get("properties")
    properties: dict[str, Any] = raw if isinstance(raw, dict) else {}
    for key in schema.get("required", []) if isinstance(schema.get("required"), list) else []:
        if key not in value:
            raise SchemaMismatch(f"{where} lacks the required member {show(key)}")
    if schema.get("additionalProperties") is False:
        extra = sorted(set(value) - set(properties))
        if extra:
            raise SchemaMismatch(f"{where} has members the schema does not allow: "
                                 f"{show(extra)}")
    for key, item in value.items():
        if isinstance(properties.get(key), dict):
            check(properties[key], item, f"{where}.{key}")


def _check_bbox(value: Any, where: str) -> None:
    if not isinstance(value, dict) or set(value) - {"bbox", "crs"} or "bbox" not in value:
        raise SchemaMismatch(f"{where} must be a bounding box: {{\"bbox\": [minx, miny, maxx, "
                             f"maxy], \"crs\": \"...\"}}, got {show(value)}")
    corners = value["bbox"]
    if not isinstance(corners, list) or len(corners) not in (4, 6) or not all(
            TYPES["number"](c) and math.isfinite(c) for c in corners):
        raise SchemaMismatch(f"{where}: 'bbox' must hold 4 or 6 finite numbers, "
                             f"got {show(corners)}")
    crs = value.get("crs", "")
    if not isinstance(crs, str) or len(crs) > MAX_CRS:
        raise SchemaMismatch(f"{where}: 'crs' must be a CRS URI of at most {MAX_CRS} "
                             "characters")


def _check_geojson(value: Any, fmt: str, where: str) -> None:
    kinds = GEOJSON_FORMATS[fmt]
    if not isinstance(value, dict) or value.get("type") not in kinds:
        raise SchemaMismatch(f"{where} must be GeoJSON ({' or '.join(kinds)}), "
                             f"got {show(value)}")
    if fmt == "geojson-feature-collection" and not isinstance(value.get("features"), list):
        raise SchemaMismatch(f"{where}: a FeatureCollection needs a 'features' list")


def _check_combinations(schema: dict[str, Any], value: Any, where: str) -> None:
    for part in schema.get("allOf", []) if isinstance(schema.get("allOf"), list) else []:
        if isinstance(part, dict):
            check(part, value, where)
    for key in ("oneOf", "anyOf"):
        options = [part for part in schema.get(key, []) if isinstance(part, dict)] \
            if isinstance(schema.get(key), list) else []
        if not options:
            continue
        reasons = []
        for option in options:
            try:
                check(option, value, where)
                break
            except SchemaMismatch as err:
                reasons.append(str(err))
        else:
            raise SchemaMismatch(f"{where} matches none of the schemas it may take: "
                                 + "; ".join(reasons[:3]))
