"""Shared fixtures: a CCP server on the embedded default, as a Flask app or a real process."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from helpers import FINAL, free_port, submit, wait_final, wait_status  # noqa: F401
from qgistools import plugin_zip, qgis_profile  # noqa: F401  (fixtures for the QGIS tests)
from services import (  # noqa: F401  (fixtures for every test)
    fresh_postgres_url,
    s3_clean,
    s3_storage_config,
)

from ccp.app import create_app, load_config

REPO = Path(__file__).resolve().parent.parent


def make_config(data_dir: Path, methods: Path | None = None,
                infrastructures: Path | None = None, **manager: Any) -> dict[str, Any]:
    config = load_config(REPO / "pygeoapi-config.yml")
    config["server"]["manager"].update({
        "data_dir": str(data_dir),
        "methods": str(methods or REPO / "methods"),
        "infrastructures": str(infrastructures or REPO / "infrastructures"),
        "connection": "",
        **manager,
    })
    return config


@pytest.fixture
def app_factory(tmp_path: Path) -> Iterator[Callable[..., Any]]:
    apps = []

    def build(**kwargs: Any) -> Any:
        auth = kwargs.pop("auth", None)
        config = make_config(kwargs.pop("data_dir", tmp_path / "data"), **kwargs)
        if auth is not None:
            config["server"]["auth"] = auth
        app = create_app(config)
        apps.append(app)
        return app

    yield build
    for app in apps:
        app.extensions["ccp"].manager.stop()


@pytest.fixture
def app(app_factory: Callable[..., Any]) -> Any:
    return app_factory()


@pytest.fixture
def client(app: Any) -> Any:
    return app.test_client()


class ServerProcess:
    """`ccp serve` in a real process on a real socket."""

    def __init__(self, data_dir: Path, config: Path = REPO / "pygeoapi-config.yml",
                 **env: str) -> None:
        self.config = config
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.data_dir = data_dir
        self.env = {**os.environ, "CCP_DATA_DIR": str(data_dir), "CCP_URL": self.url,
                    "CCP_PORT": str(self.port), "CCP_HOST": "127.0.0.1",
                    "CCP_METHODS_DIR": str(REPO / "methods"),
                    "CCP_INFRASTRUCTURES_DIR": str(REPO / "infrastructures"), **env}
        self.process: subprocess.Popen | None = None

    def start(self) -> ServerProcess:
        log = (self.data_dir.parent / f"server-{self.port}.log").open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "ccp.cli", "serve", "--config", str(self.config)],
            env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                requests.get(f"{self.url}/conformance", timeout=1)
                return self
            except requests.ConnectionError:
                assert self.process.poll() is None, "the server exited at start-up"
                time.sleep(0.2)
        raise AssertionError("the server did not answer within 30 s")

    def kill(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture
def server_process(tmp_path: Path) -> Iterator[Callable[..., ServerProcess]]:
    started: list[ServerProcess] = []

    def start(data_dir: Path | None = None, **env: str) -> ServerProcess:
        server = ServerProcess(data_dir or tmp_path / "data", **env).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def write_ledger_method(methods: Path, method_id: str, *more_lines: str) -> None:
    """A Method that appends its job id to the host file given as input `ledger` (see the
    `ledger` fixture), so a test can count how often each job really ran."""
    method = json.loads((REPO / "methods" / "hello-world.json").read_text())
    method["id"] = method_id
    method["inputs"]["ledger"] = {"schema": {"type": "string"}, "minOccurs": 1}
    method["additionalParameters"]["parameters"] = [{"name": "execute-script", "value": [
        'echo "$ccptaskname" >> {{ ledger }}', *more_lines]}]
    methods.mkdir(parents=True, exist_ok=True)
    (methods / f"{method_id}.json").write_text(json.dumps(method))


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A host folder local executions can see: they run as runner uids of their own, which
    cannot enter pytest's private tmp_path. Readable by everyone, writable by the test."""
    folder = Path(tempfile.mkdtemp(prefix="ccp-shared-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def ledger(shared_dir: Path) -> Path:
    """A host file every local execution may append to."""
    path = shared_dir / "ledger.txt"
    path.touch(mode=0o666)
    path.chmod(0o666)
    return path


@pytest.fixture
def methods_dir(tmp_path: Path) -> Path:
    """A writable copy of the example Methods, for tests that add their own."""
    target = tmp_path / "methods"
    shutil.copytree(REPO / "methods", target)
    return target
