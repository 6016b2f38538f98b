"""Plugins > CCP > Servers: the CCP servers, their credentials, and a connection test."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from qgis.gui import QgsAuthConfigSelect
from qgis.PyQt.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from . import servers
from .client import CCPError


class ServersDialog(QDialog):
    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("CCP servers")
        self.servers = servers.load()
        self.current = -1

        self.list = QListWidget()
        add, remove = QPushButton("Add"), QPushButton("Remove")
        add.clicked.connect(self.add_server)
        remove.clicked.connect(self.remove_server)
        left = QVBoxLayout()
        left.addWidget(self.list)
        buttons = QHBoxLayout()
        buttons.addWidget(add)
        buttons.addWidget(remove)
        left.addLayout(buttons)

        self.id_edit, self.title_edit, self.url_edit = QLineEdit(), QLineEdit(), QLineEdit()
        self.id_edit.setToolTip("Provider id: algorithms are <id>:<method id> (the first "
                                "server's is usually 'ccp')")
        self.auth_select = QgsAuthConfigSelect(self)
        self.token_edit = QLineEdit()
        self.token_edit.setEchoMode(QLineEdit.Password)
        self.token_edit.setToolTip("A bearer token (JWT), kept in plain text in the QGIS "
                                   "settings; an authentication configuration is safer")
        self.status = QLabel()
        self.status.setWordWrap(True)
        test = QPushButton("Test connection")
        test.clicked.connect(self.test_connection)
        form = QFormLayout()
        form.addRow("Id", self.id_edit)
        form.addRow("Title", self.title_edit)
        form.addRow("URL", self.url_edit)
        form.addRow("Authentication", self.auth_select)
        form.addRow("Or bearer token", self.token_edit)
        form.addRow(test, self.status)
        right = QWidget()
        right.setLayout(form)

        box = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel)
        box.accepted.connect(self.accept)
        box.rejected.connect(self.reject)
        columns = QHBoxLayout()
        columns.addLayout(left, 1)
        columns.addWidget(right, 2)
        layout = QVBoxLayout(self)
        layout.addLayout(columns)
        layout.addWidget(box)

        self.list.currentRowChanged.connect(self.show_server)
        self.fill_list()
        self.list.setCurrentRow(0)

    def fill_list(self) -> None:
        self.list.blockSignals(True)
        self.list.clear()
        for server in self.servers:
            self.list.addItem(f"{server.title} ({server.id})")
        self.list.blockSignals(False)

    def form_server(self) -> servers.Server:
        return servers.Server(id=self.id_edit.text().strip(), title=self.title_edit.text().strip(),
                              url=self.url_edit.text().strip().rstrip("/"),
                              authcfg=self.auth_select.configId(),
                              token=self.token_edit.text().strip())

    def keep_form(self) -> None:
        if 0 <= self.current < len(self.servers):
            self.servers[self.current] = self.form_server()

    def show_server(self, row: int) -> None:
        self.keep_form()
        self.current = row
        if not 0 <= row < len(self.servers):
            return
        server = self.servers[row]
        self.id_edit.setText(server.id)
        self.title_edit.setText(server.title)
        self.url_edit.setText(server.url)
        self.auth_select.setConfigId(server.authcfg)
        self.token_edit.setText(server.token)
        self.status.setText("")

    def add_server(self) -> None:
        self.keep_form()
        taken = {server.id for server in self.servers}
        number = next(n for n in range(2, 1000) if f"ccp{n}" not in taken)
        self.servers.append(replace(servers.Server(), id=f"ccp{number}",
                                    title=f"CCP {number}"))
        self.current = -1
        self.fill_list()
        self.list.setCurrentRow(len(self.servers) - 1)

    def remove_server(self) -> None:
        if 0 <= self.current < len(self.servers) and len(self.servers) > 1:
            del self.servers[self.current]
            self.current = -1
            self.fill_list()
            self.list.setCurrentRow(0)

    def test_connection(self) -> str:
        server = self.form_server()
        problems = server.problems()
        if problems:
            message = "; ".join(problems)
        else:
            try:
                count = len(server.client().processes())
                message = f"Connected: {count} Methods at {server.url}"
            except (CCPError, ValueError, KeyError, TypeError) as err:
                message = f"Failed: {err}"
        self.status.setText(message)
        return message

    def accept(self) -> None:
        self.keep_form()
        try:
            servers.save(self.servers)
        except ValueError as err:
            self.status.setText(f"Not saved: {err}")
            return
        super().accept()
