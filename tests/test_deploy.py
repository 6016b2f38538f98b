"""deploy/docker-compose.yml is valid, healthy by design and keeps secrets out of files."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"
SECRETS = {"POSTGRES_PASSWORD": "pw", "MINIO_ROOT_USER": "ccp", "MINIO_ROOT_PASSWORD": "pw2"}


def compose_config() -> dict:
    tool = shutil.which("docker-compose")
    if tool is None:
        pytest.fail("docker-compose is needed to validate deploy/ "
                    "(scripts/install-system-packages.sh installs it)")
    result = subprocess.run([tool, "-f", str(DEPLOY / "docker-compose.yml"), "config"],
                            capture_output=True, text=True, env={**os.environ, **SECRETS},
                            timeout=60)
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)


def test_compose_file_is_valid_and_complete() -> None:
    config = compose_config()
    assert set(config["services"]) == {"ccp", "db", "minio", "minio-init"}
    for name in ("ccp", "db", "minio"):
        assert "healthcheck" in config["services"][name], name
    ccp = config["services"]["ccp"]
    assert ccp["environment"]["CCP_STORAGE"] == "s3"
    assert ccp["environment"]["CCP_DATABASE_URL"].startswith("postgresql+psycopg://")
    assert {"ccp-data", "db-data", "minio-data"} <= set(config["volumes"])


def test_compose_refuses_to_start_without_secrets() -> None:
    tool = shutil.which("docker-compose") or pytest.fail("docker-compose missing")
    env = {k: v for k, v in os.environ.items() if k not in SECRETS}
    result = subprocess.run([tool, "-f", str(DEPLOY / "docker-compose.yml"), "config"],
                            capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode != 0
    assert "POSTGRES_PASSWORD" in result.stderr or "MINIO_ROOT" in result.stderr


def test_no_secret_is_written_in_the_deploy_files() -> None:
    text = (DEPLOY / "docker-compose.yml").read_text() + (DEPLOY / "Dockerfile").read_text()
    for word in ("change-me", "password=", "secret123"):
        assert word not in text.lower()
