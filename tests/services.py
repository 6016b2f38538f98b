"""Where the real services of scripts/start-services.sh are; a clear failure if they are not."""

from __future__ import annotations

import os
import uuid

import pytest


def require_env(name: str, service: str) -> str:
    value = os.environ.get(name)
    if not value:
        pytest.fail(f"{name} is not set: start the {service} service with "
                    f"`scripts/start-services.sh {service}` and source /tmp/ccp-services.env "
                    "(./test.sh does both)")
    return value


def s3_settings() -> dict[str, str]:
    return {
        "endpoint": require_env("CCP_TEST_S3_ENDPOINT", "s3"),
        "access_key": require_env("CCP_TEST_S3_ACCESS_KEY", "s3"),
        "secret_key": require_env("CCP_TEST_S3_SECRET_KEY", "s3"),
    }


def s3_storage_config(monkeypatch: pytest.MonkeyPatch, **extra: str) -> dict[str, str]:
    """A storage config on the test S3 server with a bucket of its own."""
    settings = s3_settings()
    monkeypatch.setenv("CCP_S3_ACCESS_KEY", settings["access_key"])
    monkeypatch.setenv("CCP_S3_SECRET_KEY", settings["secret_key"])
    return {"type": "s3", "endpoint": settings["endpoint"], "secure": "false",
            "bucket": f"ccp-test-{uuid.uuid4().hex[:12]}", **extra}


def postgres_url() -> str:
    return require_env("CCP_TEST_PG_URL", "postgres")
