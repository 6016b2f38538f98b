"""Workbench: deploy/replace/undeploy Methods (Part 2), import and re-execute Executions."""

from __future__ import annotations

import copy
import io
import json
import zipfile

import pytest
from conftest import REPO, submit, wait_final
from test_api import assert_ogc_exception

HELLO = json.loads((REPO / "methods" / "hello-world.json").read_text())


def new_method(method_id: str = "greeter", version: str = "1.0.0", greeting: str = "Hi",
               infrastructure: str = "local") -> dict:
    method = copy.deepcopy(HELLO)
    method.update(id=method_id, version=version, title=f"Greeter {version}")
    method["links"] = [{"rel": "compatibleWith", "href": f"infrastructures/{infrastructure}"}]
    method["additionalParameters"]["parameters"] = [{"name": "execute-script", "value": [
        f"printf '{greeting}, %s!\\n' {{{{ name }}}} > /ccp_data/greeting.txt"]}]
    return method


def output_text(client, job_id: str, name: str) -> bytes:
    outputs = zipfile.ZipFile(io.BytesIO(client.get(f"/jobs/{job_id}/outputs/output.zip").data))
    return outputs.read(name)


def test_deploy_execute_replace_undeploy(client) -> None:
    response = client.post("/processes", json=new_method())
    assert response.status_code == 201, response.get_json()
    assert response.headers["Location"].endswith("/processes/greeter")
    assert "greeter" in {p["id"] for p in client.get("/processes").get_json()["processes"]}
    first = submit(client, "greeter", {"name": "v1"})
    assert wait_final(client, first)["status"] == "successful"
    assert output_text(client, first, "greeting.txt") == b"Hi, v1!\n"

    replaced = client.put("/processes/greeter", json=new_method(version="2.0.0", greeting="Yo"))
    assert replaced.status_code == 204, replaced.get_json()
    assert client.get("/processes/greeter").get_json()["version"] == "2.0.0"
    versions = client.get("/processes/greeter/versions").get_json()["versions"]
    assert [v["version"] for v in versions] == ["1.0.0", "2.0.0"]
    old = client.get("/processes/greeter/versions/1.0.0").get_json()
    assert old["title"] == "Greeter 1.0.0"

    same = client.post(f"/jobs/{first}/reexecute")
    assert same.status_code == 201
    again = wait_final(client, same.get_json()["jobID"])
    assert again["processVersion"] == "1.0.0"
    assert output_text(client, again["jobID"], "greeting.txt") == b"Hi, v1!\n"
    latest = client.post(f"/jobs/{first}/reexecute?method=latest").get_json()["jobID"]
    assert wait_final(client, latest)["processVersion"] == "2.0.0"
    assert output_text(client, latest, "greeting.txt") == b"Yo, v1!\n"

    assert client.delete("/processes/greeter").status_code == 204
    assert client.get("/processes/greeter").status_code == 404
    assert_ogc_exception(client.post("/processes/greeter/execution", json={}), 404, "greeter")
    # the archive still holds the exact method that ran
    archive = zipfile.ZipFile(io.BytesIO(client.get(f"/jobs/{first}/archive").data))
    assert json.loads(archive.read("metadata/method.json"))["version"] == "1.0.0"


def test_ogc_application_package_is_accepted(client) -> None:
    package = {"processDescription": {"process": new_method("packaged")},
               "executionUnit": [{"type": "ccp"}]}
    response = client.post("/processes", json=package,
                           headers={"Content-Type": "application/ogcapppkg+json"})
    assert response.status_code == 201, response.get_json()


def test_exported_file_imports_as_a_clone(client) -> None:
    exported = client.get("/processes/hello-world?f=json").get_json()
    exported["id"] = "hello-clone"
    assert client.post("/processes", json=exported).status_code == 201
    clone = client.get("/processes/hello-clone").get_json()
    assert clone["inputs"]["name"] == HELLO["inputs"]["name"]
    assert sum(1 for link in clone["links"] if link["rel"] == "self") == 1
    # Stored as deployed, without the links the server adds and naming no server.
    stored = client.get(f"/processes/hello-clone/versions/{HELLO['version']}").get_json()
    assert [(link["rel"], link["href"]) for link in stored["links"]] == [
        (link["rel"], link["href"]) for link in HELLO["links"]]


def mutate(change) -> dict:
    method = new_method("broken")
    change(method)
    return method


@pytest.mark.parametrize("method, words", [
    (mutate(lambda m: m["inputs"].pop("ccpimage")), ["ccpimage"]),
    (mutate(lambda m: m.update(links=[{"rel": "compatibleWith",
                                       "href": "infrastructures/mars"}])),
     ["unknown infrastructure 'mars'"]),
    (mutate(lambda m: m["additionalParameters"]["parameters"][0].update(
        value=["echo {% if %}"])), ["execute-script", "template"]),
    (mutate(lambda m: m.pop("version")), ["'version'"]),
    ({"not": "a method"}, ["'id'", "'inputs'"]),
])
def test_each_deploy_validation_error_is_named(client, method, words) -> None:
    body = assert_ogc_exception(client.post("/processes", json=method), 400, *words)
    assert body["title"] == "Invalid method" and body["problems"]


def test_duplicate_and_read_only(client) -> None:
    assert client.post("/processes", json=new_method("dup")).status_code == 201
    assert_ogc_exception(client.post("/processes", json=new_method("dup")), 409, "dup")
    assert_ogc_exception(client.post("/processes", json=new_method("hello-world")), 403,
                         "read-only")
    assert_ogc_exception(client.put("/processes/hello-world", json=HELLO), 403, "read-only")
    assert_ogc_exception(client.delete("/processes/hello-world"), 403, "read-only")
    changed = new_method("dup", greeting="Other")
    assert_ogc_exception(client.put("/processes/dup", json=changed), 409, "new version")
    assert_ogc_exception(client.put("/processes/dup", json=new_method("other-id")), 400, "differs")
    assert_ogc_exception(client.delete("/processes/nope"), 404)


def test_conformance_declares_part_2(client) -> None:
    classes = client.get("/conformance").get_json()["conformsTo"]
    assert any("ogcapi-processes-2/1.0/conf/deploy-replace-undeploy" in c for c in classes)


def test_export_import_round_trip(app_factory, tmp_path) -> None:
    source = app_factory(data_dir=tmp_path / "a").test_client()
    job_id = submit(source, "hello-world", {"name": "traveller"})
    wait_final(source, job_id)
    exported = source.get(f"/jobs/{job_id}/archive").data

    target = app_factory(data_dir=tmp_path / "b").test_client()
    response = target.post("/jobs/import", data=exported, content_type="application/zip")
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["jobID"] == job_id
    job = target.get(f"/jobs/{job_id}").get_json()
    assert job["status"] == "successful" and job["message"].startswith("Imported")
    assert target.get(f"/jobs/{job_id}/results").get_json()["stdout"]["value"].startswith(
        "Hello, traveller!")
    assert target.get(f"/jobs/{job_id}/provenance?f=provn").status_code == 200
    assert output_text(target, job_id, "hello.txt") == b"Hello, traveller!\n"
    # Importing it again gives a new job: a taken id is never reported (it may be another
    # user's), and nothing already stored is overwritten.
    again = target.post("/jobs/import", data=exported, content_type="application/zip")
    assert again.status_code == 201 and again.get_json()["jobID"] != job_id
    assert target.get(f"/jobs/{job_id}").get_json()["status"] == "successful"

    rerun = target.post(f"/jobs/{job_id}/reexecute").get_json()["jobID"]
    assert wait_final(target, rerun)["status"] == "successful"
    assert output_text(target, rerun, "hello.txt") == output_text(target, job_id, "hello.txt")
    provn = target.get(f"/jobs/{rerun}/provenance?f=provn").data.decode()
    assert f"wasInformedBy(job:{rerun}, job:{job_id}" in provn
    assert "wasDerivedFrom" in provn
    multipart = target.post("/jobs/import", data={"file": (io.BytesIO(exported), "a.zip")},
                            content_type="multipart/form-data")
    # the same job again, now as a form upload: a new job of its own
    assert multipart.status_code == 201 and multipart.get_json()["jobID"] not in (
        job_id, again.get_json()["jobID"])


def evil_zip(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in entries.items():
            archive.writestr(zipfile.ZipInfo(name), data)
    return buffer.getvalue()


GOOD = {
    "metadata/request.json": b"{}",
    "metadata/method.json": json.dumps(HELLO).encode(),
    "metadata/infrastructure.json": (REPO / "infrastructures" / "local.json").read_bytes(),
    "metadata/status.json": json.dumps({"status": "successful", "jobID": "0123456789ab"}).encode(),
}


@pytest.mark.parametrize("extra, words", [
    ({"../../escape.txt": b"x"}, ["'..'"]),
    ({"metadata/../../escape.txt": b"x"}, ["'..'"]),
    ({"/etc/passwd": b"x"}, ["absolute"]),
    ({"outputs\\..\\x": b"x"}, ["invalid"]),
    ({"elsewhere/file": b"x"}, ["only"]),
])
def test_zip_slip_and_strange_paths_are_rejected(client, extra, words, tmp_path) -> None:
    body = evil_zip({**GOOD, **extra})
    assert_ogc_exception(client.post("/jobs/import", data=body,
                                     content_type="application/zip"), 400, *words)
    assert not (tmp_path / "escape.txt").exists()
    assert client.get("/jobs").get_json()["numberMatched"] == 0


def test_invalid_archives_are_rejected(client) -> None:
    assert_ogc_exception(client.post("/jobs/import", data=b"not a zip",
                                     content_type="application/zip"), 400, "not a zip")
    missing = {k: v for k, v in GOOD.items() if k != "metadata/method.json"}
    assert_ogc_exception(client.post("/jobs/import", data=evil_zip(missing),
                                     content_type="application/zip"), 400, "method.json")
    bad_status = {**GOOD, "metadata/status.json": b'{"status": "running"}'}
    assert_ogc_exception(client.post("/jobs/import", data=evil_zip(bad_status),
                                     content_type="application/zip"), 400, "final")
    bad_method = {**GOOD, "metadata/method.json": b'{"id": "x"}'}
    assert_ogc_exception(client.post("/jobs/import", data=evil_zip(bad_method),
                                     content_type="application/zip"), 400, "method.json")
    assert_ogc_exception(client.post("/jobs/import"), 400)


def test_zip_bomb_is_rejected(app_factory) -> None:
    client = app_factory(max_import_bytes=1024 * 1024).test_client()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in GOOD.items():
            archive.writestr(name, data)
        archive.writestr("outputs/output.zip", b"\0" * (8 * 1024 * 1024))
    assert len(buffer.getvalue()) < 100_000
    assert_ogc_exception(client.post("/jobs/import", data=buffer.getvalue(),
                                     content_type="application/zip"), 400, "expands")
