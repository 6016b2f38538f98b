"""Caching identical executions (ccp/cache.py): a deterministic Method run again on the same
inputs and image completes at once from the earlier archive, as a new job whose PROV says
where its outputs came from; never across owners, never for a changed Method, another
image or a request that refuses it. Real runtimes, storage and databases; nothing mocked.
"""

from __future__ import annotations

import copy
import io
import json
import time
import uuid
import zipfile
from pathlib import Path
from typing import Any

import docker
import pytest
import requests
from conftest import REPO, wait_final
from engines import ENGINE, IMAGE, write_descriptors
from test_auth import ISSUER, SECRET, token
from test_auth import run as run_as

from ccp.model import DescriptorError, Method

HELLO = json.loads((REPO / "methods" / "hello-world.json").read_text())
ASYNC = {"Prefer": "respond-async"}


def deterministic(method_id: str = "hello-cached", greeting: str = "Hello",
                  infrastructure: str = "local", image: str | None = None,
                  **extra: Any) -> dict:
    method = copy.deepcopy(HELLO)
    method.update(id=method_id, title=method_id, deterministic=True, **extra)
    method["additionalParameters"]["parameters"] = [
        {"name": "execute-script", "value": [
            f"printf '{greeting}, %s!\\n' {{{{ name }}}} > /ccp_data/hello.txt",
            "cat /ccp_data/hello.txt"]}]
    method["links"] = [{"rel": "compatibleWith", "href": f"infrastructures/{infrastructure}"}]
    if image:
        method["inputs"]["ccpimage"]["schema"]["default"] = image
    return method


def methods_with(directory: Path, *methods: dict) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for method in methods:
        (directory / f"{method['id']}.json").write_text(json.dumps(method))
    return directory


@pytest.fixture
def client(app_factory: Any, tmp_path: Path) -> Any:
    failing = deterministic("fails-cached")
    failing["additionalParameters"]["parameters"][0]["value"].append("exit 3")
    methods = methods_with(tmp_path / "methods", deterministic(), failing,
                           {**deterministic("hello-not-cached"), "deterministic": False})
    return app_factory(methods=methods).test_client()


def run(client: Any, process: str = "hello-cached", inputs: dict | None = None,
        headers: dict | None = None, **request: Any) -> dict:
    response = client.post(f"/processes/{process}/execution",
                           json={"inputs": inputs or {"name": "Ada"}, **request},
                           headers={**ASYNC, **(headers or {})})
    assert response.status_code == 201, response.get_json()
    job_id = response.get_json()["jobID"]
    deadline = time.monotonic() + 60
    while True:
        status = client.get(f"/jobs/{job_id}", headers=headers).get_json()
        if status["status"] not in ("accepted", "running"):
            return status
        assert time.monotonic() < deadline, status
        time.sleep(0.05)


def archive(client: Any, job_id: str, headers: dict | None = None) -> zipfile.ZipFile:
    response = client.get(f"/jobs/{job_id}/archive", headers=headers)
    assert response.status_code == 200
    return zipfile.ZipFile(io.BytesIO(response.data))


def outputs(client: Any, job_id: str, headers: dict | None = None) -> bytes:
    return archive(client, job_id, headers).read("outputs/output.zip")


def test_cache_hit_completes_at_once_from_the_earlier_archive(client: Any) -> None:
    first = run(client)
    assert first["status"] == "successful" and "cacheHit" not in first
    response = client.post("/processes/hello-cached/execution",
                           json={"inputs": {"name": "Ada"}}, headers=ASYNC)
    assert response.status_code == 201
    hit = response.get_json()  # the answer to the POST: already final
    assert hit["status"] == "successful", hit
    assert hit["cacheHit"]["jobID"] == first["jobID"]
    assert hit["cacheHit"]["href"].endswith(f"/jobs/{first['jobID']}")
    assert first["jobID"] in hit["message"] and "cache" in hit["message"]
    assert hit["jobID"] != first["jobID"]

    assert outputs(client, hit["jobID"]) == outputs(client, first["jobID"])
    results = client.get(f"/jobs/{hit['jobID']}/results").get_json()
    assert results["stdout"]["value"] == "Hello, Ada!\n"
    record = archive(client, hit["jobID"])
    instance = json.loads(record.read("metadata/instance.json"))
    assert instance["launched"] is False and instance["cacheHit"]["jobID"] == first["jobID"]
    status = json.loads(record.read("metadata/status.json"))
    assert (status["jobID"], status["cacheOf"]) == (hit["jobID"], first["jobID"])
    assert "no runtime was launched" in record.read("logs/execution.log").decode()
    prov = json.loads(record.read("metadata/provenance.json"))
    activity = prov["activity"][f"job:{hit['jobID']}"]
    assert activity["ccp:cacheHit"] is True
    derivations = [record for value in prov["wasDerivedFrom"].values()
                   for record in (value if isinstance(value, list) else [value])]
    assert [(d["prov:generatedEntity"], d["prov:usedEntity"]) for d in derivations] == [
        (f"job:{hit['jobID']}/outputs/hello.txt", f"job:{first['jobID']}/outputs/hello.txt")]
    informed = {(i["prov:informed"], i["prov:informant"])
                for value in prov["wasInformedBy"].values()
                for i in (value if isinstance(value, list) else [value])}
    assert (f"job:{hit['jobID']}", f"job:{first['jobID']}") in informed
    # the earlier run says nothing of being a cache hit
    first_prov = json.loads(archive(client, first["jobID"]).read("metadata/provenance.json"))
    assert first_prov["activity"][f"job:{first['jobID']}"]["ccp:cacheHit"] is False


def test_cache_hit_answers_a_synchronous_request_with_the_results_at_once(client: Any) -> None:
    first = run(client)
    response = client.post("/processes/hello-cached/execution",
                           json={"inputs": {"name": "Ada"}})  # no Prefer: held until done
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    assert response.get_json()["stdout"]["value"] == "Hello, Ada!\n"
    jobs = client.get("/jobs?processID=hello-cached&limit=10").get_json()["jobs"]
    assert [job["cacheHit"]["jobID"] for job in jobs if "cacheHit" in job] == [first["jobID"]]


def test_cache_hit_refused_by_the_request_runs_again(client: Any) -> None:
    first = run(client)
    again = run(client, cache=False)
    assert again["status"] == "successful" and "cacheHit" not in again
    log = archive(client, again["jobID"]).read("logs/execution.log").decode()
    assert "[Execute]" in log and "cache" not in log.lower()
    assert run(client)["cacheHit"]["jobID"] in (first["jobID"], again["jobID"])
    bad = client.post("/processes/hello-cached/execution",
                      json={"inputs": {"name": "Ada"}, "cache": "no"}, headers=ASYNC)
    assert bad.status_code == 400 and "'cache'" in bad.get_json()["detail"]


def test_cache_hit_needs_a_deterministic_method_the_same_inputs_and_a_success(
        client: Any) -> None:
    run(client, "hello-not-cached")
    assert "cacheHit" not in run(client, "hello-not-cached")
    first = run(client, inputs={"name": "Ada"})
    assert "cacheHit" not in run(client, inputs={"name": "Bob"})
    # how long it may run changes nothing it makes: still a hit
    assert run(client, inputs={"name": "Ada", "ccpmaxtime": 99})["cacheHit"]["jobID"] == \
        first["jobID"]
    failed = run(client, "fails-cached")
    assert failed["status"] == "failed"
    again = run(client, "fails-cached")
    assert again["status"] == "failed" and "cacheHit" not in again


def test_cache_hit_never_for_a_changed_method(client: Any) -> None:
    assert client.post("/processes", json=deterministic("greeter")).status_code == 201
    first = run(client, "greeter")
    assert run(client, "greeter")["cacheHit"]["jobID"] == first["jobID"]
    changed = deterministic("greeter", greeting="Howdy", version="1.0.1")
    assert client.put("/processes/greeter", json=changed).status_code == 204
    after = run(client, "greeter")
    assert "cacheHit" not in after
    assert zipfile.ZipFile(io.BytesIO(outputs(client, after["jobID"]))).read(
        "hello.txt") == b"Howdy, Ada!\n"


def test_cache_hit_never_on_reexecute_and_outputs_outlive_the_earlier_job(client: Any) -> None:
    first = run(client)
    hit = run(client)
    assert hit["cacheHit"]["jobID"] == first["jobID"]
    response = client.post(f"/jobs/{first['jobID']}/reexecute")
    assert response.status_code == 201, response.get_json()
    rerun = response.get_json()["jobID"]
    rerun_status = wait_final(client, rerun, 60)
    assert rerun_status["status"] == "successful" and "cacheHit" not in rerun_status
    kept = outputs(client, hit["jobID"])
    assert client.delete(f"/jobs/{first['jobID']}").status_code == 200
    assert outputs(client, hit["jobID"]) == kept  # a copy, not a link to the deleted one
    assert run(client)["cacheHit"]["jobID"] == rerun  # the newest identical run now


def test_cache_hit_only_from_what_the_requester_may_see(app_factory: Any, tmp_path: Path,
                                                        monkeypatch: Any) -> None:
    monkeypatch.setenv("CCP_JWT_SECRET", SECRET)
    app = app_factory(methods=methods_with(tmp_path / "methods", deterministic()),
                      auth={"enabled": True, "algorithm": "HS256", "issuer": ISSUER,
                            "audience": "ccp"})
    client = app.test_client()
    ann, bob, admin = token("ann"), token("bob"), token("root", roles=["admin"])
    ann_job = run_as(client, ann, "hello-cached", {"name": "Ada"})
    bob_first = run(client, headers=bob)
    assert "cacheHit" not in bob_first, "bob was served ann's execution"
    assert run(client, headers=bob)["cacheHit"]["jobID"] == bob_first["jobID"]
    ann_hit = run(client, headers=ann)
    assert ann_hit["cacheHit"]["jobID"] == ann_job
    admin_hit = run(client, headers=admin)
    assert admin_hit["cacheHit"]["jobID"] in (ann_job, bob_first["jobID"])
    assert client.get(f"/jobs/{admin_hit['jobID']}", headers=bob).status_code == 404
    claims = json.loads(archive(client, ann_hit["jobID"], ann).read("auth/jwt.json"))
    assert claims["sub"] == "ann"


def test_cache_hit_the_deterministic_member_is_a_boolean() -> None:
    assert Method.from_dict(deterministic()).deterministic is True
    assert Method.from_dict(HELLO).deterministic is False
    with pytest.raises(DescriptorError, match="'deterministic' must be true"):
        Method.from_dict({**deterministic(), "deterministic": "yes"})
    assert Method.from_dict(deterministic()).digest != Method.from_dict(
        {**deterministic(), "deterministic": False}).digest


@pytest.mark.docker
def test_cache_hit_on_docker_needs_the_same_image(app_factory: Any, tmp_path: Path) -> None:
    engine = docker.DockerClient(base_url=ENGINE)
    tag = f"ccp/cache-test:{uuid.uuid4().hex[:12]}"
    engine.images.get(IMAGE).tag(tag)
    methods, infrastructures = write_descriptors(tmp_path / "descriptors", [], ["docker.json"],
                                                 [deterministic("hello-docker-cached",
                                                                infrastructure="docker",
                                                                image=tag)])
    client = app_factory(methods=methods, infrastructures=infrastructures).test_client()
    try:
        first = run(client, "hello-docker-cached")
        assert first["status"] == "successful", first["message"]
        assert run(client, "hello-docker-cached")["cacheHit"]["jobID"] == first["jobID"]
        container = engine.containers.create(IMAGE, "true")
        other = container.commit(repository=tag.split(":")[0], tag=tag.split(":")[1])
        container.remove()
        moved = run(client, "hello-docker-cached")
        assert moved["status"] == "successful" and "cacheHit" not in moved
        instance = json.loads(archive(client, moved["jobID"]).read("metadata/instance.json"))
        assert instance["image"]["id"] == other.id
        assert run(client, "hello-docker-cached")["cacheHit"]["jobID"] == moved["jobID"]
    finally:
        engine.images.remove(tag, force=True)  # and the image committed under it


@pytest.mark.s3
def test_cache_hit_on_s3_copies_inside_the_store(app_factory: Any, tmp_path: Path,
                                                 s3_storage_config: Any) -> None:
    client = app_factory(methods=methods_with(tmp_path / "methods", deterministic()),
                         storage=s3_storage_config()).test_client()
    first = run(client)
    hit = run(client)
    assert hit["cacheHit"]["jobID"] == first["jobID"]
    assert outputs(client, hit["jobID"]) == outputs(client, first["jobID"])
    assert client.get(f"/jobs/{hit['jobID']}/results").get_json()["stdout"]["value"] == \
        "Hello, Ada!\n"


@pytest.mark.postgres
def test_cache_hit_lookup_on_postgresql(app_factory: Any, tmp_path: Path,
                                        fresh_postgres_url: str) -> None:
    client = app_factory(methods=methods_with(tmp_path / "methods", deterministic()),
                         connection=fresh_postgres_url).test_client()
    first = run(client)
    assert run(client)["cacheHit"]["jobID"] == first["jobID"]
    assert "cacheHit" not in run(client, inputs={"name": "Bob"})


def test_cache_hit_shows_on_the_job_page(tmp_path_factory: Any) -> None:
    from playwright.sync_api import expect, sync_playwright
    from test_web import CHROMIUM, CHROMIUM_ARGS, deploy, start_server, wait_api

    server = start_server(tmp_path_factory.mktemp("web-cache"))
    try:
        deploy(server, deterministic("web-cached"))
        job_ids = []
        for _ in range(2):
            response = requests.post(f"{server.url}/processes/web-cached/execution",
                                     json={"inputs": {"name": "Web"}}, headers=ASYNC,
                                     timeout=10)
            assert response.status_code == 201, response.text
            job_ids.append(wait_api(server, response.json()["jobID"])["jobID"])
        first, hit = job_ids
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.goto(f"{server.url}/ui/executions/{hit}")
            expect(page.locator("#job-status")).to_have_text("successful")
            box = page.locator("#perf-facts .cache-hit")
            expect(box).to_contain_text("Cache hit")
            expect(box.locator("a")).to_have_text(first)
            page.goto(f"{server.url}/ui/executions/{first}")
            expect(page.locator("#job-status")).to_have_text("successful")
            expect(page.locator("#perf-facts .cache-hit")).to_have_count(0)
            page.goto(f"{server.url}/ui/executions")  # the list says it too
            row = page.locator(f"tr.job-row[data-job='{hit}']")
            expect(row.locator(".cache-hit a")).to_have_attribute("title", first)
            expect(page.locator(f"tr.job-row[data-job='{first}'] .cache-hit")).to_have_count(0)
            browser.close()
            assert errors == []
    finally:
        server.stop()
