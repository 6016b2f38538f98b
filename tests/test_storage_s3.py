"""Execution archives in a real S3 server (SeaweedFS here; MinIO in production)."""

from __future__ import annotations

import io
import json
import time
import zipfile
from pathlib import Path

import pytest
import requests
from conftest import REPO, submit, wait_final
from services import s3_settings

from ccp.storage.base import StorageError
from ccp.storage.s3 import S3Storage

pytestmark = pytest.mark.s3


def test_s3_storage_round_trip(s3_storage_config, tmp_path: Path) -> None:
    storage = S3Storage.from_config(s3_storage_config(prefix="deep/prefix"))
    tree = tmp_path / "tree"
    (tree / "metadata").mkdir(parents=True)
    (tree / "metadata" / "a.json").write_text('{"a": 1}')
    (tree / "outputs").mkdir()
    payload = bytes(range(256)) * 4096
    (tree / "outputs" / "output.zip").write_bytes(payload)
    storage.put_tree("executions/j1", tree)
    assert storage.list("executions/j1") == ["metadata/a.json", "outputs/output.zip"]
    assert storage.read_bytes("executions/j1/outputs/output.zip") == payload
    assert storage.size("executions/j1/metadata/a.json") == 8
    with pytest.raises(FileNotFoundError):
        storage.size("executions/j1/nope")
    url = storage.presigned_url("executions/j1/outputs/output.zip")
    assert requests.get(url, timeout=10).content == payload
    storage.delete_prefix("executions/j1")
    assert storage.list("executions/j1") == []


def test_execution_archive_lands_in_the_bucket_and_downloads_identically(
        app_factory, s3_storage_config) -> None:
    config = s3_storage_config()
    app = app_factory(storage=config)
    client = app.test_client()
    job_id = submit(client, "hello-world", {"name": "S3"})
    assert wait_final(client, job_id)["status"] == "successful"

    settings = s3_settings()
    from minio import Minio

    direct = Minio(settings["endpoint"], settings["access_key"], settings["secret_key"],
                   secure=False)
    keys = {o.object_name for o in direct.list_objects(config["bucket"],
                                                       prefix=f"executions/{job_id}/",
                                                       recursive=True)}
    prefix = f"executions/{job_id}/"
    assert {prefix + name for name in ("metadata/request.json", "metadata/method.json",
                                       "metadata/provenance.json", "auth/jwt.json",
                                       "outputs/output.zip", "logs/execution.log")} <= keys
    in_bucket = direct.get_object(config["bucket"], prefix + "outputs/output.zip").read()
    downloaded = client.get(f"/jobs/{job_id}/outputs/output.zip").data
    assert downloaded == in_bucket
    archive = zipfile.ZipFile(io.BytesIO(client.get(f"/jobs/{job_id}/archive").data))
    assert archive.read("outputs/output.zip") == in_bucket
    assert zipfile.ZipFile(io.BytesIO(in_bucket)).read("hello.txt") == b"Hello, S3!\n"


def test_downloads_can_redirect_to_presigned_urls(app_factory, s3_storage_config) -> None:
    client = app_factory(storage=s3_storage_config(redirect="true")).test_client()
    job_id = submit(client, "hello-world", {"name": "presigned"})
    wait_final(client, job_id)
    response = client.get(f"/jobs/{job_id}/outputs/output.zip")
    assert response.status_code == 302
    assert "X-Amz-Signature" in response.headers["Location"]
    body = requests.get(response.headers["Location"], timeout=10).content
    assert zipfile.ZipFile(io.BytesIO(body)).read("hello.txt") == b"Hello, presigned!\n"
    response = client.get(f"/jobs/{job_id}/archive")
    assert response.status_code == 302
    whole = zipfile.ZipFile(io.BytesIO(requests.get(response.headers["Location"],
                                                    timeout=10).content))
    assert "metadata/request.json" in whole.namelist()


def test_storage_down_fails_the_job_keeps_the_archive_and_retry_stores_it(
        app_factory, s3_storage_config, tmp_path: Path) -> None:
    good = s3_storage_config()
    down = {**good, "endpoint": "127.0.0.1:9"}  # discard port: nothing listens
    app = app_factory(storage=down)
    client = app.test_client()
    manager = app.extensions["ccp"].manager
    job_id = submit(client, "hello-world", {"name": "later"})
    job = wait_final(client, job_id, timeout=60)
    assert job["status"] == "failed"
    assert "archive could not be stored" in job["message"]
    kept = manager.data_dir / "work" / job_id / "archive"
    assert (kept / "outputs" / "output.zip").exists()
    with pytest.raises(StorageError):
        manager.archives.storage.list("executions")

    manager.archives.storage = S3Storage.from_config(good)  # the store is back
    assert manager.recovery.retry_storage() == [job_id]
    job = client.get(f"/jobs/{job_id}").get_json()
    assert job["status"] == "successful" and "stored on retry" in job["message"]
    outputs = zipfile.ZipFile(io.BytesIO(client.get(f"/jobs/{job_id}/outputs/output.zip").data))
    assert outputs.read("hello.txt") == b"Hello, later!\n"
    assert not kept.exists()


def _peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


def test_large_output_streams_without_holding_it_in_memory(server_process, s3_storage_config,
                                                           tmp_path: Path) -> None:
    size_mb = 300
    methods = tmp_path / "methods"
    methods.mkdir()
    method = json.loads((REPO / "methods" / "hello-world.json").read_text())
    method["id"] = "big-output"
    method["inputs"]["megabytes"] = {"schema": {"type": "integer", "default": size_mb}}
    method["additionalParameters"]["parameters"] = [{"name": "execute-script", "value": [
        "head -c $(({{ megabytes }} * 1048576)) /dev/urandom > /ccp_data/big.bin"]}]
    (methods / "big.json").write_text(json.dumps(method))
    config = s3_storage_config()
    server = server_process(
        CCP_METHODS_DIR=str(methods), CCP_STORAGE="s3", CCP_S3_ENDPOINT=config["endpoint"],
        CCP_S3_BUCKET=config["bucket"], CCP_S3_ACCESS_KEY=s3_settings()["access_key"],
        CCP_S3_SECRET_KEY=s3_settings()["secret_key"])

    def run(megabytes: int) -> str:
        job_id = requests.post(f"{server.url}/processes/big-output/execution",
                               json={"inputs": {"megabytes": megabytes}},
                               headers={"Prefer": "respond-async"}, timeout=10
                               ).json()["jobID"]
        deadline = time.monotonic() + 240
        while (job := requests.get(f"{server.url}/jobs/{job_id}", timeout=10).json())[
                "status"] in ("accepted", "running"):
            assert time.monotonic() < deadline
            time.sleep(0.5)
        assert job["status"] == "successful", job
        with requests.get(f"{server.url}/jobs/{job_id}/archive", stream=True,
                          timeout=60) as response:
            return sum(len(chunk) for chunk in response.iter_content(1024 * 1024))

    run(1)  # warm up: every module an execution and a download need is loaded now
    baseline = _peak_rss_mb(server.process.pid)
    received = run(size_mb)
    assert received > size_mb * 1024 * 1024
    peak = _peak_rss_mb(server.process.pid)
    print(f"output {size_mb} MiB, archive {received / 2**20:.0f} MiB, server peak RSS "
          f"{baseline:.0f} MiB before, {peak:.0f} MiB after")
    assert peak - baseline < size_mb / 4, (
        f"server peak RSS grew {peak - baseline:.0f} MiB for a {size_mb} MiB output")
