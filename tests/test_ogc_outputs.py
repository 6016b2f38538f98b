"""Named outputs (a path or glob under /ccp_data, with a media type), each served at
/jobs/{id}/results/{outputID}, by value or by reference in the results document, selected by
the request; recorded in the archive and in PROV. Real local executions."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest
import requests
from helpers import archive_of, submit, wait_final

from ccp import outputs
from ccp.model import DescriptorError, Method

REPO = Path(__file__).resolve().parent.parent
HELLO = json.loads((REPO / "methods" / "hello-world.json").read_text())
POINTS = {"columns": 2, "rows": 2, "west": 5.0, "south": 45.0}


def files_method(methods: Path) -> None:
    """A Method whose files exercise globs: two tiles, a table, a hostile name, no csv."""
    method = json.loads(json.dumps(HELLO))
    method.update({"id": "files-out", "jobControlOptions": ["async-execute"]})
    method["outputs"] = {
        "tiles": {"path": "tiles/*.tif",
                  "schema": {"type": "string",
                             "contentMediaType": "image/tiff; application=geotiff"}},
        "table": {"path": "/ccp_data/table.csv",
                  "schema": {"type": "string", "contentMediaType": "text/csv"}},
        "nothing": {"path": "nothing-*.csv",
                    "schema": {"type": "string", "contentMediaType": "text/csv"}},
        "weird": {"path": "weird/*",
                  "schema": {"type": "string", "contentMediaType": "text/plain"}},
        "output": HELLO["outputs"]["output"],
    }
    method["additionalParameters"]["parameters"] = [{"name": "execute-script", "value": [
        "mkdir -p /ccp_data/tiles /ccp_data/weird",
        "printf 'II*\\000one' > /ccp_data/tiles/a.tif",
        "printf 'II*\\000two' > /ccp_data/tiles/b.tif",
        "printf 'x' > \"/ccp_data/weird/$(printf 'a\"b\\r\\nX-Injected: 1')\"",
        "printf 'name,n\\nada,1\\n' > /ccp_data/table.csv",
    ]}]
    (methods / "files-out.json").write_text(json.dumps(method))


@pytest.fixture
def files_dir(methods_dir: Path) -> Path:
    files_method(methods_dir)
    return methods_dir


def document_of(client: Any, process_id: str, inputs: dict, outputs_: dict | None = None
                ) -> tuple[str, dict[str, Any]]:
    body: dict[str, Any] = {"inputs": inputs, "response": "document"}
    if outputs_ is not None:
        body["outputs"] = outputs_
    response = client.post(f"/processes/{process_id}/execution", json=body,
                           headers={"Prefer": "respond-async"})
    assert response.status_code == 201, response.get_json()
    job_id = response.get_json()["jobID"]
    assert wait_final(client, job_id)["status"] == "successful"
    return job_id, client.get(f"/jobs/{job_id}/results").get_json()


def test_ogc_named_output_is_served_with_its_media_type_and_recorded(client) -> None:
    job_id, document = document_of(client, "points-geojson", POINTS)
    assert document["points"] == {"href": f"http://localhost:5000/jobs/{job_id}/results/points",
                                  "type": "application/geo+json"}
    assert "links" not in document  # links travel in the Link header, not as an output
    response = client.get(f"/jobs/{job_id}/results/points")
    assert response.status_code == 200 and response.mimetype == "application/geo+json"
    collection = json.loads(response.data)
    assert collection["type"] == "FeatureCollection" and len(collection["features"]) == 4

    archive = archive_of(client, job_id)
    kept = archive.read("outputs/named/points/points.geojson")
    assert kept == response.data
    assert zipfile.ZipFile(io.BytesIO(archive.read("outputs/output.zip"))).read(
        "points.geojson") == kept  # output.zip stays whole
    record = json.loads(client.get(f"/jobs/{job_id}/provenance").data)
    named = [entity for entity in record["entity"].values()
             if entity.get("prov:type") == "ccp:NamedOutput"]
    assert len(named) == 1
    assert named[0]["ccp:output"] == "points" and named[0]["prov:label"] == "points.geojson"
    assert named[0]["ccp:sha256"] == hashlib.sha256(kept).hexdigest()
    assert named[0]["ccp:size"]["$"] == str(len(kept))
    assert "results/points/points.geojson" in client.get(
        f"/jobs/{job_id}/provenance?f=provn").data.decode()


def test_ogc_named_output_by_value_when_asked_and_small(app_factory, tmp_path: Path) -> None:
    client = app_factory(data_dir=tmp_path / "default").test_client()
    _, document = document_of(client, "points-geojson", POINTS,
                              {"points": {"transmissionMode": "value"}})
    assert set(document) == {"points"}
    assert document["points"]["mediaType"] == "application/geo+json"
    assert len(document["points"]["value"]["features"]) == 4
    small = app_factory(data_dir=tmp_path / "small", max_value_bytes=100).test_client()
    job_id, document = document_of(small, "points-geojson", POINTS,
                                   {"points": {"transmissionMode": "value"}})
    assert document["points"]["href"].endswith(f"/jobs/{job_id}/results/points")  # too big


def test_ogc_globs_several_files_one_file_none_and_hostile_names(app_factory,
                                                                  files_dir: Path) -> None:
    client = app_factory(methods=files_dir).test_client()
    job_id, document = document_of(client, "files-out", {})
    assert set(document) == {"tiles", "table", "weird", "output"}  # nothing matched no file
    assert document["tiles"]["type"] == "application/zip"
    tiles = client.get(f"/jobs/{job_id}/results/tiles")
    assert tiles.status_code == 200 and tiles.mimetype == "application/zip"
    members = zipfile.ZipFile(io.BytesIO(tiles.data))
    assert {name: members.read(name) for name in members.namelist()} == {
        "tiles/a.tif": b"II*\x00one", "tiles/b.tif": b"II*\x00two"}  # as under /ccp_data
    table = client.get(f"/jobs/{job_id}/results/table")
    assert table.mimetype == "text/csv" and table.data == b"name,n\nada,1\n"

    missing = client.get(f"/jobs/{job_id}/results/nothing")
    assert missing.status_code == 404 and "not made" in missing.get_json()["detail"]
    assert "named output 'nothing' matched no file" in client.get(f"/jobs/{job_id}/logs").text
    assert client.get(f"/jobs/{job_id}/results/nope").status_code == 404

    weird = client.get(f"/jobs/{job_id}/results/weird")
    assert weird.status_code == 200 and weird.data == b"x"
    assert "X-Injected" not in weird.headers
    assert weird.headers["Content-Disposition"] == 'attachment; filename="a_b__X-Injected__1"'


def test_ogc_output_selection_and_its_errors(client) -> None:
    _, document = document_of(client, "hello-world", {"name": "Sel"}, {"stdout": {}})
    assert set(document) == {"stdout"}
    _, document = document_of(client, "hello-world", {"name": "Sel"},
                              {"greeting": {"transmissionMode": "value",
                                            "format": {"mediaType": "text/plain"}},
                               "stdout": {"transmissionMode": "reference"}})
    assert document["greeting"] == {"value": "Hello, Sel!\n", "mediaType": "text/plain"}
    assert document["stdout"]["href"].endswith("/results/stdout")
    before = client.get("/jobs").get_json()["numberMatched"]
    for wrong, words in [
        ({"greetings": {}}, ["unknown output", "greetings", "greeting, output, stdout"]),
        ({"greeting": {"transmissionMode": "inline"}}, ["transmissionMode"]),
        ({"greeting": {"format": {"mediaType": "application/pdf"}}}, ["text/plain", "pdf"]),
        ({"greeting": "value"}, ["must be an object"]),
        (["greeting"], ["'outputs' must be an object"]),
    ]:
        response = client.post("/processes/hello-world/execution",
                               json={"inputs": {}, "outputs": wrong})
        assert response.status_code == 400, wrong
        problem = response.get_json()
        assert problem["type"].endswith("/invalid-parameter-value")
        assert all(word in problem["detail"] for word in words), problem
    assert client.get("/jobs").get_json()["numberMatched"] == before  # refused: no job


def test_ogc_results_of_an_async_job_follow_its_request(client) -> None:
    response = client.post("/processes/hello-world/execution", json={
        "inputs": {"name": "Later"}, "response": "raw", "outputs": {"greeting": {}}},
        headers={"Prefer": "respond-async"})
    job_id = response.get_json()["jobID"]
    assert wait_final(client, job_id)["status"] == "successful"
    raw = client.get(f"/jobs/{job_id}/results")
    assert raw.mimetype == "text/plain" and raw.data == b"Hello, Later!\n"
    # a job left without `response` gets CCP's default: the document
    job_id = submit(client, "hello-world", {"name": "Doc"})
    assert wait_final(client, job_id)["status"] == "successful"
    assert client.get(f"/jobs/{job_id}/results").get_json()["stdout"]["value"].startswith(
        "Hello, Doc!")


def test_ogc_named_outputs_survive_export_and_import(app_factory, tmp_path: Path) -> None:
    source = app_factory(data_dir=tmp_path / "source").test_client()
    job_id, _ = document_of(source, "points-geojson", POINTS)
    exported = source.get(f"/jobs/{job_id}/archive").data
    target = app_factory(data_dir=tmp_path / "target").test_client()
    imported = target.post("/jobs/import", data=exported, content_type="application/zip")
    assert imported.status_code == 201
    served = target.get(f"/jobs/{imported.get_json()['jobID']}/results/points")
    assert served.status_code == 200 and served.mimetype == "application/geo+json"
    assert served.data == source.get(f"/jobs/{job_id}/results/points").data


@pytest.mark.parametrize("output, words", [
    ({"path": "/etc/passwd", "schema": {}}, ["relative to /ccp_data"]),
    ({"path": "../up.txt", "schema": {}}, ["without '..'"]),
    ({"path": "", "schema": {}}, ["non-empty"]),
    ({"path": "a\\b", "schema": {}}, ["backslashes"]),
    ({"path": "a.txt", "schema": {"contentMediaType": "text/plain\r\nX: y"}}, ["media type"]),
    ({"path": 7, "schema": {}}, ["non-empty string"]),
])
def test_ogc_named_output_declarations_are_checked(output: dict, words: list[str]) -> None:
    method = json.loads(json.dumps(HELLO))
    method["outputs"]["bad"] = output
    method["outputs"]["stdout"]["path"] = "stdout.txt"
    with pytest.raises(DescriptorError) as caught:
        Method.from_dict(method)
    text = "; ".join(caught.value.problems)
    assert "output 'stdout' is built in" in text
    assert all(word in text for word in words), text


def test_ogc_glob_matches_each_replicas_files(tmp_path: Path) -> None:
    fetched, archive_dir = tmp_path / "fetched", tmp_path / "archive"
    for replica in (1, 2):
        (fetched / f"replica-{replica}" / "out").mkdir(parents=True)
        (fetched / f"replica-{replica}" / "out" / "part.csv").write_text(f"r{replica}\n")
    (fetched / "replica-1" / "skip.txt").write_text("no")
    (fetched / "replica-1" / "link.csv").symlink_to("/etc/passwd")
    method = {"outputs": {"parts": {"path": "out/*.csv", "schema": {}},
                          "everywhere": {"path": "*.csv", "schema": {}}}}
    kept, missing = outputs.collect(method, fetched, archive_dir, replicas=2)
    assert [(k["output"], k["name"]) for k in kept] == [
        ("parts", "replica-1/out/part.csv"), ("parts", "replica-2/out/part.csv"),
        ("everywhere", "replica-1/out/part.csv"), ("everywhere", "replica-2/out/part.csv")]
    assert missing == []
    assert (archive_dir / "outputs/named/parts/replica-2/out/part.csv").read_text() == "r2\n"
    assert not any(path.name == "link.csv" for path in archive_dir.rglob("*"))


@pytest.mark.s3
@pytest.mark.parametrize("redirect", [False, True])
def test_ogc_named_outputs_from_an_s3_store(app_factory, s3_storage_config, files_dir: Path,
                                            redirect: bool) -> None:
    config = s3_storage_config(redirect="true" if redirect else "false")
    client = app_factory(methods=files_dir, storage=config).test_client()
    job_id, document = document_of(client, "files-out", {},
                                   {"table": {"transmissionMode": "value"}, "tiles": {}})
    assert document["table"] == {"value": "name,n\nada,1\n", "mediaType": "text/csv"}
    table = client.get(f"/jobs/{job_id}/results/table")
    if redirect:  # a presigned URL of the store, fetched for real
        assert table.status_code == 302
        assert requests.get(table.headers["Location"], timeout=10).content == b"name,n\nada,1\n"
    else:
        assert table.status_code == 200 and table.data == b"name,n\nada,1\n"
    tiles = zipfile.ZipFile(io.BytesIO(client.get(f"/jobs/{job_id}/results/tiles").data))
    assert sorted(tiles.namelist()) == ["tiles/a.tif", "tiles/b.tif"]
