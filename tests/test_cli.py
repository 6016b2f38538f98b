"""The `ccp` command: validate Method files, run, export and import Executions."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

from conftest import REPO


def ccp(*args: str, data_dir: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "CCP_DATA_DIR": str(data_dir),
           "CCP_METHODS_DIR": str(REPO / "methods"),
           "CCP_INFRASTRUCTURES_DIR": str(REPO / "infrastructures")}
    return subprocess.run([sys.executable, "-m", "ccp.cli", *args], capture_output=True,
                          text=True, env=env, timeout=120, cwd=REPO)


def test_method_validate_prints_every_problem(tmp_path: Path) -> None:
    bad = json.loads((REPO / "methods" / "hello-world.json").read_text())
    del bad["inputs"]["ccpimage"]
    bad["additionalParameters"]["parameters"][1]["value"] = ["echo {{ name"]
    (tmp_path / "bad.json").write_text(json.dumps(bad))
    result = ccp("method", "validate", str(REPO / "methods" / "hello-world.json"),
                 str(tmp_path / "bad.json"), data_dir=tmp_path / "data")
    assert result.returncode == 1
    assert "valid method 'hello-world'" in result.stdout
    assert f"{tmp_path / 'bad.json'}: input 'ccpimage' is required" in result.stdout
    assert "'execute-script' is not a valid template: line 1" in result.stdout


def test_run_export_import_round_trip(tmp_path: Path) -> None:
    source, target = tmp_path / "a", tmp_path / "b"
    result = ccp("run", "hello-world", "-i", "name=cli", "--json", data_dir=source)
    assert result.returncode == 0, result.stderr
    job = json.loads(result.stdout.strip().splitlines()[-1])
    assert job["status"] == "successful"
    exported = tmp_path / "exported.zip"
    result = ccp("export", job["jobID"], str(exported), data_dir=source)
    assert result.returncode == 0, result.stderr
    outputs = zipfile.ZipFile(zipfile.ZipFile(exported).open("outputs/output.zip"))
    assert outputs.read("hello.txt") == b"Hello, cli!\n"
    result = ccp("import", str(exported), data_dir=target)
    assert result.returncode == 0, result.stderr
    assert job["jobID"] in result.stdout
    again = ccp("import", str(exported), data_dir=target)  # a taken id: a new job of its own
    assert again.returncode == 0 and "imported" in again.stdout
    assert job["jobID"] not in again.stdout
    assert ccp("export", "nope", str(tmp_path / "x.zip"), data_dir=target).returncode == 1


def test_storage_retry_with_nothing_pending(tmp_path: Path) -> None:
    result = ccp("storage", "retry", data_dir=tmp_path / "data")
    assert result.returncode == 0 and "0 archive(s) stored" in result.stdout
