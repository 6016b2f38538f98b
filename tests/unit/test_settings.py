"""Infrastructure settings: one table of types, typed settings, clear problems at load time."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ccp import openapi
from ccp.model import INFRASTRUCTURE_TYPES, DescriptorError, Infrastructure
from ccp.registry import Registry
from ccp.runtimes import RUNTIME_TYPES
from ccp.runtimes.settings import (
    TLS,
    DockerSettings,
    LocalSettings,
    LXDSettings,
    SwarmSettings,
    json_key,
)

REPO = Path(__file__).resolve().parents[2]


def infrastructure(type_name: str, **settings: object) -> Infrastructure:
    return Infrastructure.from_dict({"id": "x", "name": "X", "type": type_name,
                                     "settings": settings})


def problems(type_name: str, **settings: object) -> list[str]:
    with pytest.raises(DescriptorError) as caught:
        infrastructure(type_name, **settings)
    return caught.value.problems


def test_the_model_and_the_openapi_document_read_the_one_table() -> None:
    assert INFRASTRUCTURE_TYPES == tuple(RUNTIME_TYPES) == ("local", "docker", "swarm", "lxd")
    schema = openapi.document("http://x", "CCP")["components"]["schemas"]["Infrastructure"]
    assert schema["properties"]["type"]["enum"] == list(RUNTIME_TYPES)
    for runtime_type in RUNTIME_TYPES.values():
        module, _, name = runtime_type.runtime.rpartition(".")
        assert module.startswith("ccp.runtimes.") and name.endswith("Runtime")


@pytest.mark.parametrize("path", sorted((REPO / "infrastructures").glob("*.json")),
                         ids=lambda path: path.name)
def test_the_shipped_infrastructures_are_valid(path: Path) -> None:
    loaded = Infrastructure.from_dict(json.loads(path.read_text()), str(path))
    assert isinstance(loaded.settings, RUNTIME_TYPES[loaded.type].settings)


def test_settings_are_typed_with_defaults() -> None:
    docker = infrastructure("docker", memory="512m", cpus=1, pidsLimit=100, pull="false")
    assert isinstance(docker.settings, DockerSettings)
    assert (docker.settings.memory, docker.settings.cpus) == (512 * 2**20, 1.0)
    assert (docker.settings.pids_limit, docker.settings.pull) == (100, False)
    assert (docker.settings.network, docker.settings.timeout, docker.settings.tls) == \
        ("none", 60, None)
    assert (docker.max_time, docker.memory_bytes) == (3600, 512 * 2**20)
    swarm = infrastructure("swarm", constraints=["node.role==manager"], maxReplicas=4)
    assert isinstance(swarm.settings, SwarmSettings)
    assert (swarm.settings.constraints, swarm.max_replicas) == (("node.role==manager",), 4)
    lxd = infrastructure("lxd", profile="default", verify="/etc/ccp/lxd.crt")
    assert isinstance(lxd.settings, LXDSettings)
    assert (lxd.settings.profile, lxd.settings.verify) == (("default",), "/etc/ccp/lxd.crt")
    assert infrastructure("lxd", verify="false").settings.verify is False
    local = infrastructure("local", runnerUids=[100000000, 100000009])
    assert isinstance(local.settings, LocalSettings)
    assert local.settings.runner_uids == (100000000, 100000009)


def test_tls_of_a_docker_engine() -> None:
    assert infrastructure("docker", tls=True).settings.tls == TLS()
    assert infrastructure("docker", tls=False).settings.tls is None
    files = {"ca": "ca.pem", "cert": "cert.pem", "key": "key.pem", "verify": False}
    assert infrastructure("docker", tls=files).settings.tls == TLS("ca.pem", "cert.pem",
                                                                   "key.pem", False)
    assert problems("docker", tls={"cert": "c.pem"}) == [
        "settings.tls: needs both cert and key, or neither"]
    assert "unknown key(s) vrify" in problems("docker", tls={"vrify": True})[0]


def test_a_typo_is_named_with_its_file_and_a_suggestion(tmp_path: Path) -> None:
    infrastructures = tmp_path / "infrastructures"
    infrastructures.mkdir()
    (infrastructures / "docker.json").write_text(json.dumps(
        {"id": "docker", "name": "D", "type": "docker", "settings": {"pidLimit": 5}}))
    (infrastructures / "good.json").write_text(json.dumps(
        {"id": "good", "name": "G", "type": "local", "access": {"deployedMethods": ["admin"]}}))
    registry = Registry.from_directories(tmp_path / "methods", infrastructures)
    assert list(registry.infrastructures) == ["good"]  # top-level members are not settings
    (problem,) = registry.problems
    assert str(problem) == (f"{infrastructures / 'docker.json'}: settings.pidLimit is not a "
                            "setting of docker (did you mean pidsLimit?)")


@pytest.mark.parametrize("type_name, settings, expected", [
    ("docker", {"pidsLimit": "many"}, "settings.pidsLimit: must be a positive integer"),
    ("docker", {"pull": "maybe"}, "settings.pull: 'maybe' is not a boolean"),
    ("docker", {"cpus": 0}, "settings.cpus: must be a positive number"),
    ("docker", {"memory": "lots"}, "settings.memory: not a size"),
    ("swarm", {"constraints": "node.role==manager"}, None),
    ("swarm", {"constraints": [1]}, "settings.constraints: must be a list of non-empty strings"),
    ("local", {"runnerUids": [0, 10]}, "settings.runnerUids: must be [first, last] with"),
    ("local", {"runnerUids": [100000, 99999]}, "settings.runnerUids: must be [first, last]"),
    ("local", {"engine": "unix:///x"}, "settings.engine is not a setting of local"),
    ("lxd", {"maxTime": True}, "settings.maxTime: must be a positive integer"),
    ("lxd", {"project": 3}, "settings.project: must be a string"),
])
def test_wrong_values_are_problems(type_name: str, settings: dict, expected: str | None
                                   ) -> None:
    if expected is None:
        infrastructure(type_name, **settings)
        return
    found = problems(type_name, **settings)
    assert len(found) == 1 and found[0].startswith(expected), found


def test_every_problem_is_reported_at_once() -> None:
    found = problems("docker", maxTime=-1, memory="lots", netwrk="none")
    assert [problem.split(":")[0].split()[0] for problem in found] == [
        "settings.maxTime", "settings.memory", "settings.netwrk"]


def test_an_unknown_type_reports_the_common_settings_only() -> None:
    found = problems("kubernetes", maxTime=-1, namespace="x")
    assert found == ["'type' 'kubernetes' is not one of local, docker, swarm, lxd",
                     "settings.maxTime: must be a positive integer"]


def test_json_keys_are_the_camel_case_field_names() -> None:
    assert [json_key(name) for name in ("max_time", "pids_limit", "use_ssh_client", "cpus")] \
        == ["maxTime", "pidsLimit", "useSshClient", "cpus"]
