"""Authentication and who sees what: tokens, ownership, admins, Method sharing."""

from __future__ import annotations

import io
import json
import time
import zipfile
from pathlib import Path

import jwt
import pytest
from conftest import REPO, wait_final
from cryptography.hazmat.primitives.asymmetric import rsa
from test_api import assert_ogc_exception
from test_workbench import new_method

SECRET = "test-secret-for-hs256-only-in-tests-0123456789"
ISSUER = "https://idp.example.org/realms/ccp"


def token(sub: str, *, roles=(), context=None, exp=3600, key=SECRET, algorithm="HS256",
          issuer=ISSUER, audience="ccp", kid=None) -> dict[str, str]:
    claims = {"sub": sub, "iss": issuer, "aud": audience, "exp": int(time.time()) + exp,
              "roles": list(roles)}
    if context:
        claims["context"] = context
    encoded = jwt.encode(claims, key, algorithm=algorithm, headers={"kid": kid} if kid else None)
    return {"Authorization": f"Bearer {encoded}"}


@pytest.fixture
def secured(app_factory, monkeypatch):
    monkeypatch.setenv("CCP_JWT_SECRET", SECRET)
    app = app_factory(auth={"enabled": True, "algorithm": "HS256", "issuer": ISSUER,
                            "audience": "ccp"})
    return app.test_client()


def run(client, headers, process="hello-world", inputs=None) -> str:
    response = client.post(f"/processes/{process}/execution", json={"inputs": inputs or {}},
                           headers={**headers, "Prefer": "respond-async"})
    assert response.status_code == 201, response.get_json()
    job_id = response.get_json()["jobID"]
    deadline = time.monotonic() + 30
    while client.get(f"/jobs/{job_id}", headers=headers).get_json()["status"] in (
            "accepted", "running"):
        assert time.monotonic() < deadline
        time.sleep(0.1)
    return job_id


def test_public_pages_and_token_required(secured) -> None:
    for path in ("/", "/conformance", "/openapi?f=json"):
        assert secured.get(path).status_code == 200, path
    assert_ogc_exception(secured.get("/processes"), 401, "bearer")
    assert_ogc_exception(secured.get("/jobs"), 401)
    assert_ogc_exception(secured.get("/processes", headers=token("ann", exp=-120)), 401,
                         "expired")
    assert_ogc_exception(secured.get("/processes", headers=token("ann", key="other" * 8)), 401,
                         "invalid")
    assert_ogc_exception(secured.get("/processes", headers=token("ann", issuer="https://evil")),
                         401, "invalid")
    assert_ogc_exception(secured.get("/processes", headers=token("ann", audience="other")), 401)
    assert_ogc_exception(secured.get("/processes", headers={"Authorization": "Bearer x.y.z"}),
                         401)
    assert secured.get("/processes", headers=token("ann")).status_code == 200


def test_users_see_only_their_own_executions_admins_see_all(secured) -> None:
    ann, bob, admin = token("ann"), token("bob"), token("root", roles=["admin"])
    job_id = run(secured, ann, inputs={"name": "Ann"})
    assert secured.get(f"/jobs/{job_id}", headers=ann).status_code == 200
    for path in ("", "/results", "/archive", "/provenance", "/logs", "/code/python"):
        assert_ogc_exception(secured.get(f"/jobs/{job_id}{path}", headers=bob), 404)
    assert_ogc_exception(secured.delete(f"/jobs/{job_id}", headers=bob), 404)
    assert_ogc_exception(secured.post(f"/jobs/{job_id}/reexecute", headers=bob), 404)
    assert secured.get("/jobs", headers=bob).get_json()["numberMatched"] == 0
    assert secured.get("/jobs", headers=ann).get_json()["numberMatched"] == 1
    assert secured.get("/jobs", headers=admin).get_json()["numberMatched"] == 1
    assert secured.get(f"/jobs/{job_id}", headers=admin).status_code == 200

    archive = zipfile.ZipFile(io.BytesIO(secured.get(f"/jobs/{job_id}/archive",
                                                     headers=ann).data))
    claims = json.loads(archive.read("auth/jwt.json"))
    assert claims["sub"] == "ann" and claims["iss"] == ISSUER and "exp" in claims
    raw = archive.read("auth/jwt.json").decode()
    signature = ann["Authorization"].rsplit(".", 1)[1]
    assert signature not in raw and "Bearer" not in raw
    provn = secured.get(f"/jobs/{job_id}/provenance?f=provn", headers=ann).data.decode()
    assert "agent(user:ann" in provn
    assert secured.delete(f"/jobs/{job_id}", headers=admin).status_code == 200


def test_private_and_shared_methods(secured) -> None:
    ann = token("ann", context="lab-a")
    ann_peer = token("cleo", context="lab-a")
    bob = token("bob", context="lab-b")
    # on docker: a plain user's Methods may not run on `local` (the deploy policy)
    private = new_method("ann-private", infrastructure="docker")
    shared = {**new_method("ann-shared", infrastructure="docker"), "visibility": "shared"}
    assert secured.post("/processes", json=private, headers=ann).status_code == 201
    assert secured.post("/processes", json=shared, headers=ann).status_code == 201

    def visible(headers) -> set[str]:
        return {p["id"] for p in secured.get("/processes", headers=headers).get_json()[
            "processes"]}

    assert {"ann-private", "ann-shared", "hello-world"} <= visible(ann)
    assert "ann-shared" in visible(ann_peer) and "ann-private" not in visible(ann_peer)
    assert not {"ann-private", "ann-shared"} & visible(bob)
    assert_ogc_exception(secured.get("/processes/ann-private", headers=bob), 404)
    assert_ogc_exception(secured.post("/processes/ann-private/execution", json={},
                                      headers=bob), 404)
    assert_ogc_exception(secured.put("/processes/ann-shared", headers=ann_peer,
                                     json={**shared, "version": "2"}), 403, "another user")
    assert_ogc_exception(secured.delete("/processes/ann-private", headers=bob), 404)
    assert secured.delete("/processes/ann-private", headers=ann).status_code == 204


def test_rs256_with_a_jwks_file(app_factory, tmp_path: Path) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    public.update(kid="k1", use="sig", alg="RS256")
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps({"keys": [public]}))
    client = app_factory(auth={"enabled": True, "algorithm": "RS256",
                               "jwks_file": str(jwks), "audience": "ccp"}).test_client()
    good = token("ann", key=key, algorithm="RS256", kid="k1")
    assert client.get("/processes", headers=good).status_code == 200
    forged = token("ann", key=rsa.generate_private_key(public_exponent=65537, key_size=2048),
                   algorithm="RS256", kid="k1")
    assert_ogc_exception(client.get("/processes", headers=forged), 401, "invalid")
    hs = token("ann")  # an HS256 token must not pass for RS256
    assert_ogc_exception(client.get("/processes", headers=hs), 401)


def test_runtime_token_only_where_the_infrastructure_enables_it(app_factory, monkeypatch,
                                                                tmp_path: Path) -> None:
    monkeypatch.setenv("CCP_RUNTIME_TOKEN_SECRET", "runtime-secret-0123456789abcdef0123")
    monkeypatch.setenv("CCP_JWT_SECRET", SECRET)
    infrastructures = tmp_path / "infrastructures"
    infrastructures.mkdir()
    local = json.loads((REPO / "infrastructures" / "local.json").read_text())
    (infrastructures / "local.json").write_text(json.dumps(local))
    callback = {**local, "id": "local-callback", "settings": {**local["settings"],
                                                              "runtimeToken": True}}
    (infrastructures / "callback.json").write_text(json.dumps(callback))
    methods = tmp_path / "methods"
    methods.mkdir()
    for infra in ("local", "local-callback"):
        method = new_method(f"env-{infra}")
        method["links"] = [{"rel": "compatibleWith", "href": f"infrastructures/{infra}"}]
        method["additionalParameters"]["parameters"] = [{"name": "execute-script", "value": [
            "env > /ccp_data/env.txt"]}]
        (methods / f"{infra}.json").write_text(json.dumps(method))
    client = app_factory(methods=methods, infrastructures=infrastructures).test_client()

    def env_of(process: str) -> dict[str, str]:
        job_id = run(client, {}, process)
        assert wait_final(client, job_id)["status"] == "successful"
        data = zipfile.ZipFile(io.BytesIO(client.get(
            f"/jobs/{job_id}/outputs/output.zip").data)).read("env.txt").decode()
        return dict(line.split("=", 1) for line in data.splitlines() if "=" in line)

    plain = env_of("env-local")
    assert "CCP_TOKEN" not in plain
    with_token = env_of("env-local-callback")
    claims = jwt.decode(with_token["CCP_TOKEN"], "runtime-secret-0123456789abcdef0123",
                        algorithms=["HS256"], audience="ccp-runtime")
    assert claims["exp"] - time.time() < 3600 + 120
    for environment in (plain, with_token):
        assert not any(SECRET in value or "runtime-secret" in value
                       for value in environment.values())
        assert "CCP_JWT_SECRET" not in environment
