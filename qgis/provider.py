"""One CCP server as a QGIS Processing provider: its Methods are the algorithms."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from qgis.core import Qgis, QgsMessageLog, QgsProcessingProvider
from qgis.PyQt.QtGui import QIcon

from .algorithm import CCPAlgorithm, infrastructure_of
from .client import CCPError
from .servers import Server

ICON = Path(__file__).with_name("icon.svg")
LOG_TAG = "CCP"


class CCPProvider(QgsProcessingProvider):
    def __init__(self, server: Server) -> None:
        super().__init__()
        self.server = server
        self.problem = ""

    def id(self) -> str:
        return self.server.id

    def name(self) -> str:
        return self.server.title or "CCP"

    def longName(self) -> str:  # noqa: N802 (QGIS names)
        return f"{self.name()} — CCP server at {self.server.url}"

    def icon(self) -> QIcon:
        return QIcon(str(ICON))

    def warningMessage(self) -> str:  # noqa: N802
        return self.problem

    def loadAlgorithms(self) -> None:  # noqa: N802
        """Every Method of the server; an unreachable server leaves a warning, not an error."""
        self.problem = ""
        try:
            client = self.server.client()
            descriptions = client.describe_all()
        except (CCPError, ValueError, KeyError, TypeError) as err:
            self.problem = f"{self.name()}: {err}"
            QgsMessageLog.logMessage(self.problem, LOG_TAG, Qgis.Warning)
            return
        try:  # what each Infrastructure offers; an older server has no manifests
            manifests: dict[str, Any] = client.infrastructures()
        except (CCPError, ValueError, AttributeError) as err:
            QgsMessageLog.logMessage(f"{self.name()}: no Infrastructure manifests: {err}",
                                     LOG_TAG, Qgis.Info)
            manifests = {}
        for description in descriptions:
            manifest = manifests.get(infrastructure_of(description))
            self.addAlgorithm(CCPAlgorithm(self.server, description, manifest))
