"""OGC input descriptions → QGIS Processing parameters, and parameter values → OGC inputs.

`classify` names the kind of an input from its schema; `parameter` builds the QGIS parameter
for that kind and `value` reads what the user gave back into the JSON the server expects.
An input whose schema fits no kind still appears, as a JSON text parameter with a note.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

from qgis.core import (
    QgsCoordinateReferenceSystem,
    QgsJsonExporter,
    QgsProcessing,
    QgsProcessingException,
    QgsProcessingParameterBoolean,
    QgsProcessingParameterDefinition,
    QgsProcessingParameterEnum,
    QgsProcessingParameterExtent,
    QgsProcessingParameterFeatureSource,
    QgsProcessingParameterFile,
    QgsProcessingParameterMatrix,
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterLayer,
    QgsProcessingParameterString,
    QgsProcessingParameterVectorLayer,
    QgsProviderRegistry,
)

# Kinds of input
HIDDEN = "hidden"          # ccpimage fixed by the author: not shown, the server uses its default
STRING, ENUM, NUMBER, INTEGER, BOOLEAN = "string", "enum", "number", "integer", "boolean"
ENUM_LIST, LIST = "enum-list", "list"   # several values: from a list of options, or typed in
BBOX, GEOJSON, FILE, JSON = "bbox", "geojson", "file", "json"

ADVANCED_INPUTS = ("ccpimage", "ccpmaxtime", "ccpreplicas")
SCALAR_TYPES = ("string", "number", "integer", "boolean")
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
GEOJSON_MEDIA_TYPE = "application/geo+json"
# OGC API - Processes schemas for GeoJSON ($ref file names) and the formats its examples use
GEOJSON_REFS = {"geometrygeojson": "geometry", "featuregeojson": "feature",
                "featurecollectiongeojson": "collection"}
GEOJSON_FORMATS = {"geojson-geometry": "geometry", "geojson-feature": "feature",
                   "geojson-feature-collection": "collection", "geojson": "collection"}
TEXT_MEDIA_TYPES = ("text/plain", "application/json")
RASTER_MEDIA_TYPES = ("image/tiff", "image/geotiff", "application/geotiff")
VECTOR_FILE_MEDIA_TYPES = ("application/geopackage+sqlite3", "application/x-sqlite3")
EXTENSIONS = {"text/csv": "csv", "application/zip": "zip", "application/json": "json",
              "application/xml": "xml", "text/xml": "xml", "image/png": "png",
              "image/jpeg": "jpg", "application/pdf": "pdf", "application/x-netcdf": "nc"}


def _schema(spec: dict[str, Any]) -> dict[str, Any]:
    schema = spec.get("schema")
    return schema if isinstance(schema, dict) else {}


def _parts(schema: dict[str, Any]) -> list[dict[str, Any]]:
    """The schema and the members of its allOf/oneOf/anyOf, where formats and $refs hide."""
    parts = [schema]
    for key in ("allOf", "oneOf", "anyOf"):
        parts += [part for part in schema.get(key) or [] if isinstance(part, dict)]
    return parts


def _media_type(schema: dict[str, Any]) -> str:
    return str(schema.get("contentMediaType", "")).split(";")[0].strip().lower()


def geojson_shape(schema: dict[str, Any]) -> str | None:
    """'geometry', 'feature' or 'collection' for a GeoJSON input, else None."""
    for part in _parts(schema):
        if part.get("format") in GEOJSON_FORMATS:
            return GEOJSON_FORMATS[part["format"]]
        ref = str(part.get("$ref", "")).rsplit("/", 1)[-1].split(".")[0].lower()
        if ref in GEOJSON_REFS:
            return GEOJSON_REFS[ref]
    if _media_type(schema) == GEOJSON_MEDIA_TYPE:
        return "collection"
    return None


def is_bbox(schema: dict[str, Any]) -> bool:
    for part in _parts(schema):
        if part.get("format") == "ogc-bbox":
            return True
        if str(part.get("$ref", "")).rsplit("/", 1)[-1].split(".")[0].lower() == "bbox":
            return True
    properties = schema.get("properties")
    return (schema.get("type") == "object" and isinstance(properties, dict)
            and isinstance(properties.get("bbox"), dict)
            and properties["bbox"].get("type") == "array")


def is_file(schema: dict[str, Any]) -> bool:
    if schema.get("type") not in (None, "string"):
        return False
    media_type = _media_type(schema)
    return (schema.get("contentEncoding") in ("base64", "binary")
            or schema.get("format") in ("binary", "byte")
            or bool(media_type and media_type not in TEXT_MEDIA_TYPES))


def _many(spec: dict[str, Any]) -> bool:
    max_occurs = spec.get("maxOccurs", 1)
    return max_occurs == "unbounded" or (isinstance(max_occurs, int) and max_occurs > 1)


def _items(spec: dict[str, Any]) -> dict[str, Any]:
    schema = _schema(spec)
    if schema.get("type") == "array":
        items = schema.get("items")
        return items if isinstance(items, dict) else {}
    return schema


def classify(input_id: str, spec: dict[str, Any]) -> str:
    schema = _schema(spec)
    if input_id == "ccpimage" and schema.get("readOnly"):
        return HIDDEN
    if is_bbox(schema):
        return BBOX
    if geojson_shape(schema):
        return GEOJSON
    if is_file(schema) and not _many(spec):
        return FILE
    if schema.get("type") == "array" or _many(spec):
        items = _items(spec)
        if isinstance(items.get("enum"), list) and items["enum"]:
            return ENUM_LIST
        return LIST if items.get("type") in SCALAR_TYPES else JSON
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return ENUM
    kind = schema.get("type")
    return kind if kind in SCALAR_TYPES else JSON


# --- parameters ------------------------------------------------------------------------------

def parameter(input_id: str,
              spec: dict[str, Any]) -> tuple[str, QgsProcessingParameterDefinition | None]:
    """The kind of one input and its QGIS parameter (None for a hidden one)."""
    kind = classify(input_id, spec)
    if kind == HIDDEN:
        return kind, None
    schema = _schema(spec)
    title = str(spec.get("title") or input_id)
    optional = spec.get("minOccurs", 1) == 0 or "default" in schema
    default = schema.get("default")
    try:
        param = BUILDERS[kind](input_id, title, schema, spec, default, optional)
    except (TypeError, ValueError, KeyError, IndexError):  # e.g. a non-numeric minimum
        kind = JSON
        param = _json(input_id, title, schema, spec, default, optional)
    help_text = str(spec.get("description") or "")
    if kind == JSON:
        note = ("CCP cannot map this input's schema to a QGIS parameter: type its value as JSON. "
                f"Schema: {json.dumps(schema)}")
        help_text = f"{help_text}\n{note}".strip()
    param.setHelp(help_text)
    if input_id in ADVANCED_INPUTS:
        param.setFlags(param.flags() | QgsProcessingParameterDefinition.FlagAdvanced)
    return kind, param


def _number_range(schema: dict[str, Any], integer: bool) -> tuple[float, float]:
    low = schema.get("minimum", -1.7976931348623157e308)
    high = schema.get("maximum", 1.7976931348623157e308)
    exclusive_low, exclusive_high = schema.get("exclusiveMinimum"), schema.get("exclusiveMaximum")
    step = 1 if integer else 0
    # JSON Schema 2019 puts the bound in exclusiveMinimum; OpenAPI 3.0 makes it a flag
    if isinstance(exclusive_low, (int, float)) and not isinstance(exclusive_low, bool):
        low = exclusive_low + step
    elif exclusive_low is True and "minimum" in schema:
        low = schema["minimum"] + step
    if isinstance(exclusive_high, (int, float)) and not isinstance(exclusive_high, bool):
        high = exclusive_high - step
    elif exclusive_high is True and "maximum" in schema:
        high = schema["maximum"] - step
    return low, high


def _number(input_id, title, schema, spec, default, optional):
    integer = schema.get("type") == "integer" or _items(spec).get("type") == "integer"
    low, high = _number_range(schema, integer)
    kind = QgsProcessingParameterNumber.Integer if integer else QgsProcessingParameterNumber.Double
    return QgsProcessingParameterNumber(input_id, title, kind, default, optional, low, high)


def _string(input_id, title, schema, spec, default, optional):
    multi_line = int(schema.get("maxLength", 0) or 0) > 1000
    return QgsProcessingParameterString(input_id, title, default, multi_line, optional)


def _boolean(input_id, title, schema, spec, default, optional):
    return QgsProcessingParameterBoolean(input_id, title, bool(default), optional)


def _options(schema: dict[str, Any]) -> tuple[list[str], bool]:
    """Enum options as shown, and whether they are the values themselves (all strings)."""
    values = schema["enum"]
    return [str(value) for value in values], all(isinstance(v, str) for v in values)


def _enum_default(schema: dict[str, Any], default: Any, static: bool) -> Any:
    if default is None:
        return None
    values = schema["enum"]
    defaults = default if isinstance(default, list) else [default]
    if static:
        return defaults if isinstance(default, list) else default
    indexes = [values.index(value) for value in defaults if value in values]
    return indexes if isinstance(default, list) else (indexes[0] if indexes else None)


def _enum(input_id, title, schema, spec, default, optional):
    options, static = _options(schema)
    return QgsProcessingParameterEnum(input_id, title, options, False,
                                      _enum_default(schema, default, static), optional, static)


def _enum_list(input_id, title, schema, spec, default, optional):
    items = _items(spec)
    options, static = _options(items)
    return QgsProcessingParameterEnum(input_id, title, options, True,
                                      _enum_default(items, default, static), optional, static)


def _list(input_id, title, schema, spec, default, optional):
    items = _items(spec)
    defaults = default if isinstance(default, list) else ([] if default is None else [default])
    header = f"{title} ({items.get('type')})"
    return QgsProcessingParameterMatrix(input_id, title, max(1, len(defaults)), False, [header],
                                        [str(value) for value in defaults] or None, optional)


def _bbox_crs(schema: dict[str, Any]) -> tuple[str, QgsCoordinateReferenceSystem]:
    """The CRS an input's bbox is sent in: the schema's default crs, else CRS84 (lon/lat)."""
    crs_schema = (schema.get("properties") or {}).get("crs")
    uri = crs_schema.get("default") if isinstance(crs_schema, dict) else None
    if isinstance(uri, str):
        crs = QgsCoordinateReferenceSystem.fromOgcWmsCrs(uri)
        if crs.isValid():
            return uri, crs
    return CRS84, QgsCoordinateReferenceSystem("OGC:CRS84")


def _bbox(input_id, title, schema, spec, default, optional):
    text = None
    box = default.get("bbox") if isinstance(default, dict) else None
    if isinstance(box, list) and len(box) in (4, 6):
        half = len(box) // 2
        xmin, ymin, xmax, ymax = box[0], box[1], box[half], box[half + 1]
        text = f"{xmin},{xmax},{ymin},{ymax} [{_bbox_crs(schema)[1].authid()}]"
    return QgsProcessingParameterExtent(input_id, title, text, optional)


def _geojson(input_id, title, schema, spec, default, optional):
    return QgsProcessingParameterFeatureSource(
        input_id, title, [QgsProcessing.TypeVectorAnyGeometry], None, optional)


def _file(input_id, title, schema, spec, default, optional):
    media_type = _media_type(schema)
    if media_type in RASTER_MEDIA_TYPES:
        return QgsProcessingParameterRasterLayer(input_id, title, None, optional)
    if media_type in VECTOR_FILE_MEDIA_TYPES:
        return QgsProcessingParameterVectorLayer(
            input_id, title, [QgsProcessing.TypeVectorAnyGeometry], None, optional)
    extension = EXTENSIONS.get(media_type, "")
    file_filter = f"{extension.upper()} files (*.{extension});;All files (*)" if extension \
        else "All files (*)"
    return QgsProcessingParameterFile(input_id, title, QgsProcessingParameterFile.File, "",
                                      None, optional, file_filter)


def _json(input_id, title, schema, spec, default, optional):
    text = json.dumps(default) if default is not None else None
    return QgsProcessingParameterString(input_id, f"{title} (JSON)", text, True, optional)


BUILDERS = {STRING: _string, ENUM: _enum, NUMBER: _number, INTEGER: _number, BOOLEAN: _boolean,
            ENUM_LIST: _enum_list, LIST: _list, BBOX: _bbox, GEOJSON: _geojson, FILE: _file,
            JSON: _json}


# --- values ----------------------------------------------------------------------------------

class Missing:
    """No value given for an optional input: it is left out, and the server uses its default."""


MISSING = Missing()


def value(algorithm: Any, kind: str, input_id: str, spec: dict[str, Any],
          parameters: dict[str, Any], context: Any) -> Any:
    """The JSON value of one input of this kind from the algorithm's parameters, or MISSING."""
    if kind == HIDDEN:
        return MISSING
    given = parameters.get(input_id)
    schema = _schema(spec)
    if given is None or (given in ("", []) and kind != STRING):
        return MISSING
    if given == "" and spec.get("minOccurs", 1) == 0 and "default" not in schema:
        return MISSING  # an optional string left empty
    return READERS[kind](algorithm, input_id, spec, schema, parameters, context)


def _read_string(alg, input_id, spec, schema, parameters, context):
    return alg.parameterAsString(parameters, input_id, context)


def _read_number(alg, input_id, spec, schema, parameters, context):
    return alg.parameterAsDouble(parameters, input_id, context)


def _read_integer(alg, input_id, spec, schema, parameters, context):
    return alg.parameterAsInt(parameters, input_id, context)


def _read_boolean(alg, input_id, spec, schema, parameters, context):
    return alg.parameterAsBoolean(parameters, input_id, context)


def _read_enum(alg, input_id, spec, schema, parameters, context):
    values = schema["enum"]
    if all(isinstance(v, str) for v in values):
        return alg.parameterAsEnumString(parameters, input_id, context)
    return values[alg.parameterAsEnum(parameters, input_id, context)]


def _read_enum_list(alg, input_id, spec, schema, parameters, context):
    values = _items(spec)["enum"]
    if all(isinstance(v, str) for v in values):
        return list(alg.parameterAsEnumStrings(parameters, input_id, context))
    return [values[index] for index in alg.parameterAsEnums(parameters, input_id, context)]


def _convert(text: str, item_type: str, input_id: str) -> Any:
    try:
        if item_type == "integer":
            return int(text)
        if item_type == "number":
            return float(text)
    except ValueError:
        raise QgsProcessingException(
            f"input '{input_id}': {text!r} is not a {item_type}") from None
    if item_type == "boolean":
        lowered = text.strip().lower()
        if lowered not in ("true", "false", "1", "0", "yes", "no"):
            raise QgsProcessingException(f"input '{input_id}': {text!r} is not true or false")
        return lowered in ("true", "1", "yes")
    return text


def _read_list(alg, input_id, spec, schema, parameters, context):
    item_type = _items(spec).get("type", "string")
    texts = [str(text) for text in alg.parameterAsMatrix(parameters, input_id, context)]
    return [_convert(text, item_type, input_id) for text in texts if text.strip() != ""]


def _read_bbox(alg, input_id, spec, schema, parameters, context):
    uri, crs = _bbox_crs(schema)
    extent = alg.parameterAsExtent(parameters, input_id, context, crs)
    box = [extent.xMinimum(), extent.yMinimum(), extent.xMaximum(), extent.yMaximum()]
    if crs.hasAxisInverted():  # e.g. EPSG:4326 by URI: latitude first
        box = [box[1], box[0], box[3], box[2]]
    return {"bbox": box, "crs": uri}


def _read_geojson(alg, input_id, spec, schema, parameters, context):
    source = alg.parameterAsSource(parameters, input_id, context)
    if source is None:
        raise QgsProcessingException(f"input '{input_id}': could not read the vector layer")
    features = list(source.getFeatures())
    exporter = QgsJsonExporter()
    exporter.setSourceCrs(source.sourceCrs())
    exporter.setTransformGeometries(True)  # to WGS 84 (EPSG:4326), as RFC 7946 wants
    collection = json.loads(exporter.exportFeatures(features))
    shape = geojson_shape(schema)
    if schema.get("type") == "string":  # GeoJSON as text
        result: Any = json.dumps(collection)
    elif shape == "collection":
        result = collection
    elif shape == "feature":
        if len(collection["features"]) != 1:
            raise QgsProcessingException(
                f"input '{input_id}' takes one feature; the layer gives "
                f"{len(collection['features'])} (select one and use 'Selected features only')")
        result = collection["features"][0]
    else:
        result = _one_geometry(collection, input_id)
    return result


def _one_geometry(collection: dict[str, Any], input_id: str) -> dict[str, Any]:
    geometries = [f["geometry"] for f in collection["features"] if f.get("geometry")]
    if not geometries:
        raise QgsProcessingException(f"input '{input_id}': the layer has no geometry")
    if len(geometries) == 1:
        return geometries[0]
    return {"type": "GeometryCollection", "geometries": geometries}


def _layer_path(layer: Any) -> str:
    parts = QgsProviderRegistry.instance().decodeUri(layer.providerType(), layer.source())
    return str(parts.get("path") or layer.source())


def _read_file(alg, input_id, spec, schema, parameters, context):
    param = alg.parameterDefinition(input_id)
    if isinstance(param, QgsProcessingParameterRasterLayer):
        path = _layer_path(alg.parameterAsRasterLayer(parameters, input_id, context))
    elif isinstance(param, QgsProcessingParameterVectorLayer):
        path = _layer_path(alg.parameterAsVectorLayer(parameters, input_id, context))
    else:
        path = alg.parameterAsFile(parameters, input_id, context)
    if path.startswith(("http://", "https://")):
        return {"href": path}  # by reference: the server fetches it
    try:
        data = Path(path).read_bytes()
    except OSError as err:
        raise QgsProcessingException(f"input '{input_id}': cannot read {path}: {err}") from None
    media_type = _media_type(schema)
    textual = media_type.startswith("text/") or media_type in TEXT_MEDIA_TYPES
    if schema.get("contentEncoding") in ("base64", "binary") or not textual:
        return base64.b64encode(data).decode("ascii")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise QgsProcessingException(f"input '{input_id}': {path} is not UTF-8 text") from None


def _read_json(alg, input_id, spec, schema, parameters, context):
    text = alg.parameterAsString(parameters, input_id, context)
    try:
        return json.loads(text)
    except ValueError as err:
        raise QgsProcessingException(f"input '{input_id}' is not valid JSON: {err}") from None


READERS = {STRING: _read_string, ENUM: _read_enum, NUMBER: _read_number, INTEGER: _read_integer,
           BOOLEAN: _read_boolean, ENUM_LIST: _read_enum_list, LIST: _read_list,
           BBOX: _read_bbox, GEOJSON: _read_geojson, FILE: _read_file, JSON: _read_json}
