"""Copying /ccp_data out of an LXD container, without trusting it.

One tar stream: `tar -cf - .` in /ccp_data, run in the container and read from its output,
extracted as every runtime extracts (ccp.runtimes.tarcopy: no absolute paths, no `..`, no
link leaving the destination, no FIFOs or devices). An image without `tar` falls back to
LXD's file API, one request per file and directory: regular files and directories only (a
symlink is not followed, it could point anywhere on the host side of the copy), and a FIFO,
socket or device is skipped (the file API would block for ever opening a FIFO); those are
found first with a small POSIX `sh` walk.
"""

from __future__ import annotations

import logging
import os
import stat
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ccp.runtimes import tarcopy
from ccp.runtimes.base import DATA_PATH, RuntimeFailure
from ccp.runtimes.lxd.client import CONNECT_TIMEOUT, LXDServer

LOGGER = logging.getLogger(__name__)

FILE_READ_TIMEOUT = 60.0      # a stall this long while pulling a file is an error
SCAN_TIMEOUT = 120.0          # for listing the special files in /ccp_data
CHUNK = 1024 * 1024

# Prints the paths of the FIFOs, sockets and devices under /ccp_data, NUL-terminated.
SPECIAL_FILES_SCRIPT = r"""
walk() {
  for f in "$1"/* "$1"/.[!.]* "$1"/..?*; do
    if [ -L "$f" ]; then :
    elif [ -d "$f" ]; then walk "$f"
    elif [ -e "$f" ] && [ ! -f "$f" ]; then printf '%s\0' "$f"
    fi
  done
}
if [ -d /ccp_data ] && [ ! -L /ccp_data ]; then walk /ccp_data; fi
exit 0
"""


# Exit 3: there is no /ccp_data; 4: no tar in the image.
TAR_SCRIPT = ("cd /ccp_data 2>/dev/null || exit 3; command -v tar >/dev/null 2>&1 || exit 4; "
              "exec tar -cf - .")


def fetch(server: LXDServer, client: Any, name: str, destination: Path) -> list[str]:
    """Pull /ccp_data of container `name` into `destination`; returns what was skipped."""
    skipped = _fetch_tar(server, client, name, destination)
    if skipped is not None:
        return skipped
    return _fetch_files(server, client, name, destination)


def _fetch_tar(server: LXDServer, client: Any, name: str, destination: Path
               ) -> list[str] | None:
    """One tar stream out of the container; None when the image has no tar."""
    with server.errors(f"find container {name}"):
        lxd_instance = client.instances.get(name)
    errors: list[bytes] = []
    result: dict[str, Any] = {}
    last_data = [time.monotonic()]
    with tarcopy.spool_for(destination) as spool:

        def out(data: bytes) -> None:
            spool.write(data)
            last_data[0] = time.monotonic()

        def run() -> None:
            try:
                result["exit"] = lxd_instance.execute(
                    ["sh", "-c", TAR_SCRIPT], decode=False, stdout_handler=out,
                    stderr_handler=errors.append).exit_code
            except BaseException as err:  # reported below
                result["error"] = err

        thread = threading.Thread(target=run, name=f"lxd-tar-{name}", daemon=True)
        thread.start()
        while thread.is_alive():
            thread.join(1.0)
            if thread.is_alive() and time.monotonic() - last_data[0] > FILE_READ_TIMEOUT:
                raise RuntimeFailure(f"copying {DATA_PATH} out of container {name} stalled "
                                     f"for {FILE_READ_TIMEOUT:.0f} s")
        if "error" in result:
            with server.errors(f"copy {DATA_PATH} out of container {name}"):
                raise result["error"]
        if result.get("exit") == 4:
            return None
        destination.mkdir(parents=True, exist_ok=True)
        if result.get("exit") == 3:
            return []
        skipped = tarcopy.extract_spooled(spool, destination)
    complaints = b"".join(errors).decode("utf-8", "replace").splitlines()
    return skipped + [line for line in complaints if line.strip()]


def _fetch_files(server: LXDServer, client: Any, name: str, destination: Path) -> list[str]:
    """/ccp_data file by file through LXD's file API."""
    from pylxd.exceptions import NotFound

    files = client.api.instances[name].files
    special = _special_files(server, client, name)
    skipped: list[str] = []
    destination.mkdir(parents=True, exist_ok=True)
    root = destination.resolve()
    pending = [(DATA_PATH, root)]
    with server.errors(f"copy {DATA_PATH} out of container {name}"):
        while pending:
            remote, local = pending.pop()
            if remote in special:
                LOGGER.warning("fetch from %s: skipping special file %s", name, remote)
                skipped.append(f"{remote}: a FIFO, socket or device")
                continue
            try:
                response = files.get(params={"path": remote}, is_api=False, stream=True,
                                     timeout=(CONNECT_TIMEOUT, FILE_READ_TIMEOUT))
            except NotFound:
                if remote == DATA_PATH:
                    return skipped
                raise
            with response:
                kind = response.headers.get("X-LXD-type")
                mode = _mode(response.headers.get("X-LXD-mode"))
                if kind == "directory":
                    if local != root:
                        _safe_mkdir(root, local, mode)
                    for entry in response.json().get("metadata") or []:
                        if _safe_name(entry):
                            pending.append((f"{remote}/{entry}", local / entry))
                elif kind == "file":
                    _safe_write(root, local, mode, response.iter_content(CHUNK))
                else:  # symlinks are not followed and not copied: nothing may point outside
                    skipped.append(f"{remote}: a {kind or 'special file'}, not copied")
    return skipped


def _special_files(server: LXDServer, client: Any, name: str) -> set[str]:
    """Paths of the FIFOs, sockets and device files under /ccp_data."""
    with server.errors(f"find container {name}"):
        lxd_instance = client.instances.get(name)
    chunks: list[bytes] = []
    result: dict[str, Any] = {}

    def scan() -> None:
        try:
            result["exit"] = lxd_instance.execute(
                ["sh", "-c", SPECIAL_FILES_SCRIPT], decode=False,
                stdout_handler=chunks.append, stderr_handler=lambda _data: None,
            ).exit_code
        except BaseException as err:  # reported below
            result["error"] = err

    thread = threading.Thread(target=scan, name=f"lxd-scan-{name}", daemon=True)
    thread.start()
    thread.join(SCAN_TIMEOUT)
    if thread.is_alive():
        raise RuntimeFailure(f"listing {DATA_PATH} in container {name} took over "
                             f"{SCAN_TIMEOUT:.0f} s")
    if "error" in result:
        with server.errors(f"list {DATA_PATH} in container {name}"):
            raise result["error"]
    if result.get("exit") != 0:
        raise RuntimeFailure(f"listing {DATA_PATH} in container {name} failed "
                             f"(exit code {result.get('exit')})")
    return {path.decode("utf-8", "replace")
            for path in b"".join(chunks).split(b"\0") if path}


def _mode(header: str | None) -> int:
    try:
        return int(header or "644", 8) & 0o777
    except ValueError:
        return 0o644


def _safe_name(entry: Any) -> bool:
    return (isinstance(entry, str) and entry not in ("", ".", "..")
            and "/" not in entry and "\\" not in entry and "\0" not in entry)


def _inside(root: Path, path: Path) -> bool:
    parent = Path(os.path.realpath(path.parent))
    return parent == root or root in parent.parents


def _safe_mkdir(root: Path, path: Path, mode: int) -> None:
    if not _inside(root, path):
        raise RuntimeFailure(f"refusing to write outside the destination: {path}")
    if path.is_symlink():
        raise RuntimeFailure(f"refusing to write through a symlink: {path}")
    path.mkdir(mode=mode | 0o700, exist_ok=True)


def _safe_write(root: Path, path: Path, mode: int, chunks: Iterator[bytes]) -> None:
    if not _inside(root, path):
        raise RuntimeFailure(f"refusing to write outside the destination: {path}")
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0)
    descriptor = os.open(path, flags, mode | 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            raise RuntimeFailure(f"refusing to write to a non-regular file: {path}")
        for chunk in chunks:
            handle.write(chunk)
