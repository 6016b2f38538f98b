"""What an execution produced, on disk: output.zip unpacked, and the files that are layers.

Layers are GeoJSON, GeoTIFF, GeoPackage and CSV files. A Method output that declares a `path`
(a relative path or glob under /ccp_data) names its file in the unpacked folder; an output
whose results-document `href` points at its own file (not at output.zip) is downloaded.
"""

from __future__ import annotations

import fnmatch
import urllib.parse
import zipfile
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import Any

# media type -> (file extension, layer kind)
LAYER_MEDIA_TYPES = {
    "application/geo+json": (".geojson", "vector"),
    "image/tiff": (".tif", "raster"),
    "image/geotiff": (".tif", "raster"),
    "application/geotiff": (".tif", "raster"),
    "application/geopackage+sqlite3": (".gpkg", "vector"),
    "text/csv": (".csv", "vector"),
}
LAYER_EXTENSIONS = {".geojson": "vector", ".tif": "raster", ".tiff": "raster",
                    ".gpkg": "vector", ".csv": "vector"}


class UnsafeArchive(ValueError):
    """output.zip holds a path that would land outside the output folder."""


def media_type(value: Any) -> str:
    return str(value or "").split(";")[0].strip().lower()


def unpack(zip_path: Path, folder: Path) -> list[Path]:
    """Extract output.zip into `folder`; refuses entries that escape it (zip-slip)."""
    folder.mkdir(parents=True, exist_ok=True)
    root = folder.resolve()
    extracted = []
    with zipfile.ZipFile(zip_path) as archive:
        members = archive.infolist()
        for member in members:
            name = PurePosixPath(member.filename.replace("\\", "/"))
            target = (root / name).resolve()
            if name.is_absolute() or ".." in name.parts or not target.is_relative_to(root):
                raise UnsafeArchive(f"output.zip holds an unsafe path: {member.filename!r}")
        for member in members:
            archive.extract(member, root)
            if not member.is_dir():
                extracted.append(root / member.filename)
    return sorted(extracted)


def layer_kind(path: Path) -> str | None:
    """'vector' or 'raster' for a file QGIS should load as a layer, else None."""
    return LAYER_EXTENSIONS.get(path.suffix.lower())


def _is_output_zip(href: str) -> bool:
    return urllib.parse.urlsplit(href).path.endswith("/output.zip")


def named_outputs(description: dict[str, Any], results: dict[str, Any], folder: Path,
                  files: list[Path], download: Callable[[str, Path], Path]) -> dict[str, Path]:
    """Output id -> the file of each declared output that is a layer (GeoJSON, GeoTIFF,
    GeoPackage, CSV): found by its `path` in the unpacked folder, or downloaded from its own
    `href` in the results document."""
    found: dict[str, Path] = {}
    for output_id, spec in (description.get("outputs") or {}).items():
        entry = results.get(output_id) if isinstance(results.get(output_id), dict) else {}
        schema = spec.get("schema") if isinstance(spec.get("schema"), dict) else {}
        kind = media_type(schema.get("contentMediaType") or entry.get("type"))
        if kind not in LAYER_MEDIA_TYPES:
            continue
        pattern = spec.get("path")
        if isinstance(pattern, str) and pattern:
            pattern = pattern.removeprefix("/ccp_data/").removeprefix("./").lstrip("/")
            matches = [f for f in files
                       if fnmatch.fnmatch(f.relative_to(folder.resolve()).as_posix(), pattern)]
            if matches:
                found[output_id] = matches[0]
                continue
        href = entry.get("href")
        if isinstance(href, str) and href and not _is_output_zip(href):
            extension = LAYER_MEDIA_TYPES[kind][0]
            found[output_id] = download(href, folder / f"{output_id}{extension}")
    return found
