"""The clients offer only what the manifest says: the code stubs get suspend/resume/extend
functions where the Method's Infrastructure offers them (and they work against a live
server), and none where it does not."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import nbformat
import pytest
import requests
from jobctl_setup import infrastructure, make_app, ticker
from test_codegen import run_r

from ccp.codegen import python_steps

FUNCTIONS = {"python": ("def suspend(", "def resume(", "def extend("),
             "r": ("suspend <- function", "resume <- function", "extend <- function"),
             "julia": ("suspend() =", "resume() =", "extend(seconds) =")}


@pytest.fixture
def client(tmp_path: Path) -> Any:
    app = make_app(tmp_path, [
        infrastructure("local"),
        infrastructure("local", "local-extend-only", maxSuspend=0),
        infrastructure("local", "local-plain", maxSuspend=0, extend=False)])
    yield app.test_client()
    app.extensions["ccp"].manager.stop()


def stub(client: Any, method_id: str, lang: str) -> str:
    response = client.get(f"/processes/{method_id}/code/{lang}")
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_data(as_text=True)


def test_stubs_offer_job_control_only_where_the_manifest_does(client: Any,
                                                              tmp_path: Path) -> None:
    for lang, (suspend, resume, extend) in FUNCTIONS.items():
        full = stub(client, "ticker-local", lang)
        assert suspend in full and resume in full and extend in full, lang
        extend_only = stub(client, "ticker-local-extend-only", lang)
        assert extend in extend_only and suspend not in extend_only, lang
        plain = stub(client, "ticker-local-plain", lang)
        assert "Job control" not in plain and extend not in plain, lang
    python = stub(client, "ticker-local", "python")
    compile(python, "stub.py", "exec")
    assert [title for title, _ in python_steps(python)][1:3] == ["Submit the execution",
                                                                "Job control"]
    notebook = nbformat.reads(stub(client, "ticker-local", "ipynb"), as_version=4)
    nbformat.validate(notebook)
    assert any("def extend(" in cell.source for cell in notebook.cells)
    r_file = tmp_path / "stub.R"
    r_file.write_text(stub(client, "ticker-local", "r"), encoding="utf-8")
    result = run_r("invisible(parse(file = commandArgs(trailingOnly = TRUE)[1]))", str(r_file))
    assert result.returncode == 0, result.stderr


def test_the_python_stub_suspends_extends_and_resumes_a_live_execution(
        server_process: Any, tmp_path: Path) -> None:
    methods, infrastructures = tmp_path / "methods", tmp_path / "infrastructures"
    methods.mkdir()
    infrastructures.mkdir()
    (infrastructures / "local.json").write_text(json.dumps(infrastructure("local")))
    (methods / "ticker-local.json").write_text(json.dumps(ticker("local", "local")))
    server = server_process(CCP_METHODS_DIR=str(methods),
                            CCP_INFRASTRUCTURES_DIR=str(infrastructures))

    content = requests.get(f"{server.url}/processes/ticker-local/code/python", timeout=10).text
    steps = dict(python_steps(content))
    script = "\n".join([
        steps["Settings"], "inputs['ccpmaxtime'] = 60  # room to extend",
        steps["Submit the execution"], steps["Job control"],
        "while check(requests.get(job_url, headers=headers, timeout=60)).json()['status'] "
        "!= 'running':",
        "    time.sleep(0.1)",
        "print(json.dumps([suspend()['suspended'], extend(30)['timeLimit'],",
        "                  resume()['suspended'], job_id]))"])
    (tmp_path / "control.py").write_text(script, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k != "CCP_TOKEN"}
    result = subprocess.run([sys.executable, "control.py"], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"
    suspended, time_limit, resumed, job_id = json.loads(result.stdout.splitlines()[-1])
    assert (suspended, resumed) == (True, False)
    status = requests.get(f"{server.url}/jobs/{job_id}", timeout=10).json()
    assert time_limit == status["timeLimit"] == 90 and status["extendedSeconds"] == 30
    requests.delete(f"{server.url}/jobs/{job_id}", timeout=30)


def test_qgis_offers_only_what_the_manifest_says(server_process: Any,
                                                 qgis_profile: Any) -> None:
    """In real QGIS: replicas only where the Infrastructure runs several (swarm), the time
    limit bounded by its maxTime, and help on suspend/extend only where they are offered."""
    from engines import ENGINE, Engine
    from qgistools import server_entry

    Engine(ENGINE, swarm=True).require()
    server = server_process()  # the repository's Methods and Infrastructures
    found = qgis_profile.run("""
described = {}
for name in ("ccp:replicas-swarm", "ccp:hello-world"):
    alg = registry.algorithmById(name)
    params = {d.name(): d for d in alg.parameterDefinitions()}
    described[name] = {
        "replicas": params["ccpreplicas"].maximum() if "ccpreplicas" in params else None,
        "maxtime": params["ccpmaxtime"].maximum() if "ccpmaxtime" in params else None,
        "help": alg.shortHelpString()}
emit(described)
""", servers=[server_entry(server.url)])
    swarm, local = found["ccp:replicas-swarm"], found["ccp:hello-world"]
    manifests = {i["id"]: i for i in requests.get(f"{server.url}/infrastructures",
                                                  timeout=10).json()["infrastructures"]}
    assert swarm["replicas"] == manifests["swarm"]["limits"]["maxReplicas"] == 4
    assert local["replicas"] is None and manifests["local"]["features"]["replicas"] is False
    assert swarm["maxtime"] == local["maxtime"] == 3600
    assert "can be suspended and resumed" in local["help"]
    assert "given more time (up to 3600 s in all)" in local["help"]
