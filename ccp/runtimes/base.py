"""The one small interface every runtime implements.

A runtime knows nothing of OGC, HTTP or storage: it starts an instance from an image, runs
scripts in it, copies `/ccp_data` out, and destroys it.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from ccp.runtimes.runclock import RunClock
from ccp.runtimes.settings import Settings

if TYPE_CHECKING:
    from ccp.model import Infrastructure
    from ccp.runtimes.usage import Usage

DATA_PATH = "/ccp_data"
LABEL = "ccp.execution"
WARM_LAUNCH = "warm-launch"  # the capability of runtimes that can be launched ahead
RUN_ONCE = "run-once"  # ... that can run a single script as the instance's main process
WARM_PREFIX = "warm-"  # the execution id of a runtime launched ahead: warm-<hex>

# (replica, stream, line): replica is 1-based, stream is "stdout" or "stderr".
LogSink = Callable[[int, str, str], None]


class RuntimeFailure(RuntimeError):
    """The runtime could not do what was asked (engine down, image missing, ...)."""


class RuntimeTimeout(RuntimeError):
    """A script ran past its time limit."""


class RuntimeCancelled(RuntimeError):
    """A script was interrupted by cancel()."""


class Unsupported(RuntimeFailure):
    """This runtime does not have the optional feature asked for (see `capabilities`)."""


@dataclass
class Limits:
    memory_bytes: int | None = None
    cpus: float | None = None


@dataclass
class Instance:
    """A running runtime: one container, service or process tree for one execution."""

    execution_id: str
    runtime: str
    handle: dict[str, Any] = field(default_factory=dict)
    replicas: int = 1
    started: str = field(default_factory=lambda: now_iso())
    cancelled: threading.Event = field(default_factory=threading.Event, repr=False)
    # running time (suspensions excluded), and the gate between starting work and suspending
    clock: RunClock = field(default_factory=RunClock, repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "execution_id": self.execution_id,
            "runtime": self.runtime,
            "handle": self.handle,
            "replicas": self.replicas,
            "started": self.started,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Instance:
        return cls(
            execution_id=data["execution_id"],
            runtime=data["runtime"],
            handle=dict(data.get("handle", {})),
            replicas=int(data.get("replicas", 1)),
            started=data.get("started", now_iso()),
        )


@dataclass(frozen=True)
class WarmTag:
    """What marks a runtime launched ahead as a member of a warm pool, in its labels.

    `pool` names the pool (Infrastructure, image, replicas), `owner` the server process
    that launched it, `expires` (epoch seconds) when anyone may destroy it: a server that
    died leaves members that the next one, or any after they expire, removes.
    """

    pool: str
    owner: str
    expires: float

    def labels(self) -> dict[str, str]:
        return {"pool": self.pool, "owner": self.owner, "expires": str(int(self.expires))}

    @classmethod
    def from_labels(cls, labels: dict[str, str]) -> WarmTag | None:
        try:
            return cls(labels["pool"], labels["owner"], float(labels["expires"]))
        except (KeyError, TypeError, ValueError):
            return None


def adopted(member: Instance, execution_id: str, handle: dict[str, Any]) -> Instance:
    """The Instance of an execution that took the warm `member` (see Runtime.adopt): its
    handle says which member it was and when it was launched and taken."""
    warm = {"member": member.execution_id, "launched": member.started, "adopted": now_iso()}
    return Instance(execution_id=execution_id, runtime=member.runtime,
                    handle={**member.handle, **handle, "warm": warm},
                    replicas=member.replicas, started=member.started)


def now_iso() -> str:
    return iso_time(datetime.now(UTC))


def iso_time(moment: datetime) -> str:
    """The one form of every stored time stamp (UTC, milliseconds, `Z`): they sort as text."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Runtime(ABC):
    """Launch an instance, run scripts in it, fetch its data, destroy it."""

    type: str = ""
    # Optional features beyond this interface, by name ("suspend", "verify", "health-probe",
    # "replicas", "memory-limit", "cpu-limit", "stage-inputs"; "metrics", "warm-launch" when
    # they come); a caller checks `"x" in runtime.capabilities` before using one. The
    # optional methods below raise Unsupported on a runtime that does not declare theirs.
    capabilities: ClassVar[frozenset[str]] = frozenset()
    settings: Settings  # each runtime narrows it to its own settings class

    def __init__(self, infrastructure: Infrastructure) -> None:
        self.infrastructure = infrastructure
        self.settings = infrastructure.settings

    def limits(self) -> Limits:
        return Limits(self.settings.memory, self.settings.cpus)

    def check(self) -> None:
        """Raise RuntimeFailure when the engine behind this runtime cannot be reached."""
        return None

    @abstractmethod
    def launch(self, execution_id: str, image: str, env: dict[str, str], replicas: int = 1
               ) -> Instance:
        """Start the instance; `env` gets ccptaskid per replica added by the runtime."""

    @abstractmethod
    def run(self, instance: Instance, script: str, timeout: float, log: LogSink) -> int:
        """Run `script` with sh in every replica; return the first non-zero exit code or 0.

        Streams output lines to `log` as they come. Raises RuntimeTimeout past `timeout`
        seconds and RuntimeCancelled once cancel() was called.
        """

    @abstractmethod
    def fetch(self, instance: Instance, destination: Path) -> None:
        """Copy the contents of /ccp_data into `destination` (replica-N/ per replica if N>1)."""

    def stage_inputs(self, instance: Instance, directory: Path) -> None:
        """Capability "stage-inputs": copy the files under `directory` (made by the server)
        into /ccp_data/inputs/ of every replica, readable by the scripts, before the first
        script runs."""
        raise RuntimeFailure(f"the {self.type} runtime cannot stage inputs")

    @abstractmethod
    def destroy(self, instance: Instance) -> None:
        """Remove the instance and everything it holds. Idempotent; never raises if gone."""

    def exit_reason(self, instance: Instance, code: int) -> str | None:
        """Why a script ended with `code`, when the runtime can tell (out of memory, say)."""
        if code == 137:
            return "killed by SIGKILL"
        return None

    def cancel(self, instance: Instance) -> None:
        """Interrupt a running script; run() then raises RuntimeCancelled."""
        instance.cancelled.set()

    @abstractmethod
    def describe(self, instance: Instance) -> dict[str, Any]:
        """What ran this execution, for metadata/instance.json."""

    def sample(self, instance: Instance) -> list[Usage]:
        """"metrics": what each replica uses now, one Usage per replica (ccp/runtimes/usage.py).

        Called from a sampling thread beside the lifecycle, at any point between launch and
        destroy; it may raise (the sample is then skipped), but never changes the instance.
        """
        raise Unsupported(f"the {self.type} runtime does not report metrics")

    def destroy_orphans(self, is_orphan: Callable[[str], bool]) -> list[str]:
        """Destroy instances left for executions that `is_orphan` says are over.

        Returns the execution ids cleaned. Runtimes that label their resources override it.
        """
        return []

    def image_digest(self, image: str) -> str | None:
        """What `image` is now, by content (the engine's image id), as `launch` records it
        in `handle["imageDigest"]`; None when it cannot be told (then nothing is cached)."""
        return None

    # --- run-once (optional: runtimes with RUN_ONCE in `capabilities`) ----------------------

    def launch_once(self, execution_id: str, image: str, env: dict[str, str], script: str,
                    replicas: int = 1) -> Instance:
        """Like `launch`, for an execution that runs `script` and nothing else: the instance
        is made with the script as its main process and started by `run(instance, script)`
        (no keep-alive, no exec); other scripts (a cancel script) run beside it while it
        runs. Fetch and Destroy work on it once the script has ended."""
        raise RuntimeFailure(f"the {self.type} runtime cannot run a script as its instance's "
                             f"main process (no {RUN_ONCE})")

    # --- warm-launch (optional: runtimes with WARM_LAUNCH in `capabilities`) ---------------

    def launch_warm(self, image: str, tag: WarmTag, replicas: int = 1) -> Instance:
        """Start an instance ahead of any execution, with the same limits and isolation as
        `launch`, labelled with `tag`; its execution id is a member id `warm-<hex>`."""
        raise RuntimeFailure(f"the {self.type} runtime cannot launch runtimes ahead "
                             f"(no {WARM_LAUNCH})")

    def adopt(self, member: Instance, execution_id: str, env: dict[str, str],
              main_script: str | None = None) -> Instance:
        """Hand a warm instance to one execution: from now on it is that execution's (its
        scripts get `env`, Destroy and the orphan clean-up find it by `execution_id`).
        `main_script`: the execution runs this script and nothing else, which a runtime with
        run-once may run as the instance's main process. Raises RuntimeFailure when the
        member is gone or no longer runs."""
        raise RuntimeFailure(f"the {self.type} runtime has no warm runtimes to adopt "
                             f"(no {WARM_LAUNCH})")

    def warm_members(self) -> list[tuple[Instance, WarmTag]]:
        """Every warm instance on the engine not yet adopted, whoever launched it."""
        return []

    # --- optional: "suspend" ---------------------------------------------------------------

    def suspend(self, instance: Instance) -> None:
        """Freeze every process of the instance where it is (its memory is kept)."""
        raise Unsupported(f"the {self.type} runtime cannot suspend an execution")

    def resume(self, instance: Instance) -> None:
        """Let a suspended instance run on. Harmless on one that is not suspended."""
        raise Unsupported(f"the {self.type} runtime cannot resume an execution")

    # --- optional: "verify" ----------------------------------------------------------------

    def executions(self) -> set[str]:
        """The execution ids that have an instance (or what is left of one) on the engine."""
        raise Unsupported(f"the {self.type} runtime cannot list what it runs")
