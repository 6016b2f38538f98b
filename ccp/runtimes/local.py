"""The local runtime: scripts run as host processes, each execution in a private work dir.

`ccpimage` is recorded but not used. `/ccp_data` in a script is rewritten to the execution's
own `ccp_data/` dir, which is also in `$CCP_DATA`.

What keeps a script away from the server:
- its environment is built from nothing: PATH, HOME (its work dir), LANG, CCP_DATA,
  ccptaskname, ccptaskid and what the lifecycle passes (a runtime token, where configured);
- it runs in a session of its own, with no new privileges (setuid programs do not elevate);
- when the server runs as root, it runs as a runner uid of its own, leased from the
  Infrastructure's `runnerUids` range (see runners.py): it cannot read the server's
  /proc/<pid>/environ, the data dir (0700), another execution's work dir (0700, another uid)
  nor signal anything but its own processes, and Destroy ends all of them (`kill -9 -1` as
  that uid), whatever they did to their environment or session. Memory (`memory`, as
  RLIMIT_AS) and process (`pidsLimit`, as RLIMIT_NPROC of that uid) limits apply.
When the server does not run as root there is no uid switch: scripts run as the server's
user and can read what it can. That is logged once and written into every instance.json.

The switch and the limits are util-linux's `setpriv` and `prlimit` in front of `/bin/sh`
(part of every Debian): the server does not fork a copy of itself to change users.

Work dirs: `<workRoot>/<execution id>/`, the root 0711 and owned by the server (listing it is
refused), each work dir 0700 and owned by the runner. Files are written by the server only
into directories it owns or with O_EXCL, and /ccp_data is fetched by the runner itself (a
tar stream, extracted with tarfile's "data" filter), so a runner's symlinks lead nowhere.
"""

from __future__ import annotations

import hashlib
import logging
import os
import platform
import shutil
import signal
import stat
import subprocess
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ccp.model import Infrastructure
from ccp.runtimes import tarcopy, usage
from ccp.runtimes.base import (
    DATA_PATH,
    Instance,
    LogSink,
    Runtime,
    RuntimeCancelled,
    RuntimeFailure,
    now_iso,
)
from ccp.runtimes.deadline import wait_for_script
from ccp.runtimes.freeze import FrozenProcesses, tagged
from ccp.runtimes.output import guarded, pump, splitters
from ccp.runtimes.runners import RunnerUids, check_range, processes_of, runner_command, sweep
from ccp.runtimes.settings import LocalSettings
from ccp.runtimes.usage import Usage

LOGGER = logging.getLogger(__name__)

SAFE_PATH = "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"
READER_JOIN_SECONDS = 5.0  # a background process may hold the script's pipes open
NO_UID_SWITCH = ("the server does not run as root: scripts run as its own user (uid {uid}) "
                 "and can read what it can read (its environment, data dir and config)")
warned_no_uid_switch = threading.Event()


class LocalRuntime(FrozenProcesses, Runtime):
    type = "local"
    capabilities = frozenset({"suspend", "verify", "health-probe", "memory-limit", "metrics",
                              "stage-inputs"})
    settings: LocalSettings

    def __init__(self, infrastructure: Infrastructure) -> None:
        super().__init__(infrastructure)
        self.switch_uid = os.geteuid() == 0
        self.uids = RunnerUids(*self.settings.runner_uids) if self.switch_uid else None
        # execution id -> what the lifecycle passed (it may hold a token: never in the handle,
        # which goes to the job store)
        self._environments: dict[str, dict[str, str]] = {}
        self._groups: dict[str, int] = {}  # execution id -> process group of its script
        if not self.switch_uid and not warned_no_uid_switch.is_set():
            warned_no_uid_switch.set()
            LOGGER.warning("local runtime: " + NO_UID_SWITCH.format(uid=os.geteuid()))

    @property
    def root(self) -> Path:
        configured = self.settings.work_root
        return Path(configured) if configured else Path(tempfile.gettempdir()) / "ccp-local"

    def check(self) -> None:
        if self.uids is not None:
            problem = check_range(self.uids.first, self.uids.last)
            if problem:
                raise RuntimeFailure(f"{problem}: choose another settings.runnerUids")
        self._work_root()

    def _work_root(self) -> Path:
        return prepare_work_root(self.root, for_runners=self.switch_uid)

    # --- launch -----------------------------------------------------------------------------

    def launch(self, execution_id: str, image: str, env: dict[str, str], replicas: int = 1
               ) -> Instance:
        if replicas != 1:
            raise RuntimeFailure("the local runtime runs exactly one replica")
        if execution_id in ("", ".", "..") or "/" in execution_id or "\0" in execution_id:
            raise RuntimeFailure(f"invalid execution id {execution_id!r}")
        for key, value in env.items():
            if not key or "=" in key or "\0" in key + value:
                raise RuntimeFailure(f"invalid environment variable {key!r}")
        workdir = self._work_root() / execution_id
        uid, gid = os.geteuid(), os.getegid()
        if self.uids is not None:
            uid = gid = self.uids.lease(execution_id, workdir)
        try:
            if workdir.exists():  # left by an earlier launch of this execution
                shutil.rmtree(workdir)
            workdir.mkdir(mode=0o700)
            (workdir / "ccp_data").mkdir(mode=0o700)
            if self.switch_uid:
                os.chown(workdir / "ccp_data", uid, gid)
                os.chown(workdir, uid, gid)
        except BaseException:
            if self.uids is not None:
                self.uids.release(uid, execution_id)
            raise
        self._environments[execution_id] = dict(env)
        return Instance(
            execution_id=execution_id,
            runtime=self.type,
            handle={"workdir": str(workdir), "image": image, "uid": uid, "gid": gid,
                    "imageDigest": host_digest()},
        )

    def image_digest(self, image: str) -> str | None:
        return host_digest()

    def environment(self, instance: Instance) -> dict[str, str]:
        workdir = instance.handle["workdir"]
        given = self._environments.get(instance.execution_id, {})
        return {
            "PATH": SAFE_PATH,
            "HOME": workdir,
            "LANG": "C.UTF-8",
            "CCP_DATA": f"{workdir}/ccp_data",
            "ccptaskname": instance.execution_id,
            **given,
            "ccptaskid": "1",
        }

    # --- run --------------------------------------------------------------------------------

    def run(self, instance: Instance, script: str, timeout: float, log: LogSink) -> int:
        if instance.cancelled.is_set():
            raise RuntimeCancelled("cancelled before the script started")
        workdir = Path(instance.handle["workdir"])
        uid, gid = int(instance.handle["uid"]), int(instance.handle["gid"])
        data = workdir / "ccp_data"
        script_file = self._write_script(workdir, script.replace(DATA_PATH, str(data)), uid, gid)
        try:
            process = subprocess.Popen(
                [*self._as_runner(instance), *self._limits(), "/bin/sh", script_file],
                cwd=workdir,
                env=self.environment(instance),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,  # own session and process group
                umask=0o077,
            )
        except OSError as err:
            _remove(script_file)
            raise RuntimeFailure(f"cannot start /bin/sh: {err}") from err
        self._groups[instance.execution_id] = process.pid
        lines = splitters(guarded(log, f"execution {instance.execution_id}"))
        assert process.stdout is not None and process.stderr is not None
        readers = [pump(process.stdout, lines["stdout"]), pump(process.stderr, lines["stderr"])]

        def ended(seconds: float) -> bool:
            try:
                process.wait(timeout=seconds)
                return True
            except subprocess.TimeoutExpired:
                return False

        try:
            wait_for_script(ended, instance, timeout, stop=lambda: self._stop(instance, process))
        finally:
            self._groups.pop(instance.execution_id, None)
            for reader in readers:
                reader.join(READER_JOIN_SECONDS)
            _remove(script_file)
        return process.returncode

    def _write_script(self, workdir: Path, script: str, uid: int, gid: int) -> str:
        """The script as a file in the work dir, created anew (O_EXCL, no symlink followed)
        and given to the runner; not on the command line, where every user could read it."""
        descriptor, path = tempfile.mkstemp(prefix=".ccp-script-", suffix=".sh", dir=workdir)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            if self.switch_uid:
                os.fchown(handle.fileno(), uid, gid)
            handle.write(script)
        return path

    def _limits(self) -> list[str]:
        """`prlimit` of the script: memory (RLIMIT_AS) and, for a runner uid, processes."""
        limits = []
        if self.settings.memory:
            limits.append(f"--as={self.settings.memory}")
        if self.switch_uid:
            limits.append(f"--nproc={self.settings.pids_limit}")
        return ["prlimit", *limits, "--"] if limits else []

    def _stop(self, instance: Instance, process: subprocess.Popen) -> None:
        """End the script: every process of the runner uid, or the script's process group."""
        if self.switch_uid:
            sweep(int(instance.handle["uid"]))
        else:
            _kill_group(process.pid)
        process.wait()

    # --- stage inputs -----------------------------------------------------------------------

    def stage_inputs(self, instance: Instance, directory: Path) -> None:
        """Copy the inputs into ccp_data/inputs as the runner: the server writes a tar stream,
        the runner's own `tar` makes the files, in its own work dir only."""
        tarcopy.copy_in(directory, "inputs", Path(instance.handle["workdir"]) / "ccp_data",
                        self._as_runner(instance))

    # --- fetch ------------------------------------------------------------------------------

    def fetch(self, instance: Instance, destination: Path) -> None:
        """Copy ccp_data out as the runner sees it: `tar` run as the runner, extracted safely
        (symlinks leaving it, FIFOs and devices are skipped and listed in instance.json)."""
        skipped = tarcopy.copy_tree(Path(instance.handle["workdir"]) / "ccp_data", destination,
                                    self._as_runner(instance))
        if skipped:
            instance.handle["fetchSkipped"] = skipped[:tarcopy.MAX_SKIPPED_REPORTED]

    def _as_runner(self, instance: Instance) -> list[str]:
        """The command prefix that runs a program as the instance's runner uid (when the
        server is root) without new privileges: setuid programs do not elevate."""
        if not self.switch_uid:
            return ["setpriv", "--no-new-privs", "--"]
        return runner_command(int(instance.handle["uid"]))

    # --- destroy ----------------------------------------------------------------------------

    def destroy(self, instance: Instance) -> None:
        workdir = Path(instance.handle["workdir"]) if instance.handle.get("workdir") else None
        uid = self._runner_uid(instance, workdir)
        if uid is not None:
            sweep(uid)
        elif not self.switch_uid:
            _kill_tagged(instance.execution_id)
        if workdir is not None and workdir.parent == self.root:
            shutil.rmtree(workdir, ignore_errors=True)
        if uid is not None and self.uids is not None:
            self.uids.release(uid, instance.execution_id)
        self._environments.pop(instance.execution_id, None)

    def _runner_uid(self, instance: Instance, workdir: Path | None) -> int | None:
        """The execution's runner uid: from the handle, else the owner of its work dir."""
        if self.uids is None:
            return None
        uid = instance.handle.get("uid")
        if uid is None and workdir is not None and workdir.is_dir():
            uid = workdir.stat().st_uid  # a runner cannot give its work dir away
        return uid if isinstance(uid, int) and uid in self.uids else None

    def executions(self) -> set[str]:
        return set(leftovers(self.root, self.uids))

    def destroy_orphans(self, is_orphan: Callable[[str], bool]) -> list[str]:
        cleaned = []
        for execution_id, handle in sorted(leftovers(self.root, self.uids).items()):
            if is_orphan(execution_id):
                self.destroy(Instance(execution_id, self.type, handle))
                cleaned.append(execution_id)
        return cleaned

    # --- metrics ----------------------------------------------------------------------------

    def sample(self, instance: Instance) -> list[Usage]:
        """The execution's processes: those of its runner uid, else those carrying its
        environment marker (the ones a script did not scrub)."""
        if self.switch_uid:
            pids = processes_of(int(instance.handle["uid"]))
        else:
            pids = tagged(instance.execution_id)
        return [usage.of_processes(pids, 1, self.settings.memory)]

    # --- describe ---------------------------------------------------------------------------

    def describe(self, instance: Instance) -> dict[str, Any]:
        return description_of(instance, self.settings, self.switch_uid)


def description_of(instance: Instance, settings: LocalSettings, switch_uid: bool
                   ) -> dict[str, Any]:
    """What `describe` tells of a local execution: who ran it, how isolated, its limits."""
    uid = instance.handle.get("uid")
    if switch_uid:
        isolation = ("host processes as a runner uid of their own: private work dir, no "
                     "server environment, own session, no new privileges")
        runner: dict[str, Any] = {"uid": uid, "gid": instance.handle.get("gid"),
                                  "uidSwitch": True}
    else:
        isolation = "none: host processes with the server's user"
        runner = {"uid": uid, "gid": instance.handle.get("gid"), "uidSwitch": False,
                  "note": NO_UID_SWITCH.format(uid=uid)}
    description = {
        "runtime": LocalRuntime.type,
        "isolation": isolation,
        "runner": runner,
        "host": platform.node(),
        "platform": platform.platform(),
        "image": instance.handle.get("image"),
        "imageUsed": False,
        "limits": {"memoryBytes": settings.memory, "cpus": None,
                   "pidsLimit": settings.pids_limit if switch_uid else None},
        "started": instance.started,
        "stopped": now_iso(),
    }
    if instance.handle.get("fetchSkipped"):
        description["fetchSkipped"] = instance.handle["fetchSkipped"]
    return description


def host_digest() -> str:
    """What stands in for an image on the local runtime: the host itself, by the identity
    of its system (os-release, kernel, architecture, host name). It changes when the host is
    upgraded, and so do the cached results of local Methods."""
    try:
        release = Path("/etc/os-release").read_bytes()
    except OSError:
        release = b""
    uname = platform.uname()
    identity = b"\0".join([release, *(part.encode() for part in (
        uname.system, uname.node, uname.release, uname.version, uname.machine))])
    return f"local:sha256:{hashlib.sha256(identity).hexdigest()}"


def prepare_work_root(root: Path, for_runners: bool) -> Path:
    """The work root, made if needed: the server's, 0711, reachable by the runner uids."""
    root.mkdir(parents=True, exist_ok=True)
    info = os.lstat(root)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid():
        raise RuntimeFailure(f"the local work root {root} must be a directory of the "
                             "server's user (set settings.workRoot)")
    if info.st_mode & 0o777 != 0o711:
        root.chmod(0o711)
    if for_runners:
        for parent in root.resolve().parents:
            if not os.stat(parent).st_mode & stat.S_IXOTH:
                raise RuntimeFailure(f"runner uids cannot reach the local work root {root}: "
                                     f"{parent} is closed to other users (choose another "
                                     "settings.workRoot)")
    return root


def _remove(path: str) -> None:
    """Remove a file from a runner's work dir, whatever the runner did to it meanwhile."""
    try:
        os.unlink(path)  # a symlink put there is removed, not followed
    except OSError:
        pass


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _kill_tagged(execution_id: str) -> None:
    """Without runner uids: kill every process whose environment names this execution."""
    for pid in tagged(execution_id):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def leftovers(root: Path, uids: RunnerUids | None) -> dict[str, dict[str, Any]]:
    """Execution id -> what is known of its work dir and runner uid, for each left."""
    found: dict[str, dict[str, Any]] = {}
    if root.is_dir():
        for workdir in root.iterdir():
            if workdir.is_dir() and not workdir.is_symlink():
                found[workdir.name] = {"workdir": str(workdir)}
    for lease in uids.leases() if uids is not None else []:
        found.setdefault(lease.execution_id, {}).update(workdir=lease.workdir, uid=lease.uid)
    return found
