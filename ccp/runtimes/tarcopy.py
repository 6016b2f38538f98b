"""Copying /ccp_data out of a runtime as a tar stream, without trusting what is in it."""

from __future__ import annotations

import tarfile
import tempfile
from collections.abc import Iterable
from pathlib import Path

MAX_SKIPPED_REPORTED = 100


def extract(chunks: Iterable[bytes], target: Path) -> list[str]:
    """Extract a tar stream into `target`; returns the members left out, with the reason.

    The stream is spooled to a file next to `target` (outputs may be large), then extracted
    with tarfile's "data" filter: no absolute paths, no `..`, no links leaving `target`, no
    device files or FIFOs. A member the filter refuses is skipped, not fatal.
    """
    target.mkdir(parents=True, exist_ok=True)
    skipped: list[str] = []

    def safe(member: tarfile.TarInfo, path: str) -> tarfile.TarInfo | None:
        try:
            return tarfile.data_filter(member, path)
        except tarfile.FilterError as err:
            skipped.append(f"{member.name}: {err}")
            return None

    with tempfile.TemporaryFile(dir=target.parent, prefix=".ccp-fetch-") as spool:
        for chunk in chunks:
            spool.write(chunk)
        if spool.tell() == 0:
            return skipped  # nothing came: the runtime says why
        spool.seek(0)
        with tarfile.open(fileobj=spool, mode="r:") as tar:
            tar.extractall(target, filter=safe)
    return skipped
