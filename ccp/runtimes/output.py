"""A script's output on its way to the log: split into lines, and a sink that cannot fail.

Every runtime reads bytes as they come (a pipe, Docker's multiplexed stream, LXD's
websockets) and turns them into lines with `LineSplitter`; every runtime hands lines to the
lifecycle's log through `guarded`, so a broken log never stops the reading (a script whose
output is not read blocks once its pipe is full).
"""

from __future__ import annotations

import functools
import logging
import os
import threading
from collections.abc import Callable
from typing import IO

from ccp.runtimes.base import LogSink

LOGGER = logging.getLogger(__name__)

MAX_LINE_BYTES = 64 * 1024  # a longer line is logged in pieces of this size


class LineSplitter:
    """Bytes in chunks -> whole lines, decoded as UTF-8 (undecodable bytes replaced).

    A partial line waits for its end; one longer than MAX_LINE_BYTES is emitted in pieces
    (cut between characters), so output without newlines never piles up. A trailing "\\r"
    is dropped. close() emits what is left, even without a final newline.
    """

    def __init__(self, emit: Callable[[str], None]) -> None:
        self._emit = emit
        self._pending = bytearray()
        self._lock = threading.Lock()

    def feed(self, data: bytes) -> None:
        lines: list[bytes] = []
        with self._lock:
            pending = self._pending
            pending += data
            while True:
                end = pending.find(b"\n", 0, MAX_LINE_BYTES + 1)
                if end >= 0:
                    lines.append(bytes(pending[:end]))
                    del pending[:end + 1]
                elif len(pending) > MAX_LINE_BYTES:
                    cut = _character_boundary(pending, MAX_LINE_BYTES)
                    lines.append(bytes(pending[:cut]))
                    del pending[:cut]
                else:
                    break
        for line in lines:
            self._send(line)

    def close(self) -> None:
        with self._lock:
            rest, self._pending = bytes(self._pending), bytearray()
        if rest:
            self._send(rest)

    def _send(self, line: bytes) -> None:
        self._emit(line.decode("utf-8", "replace").removesuffix("\r"))


def _character_boundary(data: bytearray, limit: int) -> int:
    """The largest cut <= limit that does not split a UTF-8 character (in valid text)."""
    cut = limit
    while cut > limit - 3 and (data[cut] & 0xC0) == 0x80:  # a continuation byte
        cut -= 1
    return cut


def splitters(log: LogSink, replica: int = 1) -> dict[str, LineSplitter]:
    """A LineSplitter for stdout and one for stderr of one replica."""
    return {stream: LineSplitter(functools.partial(log, replica, stream))
            for stream in ("stdout", "stderr")}


def guarded(log: LogSink, what: str) -> LogSink:
    """`log`, except that it never raises: the first failure is logged, later ones dropped.

    The lines that fail are lost; the script and the reading go on.
    """
    failed = threading.Event()

    def sink(replica: int, stream: str, line: str) -> None:
        try:
            log(replica, stream, line)
        except Exception:
            if not failed.is_set():
                failed.set()
                LOGGER.exception("the log of %s failed; its further failures are not logged",
                                 what)

    return sink


def pump(stream: IO[bytes], lines: LineSplitter) -> threading.Thread:
    """A thread reading `stream` (a pipe) into `lines` until it ends, then closing both."""

    def read() -> None:
        descriptor = stream.fileno()
        try:
            for chunk in iter(lambda: os.read(descriptor, 65536), b""):
                lines.feed(chunk)
        finally:
            lines.close()
            stream.close()

    thread = threading.Thread(target=read, daemon=True, name="ccp-pump")
    thread.start()
    return thread
