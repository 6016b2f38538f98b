"""Where the real services of scripts/start-services.sh are; a clear failure if they are not."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import create_engine, make_url, text


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


TEST_BUCKET_PREFIX = "ccp-test-"


def _s3_client():
    from minio import Minio

    settings = s3_settings()
    return Minio(settings["endpoint"], settings["access_key"], settings["secret_key"],
                 secure=False)


def remove_bucket(client, bucket: str) -> None:
    """Delete a test bucket and everything in it: the S3 server's volumes are finite."""
    from minio.deleteobjects import DeleteObject

    if not client.bucket_exists(bucket):
        return
    objects = client.list_objects(bucket, recursive=True)
    for error in client.remove_objects(bucket, (DeleteObject(o.object_name) for o in objects)):
        raise AssertionError(f"could not empty {bucket}: {error}")
    client.remove_bucket(bucket)


@pytest.fixture(scope="session")
def s3_clean() -> None:
    """Remove test buckets an interrupted earlier run left behind."""
    client = _s3_client()
    for bucket in client.list_buckets():
        if bucket.name.startswith(TEST_BUCKET_PREFIX):
            remove_bucket(client, bucket.name)


@pytest.fixture
def s3_storage_config(monkeypatch: pytest.MonkeyPatch, s3_clean: None
                      ) -> Iterator[Callable[..., dict[str, str]]]:
    """Make storage configs on the test S3 server, each with a bucket of its own that is
    removed after the test."""
    settings = s3_settings()
    monkeypatch.setenv("CCP_S3_ACCESS_KEY", settings["access_key"])
    monkeypatch.setenv("CCP_S3_SECRET_KEY", settings["secret_key"])
    buckets: list[str] = []

    def make(**extra: str) -> dict[str, str]:
        buckets.append(f"{TEST_BUCKET_PREFIX}{uuid.uuid4().hex[:12]}")
        return {"type": "s3", "endpoint": settings["endpoint"], "secure": "false",
                "bucket": buckets[-1], **extra}

    yield make
    client = _s3_client()
    for bucket in buckets:
        remove_bucket(client, bucket)


def postgres_url() -> str:
    return require_env("CCP_TEST_PG_URL", "postgres")


@contextmanager
def fresh_postgres_database() -> Iterator[str]:
    """The URL of a new, empty database on the test server, with a name of its own (the server
    is shared), dropped afterwards even if servers are still connected to it."""
    url = make_url(postgres_url())
    name = f"ccp_test_{uuid.uuid4().hex[:16]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def fresh_postgres_url() -> Iterator[str]:
    """A new database for one test; ask for it before `server_process`, so that the servers
    stop before it is dropped."""
    with fresh_postgres_database() as url:
        yield url
