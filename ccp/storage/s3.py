"""Archives in MinIO or any S3 store, through the `minio` SDK.

Files go up with multipart uploads and come down as streams, so an output of gigabytes never
sits in the server's memory. Credentials come from environment variables named in the config,
never from the config file itself.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path
from typing import Any, BinaryIO, cast

import urllib3
from minio import Minio
from minio.commonconfig import CopySource
from minio.deleteobjects import DeleteObject
from minio.error import S3Error

from ccp.storage.base import Storage, StorageError
from ccp.values import as_bool

PART_SIZE = 16 * 1024 * 1024
MISSING = ("NoSuchKey", "NoSuchObject", "NoSuchBucket")


class S3Storage(Storage):
    def __init__(self, client: Minio, bucket: str, prefix: str = "",
                 presign_expiry: int = 3600, endpoint: str = "") -> None:
        self.client = client
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.presign_expiry = presign_expiry
        self.endpoint = endpoint
        self._bucket_ready = False

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> S3Storage:
        endpoint = config.get("endpoint") or os.environ.get("CCP_S3_ENDPOINT", "")
        if not endpoint:
            raise ValueError("storage.endpoint (or CCP_S3_ENDPOINT) is required for s3 storage")
        access_key = os.environ.get(config.get("access_key_env", "CCP_S3_ACCESS_KEY"))
        secret_key = os.environ.get(config.get("secret_key_env", "CCP_S3_SECRET_KEY"))
        secure = as_bool(config.get("secure"))
        # Fail within seconds when the store is down, instead of urllib3's long retries.
        http = urllib3.PoolManager(
            timeout=urllib3.Timeout(connect=5, read=60),
            retries=urllib3.Retry(total=2, backoff_factor=0.2,
                                  status_forcelist=[500, 502, 503, 504]),
            maxsize=16,
        )
        client = Minio(endpoint, access_key=access_key, secret_key=secret_key, secure=secure,
                       region=config.get("region") or None, http_client=http)
        return cls(client, config.get("bucket", "ccp"), config.get("prefix", ""),
                   int(config.get("presign_expiry", 3600)), endpoint)

    def _key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def _ensure_bucket(self) -> None:
        if self._bucket_ready:
            return
        try:
            if not self.client.bucket_exists(self.bucket):
                self.client.make_bucket(self.bucket)
        except S3Error as err:
            if err.code not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                raise StorageError(f"S3 bucket {self.bucket!r}: {err}") from err
        except Exception as err:
            raise StorageError(f"S3 store at {self.endpoint} is unreachable: {err}") from err
        self._bucket_ready = True

    def put_tree(self, prefix: str, directory: Path, move: bool = False) -> None:
        self._ensure_bucket()
        for path in sorted(p for p in directory.rglob("*") if p.is_file()):
            key = self._key(f"{prefix}/{path.relative_to(directory).as_posix()}")
            try:
                self.client.fput_object(self.bucket, key, str(path), part_size=PART_SIZE,
                                        num_parallel_uploads=1,
                                        content_type=_content_type(path.name))
            except Exception as err:
                raise StorageError(f"uploading {key} to S3 at {self.endpoint} failed: "
                                   f"{err}") from err

    def list(self, prefix: str) -> list[str]:
        base = self._key(prefix).rstrip("/") + "/"
        try:
            objects = self.client.list_objects(self.bucket, prefix=base, recursive=True)
            return sorted(obj.object_name[len(base):] for obj in objects)
        except S3Error as err:
            if err.code in MISSING:
                return []
            raise StorageError(str(err)) from err
        except Exception as err:
            raise StorageError(f"S3 store at {self.endpoint} is unreachable: {err}") from err

    def open(self, key: str) -> BinaryIO:
        return cast(BinaryIO, self._get(key))

    def _get(self, key: str, offset: int = 0, length: int = 0) -> _Released:
        """The object from `offset`, `length` bytes of it (0: to its end)."""
        try:
            response = self.client.get_object(self.bucket, self._key(key), offset=offset,
                                              length=length)
        except S3Error as err:
            if err.code in MISSING:
                raise FileNotFoundError(key) from err
            raise StorageError(str(err)) from err
        return _Released(response)

    def read_range(self, key: str, offset: int, length: int) -> bytes:
        if length <= 0:
            return b""
        with self._get(key, offset, length) as stream:
            return stream.read()

    def size(self, key: str) -> int:
        try:
            return int(self.client.stat_object(self.bucket, self._key(key)).size or 0)
        except S3Error as err:
            if err.code in MISSING:
                raise FileNotFoundError(key) from err
            raise StorageError(str(err)) from err

    def copy(self, source: str, target: str) -> None:
        try:  # a server-side copy (multipart past 5 GiB)
            self.client.copy_object(self.bucket, self._key(target),
                                    CopySource(self.bucket, self._key(source)))
        except S3Error as err:
            if err.code in MISSING:
                raise FileNotFoundError(source) from err
            raise StorageError(str(err)) from err
        except Exception as err:
            raise StorageError(f"copying {source} in S3 at {self.endpoint} failed: "
                               f"{err}") from err

    def delete_prefix(self, prefix: str) -> None:
        base = self._key(prefix).rstrip("/") + "/"
        objects = self.client.list_objects(self.bucket, prefix=base, recursive=True)
        errors = list(self.client.remove_objects(
            self.bucket, (DeleteObject(obj.object_name) for obj in objects)))
        if errors:
            raise StorageError(f"deleting {prefix} failed: {errors[0]}")

    def location(self, key: str) -> str:
        return f"s3://{self.bucket}/{self._key(key)}"

    def presigned_url(self, key: str) -> str | None:
        return self.client.get_presigned_url(
            "GET", self.bucket, self._key(key), expires=timedelta(seconds=self.presign_expiry))


class _Released:
    """A minio response as a file object that returns its connection to the pool on close."""

    def __init__(self, response: Any) -> None:
        self.response = response

    def read(self, size: int = -1) -> bytes:
        return self.response.read(None if size < 0 else size)

    def close(self) -> None:
        self.response.close()
        self.response.release_conn()

    def __enter__(self) -> _Released:
        return self

    def __exit__(self, *_exc: Any) -> None:
        self.close()


def _content_type(name: str) -> str:
    if name.endswith(".json"):
        return "application/json"
    if name.endswith(".zip"):
        return "application/zip"
    if name.endswith((".log", ".txt", ".provn")):
        return "text/plain; charset=utf-8"
    if name.endswith(".ttl"):
        return "text/turtle"
    return "application/octet-stream"
