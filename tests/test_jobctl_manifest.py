"""The Infrastructure manifest tells the truth, on every runtime against the real engines:
each feature it claims works, each it lacks is refused (or, for a limit, not applied).

Two Infrastructures of each type: the repository's descriptor with a probe image and memory
and CPU limits, and a plain one that turns off what settings can turn off.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from jobctl_setup import (
    IMAGES,
    KINDS,
    infrastructure,
    job,
    make_app,
    require,
    submit,
    ticks,
    wait_final,
    wait_ticking,
)

MEMORY = 256 * 2**20
FEATURE_PROBLEM = "https://ccp.example.org/exceptions/feature-not-available"


@dataclass
class Probe:
    """One Infrastructure of the test and the running execution the checks work on."""

    client: Any
    kind: str
    infrastructure: dict[str, Any]
    manifest: dict[str, Any]
    job_id: str = ""

    @property
    def id(self) -> str:
        return self.infrastructure["id"]


def refused(response: Any) -> None:
    assert response.status_code == 409, response.get_json()
    assert response.get_json()["type"] == FEATURE_PROBLEM


def check_suspend(probe: Probe, claimed: bool) -> None:
    response = probe.client.post(f"/jobs/{probe.job_id}/suspend")
    if not claimed:
        return refused(response)
    assert response.status_code == 200 and response.get_json()["suspended"] is True
    response = probe.client.post(f"/jobs/{probe.job_id}/resume")
    assert response.status_code == 200 and response.get_json()["suspended"] is False


def check_extend(probe: Probe, claimed: bool) -> None:
    before = job(probe.client, probe.job_id)["timeLimit"]
    response = probe.client.post(f"/jobs/{probe.job_id}/extend", json={"seconds": 5})
    if not claimed:
        return refused(response)
    assert response.status_code == 200 and response.get_json()["timeLimit"] == before + 5


def check_logs(probe: Probe, claimed: bool) -> None:
    assert claimed
    assert ticks(probe.client, probe.job_id), "no log lines while it runs"


def check_health(probe: Probe, claimed: bool) -> None:
    assert claimed
    health = probe.client.get(f"/infrastructures/{probe.id}/health").get_json()
    assert health["healthy"] is True and health["history"], health


def check_probe(probe: Probe, claimed: bool) -> None:
    health = probe.client.post(f"/infrastructures/{probe.id}/health").get_json()
    newest = health["history"][0]
    if claimed:
        assert newest["detail"]["probe"]["ok"] is True, newest
        assert newest["detail"]["probe"]["image"] == IMAGES[probe.kind]
    else:
        assert "probe" not in newest["detail"], newest
    assert health["healthy"] is True


def check_verify(probe: Probe, claimed: bool) -> None:
    response = probe.client.post(f"/infrastructures/{probe.id}/verify")
    if not claimed:
        return refused(response)
    assert response.status_code == 200, response.get_json()
    assert probe.job_id in response.get_json()["matched"]


def check_replicas(probe: Probe, claimed: bool) -> None:
    method = f"ticker-{probe.id}"
    if not claimed:
        response = probe.client.post(f"/processes/{method}/execution",
                                     json={"inputs": {"ccpreplicas": 2}})
        assert response.status_code == 400, response.get_json()
        assert "replica" in response.get_json()["detail"]
        return
    job_id = submit(probe.client, method, seconds=2, pause=0.2, ccpreplicas=2)
    assert wait_final(probe.client, job_id)["status"] == "successful"
    assert len(ticks(probe.client, job_id)) == 4  # two replicas ticked


def check_dismiss(probe: Probe, claimed: bool) -> None:
    assert claimed
    assert probe.client.delete(f"/jobs/{probe.job_id}").get_json()["status"] == "dismissed"


def applied_limits(probe: Probe) -> dict[str, Any]:
    """The memory (bytes) and CPUs the runtime reports in the archive's instance.json."""
    archive = zipfile.ZipFile(io.BytesIO(
        probe.client.get(f"/jobs/{probe.job_id}/archive").get_data()))
    limits = json.loads(archive.read("metadata/instance.json"))["limits"]
    if probe.kind == "lxd":
        memory = limits.get("limits.memory")
        return {"memory": int(re.sub("MiB$", "", memory)) * 2**20 if memory else None,
                "cpus": float(limits["limits.cpu"]) if limits.get("limits.cpu") else None}
    return {"memory": limits.get("memoryBytes"), "cpus": limits.get("cpus")}


def check_memory(probe: Probe, claimed: bool) -> None:
    expected = probe.manifest["limits"]["memoryBytes"]
    assert applied_limits(probe)["memory"] == (MEMORY if claimed else None) == expected


def check_cpus(probe: Probe, claimed: bool) -> None:
    expected = probe.manifest["limits"]["cpus"]
    assert applied_limits(probe)["cpus"] == (1 if claimed else None) == expected


# while the execution runs, then after it was dismissed
WHILE_RUNNING: dict[str, Callable[[Probe, bool], None]] = {
    "logs": check_logs, "suspend": check_suspend, "extend": check_extend,
    "healthChecks": check_health, "healthProbe": check_probe, "verify": check_verify,
    "replicas": check_replicas, "dismiss": check_dismiss}
AFTERWARDS: dict[str, Callable[[Probe, bool], None]] = {
    "memoryLimit": check_memory, "cpuLimit": check_cpus}


@pytest.mark.parametrize("kind", KINDS)
def test_the_manifest_tells_the_truth(kind: str, tmp_path: Path) -> None:
    require(kind)
    full = infrastructure(kind, kind, probeImage=IMAGES[kind], memory="256m", cpus=1,
                          healthInterval=3600)
    plain = infrastructure(kind, f"{kind}-plain", maxSuspend=0, extend=False, memory=None,
                           cpus=None, maxReplicas=1, healthInterval=3600)
    app = make_app(tmp_path, [full, plain])
    try:
        client = app.test_client()
        seen: dict[str, set[bool]] = {}
        for descriptor in (full, plain):
            document = client.get(f"/infrastructures/{descriptor['id']}").get_json()
            features = document["features"]
            assert set(features) == set(WHILE_RUNNING) | set(AFTERWARDS), \
                "a feature without a truth check"
            probe = Probe(client, kind, descriptor, document)
            probe.job_id = submit(client, f"ticker-{probe.id}", seconds=120, ccpmaxtime=300)
            wait_ticking(client, probe.job_id)
            for name, check in [*WHILE_RUNNING.items(), *AFTERWARDS.items()]:
                check(probe, features[name])
                seen.setdefault(name, set()).add(features[name])
        # what settings can turn off is on in one and off in the other
        for name in ("suspend", "extend", "healthProbe", "memoryLimit"):
            assert seen[name] == {True, False}, name
        assert seen["replicas"] == ({True, False} if kind == "swarm" else {False})
        assert seen["cpuLimit"] == ({False} if kind == "local" else {True, False})
    finally:
        app.extensions["ccp"].manager.stop()


def test_the_manifest_is_in_the_infrastructure_list_and_the_openapi_document(
        tmp_path: Path) -> None:
    app = make_app(tmp_path, [infrastructure("local"),
                              infrastructure("local", "local-plain", maxSuspend=0)])
    try:
        client = app.test_client()
        listed = {i["id"]: i for i in client.get("/infrastructures").get_json()["infrastructures"]}
        assert listed["local"]["features"]["suspend"] is True
        assert listed["local-plain"]["features"]["suspend"] is False
        assert listed["local-plain"]["limits"]["maxSuspendSeconds"] == 0
        assert listed["local"]["health"]["healthy"] is True
        schema = client.get("/openapi?f=json").get_json()
        assert "features" in schema["components"]["schemas"]["Infrastructure"]["properties"]
        for path in ("/jobs/{jobId}/suspend", "/jobs/{jobId}/resume", "/jobs/{jobId}/extend",
                     "/infrastructures/{infrastructureId}/health",
                     "/infrastructures/{infrastructureId}/verify"):
            assert path in schema["paths"], path
    finally:
        app.extensions["ccp"].manager.stop()
