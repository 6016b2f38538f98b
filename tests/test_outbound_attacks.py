"""Attacks through the outbound policy: a logged-in plain user tries to make the server fetch
or call what it must not reach, against a real `ccp serve` with auth on.

The server allows exactly one loopback address, 127.0.0.2, where a test receiver stands in
for a harmless public host. On 127.0.0.1 and ::1 "secret" services answer with a secret, so a
policy that let a request through would show it (the tests can fail). Proxy variables in the
server's environment point at a trap that must never be contacted.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import ServerProcess
from receiver import Receiver
from services import remove_bucket, s3_settings
from test_hardening import ADMIN, ANN, BOB, SECRET, Client, refused

MAX_BYTES = 100000
TIMEOUT = 4


@pytest.fixture(scope="module")
def harmless() -> Iterator[Receiver]:
    started = Receiver("127.0.0.2").start()
    yield started
    started.stop()


@pytest.fixture(scope="module")
def secret() -> Iterator[Receiver]:
    """What must stay out of reach: a service on loopback (the metadata service, a
    database admin page, the server itself...)."""
    started = Receiver("127.0.0.1").start()
    started.serve("secret", b"SECRET-ON-LOOPBACK")
    yield started
    started.stop()


@pytest.fixture(scope="module")
def secret_v6() -> Iterator[Receiver]:
    started = Receiver("::1").start()
    started.serve("secret", b"SECRET-ON-IPV6-LOOPBACK")
    yield started
    started.stop()


@pytest.fixture(scope="module")
def trap() -> Iterator[Receiver]:
    """A proxy that must never hear from the server."""
    started = Receiver("127.0.0.2").start()
    yield started
    started.stop()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, trap: Receiver
           ) -> Iterator[ServerProcess]:
    started = ServerProcess(
        tmp_path_factory.mktemp("outbound") / "data", CCP_AUTH="true", CCP_JWT_SECRET=SECRET,
        CCP_OUTBOUND_ALLOW="127.0.0.2/32", CCP_OUTBOUND_MAX_BYTES=str(MAX_BYTES),
        CCP_OUTBOUND_TIMEOUT=str(TIMEOUT), HTTP_PROXY=trap.url, HTTPS_PROXY=trap.url,
        ALL_PROXY=trap.url, http_proxy=trap.url, https_proxy=trap.url).start()
    yield started
    started.stop()


def job_count(server: ServerProcess) -> int:
    return Client(server, ADMIN).get("/jobs?limit=1").json()["numberMatched"]


def refused_href(server: ServerProcess, href: str, *words: str) -> None:
    before = job_count(server)
    body = refused(Client(server, ANN).post("/processes/file-stats/execution", json={
        "inputs": {"data": {"href": href}}}), 400, *words)
    assert body["type"].endswith("outbound-policy"), body
    assert job_count(server) == before, "a refused request made a job"


def failed_job(server: ServerProcess, href: str) -> dict[str, Any]:
    """Allowed at submission (the URL's own host is allowed); the job fails when run."""
    ann = Client(server, ANN)
    job = ann.wait(ann.run("file-stats", {"data": {"href": href}}), timeout=60)
    assert job["status"] == "failed", job
    assert job["message"].startswith("Download failed: input 'data'"), job["message"]
    return job


def test_attack_href_to_loopback_and_to_the_server_itself(server, secret) -> None:
    port = secret.port
    for href in (f"http://127.0.0.1:{port}/files/secret",
                 f"http://127.9.9.9:{port}/files/secret"):
        refused_href(server, href, "loopback")
    for href in (f"{server.url}/jobs", f"{server.url}/processes/file-stats/execution"):
        refused_href(server, href, "this server itself")
    assert secret.requests == []


def test_attack_href_to_the_cloud_metadata_service(server) -> None:
    for href in ("http://169.254.169.254/latest/meta-data/iam/security-credentials/",
                 "http://[::ffff:169.254.169.254]/latest/meta-data/",
                 "http://[fe80::a9fe:a9fe]/", "http://[fd00:ec2::254]/latest/meta-data/"):
        refused_href(server, href, "address")


def test_attack_href_to_ipv6_loopback(server, secret_v6) -> None:
    for href in (f"http://[::1]:{secret_v6.port}/files/secret",
                 f"http://[0:0:0:0:0:0:0:1]:{secret_v6.port}/files/secret",
                 f"http://[::ffff:127.0.0.1]:{secret_v6.port}/files/secret"):
        refused_href(server, href, "loopback")
    assert secret_v6.requests == []


def test_attack_href_by_a_name_or_a_number_that_resolves_to_loopback(server, secret) -> None:
    port = secret.port
    for href in (f"http://localhost:{port}/files/secret",
                 f"http://LOCALHOST.:{port}/files/secret",
                 f"http://2130706433:{port}/files/secret",
                 f"http://0x7f000001:{port}/files/secret",
                 f"http://0177.0.0.1:{port}/files/secret",
                 f"http://127.1:{port}/files/secret"):
        refused_href(server, href, "loopback")
    refused_href(server, f"http://0.0.0.0:{port}/files/secret", "unspecified")
    assert secret.requests == []


def test_attack_redirect_from_an_allowed_host_to_a_forbidden_one(server, harmless,
                                                                 secret) -> None:
    for target, words in ((f"http://127.0.0.1:{secret.port}/files/secret", "loopback"),
                          (f"http://localhost:{secret.port}/files/secret", "loopback"),
                          ("http://169.254.169.254/latest/meta-data/", "link-local"),
                          ("file:///etc/passwd", "only http and https")):
        job = failed_job(server, f"{harmless.url}/redirect?to={target}")
        assert words in job["message"], job["message"]
    assert len(harmless.calls("/redirect")) == 4
    assert secret.requests == []


def test_attack_oversized_bodies_fail_the_job(server, harmless) -> None:
    for path in ("/big?declared=1", "/big"):  # a huge Content-Length; an endless chunked body
        job = failed_job(server, f"{harmless.url}{path}")
        assert f"{MAX_BYTES}" in job["message"], job["message"]
    huge = failed_job(server, harmless.serve("just-too-big", b"x" * (MAX_BYTES + 1)))
    assert "more than" in huge["message"]


def test_attack_a_slow_body_fails_the_job_at_the_time_limit(server, harmless) -> None:
    job = failed_job(server, f"{harmless.url}/slow?bytes=1000&every=0.5")
    assert f"took longer than {TIMEOUT} s" in job["message"], job["message"]
    ann = Client(server, ANN)  # the worker is free again
    assert ann.wait(ann.run("hello-world"))["status"] == "successful"


def test_attack_other_schemes_and_credentials_in_urls(server, harmless) -> None:
    for href, words in (("file:///etc/passwd", "only http and https"),
                        ("gopher://127.0.0.2:70/_SET", "only http and https"),
                        ("ftp://127.0.0.2/x", "only http and https"),
                        ("data:text/plain,hello", "only http and https"),
                        (f"http://admin:admin@127.0.0.2:{harmless.port}/files/x",
                         "credentials")):
        refused_href(server, href, words)
    body = refused(Client(server, ANN).post("/processes/file-stats/execution", json={
        "inputs": {"data": {"href": "s3://ccp/executions/x/outputs/output.zip"}}}), 400)
    assert "on disk" in body["detail"]


def test_attack_callbacks_to_forbidden_uris_are_refused(server, secret) -> None:
    ann = Client(server, ANN)
    before = job_count(server)
    for key in ("successUri", "failedUri", "inProgressUri"):
        for uri in (f"http://127.0.0.1:{secret.port}/hooks/x", "http://169.254.169.254/",
                    f"{server.url}/processes/hello-world/execution",
                    f"http://[::1]:{secret.port}/"):
            body = refused(ann.post("/processes/hello-world/execution", json={
                "inputs": {}, "subscriber": {key: uri}}), 400, f"subscriber.{key}")
            assert body["type"].endswith("outbound-policy")
    assert job_count(server) == before and secret.requests == []


def test_attack_nothing_of_the_server_or_the_user_leaves_with_a_request(server, harmless,
                                                                        trap) -> None:
    ann = Client(server, ANN)
    url = harmless.serve("plain.txt", b"plain\n")
    job = ann.wait(ann.run("file-stats", {"data": {"href": url}}))
    assert job["status"] == "successful", job
    (request,) = harmless.calls("/files/plain.txt")
    leaked = {key.lower() for key in request.headers} & {
        "authorization", "cookie", "proxy-authorization", "x-forwarded-for"}
    assert leaked == set(), request.headers
    assert ANN["Authorization"].split()[1] not in json.dumps(request.headers)
    assert trap.requests == [], "the server used a proxy from its environment"


# --- s3:// in the server's own store: only what the requester may read ---------------------------

@pytest.fixture(scope="module")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    settings = s3_settings()
    bucket = f"ccp-test-{uuid.uuid4().hex[:12]}"
    started = ServerProcess(
        tmp_path_factory.mktemp("s3refs") / "data", CCP_AUTH="true", CCP_JWT_SECRET=SECRET,
        CCP_STORAGE="s3", CCP_S3_ENDPOINT=settings["endpoint"], CCP_S3_BUCKET=bucket,
        CCP_S3_ACCESS_KEY=settings["access_key"], CCP_S3_SECRET_KEY=settings["secret_key"],
        CCP_S3_SHARED_PREFIXES="shared/").start()
    yield started
    started.stop()
    from minio import Minio

    remove_bucket(Minio(settings["endpoint"], settings["access_key"], settings["secret_key"],
                        secure=False), bucket)


def s3_url(server: ServerProcess, key: str) -> str:
    bucket = server.env["CCP_S3_BUCKET"]
    return f"s3://{bucket}/{key}"


def test_attack_s3_reference_to_another_users_archive(s3_server) -> None:
    ann, bob = Client(s3_server, ANN), Client(s3_server, BOB)
    anns = ann.run("hello-world", {"name": "Ann's secret"})
    assert ann.wait(anns)["status"] == "successful"
    details = set()
    for key in (f"executions/{anns}/outputs/output.zip", f"executions/{anns}/auth/jwt.json",
                f"exports/{anns}/ccp-{anns}.zip", f"executions/{uuid.uuid4()}/x",
                f"executions/{anns}/../{anns}/outputs/output.zip", "jobs.db", "shared.txt"):
        body = refused(bob.post("/processes/file-stats/execution", json={
            "inputs": {"data": {"href": s3_url(s3_server, key)}}}), 403, "may read")
        details.add(body["detail"].replace(s3_url(s3_server, key), "<href>"))
    assert len(details) == 1, sorted(details)  # the same words whether it is Ann's or nobody's
    refused(bob.post("/processes/file-stats/execution", json={"inputs": {"data": {
        "href": f"s3://another-bucket/executions/{anns}/outputs/output.zip"}}}), 403)


def test_ogc_s3_reference_chains_an_earlier_execution_of_the_same_user(s3_server) -> None:
    ann, admin = Client(s3_server, ANN), Client(s3_server, ADMIN)
    first = ann.run("hello-world", {"name": "chained"})
    assert ann.wait(first)["status"] == "successful"
    href = s3_url(s3_server, f"executions/{first}/logs/execute.stdout.log")
    for client in (ann, admin):  # the owner, and an admin, may read it
        second = client.wait(client.run("file-stats", {"data": {"href": href}}))
        assert second["status"] == "successful", second
        stdout = client.get(f"/jobs/{second['jobID']}/results").json()["stdout"]["value"]
        assert "lines 2" in stdout
        prov = client.get(f"/jobs/{second['jobID']}/prov").json()
        entity = prov["entity"][f"job:{second['jobID']}/inputs/data"]
        assert entity["ccp:href"]["$"] == href
    missing = refused(ann.post("/processes/file-stats/execution", json={"inputs": {"data": {
        "href": s3_url(s3_server, f"executions/{first}/no-such-part")}}}), 400)
    assert "there is no object" in missing["detail"]
