"""Driving real QGIS from the tests: the packaged plugin in a temporary profile, and small
driver scripts run by QGIS's own Python (Debian's /usr/bin/python3, not this venv) that print
what they found as JSON. Nothing is skipped: without QGIS the tests fail, saying how to
install it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from qgis_harness import RESULT_MARK, profile_dir

REPO = Path(__file__).resolve().parent.parent
TESTS = Path(__file__).resolve().parent
QGIS_PYTHON = "/usr/bin/python3"
INSTALL_HINT = ("install QGIS with `bash scripts/install-system-packages.sh` "
                "(qgis python3-qgis qgis-providers xvfb xauth)")


def qgis_env(**extra: str) -> dict[str, str]:
    """The environment for QGIS processes: headless, and free of this venv's Python."""
    env = {key: value for key, value in os.environ.items()
           if key not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    env.update({"QT_QPA_PLATFORM": "offscreen", "XDG_RUNTIME_DIR": "/tmp/runtime-root",
                **extra})
    return env


def require_qgis() -> None:
    """Fail (never skip) when QGIS's Python bindings are missing."""
    problem = None
    try:
        check = subprocess.run([QGIS_PYTHON, "-c", "import qgis.core"], cwd="/",
                               env=qgis_env(), capture_output=True, text=True, timeout=60)
        if check.returncode != 0:
            problem = check.stderr.strip().splitlines()[-1:] or ["import qgis.core failed"]
    except OSError as err:
        problem = [str(err)]
    if problem:
        pytest.fail(f"QGIS is not usable from {QGIS_PYTHON} ({problem[0]}); {INSTALL_HINT}",
                    pytrace=False)


def build_plugin(destination: Path) -> Path:
    """`python3 qgis/package.py --output <destination>`, as a user would build it."""
    result = subprocess.run([sys.executable, str(REPO / "qgis" / "package.py"), "--output",
                             str(destination)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(destination)
    return destination


@dataclass
class Profile:
    """A QGIS profile root with the plugin installed from its zip (Install from ZIP does
    the same: unpack into <profile>/python/plugins)."""

    root: Path

    @property
    def plugins(self) -> Path:
        return profile_dir(str(self.root)) / "python" / "plugins"

    def install(self, plugin_zip: Path) -> Profile:
        self.plugins.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(plugin_zip) as archive:
            archive.extractall(self.plugins)
        return self

    def run(self, body: str, servers: list[dict[str, str]] | None = None, gui: bool = False,
            timeout: float = 180) -> Any:
        """Run `body` inside QGIS with the plugin loaded (`ccp`) for `servers`; returns what
        the body passed to emit()."""
        script = "\n".join([
            "import sys",
            f"sys.path.insert(0, {str(TESTS)!r})",
            "from qgis_harness import start, plugin, emit",
            f"app = start({str(self.root)!r}, gui={gui!r})",
            f"ccp = plugin({servers!r})",
            "from qgis.core import *",
            "import processing",
            "registry = QgsApplication.processingRegistry()",
            textwrap.dedent(body),
            "app.exitQgis()",
        ])
        path = self.root / "driver.py"
        path.write_text(script, encoding="utf-8")
        result = subprocess.run([QGIS_PYTHON, str(path)], cwd=self.root, env=qgis_env(),
                                capture_output=True, text=True, timeout=timeout)
        found = [line[len(RESULT_MARK):] for line in result.stdout.splitlines()
                 if line.startswith(RESULT_MARK)]
        assert result.returncode == 0 and found, (
            f"the QGIS driver failed (exit {result.returncode})\n--- stdout\n{result.stdout}"
            f"\n--- stderr\n{result.stderr}")
        return json.loads(found[-1])


    def configure(self, servers: list[dict[str, str]]) -> None:
        """Save `servers` in the profile and enable the plugin there, as the Plugin Manager
        would: what QGIS desktop and qgis_process read at start-up."""
        self.run("""
settings = QgsSettings()
settings.setValue("PythonPlugins/ccp_qgis", True)
settings.sync()
emit(settings.fileName())
""", servers=servers)


def qgis_process() -> list[str]:
    """The `qgis_process` command. Debian 12's wrapper script passes --noversioncheck (from
    /etc/default/qgis) to qgis_process 3.22, which rejects it (qgis/QGIS#57683): there, the
    binary the wrapper runs."""
    defaults = Path("/etc/default/qgis")
    binary = Path("/usr/bin/qgis_process.bin")
    if binary.exists() and defaults.exists() and "--noversioncheck" in defaults.read_text():
        return [str(binary)]
    return ["qgis_process"]


@pytest.fixture(scope="session")
def plugin_zip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_plugin(tmp_path_factory.mktemp("dist") / "ccp_qgis.zip")


@pytest.fixture
def qgis_profile(plugin_zip: Path, tmp_path: Path) -> Profile:
    """A fresh QGIS profile with the plugin installed; QGIS itself must be there."""
    require_qgis()
    return Profile(tmp_path / "qgis-profile").install(plugin_zip)


def server_entry(url: str, **more: str) -> dict[str, str]:
    return {"id": "ccp", "title": "CCP", "url": url, **more}
