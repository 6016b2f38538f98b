"""The QGIS plugin's package and its QGIS-free modules (the HTTP client, output handling),
run in this venv: the zip a user installs, and the client against a live server."""

from __future__ import annotations

import ast
import http.server
import importlib
import io
import subprocess
import sys
import threading
import time
import zipfile
from collections.abc import Iterator
from configparser import ConfigParser
from pathlib import Path
from types import SimpleNamespace

import pytest
from qgistools import REPO


def test_qgis_plugin_zip_is_built_by_the_packaging_command() -> None:
    target = REPO / "dist" / "ccp_qgis.zip"
    target.unlink(missing_ok=True)
    result = subprocess.run([sys.executable, "qgis/package.py"], cwd=REPO,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(target)
    first = target.read_bytes()
    with zipfile.ZipFile(target) as archive:
        names = archive.namelist()
        metadata = ConfigParser()
        metadata.read_string(archive.read("ccp_qgis/metadata.txt").decode())
        sources = {name: archive.read(name).decode() for name in names if name.endswith(".py")}
    assert all(name.startswith("ccp_qgis/") for name in names)
    assert {"ccp_qgis/__init__.py", "ccp_qgis/metadata.txt", "ccp_qgis/icon.svg",
            "ccp_qgis/provider.py", "ccp_qgis/algorithm.py", "ccp_qgis/client.py"} <= set(names)
    assert "ccp_qgis/package.py" not in names and not any("__pycache__" in n for n in names)
    general = metadata["general"]
    assert general["qgisMinimumVersion"] == "3.22" and general["hasProcessingProvider"] == "yes"
    assert general["name"] and general["version"] and general["icon"] == "icon.svg"
    init = ast.parse(sources["ccp_qgis/__init__.py"])
    assert "classFactory" in {node.name for node in init.body if isinstance(node, ast.FunctionDef)}
    for name, source in sources.items():  # a client of the HTTP API only
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Import):
                assert not any(a.name.split(".")[0] == "ccp" for a in node.names), name
            if isinstance(node, ast.ImportFrom) and node.level == 0:
                assert node.module.split(".")[0] != "ccp", name
    subprocess.run([sys.executable, "qgis/package.py"], cwd=REPO, check=True,
                   capture_output=True, timeout=60)
    assert target.read_bytes() == first  # reproducible


@pytest.fixture
def plugin_modules(plugin_zip: Path, tmp_path: Path) -> Iterator[SimpleNamespace]:
    """The plugin's QGIS-free modules, imported from the installable zip."""
    with zipfile.ZipFile(plugin_zip) as archive:
        archive.extractall(tmp_path / "plugins")
    sys.path.insert(0, str(tmp_path / "plugins"))
    try:
        yield SimpleNamespace(client=importlib.import_module("ccp_qgis.client"),
                              outputs=importlib.import_module("ccp_qgis.outputs"))
    finally:
        sys.path.remove(str(tmp_path / "plugins"))
        for name in [n for n in sys.modules if n == "ccp_qgis" or n.startswith("ccp_qgis.")]:
            del sys.modules[name]


def make_zip(path: Path, entries: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return path


def test_qgis_output_zip_unpacks_safely_and_named_outputs_are_found(plugin_modules,
                                                                    tmp_path: Path) -> None:
    outputs = plugin_modules.outputs
    evil = make_zip(tmp_path / "evil.zip", {"ok.txt": b"x", "../escaped.txt": b"y"})
    with pytest.raises(outputs.UnsafeArchive, match="escaped.txt"):
        outputs.unpack(evil, tmp_path / "evil")
    assert not (tmp_path / "escaped.txt").exists() and not (tmp_path / "evil" / "ok.txt").exists()

    folder = tmp_path / "out"
    good = make_zip(tmp_path / "good.zip", {
        "replica-1/points.geojson": b"{}", "grid.tif": b"II*", "notes.txt": b"n",
        "table.csv": b"a,b\n"})
    files = outputs.unpack(good, folder)
    assert [f.relative_to(folder.resolve()).as_posix() for f in files] == [
        "grid.tif", "notes.txt", "replica-1/points.geojson", "table.csv"]
    assert [outputs.layer_kind(f) for f in files] == ["raster", None, "vector", "vector"]

    description = {"outputs": {
        "points": {"path": "*/points.geojson",
                   "schema": {"contentMediaType": "application/geo+json"}},
        "elevation": {"schema": {"contentMediaType": "image/tiff; application=geotiff"}},
        "zipped": {"schema": {"contentMediaType": "application/geo+json"}},
        "stdout": {"schema": {"contentMediaType": "text/plain"}},
    }}
    results = {
        "points": {"href": "http://ccp/jobs/1/outputs/output.zip", "type": "application/zip"},
        "elevation": {"href": "http://ccp/jobs/1/results/elevation",
                      "type": "image/tiff; application=geotiff"},
        "zipped": {"href": "http://ccp/jobs/1/outputs/output.zip"},
        "stdout": {"value": "hi"},
    }
    downloads = []

    def download(url: str, destination: Path) -> Path:
        downloads.append((url, destination))
        destination.write_bytes(b"II*")
        return destination

    found = outputs.named_outputs(description, results, folder, files, download)
    assert found == {"points": folder.resolve() / "replica-1" / "points.geojson",
                     "elevation": folder / "elevation.tif"}
    assert downloads == [("http://ccp/jobs/1/results/elevation", folder / "elevation.tif")]


def test_qgis_http_client_against_a_live_server(server_process, plugin_modules,
                                                tmp_path: Path) -> None:
    server = server_process()
    client = plugin_modules.client.Client(server.url + "/")
    with pytest.raises(plugin_modules.client.CCPError) as refused:
        client.process("no-such-method")
    assert refused.value.status == 404
    assert str(refused.value).endswith("404 No such process: there is no process "
                                       "'no-such-method'")
    descriptions = {d["id"]: d for d in client.describe_all()}
    assert {p["id"] for p in client.processes()} == set(descriptions)
    assert descriptions["hello-world"]["inputs"]["name"]["schema"]["type"] == "string"
    job = client.execute("hello-world", {"name": "client"})
    deadline = time.monotonic() + 30
    while job["status"] not in plugin_modules.client.FINAL_STATUSES:
        assert time.monotonic() < deadline
        time.sleep(0.1)
        job = client.job(job["jobID"])
    assert job["status"] == "successful"
    assert "[stdout] Hello, client!" in client.logs(job["jobID"])
    results = client.results(job["jobID"])
    assert results["stdout"]["value"].startswith("Hello, client!")
    zipped = client.download(f"/jobs/{job['jobID']}/outputs/output.zip", tmp_path / "o.zip")
    assert zipfile.ZipFile(io.BytesIO(zipped.read_bytes())).read("hello.txt") == \
        b"Hello, client!\n"
    assert client.infrastructure("local")["type"] == "local"
    with pytest.raises(plugin_modules.client.CCPError, match="cannot reach the CCP server"):
        plugin_modules.client.Client("http://127.0.0.1:9").processes()


def test_qgis_http_client_keeps_the_token_off_other_hosts(plugin_modules,
                                                          tmp_path: Path) -> None:
    """A download redirected to another host (a presigned storage URL) goes without the
    Authorization header; one redirected on the same server keeps it."""
    seen: dict[str, str | None] = {}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            seen[self.path] = self.headers.get("Authorization")
            if self.path.startswith("/redirect"):
                self.send_response(302)
                self.send_header("Location", self.path.split("?to=", 1)[1])
                self.end_headers()
                return
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"data")

        def log_message(self, *args: object) -> None:
            pass

    servers = [http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler) for _ in range(2)]
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    ccp, storage = (f"http://127.0.0.1:{s.server_address[1]}" for s in servers)
    try:
        client = plugin_modules.client.Client(ccp, {"Authorization": "Bearer secret"})
        client.download(f"/redirect?to={storage}/presigned", tmp_path / "a")
        client.download(f"/redirect?to={ccp}/same-server", tmp_path / "b")
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()
    assert (tmp_path / "a").read_bytes() == b"data"
    assert seen[f"/redirect?to={storage}/presigned"] == "Bearer secret"
    assert seen["/presigned"] is None
    assert seen["/same-server"] == "Bearer secret"
