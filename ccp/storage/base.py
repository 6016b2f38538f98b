"""Where Execution archives live. Keys look like `executions/<job id>/metadata/request.json`."""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import BinaryIO


class StorageError(RuntimeError):
    """The store could not be reached or refused the operation."""


class Storage(ABC):
    @abstractmethod
    def put_tree(self, prefix: str, directory: Path, move: bool = False) -> None:
        """Store every file under `directory` at `prefix/<relative path>`. `move`: the
        caller no longer needs `directory`, a store on its file system may take it as is."""

    @abstractmethod
    def list(self, prefix: str) -> list[str]:
        """Relative paths of the files stored under `prefix/`, sorted."""

    @abstractmethod
    def open(self, key: str) -> BinaryIO:
        """A readable binary stream of one stored file; FileNotFoundError if absent."""

    @abstractmethod
    def size(self, key: str) -> int:
        """Size in bytes of one stored file; FileNotFoundError if absent."""

    @abstractmethod
    def copy(self, source: str, target: str) -> None:
        """Store the file at key `source` again at key `target`, inside the store (no bytes
        through the server where the store can help it); FileNotFoundError if absent."""

    @abstractmethod
    def delete_prefix(self, prefix: str) -> None:
        """Remove every file under `prefix/`."""

    def exists(self, key: str) -> bool:
        try:
            self.size(key)
        except FileNotFoundError:
            return False
        return True

    def read_bytes(self, key: str) -> bytes:
        with self.open(key) as stream:
            return stream.read()

    def read_range(self, key: str, offset: int, length: int) -> bytes:
        """Up to `length` bytes of one stored file from `offset` (stores that can seek or
        ask for a range override this reading from the start)."""
        with self.open(key) as stream:
            while offset > 0 and (skipped := len(stream.read(min(offset, 1024 * 1024)))):
                offset -= skipped
            return stream.read(length)

    def location(self, key: str) -> str:
        """Where a key is, for people (a path, a URL)."""
        return key

    def presigned_url(self, key: str) -> str | None:
        """A direct download URL, where the store offers one."""
        return None
