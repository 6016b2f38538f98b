"""Choose the archive store from configuration."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ccp.storage.base import Storage, StorageError

__all__ = ["Storage", "StorageError", "storage_from_config"]


def storage_from_config(config: dict[str, Any], data_dir: Path) -> Storage:
    kind = config.get("type", "local")
    if kind == "local":
        from ccp.storage.local import LocalStorage

        return LocalStorage(Path(config.get("path") or data_dir / "archives"))
    if kind in ("s3", "minio"):
        from ccp.storage.s3 import S3Storage

        return S3Storage.from_config(config)
    raise ValueError(f"unknown storage type {kind!r} (local, s3)")
