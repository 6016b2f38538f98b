"""Runner uids for the local runtime: one host uid (and gid) per running execution.

A server running as root gives each execution a uid of its own from the Infrastructure's
range (`runnerUids`), the way Nix gives each build a build user. With a uid per execution,
file modes keep executions apart (work dirs are 0700), no execution can signal another, and
Destroy is a clean sweep: `kill -9 -1` as that uid ends every process it started, whatever
it did to its environment, session or process group (Linux sends that kill to every process
the uid may signal, in one pass that new forks cannot escape).

A uid is leased through a file `<lease dir>/<uid>`, made with O_EXCL, so servers on one host
never hand out the same uid. The lease names the execution, its work dir and the server
process; a lease whose server is gone (crashed, never restarted) is reclaimed: its processes
swept, its work dir removed. No accounts are needed in /etc/passwd: the uids only have to be
unused, which `check_range` verifies against the host's accounts and subordinate-id ranges.
"""

from __future__ import annotations

import json
import logging
import os
import pwd
import random
import shutil
import signal
import stat
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from ccp.runtimes.base import RuntimeFailure

LOGGER = logging.getLogger(__name__)

LEASE_DIR = Path(tempfile.gettempdir()) / "ccp-local-uids"
SWEEP_TIMEOUT = 10.0
SUBORDINATE_ID_FILES = ("/etc/subuid", "/etc/subgid")


@dataclass(frozen=True)
class Lease:
    uid: int
    execution_id: str
    workdir: str
    owner_pid: int
    owner_started: str


class RunnerUids:
    """Lease and release uids of the range [first, last]."""

    def __init__(self, first: int, last: int, lease_dir: Path = LEASE_DIR) -> None:
        self.first = first
        self.last = last
        self.lease_dir = lease_dir

    def __contains__(self, uid: object) -> bool:
        return isinstance(uid, int) and self.first <= uid <= self.last

    def lease(self, execution_id: str, workdir: Path) -> int:
        """A uid no other execution holds; reclaims leases of servers that are gone."""
        directory = self._directory()
        count = self.last - self.first + 1
        start = random.randrange(count)  # servers starting together rarely collide
        for offset in range(count):
            uid = self.first + (start + offset) % count
            if self._take(directory, uid, execution_id, workdir):
                return uid
            stale = self.read(uid)
            if stale is not None and not _alive(stale.owner_pid, stale.owner_started):
                LOGGER.warning("reclaiming runner uid %d of execution %s: its server (pid "
                               "%d) is gone", uid, stale.execution_id, stale.owner_pid)
                self.clean(stale)
                if self._take(directory, uid, execution_id, workdir):
                    return uid
        raise RuntimeFailure(f"all {count} runner uids {self.first}-{self.last} are in use: "
                             "widen settings.runnerUids or wait for executions to end")

    def _take(self, directory: Path, uid: int, execution_id: str, workdir: Path) -> bool:
        try:
            descriptor = os.open(directory / str(uid), os.O_WRONLY | os.O_CREAT | os.O_EXCL,
                                 0o600)
        except FileExistsError:
            return False
        pid = os.getpid()
        with os.fdopen(descriptor, "w") as lease:
            json.dump({"execution": execution_id, "workdir": str(workdir), "pid": pid,
                       "started": _start_time(pid)}, lease)
        return True

    def read(self, uid: int) -> Lease | None:
        try:
            data = json.loads((self.lease_dir / str(uid)).read_text())
            return Lease(uid, str(data["execution"]), str(data["workdir"]), int(data["pid"]),
                         str(data["started"]))
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def leases(self) -> list[Lease]:
        if not self.lease_dir.is_dir():
            return []
        found = []
        for entry in self.lease_dir.iterdir():
            if entry.name.isdigit() and int(entry.name) in self:
                lease = self.read(int(entry.name))
                if lease is not None:
                    found.append(lease)
        return found

    def release(self, uid: int, execution_id: str) -> None:
        """Give the uid back, if this execution holds it (its processes must be gone)."""
        lease = self.read(uid)
        if lease is not None and lease.execution_id == execution_id:
            (self.lease_dir / str(uid)).unlink(missing_ok=True)

    def clean(self, lease: Lease) -> None:
        """End everything of a lease whose server is gone, and free the uid."""
        sweep(lease.uid)
        workdir = Path(lease.workdir)
        if workdir.is_dir() and not workdir.is_symlink():
            shutil.rmtree(workdir, ignore_errors=True)
        (self.lease_dir / str(lease.uid)).unlink(missing_ok=True)

    def _directory(self) -> Path:
        """The lease dir: made private, and refused if someone else made it."""
        directory = self.lease_dir
        try:
            directory.mkdir(mode=0o700, parents=True)
        except FileExistsError:
            pass
        info = os.lstat(directory)
        if (not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid()
                or info.st_mode & 0o077):
            raise RuntimeFailure(f"the runner uid lease dir {directory} must be a directory "
                                 "of the server's user with mode 0700")
        return directory


def processes_of(uid: int) -> list[int]:
    """Live processes (zombies aside) whose real or effective uid is `uid`."""
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/status", "rb") as status:
                text = status.read()
        except OSError:
            continue
        state = uids = b""
        for line in text.splitlines():
            if line.startswith(b"State:"):
                state = line.split()[1]
            elif line.startswith(b"Uid:"):
                uids = line
                break
        if state != b"Z" and str(uid).encode() in uids.split()[1:3]:
            found.append(int(entry.name))
    return found


def runner_command(uid: int) -> list[str]:
    """The command prefix that runs a program as `uid` (and gid `uid`), with no other groups
    and no new privileges (setuid programs do not elevate). util-linux's `setpriv`: the
    server forks no copy of itself to switch users."""
    return ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups",
            "--no-new-privs", "--"]


def sweep(uid: int) -> None:
    """Kill every process of `uid`: `kill -9 -1` run as that uid, until none is left."""
    deadline = time.monotonic() + SWEEP_TIMEOUT
    while left := processes_of(uid):
        if time.monotonic() > deadline:
            raise RuntimeFailure(f"processes {left} of runner uid {uid} survive kill -9")
        try:
            subprocess.run([*runner_command(uid), "kill", "-9", "-1"],
                           stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, env={"PATH": "/usr/bin:/bin"},
                           cwd="/", timeout=SWEEP_TIMEOUT, check=False)
        except (OSError, subprocess.SubprocessError) as err:
            raise RuntimeFailure(f"cannot end the processes of runner uid {uid}: {err}") from err
        for pid in processes_of(uid):  # e.g. a setuid program the script ran: real uid ours
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.01)


def check_range(first: int, last: int, subordinate_files: tuple[str, ...] = SUBORDINATE_ID_FILES
                ) -> str | None:
    """Why [first, last] must not be used for runners, or None: no account of the host and
    no subordinate-id range (user namespaces of LXD, Docker, Podman) may fall inside it."""
    for account in pwd.getpwall():
        if first <= account.pw_uid <= last:
            return (f"runner uids {first}-{last} include uid {account.pw_uid} of account "
                    f"'{account.pw_name}'")
    for path in subordinate_files:
        try:
            lines = Path(path).read_text().splitlines()
        except OSError:
            continue
        for line in lines:
            parts = line.strip().split(":")
            if len(parts) == 3 and parts[1].isdigit() and parts[2].isdigit():
                start, count = int(parts[1]), int(parts[2])
                if start <= last and first < start + count:
                    return (f"runner uids {first}-{last} overlap the subordinate ids "
                            f"{start}-{start + count - 1} of '{parts[0]}' in {path}")
    return None


def _start_time(pid: int) -> str:
    """When process `pid` started (clock ticks since boot), to tell a reused pid apart."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            text = handle.read()
    except OSError:
        return ""
    return text[text.rindex(b")") + 2:].split()[19].decode()


def _alive(pid: int, started: str) -> bool:
    return _start_time(pid) == started and started != ""
