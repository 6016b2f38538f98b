"""The QGIS plugin: one Processing provider per configured CCP server, and a Plugins menu."""

from __future__ import annotations

from typing import Any

from qgis.core import Qgis, QgsApplication
from qgis.PyQt.QtGui import QIcon
from qgis.PyQt.QtWidgets import QAction

from . import servers
from .provider import ICON, CCPProvider

MENU = "&CCP"


class CCPPlugin:
    def __init__(self, iface: Any) -> None:
        self.iface = iface  # None when run headless (scripts, tests)
        # Python must keep the providers: QGIS drops a provider (and its algorithms) that
        # nothing on the Python side refers to.
        self.providers: list[CCPProvider] = []
        self.actions: list[QAction] = []

    # --- Processing ------------------------------------------------------------------------

    def initProcessing(self) -> None:  # noqa: N802 (the name QGIS calls)
        if not self.providers:
            self.register_providers()

    def register_providers(self) -> None:
        """(Re)create one provider per configured server; each loads its Methods."""
        self.remove_providers()
        registry = QgsApplication.processingRegistry()
        for server in servers.load():
            provider = CCPProvider(server)
            registry.addProvider(provider)
            self.providers.append(provider)
        self.report_problems()

    def remove_providers(self) -> None:
        registry = QgsApplication.processingRegistry()
        for provider in self.providers:
            registry.removeProvider(provider)
        self.providers = []

    def refresh(self) -> None:
        """Ask every server again for its Methods."""
        for provider in self.providers:
            provider.refreshAlgorithms()
        self.report_problems()
        if self.iface and not any(provider.problem for provider in self.providers):
            count = sum(len(provider.algorithms()) for provider in self.providers)
            self.iface.messageBar().pushMessage("CCP", f"{count} Methods loaded", Qgis.Success, 3)

    def report_problems(self) -> None:
        if not self.iface:
            return
        for provider in self.providers:
            if provider.problem:
                self.iface.messageBar().pushMessage(
                    "CCP", f"{provider.problem} (Plugins > CCP > Servers)", Qgis.Warning, 10)

    # --- desktop ---------------------------------------------------------------------------

    def initGui(self) -> None:  # noqa: N802
        self.initProcessing()
        icon = QIcon(str(ICON))
        for title, slot in (("Servers…", self.show_servers),
                            ("Refresh algorithms", self.refresh)):
            action = QAction(icon, title, self.iface.mainWindow())
            action.triggered.connect(slot)
            self.iface.addPluginToMenu(MENU, action)
            self.actions.append(action)

    def show_servers(self) -> None:
        from .dialog import ServersDialog

        dialog = ServersDialog(self.iface.mainWindow())
        if dialog.exec_():
            self.register_providers()

    def unload(self) -> None:
        for action in self.actions:
            self.iface.removePluginMenu(MENU, action)
        self.actions = []
        self.remove_providers()
