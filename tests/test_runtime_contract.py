"""The runtime contract: every behaviour of `ccp/runtimes/base.py`, on every runtime.

Each test runs on local, docker, swarm and lxd against the real engines of
`scripts/start-services.sh` (nothing mocked, nothing skipped: a missing engine fails the test
and says how to start it). A runtime-specific test (Swarm replicas, Docker isolation, LXD
remotes) lives in that runtime's own test file.

Every instance a test launches is destroyed afterwards and must leave nothing behind: no
container, service, network or LXD instance labelled with it, no local work dir, process or
runner uid lease.
"""

from __future__ import annotations

import hashlib
import json
import logging
import stat
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from engines import ENGINE, IMAGE, LXD_IMAGE, REPO, Engine, lxd_client, lxd_leftovers
from helpers import Lines

from ccp.model import Infrastructure
from ccp.runtimes import RUNTIME_TYPES, runtime_for
from ccp.runtimes.base import (
    RUN_ONCE,
    WARM_LAUNCH,
    Instance,
    Runtime,
    RuntimeCancelled,
    RuntimeFailure,
    RuntimeTimeout,
    Unsupported,
    WarmTag,
)
from ccp.runtimes.output import MAX_LINE_BYTES
from ccp.runtimes.runners import LEASE_DIR

MEMORY = "128m"


class Kind:
    """One Infrastructure type as the contract sees it: its runtime and what it leaves."""

    name = ""
    image = ""
    missing_images: tuple[str, ...] = ()
    settings: dict[str, Any] = {}

    def require(self) -> None:
        """Fail the test at once when the engine is not there."""

    def runtime(self) -> Runtime:
        """A new runtime object of the repository's Infrastructure of this type."""
        descriptor = json.loads((REPO / "infrastructures" / f"{self.name}.json").read_text())
        descriptor["settings"].update(memory=MEMORY, **self.settings)
        return runtime_for(Infrastructure.from_dict(descriptor))

    def leftovers(self, execution_id: str) -> list[str]:
        raise NotImplementedError

    def commands(self, runtime: Runtime, instance: Instance) -> list[str]:
        """The command lines still running in the instance (empty when it is gone)."""
        lines = Lines()
        runtime.run(instance, "ps -o args", 30, lines)
        return lines.of("stdout")


class LocalKind(Kind):
    name = "local"
    image = "none"

    def leftovers(self, execution_id: str) -> list[str]:
        found = []
        workdir = Path("/tmp/ccp-local") / execution_id
        if workdir.exists():
            found.append(f"work dir {workdir}")
        marker = f"ccptaskname={execution_id}".encode()
        for pid, environ, _ in _processes():
            if marker in environ.split(b"\0"):
                found.append(f"process {pid}")
        for lease in LEASE_DIR.glob("*") if LEASE_DIR.is_dir() else []:
            if f'"{execution_id}"' in lease.read_text():
                found.append(f"runner uid lease {lease.name}")
        return found

    def commands(self, runtime: Runtime, instance: Instance) -> list[str]:
        uid = instance.handle["uid"]
        return [command for _, _, (owner, command) in _processes() if owner == uid]


class DockerKind(Kind):
    name = "docker"
    image = IMAGE
    missing_images = ("ccp/no-such-image:0",)
    settings = {"engine": ENGINE}

    def __init__(self) -> None:
        self.engine = Engine(ENGINE, swarm=self.name == "swarm")

    def require(self) -> None:
        self.engine.require()

    def leftovers(self, execution_id: str) -> list[str]:
        return self.engine.leftovers(execution_id)


class SwarmKind(DockerKind):
    name = "swarm"


class LXDKind(Kind):
    name = "lxd"
    image = LXD_IMAGE
    missing_images = ("no-such-image-alias", "0123456789abcdef")

    def require(self) -> None:
        lxd_client()

    def leftovers(self, execution_id: str) -> list[str]:
        return lxd_leftovers(lxd_client(), execution_id)

    def commands(self, runtime: Runtime, instance: Instance) -> list[str]:
        if not self.leftovers(instance.execution_id):
            return []  # a stopped LXD container is gone: so is every process in it
        return super().commands(runtime, instance)


KINDS = {kind.name: kind for kind in (LocalKind(), DockerKind(), SwarmKind(), LXDKind())}


def _processes() -> Iterator[tuple[int, bytes, tuple[int, str]]]:
    """(pid, environment, (real uid, command line)) of the host's processes."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes()
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
            status = (entry / "status").read_text()
        except OSError:
            continue
        uid = int(next(line for line in status.splitlines() if line.startswith("Uid:"))
                  .split()[1])
        yield int(entry.name), environ, (uid, command)


@pytest.fixture(params=list(KINDS))
def kind(request: pytest.FixtureRequest) -> Kind:
    chosen = KINDS[request.param]
    chosen.require()
    return chosen


@pytest.fixture
def runtime(kind: Kind) -> Runtime:
    return kind.runtime()


@pytest.fixture
def launch(kind: Kind, runtime: Runtime) -> Iterator[Any]:
    """launch(**env) -> Instance; each is destroyed after the test and must leave nothing."""
    instances: list[Instance] = []

    def start(image: str | None = None, **env: str) -> Instance:
        execution_id = f"contract-{uuid.uuid4()}"
        instance = runtime.launch(execution_id, image or kind.image,
                                  {"ccptaskname": execution_id, **env})
        instances.append(instance)
        return instance

    yield start
    for instance in instances:
        runtime.destroy(instance)
    for instance in instances:
        assert kind.leftovers(instance.execution_id) == [], instance.execution_id


def test_the_contract_covers_every_infrastructure_type() -> None:
    assert set(KINDS) == set(RUNTIME_TYPES)


# --- launch and run ----------------------------------------------------------------------------

def test_contract_launch_gives_the_environment_and_keeps_it_out_of_the_job_store(
        kind: Kind, runtime: Runtime, launch: Any) -> None:
    instance = launch(CCP_TOKEN="token-not-for-the-job-store")
    lines = Lines()
    code = runtime.run(instance, "\n".join([
        'echo "name=$ccptaskname id=$ccptaskid token=$CCP_TOKEN"',
        'test "$CCP_DATA" = /ccp_data && test -d /ccp_data && test -w /ccp_data',
        "echo data-ok",
    ]), 30, lines)
    assert (code, lines.of("stderr")) == (0, [])
    assert lines.of("stdout") == [
        f"name={instance.execution_id} id=1 token=token-not-for-the-job-store", "data-ok"]
    assert "token-not-for-the-job-store" not in json.dumps(instance.to_dict())
    description = runtime.describe(instance)
    assert description["runtime"] == kind.name
    assert description["started"] and description["stopped"]
    assert "token-not-for-the-job-store" not in json.dumps(description)


def test_contract_exit_codes_and_streams(runtime: Runtime, launch: Any) -> None:
    instance = launch()
    lines = Lines()
    code = runtime.run(instance, "\n".join([
        "echo out",
        "echo err >&2",
        "printf 'windows line\\r\\n'",
        "printf 'no newline at the end'",
        "exit 3",
    ]), 30, lines)
    assert code == 3
    assert lines.of("stdout") == ["out", "windows line", "no newline at the end"]
    assert lines.of("stderr") == ["err"]
    assert runtime.run(instance, "true", 30, lines) == 0
    assert runtime.run(instance, "false", 30, lines) == 1


def test_contract_output_streams_while_the_script_runs(runtime: Runtime, launch: Any) -> None:
    instance = launch()
    lines = Lines()
    assert runtime.run(instance, "echo first; sleep 2; echo second", 30, lines) == 0
    (_, _, first, first_at), (_, _, second, second_at) = lines.entries
    assert (first, second) == ("first", "second")
    assert second_at - first_at > 1.5, "the first line came only when the script ended"


def test_contract_long_lines_come_in_pieces(runtime: Runtime, launch: Any) -> None:
    instance = launch()
    lines = Lines()
    assert runtime.run(instance, "head -c 200000 /dev/zero | tr '\\000' a; echo", 30,
                       lines) == 0
    pieces = lines.of("stdout")
    assert [len(piece) for piece in pieces] == [MAX_LINE_BYTES] * 3 + [200000 - 3 * MAX_LINE_BYTES]
    assert set("".join(pieces)) == {"a"}


def test_contract_a_failing_log_neither_blocks_nor_stops_the_script(
        runtime: Runtime, launch: Any, caplog: pytest.LogCaptureFixture) -> None:
    instance = launch()

    def broken(replica: int, stream: str, line: str) -> None:
        raise OSError("disk full")

    with caplog.at_level(logging.ERROR, logger="ccp.runtimes.output"):
        # more output than a pipe holds: the reading must go on after the sink failed
        code = runtime.run(instance, "head -c 200000 /dev/zero | tr '\\000' '\\n'; exit 4",
                           60, broken)
    assert code == 4
    failures = [r for r in caplog.records if r.name == "ccp.runtimes.output"]
    assert len(failures) == 1 and "further failures are not logged" in failures[0].message


# --- timeout and cancel ---------------------------------------------------------------------

def test_contract_timeout_raises_promptly_and_ends_the_script(
        kind: Kind, runtime: Runtime, launch: Any) -> None:
    instance = launch()
    started = time.monotonic()
    with pytest.raises(RuntimeTimeout):
        runtime.run(instance, "sleep 3011 & sleep 3012", 1.5, Lines())
    assert time.monotonic() - started < 15
    left = [c for c in kind.commands(runtime, instance) if c.startswith("sleep 301")]
    assert left == [], "the timed-out script's processes live on"


def test_contract_cancel_from_another_thread_stops_the_script(runtime: Runtime,
                                                              launch: Any) -> None:
    instance = launch()
    lines = Lines()
    timer = threading.Timer(1.5, runtime.cancel, [instance])
    timer.start()
    started = time.monotonic()
    try:
        with pytest.raises(RuntimeCancelled):
            runtime.run(instance, "while true; do echo tick; sleep 0.2; done", 120, lines)
    finally:
        timer.cancel()
    assert time.monotonic() - started < 15
    assert "tick" in lines.of("stdout")
    with pytest.raises(RuntimeCancelled):  # a cancelled instance runs nothing more
        runtime.run(instance, "echo again", 10, lines)
    assert "again" not in lines.of("stdout")


# --- fetch --------------------------------------------------------------------------------------

def test_contract_fetch_copies_files_and_skips_special_ones(
        runtime: Runtime, launch: Any, tmp_path: Path) -> None:
    instance = launch()
    lines = Lines()
    assert runtime.run(instance, "\n".join([
        "mkdir -p '/ccp_data/a/b c/d' /ccp_data/empty",
        "echo top > /ccp_data/top.txt",
        "echo deep > '/ccp_data/a/b c/d/deep.txt'",
        "echo hidden > /ccp_data/.hidden",
        "head -c 300000 /dev/urandom > /ccp_data/a/random.bin",
        "md5sum /ccp_data/a/random.bin",
        "ln -s /etc/passwd /ccp_data/absolute-link",
        "ln -s ../../etc/passwd /ccp_data/escaping-link",
        "ln -s top.txt /ccp_data/inner-link",
        "mkfifo /ccp_data/fifo",
        "mknod /ccp_data/device c 1 3 2>/dev/null || true",   # refused without CAP_MKNOD
    ]), 30, lines) == 0, lines.entries
    destination = tmp_path / "work" / "ccp_data"
    started = time.monotonic()
    runtime.fetch(instance, destination)
    assert time.monotonic() - started < 30  # the FIFO was skipped, not waited on

    files = {p.relative_to(destination).as_posix() for p in destination.rglob("*")
             if not p.is_symlink()}
    assert files == {"top.txt", ".hidden", "a", "a/b c", "a/b c/d", "a/b c/d/deep.txt",
                     "a/random.bin", "empty"}
    assert (destination / "top.txt").read_text() == "top\n"
    assert (destination / "a/b c/d/deep.txt").read_text() == "deep\n"
    digest = hashlib.md5((destination / "a/random.bin").read_bytes()).hexdigest()
    assert digest == lines.of("stdout")[0].split()[0]
    for path in destination.rglob("*"):
        mode = path.lstat().st_mode
        assert stat.S_ISREG(mode) or stat.S_ISDIR(mode) or stat.S_ISLNK(mode), path
        if path.is_symlink():  # kept only when it stays inside
            assert destination.resolve() in path.resolve().parents, path
    skipped = " ".join(runtime.describe(instance).get("fetchSkipped", []))
    for unsafe in ("absolute-link", "escaping-link", "fifo"):
        assert unsafe in skipped, skipped
    assert [p.name for p in (tmp_path / "work").iterdir()] == ["ccp_data"]  # no spool left


# --- destroy and orphans ----------------------------------------------------------------------

def test_contract_destroy_is_idempotent(kind: Kind, runtime: Runtime, launch: Any) -> None:
    instance = launch()
    assert kind.leftovers(instance.execution_id) != []
    runtime.destroy(instance)
    assert kind.leftovers(instance.execution_id) == []
    runtime.destroy(instance)
    runtime.destroy(Instance.from_dict(instance.to_dict()))  # as recovery rebuilds it
    runtime.destroy(Instance(f"contract-{uuid.uuid4()}", kind.name, {}))


def test_contract_destroy_orphans_removes_only_orphans(kind: Kind, launch: Any) -> None:
    orphan, alive = launch(), launch()
    cleaned = kind.runtime().destroy_orphans(  # as recovery does: a runtime knowing nothing
        lambda execution_id: execution_id == orphan.execution_id)
    assert cleaned == [orphan.execution_id]
    assert kind.leftovers(orphan.execution_id) == []
    assert kind.leftovers(alive.execution_id) != []


# --- images, replicas, limits ---------------------------------------------------------------------

def test_contract_missing_image(kind: Kind, runtime: Runtime, launch: Any) -> None:
    if not kind.missing_images:  # local: the image is recorded, not used
        instance = launch(image="ccp/no-such-image:0")
        description = runtime.describe(instance)
        assert (description["image"], description["imageUsed"]) == ("ccp/no-such-image:0",
                                                                    False)
        return
    for image in kind.missing_images:
        execution_id = f"contract-{uuid.uuid4()}"
        with pytest.raises(RuntimeFailure, match=image):
            runtime.launch(execution_id, image, {})
        assert kind.leftovers(execution_id) == []


def test_contract_replicas_beyond_the_runtime_are_refused(kind: Kind, runtime: Runtime) -> None:
    execution_id = f"contract-{uuid.uuid4()}"
    with pytest.raises(RuntimeFailure, match="replica"):
        runtime.launch(execution_id, kind.image, {}, replicas=runtime.settings.max_replicas + 1)
    assert kind.leftovers(execution_id) == []


def test_contract_memory_limit_stops_a_greedy_script(runtime: Runtime, launch: Any) -> None:
    instance = launch()
    lines = Lines()
    code = runtime.run(instance, "dd if=/dev/zero of=/dev/null bs=300M count=1", 60, lines)
    assert code != 0, lines.entries
    assert runtime.describe(instance)["limits"], "the limits are not in instance.json"



# --- optional capabilities ---------------------------------------------------------------------

def _refuses(runtime: Runtime, capability: str) -> bool:
    """A runtime without `capability` must refuse its methods; True when it has it."""
    if capability in runtime.capabilities:
        return False
    return True


def test_contract_suspend_freezes_the_script_and_its_time_limit_and_resume_goes_on(
        runtime: Runtime, launch: Any) -> None:
    instance = launch()
    if _refuses(runtime, "suspend"):
        with pytest.raises(Unsupported):
            runtime.suspend(instance)
        return
    lines = Lines()
    result: dict[str, Any] = {}
    script = "i=0; while [ $i -lt 30 ]; do echo tick-$i; i=$((i+1)); sleep 0.1; done"

    def run() -> None:
        try:  # about 3 s of running time within an 8 s limit, suspended 7 s in the middle
            result["code"] = runtime.run(instance, script, 8, lines)
        except Exception as err:
            result["error"] = err

    thread = threading.Thread(target=run)
    thread.start()
    deadline = time.monotonic() + 30
    while not lines.of("stdout") and time.monotonic() < deadline:
        time.sleep(0.05)
    while not instance.clock.try_suspend(lambda: runtime.suspend(instance)):
        time.sleep(0.05)  # the script is still starting
    time.sleep(0.5)  # a line on its way out may still arrive
    seen = len(lines.of("stdout"))
    time.sleep(7)
    assert len(lines.of("stdout")) == seen, "the script went on while suspended"
    assert 0 < seen < 30
    instance.clock.resume(lambda: runtime.resume(instance))
    thread.join(60)
    assert result == {"code": 0}, result  # no timeout: the suspension did not count
    assert lines.of("stdout") == [f"tick-{i}" for i in range(30)]
    assert instance.clock.suspended_seconds() >= 7


def test_contract_a_suspended_instance_is_destroyed_without_a_resume(
        kind: Kind, runtime: Runtime, launch: Any) -> None:
    instance = launch()
    if _refuses(runtime, "suspend"):
        return
    thread = threading.Thread(target=lambda: _quietly(runtime.run, instance, "sleep 3013", 120,
                                                      Lines()))
    thread.start()
    time.sleep(1)
    while not instance.clock.try_suspend(lambda: runtime.suspend(instance)):
        time.sleep(0.05)
    runtime.cancel(instance)
    runtime.destroy(instance)
    thread.join(60)
    assert not thread.is_alive()
    assert kind.leftovers(instance.execution_id) == []


def test_contract_resume_of_an_instance_that_is_not_suspended_is_harmless(
        runtime: Runtime, launch: Any) -> None:
    instance = launch()
    if _refuses(runtime, "suspend"):
        with pytest.raises(Unsupported):
            runtime.resume(instance)
        return
    runtime.resume(instance)
    assert runtime.run(instance, "echo still-here", 30, Lines()) == 0


def test_contract_verify_lists_the_executions_on_the_engine(kind: Kind, runtime: Runtime,
                                                            launch: Any) -> None:
    if _refuses(runtime, "verify"):
        with pytest.raises(Unsupported):
            runtime.executions()
        return
    first, second = launch(), launch()
    listed = kind.runtime().executions()  # a runtime knowing nothing, as verify uses it
    assert {first.execution_id, second.execution_id} <= listed
    runtime.destroy(first)
    assert first.execution_id not in kind.runtime().executions()


def _quietly(function: Any, *args: Any) -> None:
    try:
        function(*args)
    except Exception:
        pass


def test_contract_stage_inputs_puts_them_in_place_before_any_script(
        kind: Kind, runtime: Runtime, launch: Any, tmp_path: Path) -> None:
    """"stage-inputs": the files of a server folder appear under /ccp_data/inputs of the
    instance, byte for byte, readable and writable by the scripts; a symlink in the folder
    is not followed. A runtime without the capability refuses it."""
    instance = launch()
    source = tmp_path / "stage" / "inputs"
    (source / "parts").mkdir(parents=True)
    payload = bytes(range(256)) * 1200
    (source / "data").write_bytes(payload)
    (source / "parts" / "1").write_text("first\n")
    (source / "parts" / "2").write_text("second part\n")
    (source / "link").symlink_to("/etc/hostname")
    if "stage-inputs" not in runtime.capabilities:
        with pytest.raises(RuntimeFailure, match="cannot stage inputs"):
            runtime.stage_inputs(instance, source)
        return
    runtime.stage_inputs(instance, source)
    lines = Lines()
    code = runtime.run(instance, "\n".join([
        "cd /ccp_data/inputs",
        "sha256sum data | cut -d ' ' -f 1",
        "cat parts/1 parts/2",
        "test ! -e link && echo no-link",
        "echo changed >> parts/1 && rm parts/2 && echo writable",
    ]), 30, lines)
    assert (code, lines.of("stderr")) == (0, [])
    assert lines.of("stdout") == [hashlib.sha256(payload).hexdigest(), "first",
                                  "second part", "no-link", "writable"]
    destination = tmp_path / "fetched"
    runtime.fetch(instance, destination)
    assert (destination / "inputs" / "data").read_bytes() == payload
    assert (destination / "inputs" / "parts" / "1").read_text() == "first\nchanged\n"
    assert (source / "parts" / "1").read_text() == "first\n"  # the server's copy is its own


def test_contract_without_the_capability_stage_inputs_is_refused(tmp_path: Path) -> None:
    """What a runtime that does not declare "stage-inputs" inherits (the manager refuses
    inputs by reference for its Infrastructures before any job is made)."""
    runtime = KINDS["local"].runtime()
    with pytest.raises(RuntimeFailure, match="cannot stage inputs"):
        Runtime.stage_inputs(runtime, Instance("contract-none", "local"), tmp_path)


class _Bare(Runtime):
    """A runtime with no optional capability: what the base class answers for them."""

    type = "bare"

    def launch(self, execution_id: str, image: str, env: dict[str, str], replicas: int = 1
               ) -> Instance:
        return Instance(execution_id, self.type)

    def run(self, instance: Instance, script: str, timeout: float, log: Any) -> int:
        return 0

    def fetch(self, instance: Instance, destination: Path) -> None:
        destination.mkdir(parents=True, exist_ok=True)

    def destroy(self, instance: Instance) -> None:
        return None

    def describe(self, instance: Instance) -> dict[str, Any]:
        return {"runtime": self.type}


def test_contract_metrics_are_refused_by_a_runtime_without_the_capability() -> None:
    runtime = _Bare(KINDS["local"].runtime().infrastructure)
    assert "metrics" not in runtime.capabilities
    with pytest.raises(Unsupported, match="metrics"):
        runtime.sample(Instance("contract-bare", "bare"))


def test_contract_metrics_sample_what_each_replica_uses(kind: Kind, runtime: Runtime,
                                                        launch: Any) -> None:
    instance = launch()
    if "metrics" not in runtime.capabilities:
        with pytest.raises(Unsupported):
            runtime.sample(instance)
        return
    # ~30 MB held in a shell variable, some CPU burnt, a file written; then it waits
    script = ("x=$(head -c 30000000 /dev/zero | tr '\\000' a); i=0; "
              "while [ $i -lt 150000 ]; do i=$((i+1)); done; "
              "dd if=/dev/zero of=/ccp_data/file bs=1M count=8 conv=fsync 2>/dev/null; "
              "echo held ${#x}; sleep 120; echo ${#x}")  # not exec'd: x stays
    lines = Lines()
    errors: list[BaseException] = []

    def busy() -> None:
        try:
            runtime.run(instance, script, 180, lines)
        except RuntimeCancelled:
            pass
        except BaseException as err:
            errors.append(err)

    worker = threading.Thread(target=busy, daemon=True)
    worker.start()
    seen = []
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline and not errors:
            seen = runtime.sample(instance)
            if "held 30000000" in lines.of("stdout"):
                break
            time.sleep(0.3)
        seen = runtime.sample(instance)
    finally:
        runtime.cancel(instance)
        worker.join(30)
    assert errors == [] and "held 30000000" in lines.of("stdout"), (errors, lines.entries)
    assert [usage.replica for usage in seen] == [1]
    usage = seen[0]
    assert usage.cpu_seconds is not None and usage.cpu_seconds > 0.1, usage
    assert usage.memory_bytes is not None and usage.memory_bytes > 25_000_000, usage
    assert usage.memory_limit_bytes == 128 * 2**20, usage
    assert usage.processes is not None and usage.processes >= 2, usage  # the shell, sleep
    assert usage.block_read_bytes is not None and usage.block_write_bytes is not None, usage
    if kind.name == "local":  # host processes: the host's network, no counters of their own
        assert (usage.network_rx_bytes, usage.network_tx_bytes) == (None, None), usage
    else:
        assert usage.network_rx_bytes is not None and usage.network_rx_bytes >= 0, usage
        assert usage.network_tx_bytes is not None and usage.network_tx_bytes >= 0, usage
# --- warm-launch (optional capability) --------------------------------------------------------

def _warm_tag() -> WarmTag:
    return WarmTag(f"contract-{uuid.uuid4().hex[:8]}", "contract-test-owner",
                   float(int(time.time()) + 600))  # labels keep whole seconds


@pytest.fixture
def warm(kind: Kind, runtime: Runtime) -> Iterator[list[Instance]]:
    """Warm instances a test launched (members and adopted ones); destroyed afterwards, and
    nothing of theirs may be left."""
    instances: list[Instance] = []
    yield instances
    for instance in instances:
        runtime.destroy(instance)
    for instance in instances:
        assert kind.leftovers(instance.execution_id) == [], instance.execution_id
        member = (instance.handle.get("warm") or {}).get("member")
        if member:
            assert kind.leftovers(member) == [], member


def test_contract_warm_pool_launch_ahead_then_adopt_gives_the_execution_its_own_environment(
        kind: Kind, runtime: Runtime, warm: list[Instance]) -> None:
    if WARM_LAUNCH not in runtime.capabilities:
        with pytest.raises(RuntimeFailure, match="warm-launch"):
            runtime.launch_warm(kind.image, _warm_tag())
        assert runtime.warm_members() == []
        return
    tag = _warm_tag()
    member = runtime.launch_warm(kind.image, tag)
    warm.append(member)
    assert member.execution_id.startswith("warm-")
    assert (member.execution_id, tag) in [(i.execution_id, t) for i, t in
                                          runtime.warm_members()]
    assert kind.leftovers(member.execution_id) != []
    execution_id = f"contract-{uuid.uuid4()}"
    instance = runtime.adopt(member, execution_id,
                             {"ccptaskname": execution_id, "CCP_TOKEN": "token-for-it"})
    warm.append(instance)
    assert instance.handle["warm"]["member"] == member.execution_id
    assert member.execution_id not in [i.execution_id for i, _ in runtime.warm_members()]
    lines = Lines()
    assert runtime.run(instance, "\n".join([
        'echo "name=$ccptaskname id=$ccptaskid token=$CCP_TOKEN"',
        'test "$CCP_DATA" = /ccp_data && test -d /ccp_data && test -w /ccp_data',
        "echo data-ok",
    ]), 30, lines) == 0, lines.entries
    assert lines.of("stdout") == [f"name={execution_id} id=1 token=token-for-it", "data-ok"]
    assert "token-for-it" not in json.dumps(instance.to_dict())
    assert instance.handle["imageDigest"] == runtime.image_digest(kind.image)


def test_contract_warm_pool_adopted_runtimes_are_orphans_of_their_execution_members_are_not(
        kind: Kind, runtime: Runtime, warm: list[Instance]) -> None:
    if WARM_LAUNCH not in runtime.capabilities:
        with pytest.raises(RuntimeFailure, match="warm-launch"):
            runtime.adopt(Instance("warm-x", kind.name, {}), "x", {})
        return
    adopted_member, member = (runtime.launch_warm(kind.image, _warm_tag()) for _ in range(2))
    warm.append(member)
    execution_id = f"contract-{uuid.uuid4()}"
    instance = runtime.adopt(adopted_member, execution_id, {"ccptaskname": execution_id})
    warm.append(instance)
    ids = {execution_id, member.execution_id, adopted_member.execution_id}
    cleaned = kind.runtime().destroy_orphans(lambda candidate: candidate in ids)
    assert cleaned == [execution_id]
    assert kind.leftovers(execution_id) == []
    assert kind.leftovers(adopted_member.execution_id) == []
    assert kind.leftovers(member.execution_id) != [], "a pool member was taken for an orphan"


def test_contract_warm_pool_member_gone_is_a_clear_failure_to_adopt(
        kind: Kind, runtime: Runtime, warm: list[Instance]) -> None:
    if WARM_LAUNCH not in runtime.capabilities:
        assert runtime.image_digest(kind.image)  # the cache still knows what runs here
        return
    member = runtime.launch_warm(kind.image, _warm_tag())
    runtime.destroy(member)
    with pytest.raises(RuntimeFailure):
        runtime.adopt(member, f"contract-{uuid.uuid4()}", {})
    assert kind.leftovers(member.execution_id) == []
    assert runtime.image_digest(kind.missing_images[0]) is None


# --- run-once (optional capability) -------------------------------------------------------------

def test_contract_run_once_the_script_is_the_main_process_and_everything_else_holds(
        kind: Kind, runtime: Runtime, tmp_path: Path) -> None:
    execution_id = f"contract-{uuid.uuid4()}"
    script = "\n".join(['echo "name=$ccptaskname id=$ccptaskid token=$CCP_TOKEN"',
                        "echo to-stderr >&2", "echo kept > /ccp_data/kept.txt", "exit 3"])
    if RUN_ONCE not in runtime.capabilities:
        with pytest.raises(RuntimeFailure, match="run-once"):
            runtime.launch_once(execution_id, kind.image, {}, script)
        assert kind.leftovers(execution_id) == []
        return
    instance = runtime.launch_once(execution_id, kind.image,
                                   {"ccptaskname": execution_id, "CCP_TOKEN": "once-token"},
                                   script)
    try:
        assert "once-token" not in json.dumps(instance.to_dict())
        lines = Lines()
        assert runtime.run(instance, script, 30, lines) == 3
        assert lines.of("stdout") == [f"name={execution_id} id=1 token=once-token"]
        assert lines.of("stderr") == ["to-stderr"]
        runtime.fetch(instance, tmp_path / "data")
        assert (tmp_path / "data" / "kept.txt").read_text() == "kept\n"
        assert runtime.describe(instance)["limits"]
    finally:
        runtime.destroy(instance)
    assert kind.leftovers(execution_id) == []


def test_contract_run_once_timeout_and_cancel_end_the_main_process(
        kind: Kind, runtime: Runtime) -> None:
    if RUN_ONCE not in runtime.capabilities:
        with pytest.raises(RuntimeFailure, match="run-once"):
            runtime.launch_once(f"contract-{uuid.uuid4()}", kind.image, {}, "sleep 60")
        return
    for ending in ("timeout", "cancel"):
        execution_id = f"contract-{uuid.uuid4()}"
        script = "while true; do echo tick; sleep 0.2; done"
        instance = runtime.launch_once(execution_id, kind.image, {}, script)
        lines = Lines()
        timer = threading.Timer(1.5, runtime.cancel, [instance])
        if ending == "cancel":
            timer.start()
        started = time.monotonic()
        try:
            with pytest.raises(RuntimeTimeout if ending == "timeout" else RuntimeCancelled):
                runtime.run(instance, script, 1.5 if ending == "timeout" else 120, lines)
            assert time.monotonic() - started < 15
            assert "tick" in lines.of("stdout")
        finally:
            timer.cancel()
            runtime.destroy(instance)
        assert kind.leftovers(execution_id) == []


def test_contract_warm_pool_adopted_for_its_only_script_runs_it_with_its_environment(
        kind: Kind, runtime: Runtime, warm: list[Instance], tmp_path: Path) -> None:
    """An execution with only an execute script says so when it takes a warm runtime (a
    runtime with run-once may then run it as the main process): the script runs once, with
    the execution's environment, its output, exit code and /ccp_data as anywhere else."""
    if WARM_LAUNCH not in runtime.capabilities:
        return  # refusal: test_contract_warm_pool_launch_ahead_then_adopt_...
    script = "\n".join(['echo "name=$ccptaskname id=$ccptaskid token=$CCP_TOKEN"',
                        "echo to-stderr >&2", "echo kept > /ccp_data/kept.txt",
                        "echo \"$(echo 'quotes' \"and\" \\$dollars)\"", "exit 5"])
    member = runtime.launch_warm(kind.image, _warm_tag())
    warm.append(member)
    execution_id = f"contract-{uuid.uuid4()}"
    instance = runtime.adopt(member, execution_id, {
        "ccptaskname": execution_id, "CCP_TOKEN": "it's $secret"}, main_script=script)
    warm.append(instance)
    lines = Lines()
    assert runtime.run(instance, script, 30, lines) == 5, lines.entries
    assert lines.of("stdout") == [f"name={execution_id} id=1 token=it's $secret",
                                  "quotes and $dollars"]
    assert lines.of("stderr") == ["to-stderr"]
    runtime.fetch(instance, tmp_path / "data")
    assert (tmp_path / "data" / "kept.txt").read_text() == "kept\n"
    assert "it's $secret" not in json.dumps(instance.to_dict())
