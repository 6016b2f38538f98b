"""Runs INSIDE QGIS's Python (Debian's /usr/bin/python3), never in the test venv.

tests/qgistools.py writes a small driver script that imports this module, starts QGIS
headless on a temporary profile where the packaged plugin is installed, does one thing and
prints its findings as one JSON line for the test to assert on.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

RESULT_MARK = "CCP-QGIS-RESULT "


def profile_dir(root: str) -> Path:
    """QGIS's layout: <root>/profiles/default (what QGIS_CUSTOM_CONFIG_PATH and
    `qgis --profiles-path <root>` use too)."""
    return Path(root) / "profiles" / "default"


def start(root: str, gui: bool = False) -> Any:
    """QGIS and Processing up, settings and auth database in the profile; returns the app."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from qgis.PyQt.QtCore import QCoreApplication, QSettings

    profile = profile_dir(root)
    # the names and path QGIS desktop and qgis_process use, so QgsSettings reads the profile
    QCoreApplication.setOrganizationName("QGIS")
    QCoreApplication.setApplicationName("QGIS3")
    QSettings.setDefaultFormat(QSettings.IniFormat)
    QSettings.setPath(QSettings.IniFormat, QSettings.UserScope, str(profile))

    from qgis.core import QgsApplication

    QgsApplication.setPrefixPath("/usr", True)
    app = QgsApplication([], gui, str(profile))
    app.initQgis()
    sys.path.append("/usr/share/qgis/python/plugins")
    from processing.core.Processing import Processing

    Processing.initialize()
    sys.path.insert(0, str(profile / "python" / "plugins"))
    return app


def plugin(servers: list[dict[str, str]] | None = None) -> Any:
    """The installed plugin (ccp_qgis), after saving `servers`; its providers registered."""
    import ccp_qgis
    from ccp_qgis import servers as settings

    if servers is not None:
        settings.save([settings.Server(**server) for server in servers])
    instance = ccp_qgis.classFactory(None)
    instance.initProcessing()
    return instance


def emit(result: Any) -> None:
    print(RESULT_MARK + json.dumps(result, default=str), flush=True)
