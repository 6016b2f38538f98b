"""The QGIS Processing provider inside real QGIS, against a live CCP server (`ccp serve`).

Each test installs the packaged plugin into a fresh QGIS profile and drives QGIS's own
Python in a subprocess (tests/qgistools.py); the server is a real process on a real socket.
"""

from __future__ import annotations

import base64
import io
import json
import time
import zipfile
from pathlib import Path
from typing import Any

import jwt
import pytest
import requests
from conftest import free_port
from engines import ENGINE, Engine
from qgistools import Profile, server_entry

RESULTS_BODY = """
class Recorder(QgsProcessingFeedback):
    def __init__(self, cancel_on=None):
        super().__init__()
        self.console, self.info, self.progress, self.cancel_on = [], [], [], cancel_on
    def pushConsoleInfo(self, text):
        self.console.append(text)
        if self.cancel_on and self.cancel_on in text:
            self.cancel()
    def pushInfo(self, text):
        self.info.append(text)
    def setProgress(self, value):
        self.progress.append(value)
        super().setProgress(value)
"""


def request_of(url: str, job_id: str, headers: dict | None = None) -> dict[str, Any]:
    """The execution request the server archived: exactly what QGIS sent."""
    archive = requests.get(f"{url}/jobs/{job_id}/archive", headers=headers, timeout=30)
    assert archive.status_code == 200, archive.text
    with zipfile.ZipFile(io.BytesIO(archive.content)) as outer:
        return json.loads(outer.read("metadata/request.json"))


# --- listing ---------------------------------------------------------------------------------

def test_qgis_lists_every_method_grouped_by_category_and_refreshes(server_process,
                                                                   qgis_profile: Profile) -> None:
    server = server_process()
    found = qgis_profile.run(f"""
provider = registry.providerById("ccp")
before = {{a.id(): {{"group": a.group(), "groupId": a.groupId(), "name": a.displayName(),
                    "help": a.shortHelpString(), "canExecute": a.canExecute()[0]}}
          for a in provider.algorithms()}}
import json, urllib.request
method = json.load(open({str(Path(__file__).parent.parent / "methods" / "hello-world.json")!r}))
method["id"] = "hello-again"
method["metadata"] = [{{"role": "category", "title": "Greetings"}}]
urllib.request.urlopen(urllib.request.Request({server.url + "/processes"!r},
    data=json.dumps(method).encode(), headers={{"Content-Type": "application/json"}}))
ccp.refresh()
after = [a.id() for a in registry.providerById("ccp").algorithms()]
again = registry.algorithmById("ccp:hello-again")
emit({{"provider": [provider.name(), provider.longName(), provider.warningMessage()],
       "before": before, "after": after, "again_group": again.group()}})
""", servers=[server_entry(server.url)])
    listed = {p["id"] for p in requests.get(f"{server.url}/processes", timeout=10)
              .json()["processes"]}
    assert set(found["before"]) == {f"ccp:{i}" for i in listed - {"hello-again"}}
    assert "ccp:points-geojson" in found["before"]
    hello = found["before"]["ccp:hello-world"]
    assert (hello["group"], hello["groupId"], hello["name"]) == ("Examples", "examples",
                                                                 "Hello World")
    assert "Greets someone" in hello["help"] and "Who to greet" in hello["help"]
    assert hello["canExecute"] is True
    assert found["before"]["ccp:points-geojson"]["group"] == "Geospatial"
    assert found["provider"][0] == "CCP" and server.url in found["provider"][1]
    assert found["provider"][2] == ""
    assert "ccp:hello-again" in found["after"] and found["again_group"] == "Greetings"


def test_qgis_unreachable_server_is_a_warning_and_the_others_still_work(
        server_process, qgis_profile: Profile) -> None:
    server = server_process()
    down = f"http://127.0.0.1:{free_port()}"
    found = qgis_profile.run("""
down, live = registry.providerById("down"), registry.providerById("ccp")
result = processing.run("ccp:hello-world", {"name": "still here"})
emit({"down": [len(down.algorithms()), down.warningMessage()],
      "live": len(live.algorithms()), "stdout": result["stdout"]})
""", servers=[server_entry(server.url), {"id": "down", "title": "Down", "url": down}])
    count, warning = found["down"]
    assert count == 0
    assert warning.startswith("Down: cannot reach the CCP server at " + down), warning
    assert found["live"] >= 8
    assert found["stdout"].startswith("Hello, still here!")


# --- parameters ------------------------------------------------------------------------------

KINDS_METHOD = {
    "id": "qgis-kinds",
    "title": "Every kind of input",
    "version": "1.0.0",
    "keywords": ["test"],
    "inputs": {
        "label": {"title": "Label", "description": "A plain string",
                  "schema": {"type": "string", "default": "x"}},
        "colour": {"title": "Colour", "schema": {"type": "string", "enum": ["red", "green"],
                                                  "default": "green"}},
        "level": {"title": "Level", "schema": {"type": "integer", "enum": [1, 2, 3]},
                  "minOccurs": 0},
        "count": {"title": "Count", "schema": {"type": "integer", "minimum": 1, "maximum": 9,
                                                "default": 3}},
        "ratio": {"title": "Ratio", "schema": {"type": "number", "exclusiveMinimum": 0,
                                                "maximum": 1.5}, "minOccurs": 0},
        "flag": {"title": "Flag", "schema": {"type": "boolean", "default": True}},
        "sizes": {"title": "Sizes", "schema": {"type": "array", "items": {"type": "integer"},
                                                "default": [4, 5]}, "minOccurs": 0},
        "tags": {"title": "Tags", "schema": {"type": "string"}, "minOccurs": 0,
                 "maxOccurs": "unbounded"},
        "bands": {"title": "Bands", "schema": {"type": "array", "items": {
            "type": "string", "enum": ["red", "green", "blue", "nir"]}}, "minOccurs": 0},
        "area": {"title": "Area", "schema": {
            "type": "object", "required": ["bbox"],
            "properties": {"bbox": {"type": "array", "items": {"type": "number"}},
                           "crs": {"type": "string", "default": "http://www.opengis.net/def/"
                                                                "crs/OGC/1.3/CRS84"}}},
            "minOccurs": 0},
        "zone": {"title": "Zone", "schema": {"type": "object", "format": "geojson-geometry"},
                 "minOccurs": 0},
        "site": {"title": "Site", "schema": {"type": "object", "allOf": [
            {"$ref": "http://schemas.opengis.net/ogcapi/features/part1/1.0/openapi/schemas/"
                     "featureGeoJSON.yaml"}]}, "minOccurs": 0},
        "places": {"title": "Places", "schema": {"type": "object",
                                                  "format": "geojson-feature-collection"},
                   "minOccurs": 0},
        "blob": {"title": "Blob", "schema": {"type": "string", "contentEncoding": "base64",
                                              "contentMediaType": "application/octet-stream"},
                 "minOccurs": 0},
        "table": {"title": "Table", "schema": {"type": "string",
                                                "contentMediaType": "text/csv"}, "minOccurs": 0},
        "dem": {"title": "DEM", "schema": {"type": "string", "contentEncoding": "base64",
                                            "contentMediaType": "image/tiff; application=geotiff"},
                "minOccurs": 0},
        "options": {"title": "Options", "description": "Free-form settings",
                    "schema": {"type": "object", "properties": {"depth": {"type": "integer"}}},
                    "minOccurs": 0},
        "either": {"title": "Either", "schema": {"oneOf": [{"type": "string"},
                                                            {"type": "integer"}]},
                   "minOccurs": 0},
        "odd": {"title": "Odd", "schema": {"type": "integer", "minimum": "zero"},
                "minOccurs": 0},
        "ccpimage": {"title": "Runtime image", "schema": {"type": "string",
                                                           "default": "ccp/busybox:1",
                                                           "readOnly": True}},
    },
    "outputs": {},
    "additionalParameters": {"parameters": [
        {"name": "execute-script", "value": ["printf '%s\\n' {{ label }}"]}]},
    "links": [{"rel": "compatibleWith", "href": "infrastructures/local"}],
}


@pytest.fixture
def kinds_server(server_process, methods_dir: Path):
    (methods_dir / "qgis-kinds.json").write_text(json.dumps(KINDS_METHOD))
    return server_process(CCP_METHODS_DIR=str(methods_dir))


def test_qgis_parameters_follow_the_input_schemas(kinds_server, qgis_profile: Profile) -> None:
    found = qgis_profile.run("""
alg = registry.algorithmById("ccp:qgis-kinds")
described = {}
for d in alg.parameterDefinitions():
    entry = {"type": d.type(), "description": d.description(), "help": d.help(),
             "optional": bool(d.flags() & QgsProcessingParameterDefinition.FlagOptional),
             "advanced": bool(d.flags() & QgsProcessingParameterDefinition.FlagAdvanced),
             "default": d.defaultValue()}
    if d.type() == "number":
        entry.update(integer=d.dataType() == QgsProcessingParameterNumber.Integer,
                     min=d.minimum(), max=d.maximum())
    if d.type() == "enum":
        entry.update(options=d.options(), multiple=d.allowMultiple(),
                     static=d.usesStaticStrings())
    if d.type() == "string":
        entry.update(multiline=d.multiLine())
    if d.type() == "matrix":
        entry.update(headers=d.headers())
    described[d.name()] = entry
emit(described)
""", servers=[server_entry(kinds_server.url)])
    types = {name: entry["type"] for name, entry in found.items()}
    assert types == {
        "label": "string", "colour": "enum", "level": "enum", "count": "number",
        "ratio": "number", "flag": "boolean", "sizes": "matrix", "tags": "matrix",
        "bands": "enum", "area": "extent", "zone": "source", "site": "source",
        "places": "source", "blob": "file", "table": "file", "dem": "raster",
        "options": "string", "either": "string", "odd": "string", "ccpmaxtime": "number",
        "OUTPUT_FOLDER": "folderDestination"}
    assert "ccpimage" not in found  # read-only: hidden, the server uses its default
    # the local Infrastructure's manifest offers one replica: no choice to offer
    assert "ccpreplicas" not in found
    assert found["label"]["help"] == "A plain string" and found["label"]["default"] == "x"
    assert found["colour"].items() >= {"options": ["red", "green"], "static": True,
                                       "multiple": False, "default": "green"}.items()
    assert found["level"]["options"] == ["1", "2", "3"] and not found["level"]["static"]
    assert found["level"]["optional"] is True
    assert found["count"].items() >= {"integer": True, "min": 1, "max": 9,
                                      "default": 3}.items()
    assert found["ratio"]["integer"] is False and found["ratio"]["max"] == 1.5
    assert found["ratio"]["min"] == 0 and found["ratio"]["optional"] is True
    assert found["flag"]["default"] is True
    assert found["bands"].items() >= {"multiple": True, "static": True,
                                      "options": ["red", "green", "blue", "nir"]}.items()
    assert found["sizes"]["default"] == ["4", "5"]
    assert found["tags"]["headers"] == ["Tags (string)"]
    assert found["options"]["multiline"] is True
    assert found["options"]["description"] == "Options (JSON)"
    assert "type its value as JSON" in found["options"]["help"]
    assert "Free-form settings" in found["options"]["help"]
    assert found["either"]["description"] == "Either (JSON)"
    assert found["odd"]["description"] == "Odd (JSON)"  # a schema QGIS cannot take
    assert found["ccpmaxtime"]["advanced"] and found["ccpmaxtime"]["optional"]
    assert found["ccpmaxtime"]["max"] == 3600  # the manifest's limits.maxTime
    assert not found["count"]["advanced"]


def test_qgis_parameter_values_reach_the_server_as_ogc_inputs(kinds_server, qgis_profile: Profile,
                                                              tmp_path: Path) -> None:
    blob = bytes(range(256)) * 3
    (tmp_path / "blob.bin").write_bytes(blob)
    (tmp_path / "table.csv").write_text("a,b\n1,2\n", encoding="utf-8")
    found = qgis_profile.run(f"""
import base64
from osgeo import gdal
dem = {str(tmp_path / "dem.tif")!r}
raster = gdal.GetDriverByName("GTiff").Create(dem, 2, 2, 1, gdal.GDT_Byte)
raster.SetGeoTransform([10, 1, 0, 50, 0, -1]); raster.SetProjection("EPSG:4326"); del raster
zone = QgsVectorLayer("Polygon?crs=EPSG:3857", "zone", "memory")
feature = QgsFeature()
feature.setGeometry(QgsGeometry.fromWkt("POLYGON((0 0, 111319.49 0, 111319.49 111325.14, 0 0))"))
zone.dataProvider().addFeatures([feature])
places = QgsVectorLayer("Point?crs=EPSG:4326&field=name:string", "places", "memory")
for name, x, y in (("a", 1, 2), ("b", 3, 4)):
    f = QgsFeature(places.fields()); f.setAttribute("name", name)
    f.setGeometry(QgsGeometry.fromPointXY(QgsPointXY(x, y))); places.dataProvider().addFeature(f)
site = QgsVectorLayer("Point?crs=EPSG:4326&field=name:string", "site", "memory")
f = QgsFeature(site.fields()); f.setAttribute("name", "only")
f.setGeometry(QgsGeometry.fromPointXY(QgsPointXY(7, 8))); site.dataProvider().addFeature(f)
result = processing.run("ccp:qgis-kinds", {{
    "label": "it's $(not) run", "colour": "red", "level": 2, "count": 7, "ratio": 0.25,
    "flag": False, "sizes": [10, 20, 30], "tags": ["α", "b"], "bands": ["nir", "red"],
    "area": "0,111319.49,0,111325.14 [EPSG:3857]", "zone": zone, "site": site,
    "places": places, "blob": {str(tmp_path / "blob.bin")!r},
    "table": {str(tmp_path / "table.csv")!r}, "dem": dem,
    "options": '{{"depth": 2}}', "either": "42", "ccpmaxtime": 30}})
from ccp_qgis import mapping
alg = registry.algorithmById("ccp:qgis-kinds")
spec = alg.description["inputs"]["blob"]
by_reference = mapping.value(alg, alg.kinds["blob"], "blob", spec,
                             {{"blob": "https://data.example.org/b.bin"}}, QgsProcessingContext())
emit({{"job": result["JOB_ID"], "dem": base64.b64encode(open(dem, "rb").read()).decode(),
       "by_reference": by_reference}})
""", servers=[server_entry(kinds_server.url)])
    assert found["by_reference"] == {"href": "https://data.example.org/b.bin"}
    inputs = request_of(kinds_server.url, found["job"])["inputs"]
    area = inputs.pop("area")
    zone = inputs.pop("zone")
    assert area["crs"] == "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
    assert area["bbox"] == pytest.approx([0, 0, 1, 1], abs=1e-4)  # EPSG:3857 → lon/lat
    assert zone["type"] == "Polygon"  # exported as GeoJSON in EPSG:4326
    assert zone["coordinates"][0][1] == pytest.approx([1, 0], abs=1e-4)
    assert zone["coordinates"][0][2] == pytest.approx([1, 1], abs=1e-4)
    site, places = inputs.pop("site"), inputs.pop("places")
    assert site["type"] == "Feature" and site["properties"] == {"name": "only"}
    assert site["geometry"] == {"type": "Point", "coordinates": [7.0, 8.0]}
    assert places["type"] == "FeatureCollection"
    assert [f["properties"]["name"] for f in places["features"]] == ["a", "b"]
    assert [f["geometry"]["coordinates"] for f in places["features"]] == [[1, 2], [3, 4]]
    assert base64.b64decode(inputs.pop("blob")) == blob
    assert inputs.pop("dem") == found["dem"]
    assert inputs == {
        "label": "it's $(not) run", "colour": "red", "level": 3, "count": 7, "ratio": 0.25,
        "flag": False, "sizes": [10, 20, 30], "tags": ["α", "b"], "bands": ["nir", "red"],
        "table": "a,b\n1,2\n", "options": {"depth": 2}, "either": 42, "ccpmaxtime": 30.0}
    job = requests.get(f"{kinds_server.url}/jobs/{found['job']}", timeout=10).json()
    assert job["status"] == "successful"


def test_qgis_invalid_json_and_server_refusals_are_processing_errors(kinds_server,
                                                                     qgis_profile: Profile) -> None:
    found = qgis_profile.run("""
errors = []
for params in ({"options": "{not json"}, {"count": 5, "either": '{"a": 1}'}):
    try:
        processing.run("ccp:qgis-kinds", params)
        errors.append(None)
    except QgsProcessingException as err:
        errors.append(str(err))
emit(errors)
""", servers=[server_entry(kinds_server.url)])
    assert "input 'options' is not valid JSON" in found[0]
    # the server's own check (a plain value only), relayed with its status and detail
    assert "400" in found[1] and "either" in found[1], found[1]


# --- running ---------------------------------------------------------------------------------

def test_qgis_hello_world_output_is_unpacked_and_the_log_followed(server_process,
                                                                  qgis_profile: Profile,
                                                                  tmp_path: Path) -> None:
    server = server_process()
    folder = tmp_path / "out"
    found = qgis_profile.run(RESULTS_BODY + f"""
feedback = Recorder()
result = processing.run("ccp:hello-world", {{"name": "Ada", "OUTPUT_FOLDER": {str(folder)!r}}},
                        feedback=feedback)
emit({{"result": result, "console": feedback.console, "info": feedback.info,
       "progress": feedback.progress}})
""", servers=[server_entry(server.url)])
    result = found["result"]
    job_id = result["JOB_ID"]
    assert (folder / "hello.txt").read_text() == "Hello, Ada!\n"
    assert result["OUTPUT_FOLDER"] == str(folder) and result["LAYERS"] == []
    assert result["stdout"].startswith("Hello, Ada!\n")
    job_url = f"{server.url}/jobs/{job_id}"
    assert result["JOB_URL"] == job_url and result["LOG_URL"] == f"{job_url}/logs"
    assert result["ARCHIVE_URL"] == f"{job_url}/archive"
    assert result["PROVENANCE_URL"] == f"{job_url}/provenance"
    assert requests.get(result["PROVENANCE_URL"], timeout=10).status_code == 200
    assert any("[stdout] Hello, Ada!" in line for line in found["console"])  # the live log
    assert any("[Done]" in line for line in found["console"])
    assert found["progress"][-1] == 100
    assert any(result["ARCHIVE_URL"] in line for line in found["info"])
    assert request_of(server.url, job_id) == {"inputs": {"name": "Ada"}}


@pytest.mark.parametrize("method", ["points-geojson", "points-geojson-docker"])
def test_qgis_geospatial_method_loads_a_layer_into_the_project(
        server_process, qgis_profile: Profile, method: str) -> None:
    engine = Engine(ENGINE)
    if method.endswith("docker"):
        engine.require()
    server = server_process()
    found = qgis_profile.run(f"""
result = processing.runAndLoadResults("ccp:{method}", {{"west": -3.5, "south": 40.25,
                                      "columns": 5, "rows": 4, "spacing": 0.25}})
layers = [{{"name": l.name(), "count": l.featureCount(), "crs": l.crs().authid(),
            "geometry": QgsWkbTypes.displayString(l.wkbType()), "source": l.source(),
            "extent": [l.extent().xMinimum(), l.extent().yMinimum(), l.extent().xMaximum(),
                       l.extent().yMaximum()]}}
          for l in QgsProject.instance().mapLayers().values()]
emit({{"result": result, "layers": layers}})
""", servers=[server_entry(server.url)])
    (layer,) = found["layers"]
    assert layer["name"] == "Points"
    assert layer["count"] == 20 and layer["crs"] == "EPSG:4326"
    assert layer["geometry"] == "Point"
    assert layer["extent"] == pytest.approx([-3.5, 40.25, -2.5, 41.0])
    result = found["result"]
    assert layer["source"] == result["points"] == result["LAYERS"][0]
    assert Path(result["points"]).name == "points.geojson"
    assert result["stdout"].startswith("wrote 5 x 4 points")
    if method.endswith("docker"):
        engine.assert_nothing_left(result["JOB_ID"])


def test_qgis_cancel_dismisses_the_job(server_process, qgis_profile: Profile) -> None:
    server = server_process()
    found = qgis_profile.run(RESULTS_BODY + """
feedback = Recorder(cancel_on="tick 2")
try:
    processing.run("ccp:sleep", {"seconds": 120}, feedback=feedback)
    emit({"error": None})
except QgsProcessingException as err:
    emit({"error": str(err), "info": feedback.info, "console": feedback.console})
""", servers=[server_entry(server.url)])
    assert found["error"] and found["error"].startswith("Cancelled: CCP job "), found
    job_id = found["error"].split()[3]
    assert f"Cancelling: dismissing CCP job {job_id} (DELETE)" in found["info"]
    assert "is dismissed" in found["error"]
    job = requests.get(f"{server.url}/jobs/{job_id}", timeout=10).json()
    assert job["status"] == "dismissed"
    assert "tick 60" not in requests.get(f"{server.url}/jobs/{job_id}/logs", timeout=10).text


def test_qgis_failure_raises_with_the_job_message_and_log_url(server_process,
                                                              qgis_profile: Profile) -> None:
    server = server_process()
    found = qgis_profile.run("""
try:
    processing.run("ccp:always-fails", {"code": 7})
    emit(None)
except QgsProcessingException as err:
    emit(str(err))
""", servers=[server_entry(server.url)])
    assert found and found.startswith("CCP job "), found
    job_id = found.split()[2]
    job = requests.get(f"{server.url}/jobs/{job_id}", timeout=10).json()
    assert job["status"] == "failed"
    assert f"CCP job {job_id} failed: {job['message']}" in found
    log_url = f"{server.url}/jobs/{job_id}/logs"
    assert f"Log: {log_url}" in found
    assert "failing with code 7" in requests.get(log_url, timeout=10).text


# --- auth ------------------------------------------------------------------------------------

SECRET = "qgis-test-secret-0123456789abcdef-0123456789"


def test_qgis_with_auth_on_uses_the_token_setting_or_an_auth_config(server_process,
                                                                    qgis_profile: Profile) -> None:
    server = server_process(CCP_AUTH="true", CCP_JWT_SECRET=SECRET)
    token = jwt.encode({"sub": "ada", "exp": int(time.time()) + 3600}, SECRET,
                       algorithm="HS256")
    refused = qgis_profile.run("""
emit(registry.providerById("ccp").warningMessage())
""", servers=[server_entry(server.url)])
    assert "401" in refused and "bearer token is required" in refused

    found = qgis_profile.run(f"""
by_setting = processing.run("ccp:hello-world", {{"name": "token"}})["JOB_ID"]
manager = QgsApplication.authManager()
assert manager.setMasterPassword("master-password-for-tests", True)
config = QgsAuthMethodConfig("EsriToken")
config.setName("CCP token"); config.setConfig("token", {token!r})
ok, config = manager.storeAuthenticationConfig(config)
from ccp_qgis import servers
servers.save([servers.Server(id="ccp", title="CCP", url={server.url!r}, authcfg=config.id())])
ccp.register_providers()
by_authcfg = processing.run("ccp:hello-world", {{"name": "authcfg"}})["JOB_ID"]
emit({{"jobs": [by_setting, by_authcfg], "count": len(registry.providerById("ccp").algorithms()),
       "saved": open(QgsSettings().fileName()).read()}})
""", servers=[server_entry(server.url, token=token)])
    assert found["count"] >= 8
    assert token not in found["saved"]  # the auth config keeps the token out of the settings
    headers = {"Authorization": f"Bearer {token}"}
    mine = requests.get(f"{server.url}/jobs", headers=headers, timeout=10).json()
    assert {job["jobID"] for job in mine["jobs"]} == set(found["jobs"])
    assert {job["status"] for job in mine["jobs"]} == {"successful"}
    names = [request_of(server.url, job_id, headers)["inputs"]["name"]
             for job_id in found["jobs"]]
    assert names == ["token", "authcfg"]
