"""Copying /ccp_data out of a runtime as a tar stream, without trusting what is in it."""

from __future__ import annotations

import subprocess
import tarfile
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import IO

from ccp.runtimes.base import RuntimeFailure

MAX_SKIPPED_REPORTED = 100


def extract(chunks: Iterable[bytes], target: Path) -> list[str]:
    """Extract a tar stream into `target`; returns the members left out, with the reason.

    The stream is spooled to a file next to `target` (outputs may be large), then extracted
    with tarfile's "data" filter: no absolute paths, no `..`, no links leaving `target`, no
    device files or FIFOs. A member the filter refuses is skipped, not fatal.
    """
    target.mkdir(parents=True, exist_ok=True)
    with spool_for(target) as spool:
        for chunk in chunks:
            spool.write(chunk)
        return extract_spooled(spool, target)


def spool_for(target: Path) -> IO[bytes]:
    """A temporary file next to `target` for a tar stream on its way (removed when closed)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    return tempfile.TemporaryFile(dir=target.parent, prefix=".ccp-fetch-")


def extract_spooled(spool: IO[bytes], target: Path) -> list[str]:
    """Extract the tar stream written to `spool` (see `extract`)."""
    target.mkdir(parents=True, exist_ok=True)
    skipped: list[str] = []

    def safe(member: tarfile.TarInfo, path: str) -> tarfile.TarInfo | None:
        try:
            return tarfile.data_filter(member, path)
        except tarfile.FilterError as err:
            skipped.append(f"{member.name}: {err}")
            return None

    if spool.tell() == 0:
        return skipped  # nothing came: the runtime says why
    spool.seek(0)
    with tarfile.open(fileobj=spool, mode="r:") as tar:
        tar.extractall(target, filter=safe)
    return skipped


def copy_tree(source: Path, target: Path, as_user: list[str]) -> list[str]:
    """Copy the tree at `source` into `target` with `tar` run behind the command prefix
    `as_user` (e.g. `setpriv` to another uid, who reads only what they may); extracted as
    `extract` does. Returns what was left out: refused members and tar's complaints."""
    with tempfile.TemporaryFile(prefix="ccp-fetch-errors-") as errors:
        tar = subprocess.Popen([*as_user, "tar", "-C", str(source), "-cf", "-", "."], cwd="/",
                               env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"},
                               stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=errors)
        stream = tar.stdout
        assert stream is not None
        try:
            skipped = extract(iter(lambda: stream.read(1 << 20), b""), target)
        finally:
            stream.close()
            tar.wait()
        errors.seek(0)
        complaints = errors.read().decode("utf-8", "replace").splitlines()
    return skipped + [line for line in complaints if line.strip()]


def write_tree(source: Path, arcname: str, target: IO[bytes], dir_mode: int = 0o755,
               file_mode: int = 0o644) -> None:
    """Write the directories and regular files under `source` as a tar stream whose members
    are under `arcname` (its parent directories included), owned by root with these modes.
    `source` is the server's own: anything else in it (a symlink) is left out."""
    with tarfile.open(fileobj=target, mode="w|") as tar:
        parts = arcname.strip("/").split("/")
        for depth in range(1, len(parts) + 1):
            _add(tar, "/".join(parts[:depth]), None, dir_mode)
        for path in sorted(source.rglob("*")):
            name = f"{arcname}/{path.relative_to(source).as_posix()}"
            if path.is_symlink():
                continue
            if path.is_dir():
                _add(tar, name, None, dir_mode)
            elif path.is_file():
                _add(tar, name, path, file_mode)


def _add(tar: tarfile.TarFile, name: str, path: Path | None, mode: int) -> None:
    info = tarfile.TarInfo(name)
    info.mode = mode
    info.uid = info.gid = 0
    if path is None:
        info.type = tarfile.DIRTYPE
        tar.addfile(info)
        return
    info.size = path.stat().st_size
    info.mtime = int(path.stat().st_mtime)
    with path.open("rb") as data:
        tar.addfile(info, data)


def copy_in(source: Path, arcname: str, into: Path, as_user: list[str]) -> None:
    """Copy the tree at `source` to `into/arcname` with `tar` run behind the command prefix
    `as_user` (the files are made by that user, in what that user may write)."""
    with tempfile.TemporaryFile(prefix="ccp-stage-errors-") as errors:
        tar = subprocess.Popen([*as_user, "tar", "-C", str(into), "--no-same-owner", "-xf",
                                "-"], cwd="/", env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"},
                               stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=errors)
        assert tar.stdin is not None
        try:
            write_tree(source, arcname, tar.stdin)
        except BrokenPipeError:
            pass  # tar ended early: its complaint says why
        finally:
            tar.stdin.close()
        code = tar.wait()
        errors.seek(0)
        complaint = errors.read().decode("utf-8", "replace").strip()
    if code != 0:
        raise RuntimeFailure(f"copying the inputs in failed (tar exit {code}): "
                             f"{complaint[:500]}")
