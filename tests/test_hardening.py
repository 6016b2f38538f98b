"""Attacks by a logged-in plain user against a real server with auth on, each refused.

Every test here is one thing a hostile user tried (issue 12), sent over a real socket to
`ccp serve` with `CCP_AUTH=true`: a Method on the host, template bombs, numbers that are not
numbers, other users' private Methods and job ids, edited archives, broken zips, and more
than a fair share of the server. Each must end in a 4xx OGC exception (or a failed job),
never in a 500, and leave the stored Executions as they were.
"""

from __future__ import annotations

import copy
import io
import json
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
import rdflib
import requests
from conftest import REPO, ServerProcess

SECRET = "hardening-test-secret-0123456789abcdef0123456789"
HELLO = json.loads((REPO / "methods" / "hello-world.json").read_text())


def bearer(sub: str, *roles: str) -> dict[str, str]:
    claims = {"sub": sub, "exp": int(time.time()) + 3600, "roles": list(roles)}
    return {"Authorization": f"Bearer {jwt.encode(claims, SECRET, algorithm='HS256')}"}


ANN, BOB, ADMIN = bearer("ann"), bearer("bob"), bearer("root", "admin")


class Client:
    """requests against one server, as one user."""

    def __init__(self, server: ServerProcess, headers: dict[str, str]) -> None:
        self.url = server.url
        self.headers = headers

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return requests.get(self.url + path, headers=self.headers, timeout=30, **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        return requests.post(self.url + path, headers={**self.headers,
                                                       **kwargs.pop("headers", {})},
                             timeout=60, **kwargs)

    def delete(self, path: str) -> requests.Response:
        return requests.delete(self.url + path, headers=self.headers, timeout=60)

    def run(self, process: str, inputs: dict[str, Any] | None = None) -> str:
        response = self.post(f"/processes/{process}/execution", json={"inputs": inputs or {}},
                             headers={"Prefer": "respond-async"})
        assert response.status_code == 201, response.text
        return response.json()["jobID"]

    def wait(self, job_id: str, timeout: float = 60) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            job = self.get(f"/jobs/{job_id}").json()
            if job["status"] in ("successful", "failed", "dismissed"):
                return job
            time.sleep(0.1)
        raise AssertionError(f"job {job_id} did not finish: {job}")


def refused(response: requests.Response, status: int, *words: str) -> dict[str, Any]:
    """An OGC exception with this status whose detail names every word."""
    assert response.status_code == status, (response.status_code, response.text[:500])
    body = response.json()
    assert {"type", "title", "status", "detail"} <= set(body), body
    assert body["status"] == status
    for word in words:
        assert word.lower() in body["detail"].lower(), body
    return body


def method(method_id: str, *script: str, infrastructure: str = "docker",
           **inputs: dict[str, Any]) -> dict[str, Any]:
    document = copy.deepcopy(HELLO)
    document.update(id=method_id, title=method_id)
    document["inputs"].update(inputs)
    document["links"] = [{"rel": "compatibleWith", "href": f"infrastructures/{infrastructure}"}]
    document["additionalParameters"]["parameters"] = [
        {"name": "execute-script", "value": list(script) or ["echo hi"]}]
    return document


def start(tmp_path: Path, name: str, **env: str) -> Iterator[ServerProcess]:
    server = ServerProcess(tmp_path / name, CCP_AUTH="true", CCP_JWT_SECRET=SECRET,
                           **env).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    yield from start(tmp_path_factory.mktemp("hardening"), "data")


@pytest.fixture(scope="module")
def tight(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """One worker and small per-user limits."""
    yield from start(tmp_path_factory.mktemp("tight"), "data", CCP_CONCURRENCY="1",
                     CCP_USER_MAX_ACTIVE="3", CCP_USER_MAX_IMPORT_BYTES="3000",
                     CCP_USER_MAX_METHOD_VERSIONS="2", CCP_DEPLOY_ROLES="user,admin")


def job_count(server: ServerProcess) -> int:
    return Client(server, ADMIN).get("/jobs?limit=1").json()["numberMatched"]


def rss_kib(server: ServerProcess, key: str = "VmRSS") -> int:
    """Resident (VmRSS) or peak resident (VmHWM) memory of the server, in KiB."""
    assert server.process is not None
    for line in Path(f"/proc/{server.process.pid}/status").read_text().splitlines():
        if line.startswith(f"{key}:"):
            return int(line.split()[1])
    raise AssertionError(f"no {key}")


# --- 1. the host: deploy policy ------------------------------------------------------------

def test_attack_plain_user_cannot_deploy_on_local(server: ServerProcess) -> None:
    steal = method("steal-secret", "cat /proc/$PPID/environ > /ccp_data/env",
                   infrastructure="local")
    body = refused(Client(server, ANN).post("/processes", json=steal), 403, "local", "docker")
    assert body["type"].endswith("deploy-policy")
    refused(Client(server, ANN).get("/processes/steal-secret"), 404)
    # an admin may: the policy is per role, and admins are trusted with the host
    assert Client(server, ADMIN).post("/processes", json=steal).status_code == 201
    assert Client(server, ADMIN).delete("/processes/steal-secret").status_code == 204


def test_attack_plain_user_cannot_rerun_an_edited_archive_on_local(
        server: ServerProcess) -> None:
    ann = Client(server, ANN)
    job_id = ann.run("hello-world", {"name": "Ann"})
    assert ann.wait(job_id)["status"] == "successful"
    edited = edit_archive(ann.get(f"/jobs/{job_id}/archive").content,
                          ["cat /proc/$PPID/environ > /ccp_data/env"])
    imported = ann.post("/jobs/import", data=edited,
                        headers={"Content-Type": "application/zip"})
    assert imported.status_code == 201, imported.text
    assert imported.json()["method"]["source"] == "archive"
    before = job_count(server)
    refused(ann.post(f"/jobs/{imported.json()['jobID']}/reexecute"), 403, "local")
    assert job_count(server) == before


def test_attack_deploy_roles_are_configurable(tmp_path: Path) -> None:
    for admins_only in start(tmp_path, "admins-only", CCP_DEPLOY_ROLES="admin"):
        hello = method("hello-deploy")
        refused(Client(admins_only, ANN).post("/processes", json=hello), 403, "user")
        assert Client(admins_only, ADMIN).post("/processes", json=hello).status_code == 201


# --- 2. template bombs ----------------------------------------------------------------------

@pytest.mark.parametrize("expression", [
    "{{ 'A' * 10**9 }}",
    "{{ ('A' * 100000).replace('A', 'A' * 100000) }}",
    "{{ '{:>999999999}'.format(1) }}",
    "{{ 'A'|center(10**9) }}",
    "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
])
def test_attack_template_bomb_is_refused_at_deploy(server: ServerProcess,
                                                   expression: str) -> None:
    peak = rss_kib(server, "VmHWM")
    bomb = method("bomb", f"echo {expression}")
    body = refused(Client(server, ANN).post("/processes", json=bomb), 400, "rendered safely")
    assert body["type"].endswith("invalid-method")
    # checked without computing it here: not even the compiler's constant folding ran it
    assert rss_kib(server, "VmHWM") - peak < 100 * 1024


def test_attack_template_bomb_through_an_input_fails_only_that_job(
        server: ServerProcess) -> None:
    ann = Client(server, ANN)
    bomb = method("input-bomb", "printf %s {{ 'A' * n }}",
                  n={"schema": {"type": "integer", "default": 1}, "minOccurs": 0})
    assert ann.post("/processes", json=bomb).status_code == 201
    before = rss_kib(server)
    job = ann.wait(ann.run("input-bomb", {"n": 10**9}))
    assert job["status"] == "failed"
    assert "memory" in job["message"] or "limit" in job["message"], job["message"]
    assert rss_kib(server) - before < 100 * 1024  # the server did not hold the gigabyte
    assert ann.get("/processes").status_code == 200


@pytest.mark.parametrize(("script", "reason"), [
    ("echo {{ ''.__class__.__mro__ }}", "private attribute"),
    ("echo {{ cycler.__init__.__globals__ }}", "unknown name"),
    ("{% include '/etc/passwd' %}", "other templates"),
    ("echo {{ name.__class__ }}", "private attribute"),
])
def test_attack_unsafe_template_is_refused_at_deploy(server: ServerProcess, script: str,
                                                     reason: str) -> None:
    refused(Client(server, ANN).post("/processes", json=method("unsafe", script)), 400, reason)


# --- 3, 6, 7. input hygiene ------------------------------------------------------------------

@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_attack_non_finite_numbers_are_refused(server: ServerProcess, number: str) -> None:
    before = job_count(server)
    body = f'{{"inputs": {{"seconds": 1, "ccpmaxtime": {number}}}}}'
    refused(Client(server, ANN).post("/processes/sleep/execution", data=body,
                                     headers={"Content-Type": "application/json"}), 400)
    assert job_count(server) == before


def test_attack_huge_integer_and_deep_nesting_are_refused(server: ServerProcess) -> None:
    ann, before = Client(server, ANN), job_count(server)
    huge = '{"inputs": {"seconds": ' + "9" * 5000 + "}}"
    refused(ann.post("/processes/sleep/execution", data=huge,
                     headers={"Content-Type": "application/json"}), 400, "64 bits")
    deep = '{"inputs": {"name": ' + "[" * 100000 + "]" * 100000 + "}}"
    refused(ann.post("/processes/hello-world/execution", data=deep,
                     headers={"Content-Type": "application/json"}), 400, "nested")
    deep_method = '{"id": "deep", "x": ' + "{\"a\": " * 200 + "1" + "}" * 200 + "}"
    refused(ann.post("/processes", data=deep_method,
                     headers={"Content-Type": "application/json"}), 400, "nested")
    assert job_count(server) == before


def test_attack_nul_in_a_string_input_is_refused(server: ServerProcess) -> None:
    before = job_count(server)
    refused(Client(server, ANN).post("/processes/hello-world/execution",
                                     json={"inputs": {"name": "Ann\u0000; id"}}), 400, "NUL")
    assert job_count(server) == before


def test_attack_nul_and_junk_in_paths_and_queries(server: ServerProcess) -> None:
    ann = Client(server, ANN)
    for path in ("/jobs/%00", "/jobs/a%00b/results", "/processes/%00", "/processes/x%00/versions"):
        refused(ann.get(path), 404)
    refused(ann.get("/jobs?processID=a%00b"), 400)
    refused(ann.get("/jobs?limit=" + "9" * 5000), 400)


def test_attack_version_must_be_a_version(server: ServerProcess) -> None:
    for version in ("1.0<script>", "1 0", "", "x" * 200):
        hostile = {**method("versioned"), "version": version}
        refused(Client(server, ANN).post("/processes", json=hostile), 400, "version")


def test_attack_hostile_strings_keep_provenance_valid_in_every_format(
        server: ServerProcess) -> None:
    admin = Client(server, ADMIN)
    hostile = method("hostile-prov", "echo hi > /ccp_data/a.txt", infrastructure="local")
    hostile["inputs"]["ccpimage"] = {"schema": {"type": "string", "default": "busybox"},
                                     "minOccurs": 0}
    assert admin.post("/processes", json=hostile).status_code == 201
    job_id = admin.run("hostile-prov", {"ccpimage": "evil<image>\"' {x}"})
    assert admin.wait(job_id)["status"] == "successful"
    turtle = admin.get(f"/jobs/{job_id}/provenance?f=ttl")
    assert turtle.status_code == 200, turtle.text
    assert len(rdflib.Graph().parse(data=turtle.text, format="turtle")) > 10
    for fmt in ("xml", "provn", "json"):
        assert admin.get(f"/jobs/{job_id}/provenance?f={fmt}").status_code == 200, fmt


# --- 4. private stays private --------------------------------------------------------------

def test_attack_private_method_versions_and_stubs_stay_private(server: ServerProcess) -> None:
    ann, bob = Client(server, ANN), Client(server, BOB)
    private = method("ann-secret-method", "echo secret-sauce")
    assert ann.post("/processes", json=private).status_code == 201
    for path in ("", "/versions", "/versions/1.0.0", "/code/python", "/code/r"):
        refused(bob.get(f"/processes/ann-secret-method{path}"), 404)
        assert ann.get(f"/processes/ann-secret-method{path}").status_code == 200, path
    assert "secret-sauce" not in bob.get("/processes").text


def test_attack_deploy_conflict_says_nothing_of_a_private_method(server: ServerProcess) -> None:
    ann, bob = Client(server, ANN), Client(server, BOB)
    assert ann.post("/processes", json=method("ann-hidden")).status_code == 201
    assert bob.post("/processes", json=method("bob-own")).status_code == 201
    hidden = refused(bob.post("/processes", json=method("ann-hidden")), 409)
    own = refused(bob.post("/processes", json=method("bob-own")), 409)
    # word for word the answer for an id bob can see: nothing about owner or privacy
    assert hidden["detail"].replace("ann-hidden", "ID") == own["detail"].replace("bob-own", "ID")
    assert hidden["title"] == own["title"] and hidden["type"] == own["type"]


def test_attack_import_reusing_another_users_job_id_reveals_nothing(
        server: ServerProcess) -> None:
    ann, bob = Client(server, ANN), Client(server, BOB)
    job_id = ann.run("hello-world", {"name": "Ann"})
    assert ann.wait(job_id)["status"] == "successful"
    bob_job = bob.run("hello-world", {"name": "Bob"})
    bob.wait(bob_job)
    forged = retag_archive(bob.get(f"/jobs/{bob_job}/archive").content, job_id)
    imported = bob.post("/jobs/import", data=forged, headers={"Content-Type": "application/zip"})
    assert imported.status_code == 201, imported.text
    assert imported.json()["jobID"] != job_id
    assert ann.get(f"/jobs/{job_id}").json()["status"] == "successful"
    assert b"Ann" in zipfile.ZipFile(io.BytesIO(ann.get(f"/jobs/{job_id}/archive").content)
                                     ).read("logs/execution.log")


# --- 5. honest identity of re-executed archives ------------------------------------------

def test_attack_edited_archive_reruns_under_its_own_identity(server: ServerProcess) -> None:
    admin = Client(server, ADMIN)
    job_id = admin.run("hello-world", {"name": "Ada"})
    assert admin.wait(job_id)["status"] == "successful"
    exported = admin.get(f"/jobs/{job_id}/archive").content

    same = admin.post("/jobs/import", data=exported, headers={"Content-Type": "application/zip"})
    assert same.json()["method"]["source"] == "file"  # byte-identical: the server's Method

    edited = edit_archive(exported, ["echo edited > /ccp_data/edited.txt"])
    imported = admin.post("/jobs/import", data=edited, headers={"Content-Type": "application/zip"})
    assert imported.status_code == 201, imported.text
    rerun_id = admin.post(f"/jobs/{imported.json()['jobID']}/reexecute").json()["jobID"]
    rerun = admin.wait(rerun_id)
    assert rerun["status"] == "successful"
    assert rerun["method"]["source"] == "archive"
    assert rerun["method"]["digest"] != same.json()["method"]["digest"]
    provn = admin.get(f"/jobs/{rerun_id}/provenance?f=provn").text
    assert "process:hello-world/versions/1.0.0" not in provn
    assert "method:sha256" in provn and "claims hello-world 1.0.0" in provn
    status = json.loads(zipfile.ZipFile(io.BytesIO(
        admin.get(f"/jobs/{rerun_id}/archive").content)).read("metadata/status.json"))
    assert status["method"]["source"] == "archive"


# --- 6. broken uploads -------------------------------------------------------------------

def test_attack_import_with_a_broken_crc_is_a_400(server: ServerProcess) -> None:
    ann = Client(server, ANN)
    job_id = ann.run("hello-world")
    ann.wait(job_id)
    exported = bytearray(ann.get(f"/jobs/{job_id}/archive").content)
    # flip one byte of the first member's data: its CRC no longer matches
    header = exported.index(b"PK\x03\x04")
    name_length = int.from_bytes(exported[header + 26:header + 28], "little")
    extra_length = int.from_bytes(exported[header + 28:header + 30], "little")
    data_start = header + 30 + name_length + extra_length
    exported[data_start] ^= 0xFF
    before = job_count(server)
    body = refused(ann.post("/jobs/import", data=bytes(exported),
                            headers={"Content-Type": "application/zip"}), 400)
    assert body["type"].endswith("invalid-archive")
    assert job_count(server) == before


# --- per-user limits and fair dispatch ----------------------------------------------------

def test_quota_of_active_executions_answers_429_with_retry_after(tight: ServerProcess) -> None:
    ann, bob = Client(tight, ANN), Client(tight, BOB)
    jobs = [ann.run("sleep", {"seconds": 30}) for _ in range(3)]
    response = ann.post("/processes/sleep/execution", json={"inputs": {"seconds": 1}})
    refused(response, 429, "3 executions")
    assert int(response.headers["Retry-After"]) > 0
    bob_job = bob.run("hello-world")  # a limit per user: bob is not held back
    for job_id in jobs:
        assert ann.delete(f"/jobs/{job_id}").status_code == 200
    assert bob.wait(bob_job)["status"] == "successful"
    ann.wait(ann.run("hello-world"))  # below the limit again


def test_quota_of_import_size_answers_413(tight: ServerProcess) -> None:
    ann = Client(tight, ANN)
    job_id = ann.run("hello-world")
    ann.wait(job_id)
    exported = ann.get(f"/jobs/{job_id}/archive").content
    assert len(exported) > 3000
    refused(ann.post("/jobs/import", data=exported, headers={"Content-Type": "application/zip"}),
            413, "3000")
    assert Client(tight, ADMIN).post("/jobs/import", data=exported, headers={
        "Content-Type": "application/zip"}).status_code == 201  # admins: no such limit


def test_quota_of_stored_bytes_refuses_until_space_is_freed(tmp_path: Path) -> None:
    for server in start(tmp_path, "stored", CCP_USER_MAX_STORED_BYTES="1"):
        ann = Client(server, ANN)
        first = ann.run("hello-world")
        assert ann.wait(first)["status"] == "successful"
        body = refused(ann.post("/processes/hello-world/execution", json={"inputs": {}}), 403,
                       "quota")
        assert body["type"].endswith("storage-quota")
        assert ann.delete(f"/jobs/{first}").status_code == 200
        assert ann.wait(ann.run("hello-world"))["status"] == "successful"


def test_quota_of_method_versions(tight: ServerProcess) -> None:
    ann = Client(tight, ANN)
    assert ann.post("/processes", json=method("q-one")).status_code == 201
    assert ann.post("/processes", json=method("q-two")).status_code == 201
    refused(ann.post("/processes", json=method("q-three")), 403, "2 Method versions")
    assert Client(tight, BOB).post("/processes", json=method("q-bob")).status_code == 201


def test_fair_dispatch_serves_a_second_user_within_one_slot(tight: ServerProcess) -> None:
    """One worker: ann's queue does not hold bob back by more than the job running now."""
    bob, admin = Client(tight, BOB), Client(tight, ADMIN)
    # admins have no active limit: they queue many, like a heavy user would
    heavy = [admin.run("sleep", {"seconds": 1}) for _ in range(6)]
    time.sleep(0.5)
    submitted = time.time()
    light = bob.run("hello-world")
    assert bob.wait(light, timeout=60)["status"] == "successful"
    bob_started = bob.get(f"/jobs/{light}").json()["started"]
    started_between = [job for job in (admin.get(f"/jobs/{j}").json() for j in heavy)
                       if job.get("started") and submitted_iso(submitted) < job["started"]
                       < bob_started]
    assert len(started_between) <= 1, started_between
    for job_id in heavy:
        admin.delete(f"/jobs/{job_id}")


def submitted_iso(seconds: float) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="milliseconds").replace(
        "+00:00", "Z")


# --- helpers --------------------------------------------------------------------------------

def edit_archive(exported: bytes, script: list[str]) -> bytes:
    """The same archive with another execute script in metadata/method.json."""
    source = zipfile.ZipFile(io.BytesIO(exported))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as target:
        for entry in source.infolist():
            data = source.read(entry)
            if entry.filename == "metadata/method.json":
                document = json.loads(data)
                document["additionalParameters"]["parameters"] = [
                    {"name": "execute-script", "value": script}]
                data = json.dumps(document).encode()
            target.writestr(entry.filename, data)
    return buffer.getvalue()


def retag_archive(exported: bytes, job_id: str) -> bytes:
    """The same archive claiming another job id."""
    source = zipfile.ZipFile(io.BytesIO(exported))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as target:
        for entry in source.infolist():
            data = source.read(entry)
            if entry.filename == "metadata/status.json":
                data = json.dumps({**json.loads(data), "jobID": job_id}).encode()
            target.writestr(entry.filename, data)
    return buffer.getvalue()
