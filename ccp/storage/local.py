"""Archives on the local disk: the default store."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import BinaryIO

from ccp.storage.base import Storage, StorageError


class LocalStorage(Storage):
    def __init__(self, root: Path) -> None:
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if not path.is_relative_to(self.root.resolve()):
            raise StorageError(f"key escapes the store: {key!r}")
        return path

    def location(self, key: str) -> str:
        return str(self._path(key))

    def put_tree(self, prefix: str, directory: Path, move: bool = False) -> None:
        target = self._path(prefix)
        staging = target.with_name(target.name + ".partial")
        shutil.rmtree(staging, ignore_errors=True)
        staging.parent.mkdir(parents=True, exist_ok=True)
        try:
            if not move:
                raise OSError("copy")
            os.rename(directory, staging)  # the same file system: nothing to copy
        except OSError:
            shutil.copytree(directory, staging)
        # Replace atomically so readers never see half an archive.
        if target.exists():
            old = target.with_name(target.name + ".old")
            shutil.rmtree(old, ignore_errors=True)
            target.rename(old)
            staging.rename(target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            staging.rename(target)

    def list(self, prefix: str) -> list[str]:
        base = self._path(prefix)
        if not base.is_dir():
            return []
        return sorted(str(p.relative_to(base)) for p in base.rglob("*") if p.is_file())

    def open(self, key: str) -> BinaryIO:
        return self._path(key).open("rb")

    def read_range(self, key: str, offset: int, length: int) -> bytes:
        with self._path(key).open("rb") as stream:
            stream.seek(offset)
            return stream.read(length)

    def size(self, key: str) -> int:
        path = self._path(key)
        if not path.is_file():
            raise FileNotFoundError(key)
        return path.stat().st_size

    def copy(self, source: str, target: str) -> None:
        """A hard link where the file system allows (archive files are never changed in
        place: a new archive replaces a directory), else a copy."""
        source_path, target_path = self._path(source), self._path(target)
        if not source_path.is_file():
            raise FileNotFoundError(source)
        target_path.parent.mkdir(parents=True, exist_ok=True)
        target_path.unlink(missing_ok=True)
        try:
            os.link(source_path, target_path)
        except OSError:
            shutil.copyfile(source_path, target_path)

    def delete_prefix(self, prefix: str) -> None:
        shutil.rmtree(self._path(prefix), ignore_errors=True)
