"""One stored file as a seekable file object, read in ranges: what `zipfile` needs to list and
read the members of a stored zip without fetching all of it."""

from __future__ import annotations

import io

from ccp.storage.base import Storage

BUFFER = 256 * 1024


class RangedFile(io.RawIOBase):
    def __init__(self, storage: Storage, key: str) -> None:
        self.storage = storage
        self.key = key
        self.size = storage.size(key)  # FileNotFoundError when it is not stored
        self.position = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.position, io.SEEK_END: self.size}[whence]
        self.position = max(0, base + offset)
        return self.position

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        wanted = min(len(buffer), self.size - self.position)
        if wanted <= 0:
            return 0
        data = self.storage.read_range(self.key, self.position, wanted)
        buffer[:len(data)] = data
        self.position += len(data)
        return len(data)


def open_ranged(storage: Storage, key: str) -> io.BufferedReader:
    return io.BufferedReader(RangedFile(storage, key), BUFFER)
