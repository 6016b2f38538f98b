"""One file out of output.zip: `GET /jobs/{id}/outputs` lists them, `/jobs/{id}/outputs/{path}`
serves one with its media type, for previews. Paths are hostile (traversal, absolute,
control characters), files are hostile (HTML and SVG with scripts): nothing escapes the zip
and nothing a browser would run is served so that it runs. On local disk and on S3."""

from __future__ import annotations

import base64
import io
import json
import struct
import zipfile
import zlib
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from conftest import REPO
from helpers import submit, wait_final

EVIL_HTML = ('<html><body><script>document.title="pwned";parent.postMessage("pwned","*")'
             '</script><img src=x onerror="document.title=\'pwned\'">evil</body></html>')
EVIL_SVG = ('<svg xmlns="http://www.w3.org/2000/svg" onload="document.title=\'pwned\'">'
            '<script>document.title="pwned"</script><circle r="5"/></svg>')
CSV = 'city,population\nAda;town,10\n"<b>bold</b>",20\n'
UNICODE_NAME = "with space/naïve file.txt"


def png(width: int = 48, height: int = 32) -> bytes:
    """A small RGB gradient as a PNG (no imaging library needed)."""
    rows = b"".join(b"\x00" + b"".join(bytes((x * 5 % 256, y * 8 % 256, 160))
                                        for x in range(width)) for y in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


GEOJSON = {"type": "FeatureCollection", "features": [
    {"type": "Feature", "properties": {"name": "<img src=x onerror=alert(1)>", "n": i},
     "geometry": {"type": "Point", "coordinates": [5 + i * 0.5, 45 + (i % 3) * 0.4]}}
    for i in range(6)] + [
    {"type": "Feature", "properties": {"name": "a line"},
     "geometry": {"type": "LineString", "coordinates": [[5, 45], [7.5, 45.8]]}},
    {"type": "Feature", "properties": {"name": "an area"},
     "geometry": {"type": "Polygon",
                  "coordinates": [[[5.2, 45.1], [6, 45.1], [6, 45.6], [5.2, 45.1]]]}}]}

FILES: dict[str, bytes] = {
    "readme.txt": b"Outputs of the gallery Method\nline two\n",
    "tables/cities.csv": CSV.encode(),
    "images/gradient.png": png(),
    "maps/points.geojson": json.dumps(GEOJSON).encode(),
    "evil.html": EVIL_HTML.encode(),
    "evil.svg": EVIL_SVG.encode(),
    UNICODE_NAME: "ü\n".encode(),
}
BIG = ("data/big.bin", 2_048_000)  # zeros, made by the script (too big to send as a script)


def gallery_method() -> dict[str, Any]:
    """A local Method writing FILES to /ccp_data (decoded from base64: any bytes, no
    quoting trouble and nothing that looks like a template)."""
    method = json.loads((REPO / "methods" / "hello-world.json").read_text())
    method.update(id="gallery", title="Output gallery",
                  description="Writes text, CSV, an image, GeoJSON and hostile files")
    method["inputs"] = {"ccpimage": {"schema": {"type": "string", "default": "none"},
                                     "minOccurs": 1}}
    lines = []
    for name, data in FILES.items():
        target = "/ccp_data/" + name
        lines.append(f"mkdir -p \"$(dirname '{target}')\"")
        lines.append(f"echo {base64.b64encode(data).decode()} | base64 -d > '{target}'")
    lines += ["mkdir -p /ccp_data/data", f"head -c {BIG[1]} /dev/zero > /ccp_data/{BIG[0]}"]
    method["additionalParameters"]["parameters"] = [{"name": "execute-script",
                                                     "value": lines}]
    method["outputs"] = {"output": {"schema": {"type": "string",
                                               "contentMediaType": "application/zip"}}}
    return method


def write_gallery(methods: Path) -> Path:
    methods.mkdir(parents=True, exist_ok=True)
    (methods / "gallery.json").write_text(json.dumps(gallery_method()))
    return methods


@pytest.fixture
def gallery(app_factory: Any, tmp_path: Path) -> Any:
    """(client, job id) of a finished gallery execution."""
    app = app_factory(methods=write_gallery(tmp_path / "methods"),
                      max_output_file_bytes=1_000_000)
    client = app.test_client()
    job_id = submit(client, "gallery")
    assert wait_final(client, job_id, 60)["status"] == "successful"
    return client, job_id


def test_preview_outputs_lists_every_file_with_size_and_type(gallery: Any) -> None:
    client, job_id = gallery
    listing = client.get(f"/jobs/{job_id}/outputs").get_json()
    files = {entry["name"]: entry for entry in listing["files"]}
    assert set(files) == set(FILES) | {BIG[0]}
    assert listing["numberMatched"] == len(FILES) + 1
    assert listing["totalBytes"] == sum(len(data) for data in FILES.values()) + BIG[1]
    for name, data in FILES.items():
        assert files[name]["size"] == len(data), name
        assert files[name]["href"].endswith(f"/jobs/{job_id}/outputs/{quote(name)}")
    assert files["tables/cities.csv"]["mediaType"] == "text/csv"
    assert files["maps/points.geojson"]["mediaType"] == "application/geo+json"
    assert files["images/gradient.png"]["mediaType"] == "image/png"
    assert files["evil.html"]["mediaType"] == "text/html"
    page = client.get(f"/jobs/{job_id}/outputs?limit=3&offset=2").get_json()
    assert [f["name"] for f in page["files"]] == [f["name"] for f in listing["files"]][2:5]
    status = client.get(f"/jobs/{job_id}").get_json()
    assert any(link["rel"] == "outputs-list" for link in status["links"])


def test_preview_files_come_with_their_type_and_bytes(gallery: Any) -> None:
    client, job_id = gallery
    expected = {"readme.txt": "text/plain; charset=utf-8",
                "tables/cities.csv": "text/csv; charset=utf-8",
                "images/gradient.png": "image/png",
                "maps/points.geojson": "application/geo+json; charset=utf-8",
                UNICODE_NAME: "text/plain; charset=utf-8"}
    for name, content_type in expected.items():
        response = client.get(f"/jobs/{job_id}/outputs/{quote(name)}")
        assert response.status_code == 200, (name, response.get_json())
        assert response.data == FILES[name], name
        assert response.headers["Content-Type"] == content_type, name
        assert response.headers["Content-Length"] == str(len(FILES[name]))
        assert response.headers["Content-Disposition"].startswith("inline;"), name
        assert response.headers["X-Content-Type-Options"] == "nosniff"
    disposition = client.get(f"/jobs/{job_id}/outputs/{quote(UNICODE_NAME)}"
                             ).headers["Content-Disposition"]
    assert "filename*=UTF-8''na%C3%AFve%20file.txt" in disposition
    # the whole zip still comes from its own route, byte for byte
    whole = client.get(f"/jobs/{job_id}/outputs/output.zip")
    assert whole.mimetype == "application/zip"
    assert zipfile.ZipFile(io.BytesIO(whole.data)).read("tables/cities.csv") == CSV.encode()


def test_preview_hostile_files_are_attachments_in_a_sandbox(gallery: Any) -> None:
    client, job_id = gallery
    for name, media_type in (("evil.html", "text/html"), ("evil.svg", "image/svg+xml")):
        response = client.get(f"/jobs/{job_id}/outputs/{name}")
        assert response.status_code == 200
        assert response.mimetype == media_type
        assert response.headers["Content-Disposition"].startswith("attachment;"), name
        policy = response.headers["Content-Security-Policy"]
        assert policy.startswith("sandbox;") and "default-src 'none'" in policy
        assert "script-src" not in policy and "allow-scripts" not in policy
        assert response.headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize("path", [
    "../../metadata/status.json", "tables/../readme.txt", "%2e%2e/%2e%2e/auth/jwt.json",
    "./readme.txt", "tables//cities.csv", "tables\\cities.csv", "readme.txt%00.png",
    "readme%0a.txt", "a" * 1100,
])
def test_preview_unsafe_paths_are_refused(gallery: Any, path: str) -> None:
    client, job_id = gallery
    response = client.get(f"/jobs/{job_id}/outputs/{path}")
    assert response.status_code in (400, 404), (path, response.status_code)
    body = response.get_json()
    assert body["status"] == response.status_code and body["detail"]
    assert FILES["readme.txt"] not in response.data


def test_preview_what_is_not_a_file_of_the_zip_is_not_found(gallery: Any) -> None:
    client, job_id = gallery
    for path in ("tables", "tables/", "no-such-file.txt", "metadata/status.json"):
        response = client.get(f"/jobs/{job_id}/outputs/{path}")
        assert response.status_code in (400, 404), path
    assert client.get("/jobs/no-such-job/outputs").status_code == 404
    assert client.get("/jobs/no-such-job/outputs/readme.txt").status_code == 404


def test_preview_files_over_the_limit_are_refused(gallery: Any) -> None:
    client, job_id = gallery
    response = client.get(f"/jobs/{job_id}/outputs/data/big.bin")
    assert response.status_code == 413
    assert "output.zip" in response.get_json()["detail"]


def test_preview_outputs_of_a_running_job_are_not_ready(app_factory: Any) -> None:
    client = app_factory().test_client()
    job_id = submit(client, "sleep", {"seconds": 3})
    response = client.get(f"/jobs/{job_id}/outputs")
    assert response.status_code == 404
    assert wait_final(client, job_id)["status"] == "successful"
    assert client.get(f"/jobs/{job_id}/outputs/slept.txt").data == b"slept 3 s\n"


def test_preview_outputs_read_from_s3_in_ranges(app_factory: Any, s3_storage_config: Any,
                                                 tmp_path: Path) -> None:
    app = app_factory(methods=write_gallery(tmp_path / "methods"),
                      storage=s3_storage_config())
    client = app.test_client()
    job_id = submit(client, "gallery")
    assert wait_final(client, job_id, 60)["status"] == "successful"
    listing = client.get(f"/jobs/{job_id}/outputs").get_json()
    assert {entry["name"] for entry in listing["files"]} == set(FILES) | {BIG[0]}
    for name in ("maps/points.geojson", "images/gradient.png", UNICODE_NAME):
        response = client.get(f"/jobs/{job_id}/outputs/{quote(name)}")
        assert response.status_code == 200, name
        assert response.data == FILES[name], name
    big = client.get(f"/jobs/{job_id}/outputs/{BIG[0]}")
    assert big.status_code == 200 and big.data == bytes(BIG[1])
