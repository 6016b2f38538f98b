"""Attacks on the server from a Method on the local runtime, against a real `ccp serve`.

The server runs as root (as `./run.sh` and CI do), with auth on and a JWT secret in its
environment. Methods on the local Infrastructure try to read that secret, the server's data,
config and Methods, another running execution's work dir, to signal the server, and to leave
processes behind. Every attempt must be refused. Each script reports its attempts as
"<name>: denied|ALLOWED"; the tests also look at the files and processes themselves.

The server's directories are made in a fresh folder under /tmp that every user may traverse,
so only CCP's own protections keep the runner out (pytest's tmp_path is private to root and
would hide a missing protection).
"""

from __future__ import annotations

import json
import logging
import os
import pwd
import secrets
import shutil
import signal
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
import requests
from conftest import REPO, ServerProcess
from helpers import Lines, archive_from_url, outputs_of, wait_final_url

from ccp.model import Infrastructure
from ccp.runtimes.local import LocalRuntime, warned_no_uid_switch

SECRET = secrets.token_hex(32)
ALLOWED_ENV = {"PATH", "HOME", "LANG", "CCP_DATA", "ccptaskname", "ccptaskid",
               "PWD", "OLDPWD", "SHLVL", "_"}  # the last four: the shell's own

ATTEMPT = [
    "attempt() {",
    '  if sh -c "$2" >/dev/null 2>&1; then result=ALLOWED; else result=denied; fi',
    '  echo "$1: $result" >> /ccp_data/report.txt',
    "}",
]


def method(method_id: str, inputs: list[str], script: list[str]) -> dict[str, Any]:
    data = json.loads((REPO / "methods" / "hello-world.json").read_text())
    data.update(id=method_id, title=method_id)
    data["inputs"] = {"ccpimage": data["inputs"]["ccpimage"], **{
        name: {"schema": {"type": "string"}, "minOccurs": 0} for name in inputs}}
    data["additionalParameters"]["parameters"] = [
        {"name": "execute-script", "value": script}]
    return data


THIEF = method("thief", ["data", "methods", "config", "server"], [
    "env > /ccp_data/env.txt",  # before the script sets its own variables
    *ATTEMPT,
    "export DATA={{ data }} METHODS={{ methods }} CONFIG={{ config }} SERVER={{ server }}",
    "export PARENT=$PPID",
    "attempt read-server-environ 'cat /proc/$SERVER/environ | grep -q .'",
    "attempt read-parent-environ 'cat /proc/$PARENT/environ | grep -q .'",
    "attempt list-data-dir 'ls \"$DATA\" | grep -q .'",
    "attempt read-jobs-db 'cat \"$DATA/jobs.db\" | grep -q .'",
    "attempt find-data-files 'find \"$DATA\" -type f | grep -q .'",
    "attempt write-methods-dir 'echo {} > \"$METHODS/evil.json\"'",
    "attempt write-config-dir 'echo evil > \"$CONFIG/evil.yml\"'",
    "attempt append-to-config 'echo \"# evil\" >> \"$CONFIG/pygeoapi-config.yml\"'",
    "attempt signal-server 'kill -0 $SERVER'",
    "attempt stop-server 'kill -TERM $SERVER'",
    "attempt kill-server 'kill -KILL $SERVER'",
    # Everything readable that could hold the secret goes into the outputs.
    "for f in /proc/[0-9]*/environ /proc/[0-9]*/cmdline; do cat \"$f\"; echo; done"
    " > /ccp_data/proc-dump.txt 2>/dev/null",
    "cat \"$DATA\"/* \"$CONFIG\"/* > /ccp_data/files-dump.txt 2>/dev/null",
    "id -u > /ccp_data/uid.txt",
    "true",
])

VICTIM = method("victim", ["go"], [
    "echo 'secret of the victim' > /ccp_data/secret.txt",
    "echo 'home secret of the victim' > \"$HOME/secret.txt\"",
    "echo ready",
    "i=0",
    "while [ ! -e {{ go }} ] && [ $i -lt 600 ]; do i=$((i + 1)); sleep 0.1; done",
    "test \"$(cat /ccp_data/secret.txt)\" = 'secret of the victim'",
    "test ! -e /ccp_data/intruder.txt",
    "echo intact",
])

INTRUDER = method("intruder", ["victim", "server"], [
    *ATTEMPT,
    "export VICTIM={{ victim }}",
    "attempt list-work-root 'ls \"$(dirname \"$VICTIM\")\" | grep -q .'",
    "attempt list-victim-dir 'ls \"$VICTIM\" | grep -q .'",
    "attempt read-victim-data 'cat \"$VICTIM/ccp_data/secret.txt\"'",
    "attempt read-victim-home 'cat \"$VICTIM/secret.txt\"'",
    "attempt write-victim-data 'echo x > \"$VICTIM/ccp_data/intruder.txt\"'",
    "attempt remove-victim-data 'rm -r \"$VICTIM/ccp_data\"'",
    "attempt read-victim-script "
    "'cat /proc/[0-9]*/cmdline /proc/[0-9]*/environ | grep -q \"secret of th[e] victim\"'",
    # As one shared runner uid, this would end the victim; as root, everything: refuse that.
    "if [ \"$(id -u)\" = 0 ]; then echo 'running as root' >&2; exit 9; fi",
    "kill -9 -1",
    "echo survived >> /ccp_data/report.txt",
])

ESCAPER = method("escaper", [], [
    "setsid sh -c 'exec env -i sleep 7301' </dev/null >/dev/null 2>&1 &",
    "env -i sh -c 'setsid sleep 7302 &' </dev/null >/dev/null 2>&1 &",
    "sh -c 'trap \"\" TERM HUP INT; sleep 7303' </dev/null >/dev/null 2>&1 &",
    "nohup sh -c 'sleep 7304 & sleep 7305' </dev/null >/dev/null 2>&1 &",
    "sleep 0.5",
    "echo started",
])

ESCAPER_MARKERS = [f"sleep {n}" for n in range(7301, 7306)]


def admin() -> dict[str, str]:
    claims = {"sub": "admin", "roles": ["admin"], "exp": int(time.time()) + 3600}
    return {"Authorization": f"Bearer {jwt.encode(claims, SECRET, algorithm='HS256')}"}


class Layout:
    """The server's folders, in a place every user may traverse."""

    def __init__(self) -> None:
        self.base = Path(tempfile.mkdtemp(prefix="ccp-attack-", dir="/tmp"))
        self.base.chmod(0o755)
        self.data = self.base / "data"
        self.methods = self.base / "methods"
        self.config = self.base / "config"
        self.work = self.base / "work"
        infrastructures = self.base / "infrastructures"
        for folder in (self.methods, self.config, infrastructures):
            folder.mkdir(mode=0o755)
        shutil.copy(REPO / "pygeoapi-config.yml", self.config)
        for data in (THIEF, VICTIM, INTRUDER, ESCAPER):
            (self.methods / f"{data['id']}.json").write_text(json.dumps(data))
        local = json.loads((REPO / "infrastructures" / "local.json").read_text())
        local["settings"]["workRoot"] = str(self.work)
        (infrastructures / "local.json").write_text(json.dumps(local))
        self.env = {"CCP_METHODS_DIR": str(self.methods),
                    "CCP_INFRASTRUCTURES_DIR": str(infrastructures),
                    "CCP_AUTH": "true", "CCP_JWT_SECRET": SECRET}


@pytest.fixture(scope="module")
def layout() -> Iterator[Layout]:
    made = Layout()
    yield made
    shutil.rmtree(made.base, ignore_errors=True)


@pytest.fixture(scope="module")
def server(layout: Layout) -> Iterator[ServerProcess]:
    started = ServerProcess(layout.data, config=layout.config / "pygeoapi-config.yml",
                            **layout.env).start()
    yield started
    started.stop()


def run(server: ServerProcess, process_id: str, inputs: dict[str, Any]) -> str:
    response = requests.post(f"{server.url}/processes/{process_id}/execution",
                             json={"inputs": inputs},
                             headers={**admin(), "Prefer": "respond-async"}, timeout=10)
    assert response.status_code == 201, response.text
    return response.json()["jobID"]


def report_of(outputs: Any) -> dict[str, str]:
    lines = outputs.read("report.txt").decode().splitlines()
    return dict(line.split(": ", 1) for line in lines if ": " in line)


def processes() -> Iterator[tuple[int, int, str, str]]:
    """(pid, real uid, state, command line) of every process still there."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        yield (int(entry.name), int(fields["Uid"].split()[0]), fields["State"].split()[0],
               cmdline)


def test_attack_thief_finds_no_secret_no_server_data_and_cannot_touch_the_server(
        server: ServerProcess, layout: Layout) -> None:
    config_before = (layout.config / "pygeoapi-config.yml").read_bytes()
    job_id = run(server, "thief", {"data": str(layout.data), "methods": str(layout.methods),
                                   "config": str(layout.config),
                                   "server": str(server.process.pid)})
    job = wait_final_url(server.url, job_id, 60, headers=admin())
    assert job["status"] == "successful", job
    archive = archive_from_url(server.url, job_id, headers=admin())
    outputs = outputs_of(archive)

    assert report_of(outputs) == {name: "denied" for name in (
        "read-server-environ", "read-parent-environ", "list-data-dir", "read-jobs-db",
        "find-data-files", "write-methods-dir", "write-config-dir", "append-to-config",
        "signal-server", "stop-server", "kill-server")}
    everything = b"".join([archive.read(name) for name in archive.namelist()]
                          + [outputs.read(name) for name in outputs.namelist()])
    assert SECRET.encode() not in everything
    assert b"SQLite format 3" not in everything
    environment = {line.split("=", 1)[0]
                   for line in outputs.read("env.txt").decode().splitlines() if "=" in line}
    assert environment - ALLOWED_ENV == set(), "the script saw the server's environment"
    assert int(outputs.read("uid.txt")) not in (0, os.getuid())
    assert not (layout.methods / "evil.json").exists()
    assert sorted(p.name for p in layout.config.iterdir()) == ["pygeoapi-config.yml"]
    assert (layout.config / "pygeoapi-config.yml").read_bytes() == config_before
    assert server.process.poll() is None, "the script stopped the server"
    assert requests.get(f"{server.url}/conformance", timeout=5).status_code == 200


def test_attack_intruder_cannot_touch_a_concurrent_execution(
        server: ServerProcess, layout: Layout) -> None:
    go = layout.base / f"go-{secrets.token_hex(4)}"
    victim = run(server, "victim", {"go": str(go)})
    deadline = time.monotonic() + 30
    while "ready" not in requests.get(f"{server.url}/jobs/{victim}/logs", headers=admin(),
                                      timeout=5).text:
        assert time.monotonic() < deadline, "the victim never started"
        time.sleep(0.1)
    intruder = run(server, "intruder", {"victim": str(layout.work / victim),
                                        "server": str(server.process.pid)})
    job = wait_final_url(server.url, intruder, 60, headers=admin())
    go.touch()
    assert job["status"] == "successful", job
    report = report_of(outputs_of(archive_from_url(server.url, intruder, headers=admin())))
    assert report.pop("survived", None) is None  # a line of its own, not an attempt
    assert report == {name: "denied" for name in (
        "list-work-root", "list-victim-dir", "read-victim-data", "read-victim-home",
        "write-victim-data", "remove-victim-data", "read-victim-script")}

    job = wait_final_url(server.url, victim, 60, headers=admin())
    assert job["status"] == "successful", job  # `kill -9 -1` of the intruder did not reach it
    victim_outputs = outputs_of(archive_from_url(server.url, victim, headers=admin()))
    assert victim_outputs.read("secret.txt") == b"secret of the victim\n"
    assert "intruder.txt" not in victim_outputs.namelist()


def test_attack_processes_that_scrub_their_environment_or_setsid_die_at_destroy(
        server: ServerProcess) -> None:
    job_id = run(server, "escaper", {})
    try:
        job = wait_final_url(server.url, job_id, 60, headers=admin())
        assert job["status"] == "successful", job
        instance = json.loads(archive_from_url(server.url, job_id, headers=admin())
                              .read("metadata/instance.json"))
        uid = instance["runner"]["uid"]
        assert uid not in (0, os.getuid())
        left = [(pid, command) for pid, owner, state, command in processes()
                if state != "Z" and (owner == uid or command in ESCAPER_MARKERS)]
        assert left == [], f"processes left after Destroy: {left}"
    finally:
        for pid, _, _, command in processes():
            if command in ESCAPER_MARKERS:
                os.kill(pid, signal.SIGKILL)


def test_hardening_work_dirs_are_private_and_released(server: ServerProcess,
                                                      layout: Layout) -> None:
    go = layout.base / f"go-{secrets.token_hex(4)}"
    job_id = run(server, "victim", {"go": str(go)})
    workdir = layout.work / job_id
    deadline = time.monotonic() + 30
    while not (workdir / "ccp_data" / "secret.txt").exists():
        assert time.monotonic() < deadline, "the victim never wrote its secret"
        time.sleep(0.1)
    root, own, data = layout.work.stat(), workdir.stat(), (workdir / "ccp_data").stat()
    go.touch()
    assert (root.st_uid, root.st_mode & 0o777) == (0, 0o711)  # traversable, not listable
    assert own.st_mode & 0o777 == 0o700 and own.st_uid not in (0, os.getuid())
    assert (data.st_uid, data.st_mode & 0o077) == (own.st_uid, 0)
    assert (layout.data.stat().st_mode & 0o077) == 0, "the data dir is readable by others"
    assert wait_final_url(server.url, job_id, 60, headers=admin())["status"] == "successful"
    assert not workdir.exists()


def as_nobody(work: Callable[[], Any]) -> Any:
    """`work()` in a forked copy of this process that became `nobody` (the interpreter may
    live where nobody could exec it); returns what it returned, or raises what it raised."""
    nobody = pwd.getpwnam("nobody")
    reading, writing = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        status = 0
        try:
            os.close(reading)
            os.setgroups([])
            os.setgid(nobody.pw_gid)
            os.setuid(nobody.pw_uid)
            try:
                result = {"value": work()}
            except BaseException as err:
                result = {"error": repr(err)}
            with os.fdopen(writing, "w") as pipe:
                json.dump(result, pipe)
        except BaseException:
            status = 1
        finally:
            os._exit(status)
    os.close(writing)
    with os.fdopen(reading) as pipe:
        result = json.loads(pipe.read() or '{"error": "the child died"}')
    os.waitpid(pid, 0)
    assert "error" not in result, result["error"]
    return result["value"]


def test_hardening_a_server_that_is_not_root_says_there_is_no_uid_switch() -> None:
    work_root = Path(tempfile.gettempdir()) / f"ccp-not-root-{secrets.token_hex(4)}"

    def run_as_a_plain_user() -> dict[str, Any]:
        warnings: list[str] = []
        handler = logging.Handler()
        handler.emit = lambda record: warnings.append(record.getMessage())  # type: ignore
        logging.getLogger("ccp.runtimes.local").addHandler(handler)
        descriptor = {"id": "l", "name": "l", "type": "local",
                      "settings": {"workRoot": str(work_root)}}
        runtimes = [LocalRuntime(Infrastructure.from_dict(descriptor)) for _ in range(2)]
        instance = runtimes[0].launch("not-root", "none", {})
        lines = Lines()
        code = runtimes[1].run(instance, "id -u", 10, lines)
        description = runtimes[0].describe(instance)
        runtimes[1].destroy(instance)
        return {"code": code, "lines": lines.of("stdout"), "description": description,
                "warnings": warnings}

    warned_no_uid_switch.clear()
    try:
        report = as_nobody(run_as_a_plain_user)
    finally:
        shutil.rmtree(work_root, ignore_errors=True)
    nobody = pwd.getpwnam("nobody").pw_uid
    assert (report["code"], report["lines"]) == (0, [str(nobody)])
    runner = report["description"]["runner"]
    assert runner["uidSwitch"] is False and runner["uid"] == nobody
    assert "does not run as root" in runner["note"]
    assert report["description"]["isolation"].startswith("none")
    assert len(report["warnings"]) == 1, report["warnings"]  # once per server, not per runtime
    assert "does not run as root" in report["warnings"][0]


def test_hardening_the_runner_gets_the_memory_and_process_limits() -> None:
    runtime = LocalRuntime(Infrastructure.from_dict({
        "id": "l", "name": "l", "type": "local",
        "settings": {"memory": "64m", "pidsLimit": 20}}))
    instance = runtime.launch(f"limits-{secrets.token_hex(4)}", "none", {})
    try:
        lines = Lines()
        runtime.run(instance, "\n".join([
            "grep -E '^Max (processes|address space)' /proc/self/limits",
            "i=0",
            "while [ $i -lt 40 ]; do i=$((i + 1)); sleep 30 >/dev/null 2>&1 & done",
        ]), 30, lines)  # the shell gives up at the 21st process: its exit code says so
        limits = {" ".join(line.split()[:3]): line.split()[3:5] for line in lines.of("stdout")}
        assert limits == {"Max processes 20": ["20", "processes"],
                          "Max address space": [str(64 * 2**20), str(64 * 2**20)]}
        assert any("fork" in line for line in lines.of("stderr")), lines.entries
    finally:
        runtime.destroy(instance)
    assert [pid for pid, owner, state, _ in processes()
            if owner == instance.handle["uid"] and state != "Z"] == []
