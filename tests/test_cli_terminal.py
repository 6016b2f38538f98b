"""The `ccp` command as a terminal user sees it: live progress and log lines, results, the
archive's location and exit codes; `ccp jobs`; `--server` with a token; Ctrl-C.

Every test runs the real `ccp` command in a subprocess: in-process on a data dir, or against
a live `ccp serve`. The live-progress tests run it on a pseudo-terminal and hold the job at a
gate (a file the test creates), so "while it still runs" is a fact, not a matter of timing.
"""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import select
import signal
import struct
import subprocess
import sys
import termios
import time
import uuid
import zipfile
from pathlib import Path

import jwt
import pytest
import requests
from conftest import REPO

SECRET = "cli-test-secret-0123456789abcdef0123456789abcdef"
ANSI = re.compile(rb"\x1b\[[0-9;?]*[A-Za-z]")
LOG_RECORD = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ (WARNING|ERROR|INFO) [\w.]+: \S")


def cli_env(data_dir: Path, methods: Path | None = None, **extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items()
           if key not in ("CCP_TOKEN", "CCP_SERVER")}
    return {**env, "CCP_DATA_DIR": str(data_dir),
            "CCP_METHODS_DIR": str(methods or REPO / "methods"),
            "CCP_INFRASTRUCTURES_DIR": str(REPO / "infrastructures"), **extra}


def ccp(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ccp.cli", *args], capture_output=True,
                          text=True, env=env, timeout=180, cwd=REPO)


def token(subject: str, *roles: str) -> str:
    claims = {"sub": subject, "exp": int(time.time()) + 3600, "roles": list(roles)}
    return jwt.encode(claims, SECRET, algorithm="HS256")


@pytest.fixture
def gate_methods(methods_dir: Path) -> Path:
    """The example Methods plus `gate`: it logs a line, then waits for the file named by its
    input `gate` to exist (in `shared_dir`: the local runtime sees what every user sees)."""
    method = json.loads((REPO / "methods" / "hello-world.json").read_text())
    method.update(id="gate", title="Gate")
    method["inputs"]["gate"] = {"schema": {"type": "string"}, "minOccurs": 1}
    method["additionalParameters"]["parameters"] = [{"name": "execute-script", "value": [
        "echo 'waiting for the gate'",
        "while [ ! -e {{ gate }} ]; do sleep 0.1; done",
        "echo 'through the gate'"]}]
    (methods_dir / "gate.json").write_text(json.dumps(method))
    return methods_dir


class Terminal:
    """`ccp ...` on a pseudo-terminal of 120 columns that is its controlling terminal, so that
    a Ctrl-C typed into it reaches the command as SIGINT, as at a real keyboard."""

    def __init__(self, *args: str, env: dict[str, str]) -> None:
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
        self.process = subprocess.Popen(
            [sys.executable, "-m", "ccp.cli", *args], stdin=slave, stdout=slave, stderr=slave,
            env={**env, "TERM": "xterm-256color"}, cwd=REPO, start_new_session=True,
            preexec_fn=lambda: fcntl.ioctl(0, termios.TIOCSCTTY, 0))
        os.close(slave)
        self.master = master
        self.output = b""

    def _read(self, wait: float) -> bool:
        """Read what is there; False once the command closed the terminal."""
        ready, _, _ = select.select([self.master], [], [], wait)
        if not ready:
            return True
        try:
            chunk = os.read(self.master, 65536)
        except OSError:  # EIO: every writer is gone
            return False
        self.output += chunk
        return bool(chunk)

    def read_until(self, needle: bytes, guard: float = 120) -> bytes:
        """Everything printed until `needle` first shows (the guard only stops a hung test)."""
        deadline = time.monotonic() + guard
        while needle not in self.output:
            if not self._read(1.0) or time.monotonic() > deadline:
                raise AssertionError(f"{needle!r} never came; got {self.output[-3000:]!r}")
        return self.output

    def type(self, keys: bytes) -> None:
        os.write(self.master, keys)

    def finish(self, guard: float = 120) -> int:
        deadline = time.monotonic() + guard
        while self._read(1.0) and time.monotonic() < deadline:
            pass
        code = self.process.wait(timeout=30)
        os.close(self.master)
        return code

    def text(self) -> str:
        return ANSI.sub(b"", self.output).decode("utf-8", "replace")


def job_id_in(text: str) -> str:
    found = re.search(r"job ([0-9a-f-]{36}) submitted", text)
    assert found, text
    return found.group(1)


# --- in-process ------------------------------------------------------------------------------

def test_cli_run_plain_shows_log_results_archive_and_exit_code(tmp_path: Path) -> None:
    result = ccp("run", "hello-world", "-i", "name=terminal", env=cli_env(tmp_path / "data"))
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert not ANSI.search(out.encode()), "no colours or cursor moves when not on a terminal"
    lines = out.splitlines()
    job_id = job_id_in(out)
    execute = next(i for i, line in enumerate(lines) if "[Execute] [ccp]" in line)
    summary = lines.index(f"job {job_id} successful: Execution successful")
    assert execute < summary, "the log comes first, then how it ended"
    assert "[ccp] successful 100% Execution successful" in lines
    assert lines[summary + 1] == "outputs:"
    stdout = lines.index("  stdout:")
    assert lines[stdout + 1] == "    Hello, terminal!", "the stdout output's value, as text"
    archive_line = next(line for line in lines if line.startswith("archive: "))
    archive = Path(archive_line.removeprefix("archive: "))
    assert archive == (tmp_path / "data" / "archives" / "executions" / job_id).resolve()
    assert (archive / "metadata" / "status.json").is_file()
    output_line = next(line for line in lines if line.startswith("  output: "))
    output_zip = Path(output_line.removeprefix("  output: "))
    assert zipfile.ZipFile(output_zip).read("hello.txt") == b"Hello, terminal!\n"
    assert lines[-1] == "exit code 0 (successful)"


def test_cli_run_json_keeps_stdout_to_one_machine_readable_line(tmp_path: Path) -> None:
    result = ccp("run", "always-fails", "--json", env=cli_env(tmp_path / "data"))
    assert result.returncode == 1, result.stderr
    assert len(result.stdout.splitlines()) == 1
    document = json.loads(result.stdout)
    assert document["status"] == "failed" and document["exitCode"] == 1
    assert document["results"] is None
    assert "exited with code" in document["message"]
    assert Path(document["archive"], "logs", "execution.log").is_file()
    # The human view went to standard error.
    assert "[Execute]" in result.stderr and "exit code 1 (failed)" in result.stderr


def test_cli_refusals_have_their_own_exit_codes(tmp_path: Path) -> None:
    env = cli_env(tmp_path / "data")
    unknown = ccp("run", "no-such-method", env=env)
    assert unknown.returncode == 4
    assert "404" in unknown.stderr and "there is no process 'no-such-method'" in unknown.stderr
    invalid = ccp("run", "sleep", "-i", "seconds=-1", env=env)
    assert invalid.returncode == 4 and "'seconds' must be >= 0" in invalid.stderr
    malformed = ccp("run", "sleep", "-i", "seconds", env=env)
    assert malformed.returncode == 2 and "not name=value" in malformed.stderr
    assert "Traceback" not in unknown.stderr + invalid.stderr + malformed.stderr


def test_cli_jobs_on_the_local_data_dir(tmp_path: Path) -> None:
    env = cli_env(tmp_path / "data")
    ok = json.loads(ccp("run", "hello-world", "--json", env=env).stdout)
    failed = json.loads(ccp("run", "always-fails", "--json", env=env).stdout)

    table = ccp("jobs", "list", env=env)
    assert table.returncode == 0, table.stderr
    header, *rows, footer = table.stdout.splitlines()
    assert header.split() == ["JOB", "PROCESS", "STATUS", "PROGRESS", "CREATED", "MESSAGE"]
    assert rows[0].split()[:3] == [failed["jobID"], "always-fails", "failed"]  # newest first
    assert rows[1].split()[:3] == [ok["jobID"], "hello-world", "successful"]
    assert footer == "2 of 2 job(s)"
    only = ccp("jobs", "list", "--status", "successful", "--json", env=env)
    assert [job["jobID"] for job in json.loads(only.stdout)["jobs"]] == [ok["jobID"]]
    by_process = ccp("jobs", "list", "--process", "always-fails", "--limit", "1", env=env)
    assert failed["jobID"] in by_process.stdout and ok["jobID"] not in by_process.stdout

    followed = ccp("jobs", "follow", failed["jobID"], env=env)
    assert followed.returncode == 1
    assert "[Execute]" in followed.stdout and "exit code 1 (failed)" in followed.stdout

    target = tmp_path / "archive.zip"
    saved = ccp("jobs", "download", ok["jobID"], "-o", str(target), env=env)
    assert saved.returncode == 0 and f"wrote {target}" in saved.stdout
    outputs = zipfile.ZipFile(zipfile.ZipFile(target).open("outputs/output.zip"))
    assert outputs.read("hello.txt") == b"Hello, World!\n"
    only_outputs = ccp("jobs", "download", ok["jobID"], "--outputs", "-o",
                       str(tmp_path / "out.zip"), env=env)
    assert only_outputs.returncode == 0
    assert zipfile.ZipFile(tmp_path / "out.zip").read("hello.txt") == b"Hello, World!\n"

    # Dismissing a finished job changes nothing: its archive stays.
    refused = ccp("jobs", "dismiss", ok["jobID"], env=env)
    assert refused.returncode == 1 and "nothing to dismiss" in refused.stdout
    assert Path(ok["archive"], "metadata", "status.json").is_file()
    missing = ccp("jobs", "download", str(uuid.uuid4()), env=env)
    assert missing.returncode == 4 and "404" in missing.stderr


def test_cli_one_concise_line_per_unreachable_infrastructure(tmp_path: Path) -> None:
    nowhere = f"unix://{tmp_path}/no-docker-here.sock"
    result = ccp("run", "hello-world", env=cli_env(tmp_path / "data", DOCKER_HOST=nowhere))
    assert result.returncode == 0, result.stderr
    records = result.stderr.splitlines()
    for infrastructure in ("docker", "swarm"):
        said = [line for line in records if f"infrastructure {infrastructure} unreachable" in line]
        assert len(said) == 1, records
        assert said[0].endswith("is unreachable: No such file or directory"), said[0]
        assert LOG_RECORD.match(said[0]), said[0]
    assert "lxd unreachable" not in result.stderr
    assert ".py" not in result.stderr and "Traceback" not in result.stderr


def test_cli_pty_shows_progress_and_log_lines_while_the_job_runs(
        tmp_path: Path, gate_methods: Path, shared_dir: Path) -> None:
    env = cli_env(tmp_path / "data", gate_methods)
    gate = shared_dir / "gate"
    terminal = Terminal("run", "gate", "-i", f"gate={gate}", env=env)
    try:
        terminal.read_until(b"waiting for the gate")
        # The job cannot end before the gate exists: all of this is shown while it runs.
        seen = terminal.text()
        assert terminal.process.poll() is None
        assert "\u2501" in seen, "a rich progress bar"
        assert re.search(r"(accepted|running)\s", seen)
        assert "[Execute] [replica 1] [stdout] waiting for the gate" in seen
        running = ccp("jobs", "list", "--status", "running", "--json", env=env)
        assert [job["jobID"] for job in json.loads(running.stdout)["jobs"]] == [job_id_in(seen)]
        gate.touch()
        code = terminal.finish()
    finally:
        gate.touch()
        if terminal.process.poll() is None:
            terminal.process.kill()
    text = terminal.text()
    assert code == 0, text
    assert text.index("waiting for the gate") < text.index("through the gate")
    assert "Execution successful" in text and "exit code 0 (successful)" in text


def test_cli_ctrl_c_dismisses_the_in_process_job(tmp_path: Path, gate_methods: Path,
                                                 shared_dir: Path) -> None:
    env = cli_env(tmp_path / "data", gate_methods)
    gate = shared_dir / "gate"  # never opened: only a dismissal ends this job
    process = subprocess.Popen(
        [sys.executable, "-m", "ccp.cli", "run", "gate", "-i", f"gate={gate}", "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=REPO)
    try:
        for line in process.stderr:
            if "waiting for the gate" in line:
                break
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 3, stderr
    document = json.loads(stdout)
    assert document["status"] == "dismissed" and document["exitCode"] == 3
    assert "Ctrl-C: dismissing job" in stderr
    listed = ccp("jobs", "list", "--status", "dismissed", "--json", env=env)
    assert [job["jobID"] for job in json.loads(listed.stdout)["jobs"]] == [document["jobID"]]


# --- against a live `ccp serve` --------------------------------------------------------------

def test_cli_remote_run_and_jobs_with_a_token(tmp_path: Path, server_process) -> None:
    server = server_process(CCP_AUTH="true", CCP_JWT_SECRET=SECRET)
    ann, bob = token("ann"), token("bob")
    env = cli_env(tmp_path / "client-side")  # nothing of the server's on this side
    refused = ccp("run", "hello-world", "--server", server.url, env=env)
    assert refused.returncode == 4 and "401" in refused.stderr

    result = ccp("run", "hello-world", "-i", "name=remote", "--server", server.url,
                 "--token", ann, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    job_id = job_id_in(result.stdout)
    assert "[Execute] [replica 1]" in result.stdout
    assert f"archive: {server.url}/jobs/{job_id}/archive" in result.stdout
    assert f"  output: {server.url}/jobs/{job_id}/outputs/output.zip" in result.stdout
    assert not (tmp_path / "client-side").exists(), "--server never touches a local data dir"

    as_ann = {**env, "CCP_TOKEN": ann, "CCP_SERVER": server.url}
    listed = ccp("jobs", "list", "--json", env=as_ann)
    assert [job["jobID"] for job in json.loads(listed.stdout)["jobs"]] == [job_id]
    target = tmp_path / "outputs.zip"
    saved = ccp("jobs", "download", job_id, "--outputs", "-o", str(target), env=as_ann)
    assert saved.returncode == 0, saved.stderr
    assert zipfile.ZipFile(target).read("hello.txt") == b"Hello, remote!\n"

    # Another user sees nothing of ann's job, and cannot dismiss or fetch it.
    as_bob = {**env, "CCP_TOKEN": bob, "CCP_SERVER": server.url}
    assert json.loads(ccp("jobs", "list", "--json", env=as_bob).stdout)["jobs"] == []
    for command in (("follow", job_id), ("dismiss", job_id),
                    ("download", job_id, "-o", str(tmp_path / "x.zip"))):
        answer = ccp("jobs", *command, env=as_bob)
        assert answer.returncode == 4 and "404" in answer.stderr, (command, answer.stderr)
    assert not (tmp_path / "x.zip").exists()
    status = requests.get(f"{server.url}/jobs/{job_id}",
                          headers={"Authorization": f"Bearer {ann}"}, timeout=10).json()
    assert status["status"] == "successful"


def test_cli_remote_follow_and_dismiss(tmp_path: Path, server_process,
                                       gate_methods: Path) -> None:
    server = server_process(CCP_METHODS_DIR=str(gate_methods))
    env = {**cli_env(tmp_path / "client-side"), "CCP_SERVER": server.url}
    response = requests.post(f"{server.url}/processes/gate/execution",
                             json={"inputs": {"gate": str(tmp_path / "never")}},
                             headers={"Prefer": "respond-async"}, timeout=10)
    job_id = response.json()["jobID"]
    follower = subprocess.Popen([sys.executable, "-m", "ccp.cli", "jobs", "follow", job_id],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env=env, cwd=REPO)
    try:
        for line in follower.stdout:
            if "waiting for the gate" in line:
                break
        dismissed = ccp("jobs", "dismiss", job_id, env=env)
        assert dismissed.returncode == 0, dismissed.stderr
        assert f"job {job_id} dismissed: Dismissed during Execute" in dismissed.stdout
        rest, errors = follower.communicate(timeout=120)
    finally:
        if follower.poll() is None:
            follower.kill()
    assert follower.returncode == 3, errors
    assert f"job {job_id} dismissed" in rest and "exit code 3 (dismissed)" in rest
    assert f"archive: {server.url}/jobs/{job_id}/archive" in rest


def test_cli_pty_ctrl_c_dismisses_the_remote_job(tmp_path: Path, server_process,
                                                 gate_methods: Path) -> None:
    server = server_process(CCP_METHODS_DIR=str(gate_methods), CCP_AUTH="true",
                            CCP_JWT_SECRET=SECRET)
    env = {**cli_env(tmp_path / "client-side"), "CCP_TOKEN": token("ann")}
    terminal = Terminal("run", "gate", "-i", f"gate={tmp_path / 'never'}",
                        "--server", server.url, env=env)
    try:
        seen = terminal.read_until(b"waiting for the gate")
        assert "\u2501".encode() in seen
        terminal.type(b"\x03")  # Ctrl-C at the keyboard
        code = terminal.finish()
    finally:
        if terminal.process.poll() is None:
            terminal.process.kill()
    text = terminal.text()
    assert code == 3, text
    job_id = job_id_in(text)
    assert "Ctrl-C: dismissing job" in text and "exit code 3 (dismissed)" in text
    status = requests.get(f"{server.url}/jobs/{job_id}", timeout=10,
                          headers={"Authorization": f"Bearer {token('ann')}"}).json()
    assert status["status"] == "dismissed"


def test_cli_serve_log_lines_are_concise(tmp_path: Path, server_process) -> None:
    nowhere = f"unix://{tmp_path}/no-docker-here.sock"
    server = server_process(DOCKER_HOST=nowhere)
    requests.get(f"{server.url}/processes", timeout=10)
    server.stop()
    log = (server.data_dir.parent / f"server-{server.port}.log").read_text()
    lines = log.splitlines()
    assert any(line.startswith(f"CCP serving on http://127.0.0.1:{server.port} (")
               and "unreachable: docker, swarm" in line for line in lines), log
    records = [line for line in lines if "unreachable" in line and "WARNING" in line]
    assert len(records) == 2 and all(LOG_RECORD.match(line) for line in records), log
    assert "{/" not in log and ".py:" not in log and "Traceback" not in log
    assert "CCP stopping (SIGTERM)" in log


def test_cli_in_process_archive_location_on_s3(tmp_path: Path, s3_storage_config) -> None:
    config = s3_storage_config(prefix="cli")
    env = cli_env(tmp_path / "data", CCP_STORAGE="s3", CCP_S3_ENDPOINT=config["endpoint"],
                  CCP_S3_BUCKET=config["bucket"], CCP_S3_PREFIX="cli")
    result = ccp("run", "hello-world", "--json", env=env)
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    job_id = document["jobID"]
    assert document["archive"] == f"s3://{config['bucket']}/cli/executions/{job_id}"
    assert document["results"]["output"]["href"] == (
        f"s3://{config['bucket']}/cli/executions/{job_id}/outputs/output.zip")
    saved = ccp("jobs", "download", job_id, "--outputs", "-o", str(tmp_path / "o.zip"), env=env)
    assert saved.returncode == 0, saved.stderr
    assert zipfile.ZipFile(tmp_path / "o.zip").read("hello.txt") == b"Hello, World!\n"
