"""The files inside an Execution's output.zip: listing them and reading one, safely.

A member is asked for by its path inside the zip and served only when that exact path is a
file entry of the zip: no path is ever joined to a directory on the server, and a path that
could mean something else elsewhere (`..`, absolute, backslashes, control characters) is
refused before any lookup. What comes out is user data: its media type is told, but the
types a browser would run (HTML, SVG, XML, scripts) are never served inline (see
ccp.api.outputfiles for the headers).
"""

from __future__ import annotations

import mimetypes
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from ccp import errors

MAX_PATH = 1024
CHUNK = 256 * 1024
EXTRA_TYPES = {
    ".geojson": "application/geo+json", ".csv": "text/csv", ".tsv": "text/tab-separated-values",
    ".md": "text/markdown", ".log": "text/plain", ".txt": "text/plain", ".json": "application/json",
    ".tif": "image/tiff", ".tiff": "image/tiff", ".gpkg": "application/geopackage+sqlite3",
    ".nc": "application/x-netcdf", ".ipynb": "application/x-ipynb+json",
    ".yaml": "application/yaml", ".yml": "application/yaml", ".py": "text/x-python",
    ".r": "text/plain", ".sh": "text/plain", ".webp": "image/webp",
}
# What a browser may show inline: it cannot run anything in these.
INLINE_TYPES = frozenset({
    "text/plain", "text/csv", "text/tab-separated-values", "text/markdown", "text/x-python",
    "application/json", "application/geo+json", "application/yaml",
    "image/png", "image/jpeg", "image/gif", "image/webp", "image/bmp",
})


@dataclass(frozen=True)
class Member:
    name: str
    size: int
    compressed_size: int
    media_type: str
    modified: str

    def as_dict(self) -> dict[str, object]:
        return {"name": self.name, "size": self.size, "compressedSize": self.compressed_size,
                "mediaType": self.media_type, "modified": self.modified}


def media_type(name: str) -> str:
    lowered = name.lower()
    for suffix, kind in EXTRA_TYPES.items():
        if lowered.endswith(suffix):
            return kind
    return mimetypes.guess_type(lowered, strict=False)[0] or "application/octet-stream"


def checked_path(path: str) -> str:
    """`path` if it can only name a member of the zip; InvalidParameter otherwise."""
    problem = None
    if not path or len(path) > MAX_PATH:
        problem = f"must be 1..{MAX_PATH} characters"
    elif path.startswith("/") or "\\" in path:
        problem = "must be relative, with / between its parts"
    elif any(ord(c) < 32 or ord(c) == 127 for c in path):
        problem = "must not contain control characters"
    elif any(part in ("", ".", "..") for part in path.split("/")):
        problem = "must not contain empty, '.' or '..' parts"
    if problem:
        raise errors.InvalidParameter(f"the output path {path[:80]!r} {problem}")
    return path


def members(stream: BinaryIO) -> list[Member]:
    """The files of an output.zip, in the zip's order (directories left out)."""
    with _open(stream) as archive:
        return [_member(info) for info in archive.infolist() if not info.is_dir()]


def find(stream: BinaryIO, path: str) -> Member:
    """The member at exactly `path`; NotFound when the zip has no such file."""
    checked_path(path)
    with _open(stream) as archive:
        try:
            info = archive.getinfo(path)
        except KeyError:
            info = None
        if info is None or info.is_dir():
            raise errors.NotFound(f"output.zip has no file {path[:200]!r}")
        return _member(info)


def read(stream: BinaryIO, path: str) -> Iterator[bytes]:
    """The bytes of member `path` in chunks; at most its declared size (zipfile stops there
    and checks the CRC), whatever the zip's compressed data would expand to."""
    with _open(stream) as archive, archive.open(checked_path(path)) as member:
        while chunk := member.read(CHUNK):
            yield chunk


def _open(stream: BinaryIO) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(stream)
    except (zipfile.BadZipFile, OSError, ValueError) as err:
        raise errors.Conflict(f"output.zip cannot be read: {err}",
                              title="Unreadable outputs") from err


def _member(info: zipfile.ZipInfo) -> Member:
    year, month, day, hour, minute, second = info.date_time
    return Member(info.filename, info.file_size, info.compress_size,
                  media_type(info.filename),
                  f"{year:04d}-{month:02d}-{day:02d}T{hour:02d}:{minute:02d}:{second:02d}")
