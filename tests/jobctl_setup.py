"""What the job control tests share: a server with Infrastructures of one runtime type, a
ticking Method for each, and the real engines behind them (nothing mocked, nothing skipped:
a missing engine fails the test and says how to start it)."""

from __future__ import annotations

import copy
import json
import re
import time
from pathlib import Path
from typing import Any

from engines import ENGINE, IMAGE, LXD_IMAGE, REPO, Engine, lxd_client

from ccp.app import create_app, load_config

KINDS = ("local", "docker", "swarm", "lxd")
IMAGES = {"local": "none", "docker": IMAGE, "swarm": IMAGE, "lxd": LXD_IMAGE}
FINAL = ("successful", "failed", "dismissed")


def require(kind: str) -> None:
    """Fail at once when the engine of `kind` is not there."""
    if kind in ("docker", "swarm"):
        Engine(ENGINE, swarm=kind == "swarm").require()
    elif kind == "lxd":
        lxd_client()


def infrastructure(kind: str, infrastructure_id: str | None = None, **settings: Any
                   ) -> dict[str, Any]:
    """The repository's descriptor of `kind`, with the test engine and `settings` on top
    (a None value removes a setting)."""
    descriptor = json.loads((REPO / "infrastructures" / f"{kind}.json").read_text())
    descriptor["id"] = infrastructure_id or kind
    if kind in ("docker", "swarm"):
        descriptor["settings"]["engine"] = ENGINE
    for key, value in settings.items():
        if value is None:
            descriptor["settings"].pop(key, None)
        else:
            descriptor["settings"][key] = value
    return descriptor


def ticker(infrastructure_id: str, kind: str, method_id: str | None = None) -> dict[str, Any]:
    """A Method printing `tick <n>` every `pause` seconds, `seconds` times."""
    method = json.loads((REPO / "methods" / "sleep.json").read_text())
    method["id"] = method_id or f"ticker-{infrastructure_id}"
    method["inputs"]["ccpimage"]["schema"]["default"] = IMAGES[kind]
    method["inputs"]["pause"] = {"schema": {"type": "number", "default": 1}, "minOccurs": 0}
    method["additionalParameters"]["parameters"] = [
        {"name": "execute-script", "value": [
            "i=0",
            'while [ "$i" -lt {{ seconds }} ]; do i=$((i + 1)); echo "tick $i"; '
            "sleep {{ pause }}; done",
            'echo "ticked {{ seconds }}" > /ccp_data/ticked.txt']},
        {"name": "cancel-script", "value": ["echo cancelled > /ccp_data/cancelled.txt"]}]
    method["links"] = [{"rel": "compatibleWith", "href": f"infrastructures/{infrastructure_id}"}]
    return method


def write(directory: Path, infrastructures: list[dict[str, Any]],
          methods: list[dict[str, Any]] = ()) -> tuple[Path, Path]:
    methods_dir, infrastructures_dir = directory / "methods", directory / "infrastructures"
    methods_dir.mkdir(parents=True, exist_ok=True)
    infrastructures_dir.mkdir(parents=True, exist_ok=True)
    for descriptor in infrastructures:
        (infrastructures_dir / f"{descriptor['id']}.json").write_text(json.dumps(descriptor))
    for method in methods:
        (methods_dir / f"{method['id']}.json").write_text(json.dumps(method))
    return methods_dir, infrastructures_dir


def make_app(directory: Path, infrastructures: list[dict[str, Any]],
             methods: list[dict[str, Any]] | None = None, auth: dict[str, Any] | None = None,
             **manager: Any) -> Any:
    """A server (Flask app, workers started) on these descriptors; a ticker per
    Infrastructure unless `methods` are given."""
    if methods is None:
        methods = [ticker(d["id"], d["type"]) for d in infrastructures]
    methods_dir, infrastructures_dir = write(directory, infrastructures, methods)
    config = copy.deepcopy(load_config(REPO / "pygeoapi-config.yml"))
    config["server"]["manager"].update({
        "data_dir": str(directory / "data"), "methods": str(methods_dir),
        "infrastructures": str(infrastructures_dir), "connection": "",
        "storage": {"type": "local"}, "concurrency": 4, **manager})
    if auth is not None:
        config["server"]["auth"] = auth
    return create_app(config)


# --- talking to it ---------------------------------------------------------------------------

def submit(client: Any, method_id: str, headers: dict[str, str] | None = None,
           **inputs: Any) -> str:
    response = client.post(f"/processes/{method_id}/execution", json={"inputs": inputs},
                           headers=headers or {})
    assert response.status_code == 201, response.get_json()
    return response.get_json()["jobID"]


def job(client: Any, job_id: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
    return client.get(f"/jobs/{job_id}", headers=headers or {}).get_json()


def wait_for(client: Any, job_id: str, done: Any, timeout: float = 90,
             what: str = "never got there", headers: dict[str, str] | None = None
             ) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    found: dict[str, Any] = {}
    while time.monotonic() < deadline:
        found = job(client, job_id, headers)
        if done(found):
            return found
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} {what} in {timeout} s: {found}")


def wait_final(client: Any, job_id: str, timeout: float = 120,
               headers: dict[str, str] | None = None) -> dict[str, Any]:
    return wait_for(client, job_id, lambda j: j["status"] in FINAL, timeout, "did not end",
                    headers)


def log_of(client: Any, job_id: str, headers: dict[str, str] | None = None) -> str:
    return client.get(f"/jobs/{job_id}/logs", headers=headers or {}).get_data(as_text=True)


def ticks(client: Any, job_id: str) -> list[str]:
    """The `tick <n>` lines of the log so far (every replica)."""
    return re.findall(r"\[stdout\] (tick \d+)$", log_of(client, job_id), re.MULTILINE)


def wait_ticking(client: Any, job_id: str, count: int = 1, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while len(ticks(client, job_id)) < count:
        assert time.monotonic() < deadline, f"no ticks from {job_id}: {job(client, job_id)}"
        time.sleep(0.1)
