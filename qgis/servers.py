"""The CCP servers QGIS knows, kept in the QGIS settings of the profile, and their credentials.

Each server becomes one Processing provider whose id is the server's `id` (the first server's
is `ccp` by default, so its algorithms are `ccp:<method id>`). Credentials come from a QGIS
Authentication Manager configuration (`authcfg`, kept encrypted by QGIS) or, simpler but in
plain text in the settings file, a bearer `token`.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass

from qgis.core import QgsApplication, QgsSettings
from qgis.PyQt.QtNetwork import QNetworkRequest

from .client import Client

SETTINGS_KEY = "ccp/servers"
DEFAULT_URL = "http://localhost:5000"  # where `./run.sh` serves
ID_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


@dataclass
class Server:
    id: str = "ccp"
    title: str = "CCP"
    url: str = DEFAULT_URL
    authcfg: str = ""
    token: str = ""

    def problems(self) -> list[str]:
        found = []
        if not ID_PATTERN.match(self.id):
            found.append(f"the id {self.id!r} must be lowercase letters, digits or '_', "
                         "starting with a letter (it prefixes the algorithm ids)")
        if not re.match(r"^https?://[^/\s]+", self.url):
            found.append(f"the URL {self.url!r} must start with http:// or https://")
        return found

    def headers(self) -> dict[str, str]:
        """The HTTP headers that carry this server's credentials (none without any)."""
        if self.authcfg:
            return authcfg_headers(self.authcfg)
        if self.token:
            return {"Authorization": f"Bearer {self.token.strip()}"}
        return {}

    def client(self) -> Client:
        return Client(self.url, self.headers())


def authcfg_headers(authcfg: str) -> dict[str, str]:
    """Headers an Authentication Manager configuration adds to a request.

    QGIS 3.22 has no plain "bearer token" method: an `EsriToken` configuration holding the
    token is the closest (QGIS sends it as X-Esri-Authorization: Bearer <token>, which becomes
    the Authorization header here); Basic, OAuth2 and the others give their own header.
    """
    request = QNetworkRequest()
    manager = QgsApplication.authManager()
    updated = manager.updateNetworkRequest(request, authcfg)
    if isinstance(updated, tuple):  # PyQGIS returns (ok, request)
        ok, request = updated
    else:
        ok = updated
    if not ok:
        raise ValueError(f"the authentication configuration {authcfg!r} could not be applied "
                         "(is it in this profile, and is the master password entered?)")
    headers = {bytes(name).decode(): bytes(request.rawHeader(name)).decode().strip()
               for name in request.rawHeaderList()}
    esri = headers.pop("X-Esri-Authorization", None)
    if esri and "Authorization" not in headers:
        headers["Authorization"] = esri if esri.lower().startswith("bearer ") \
            else f"Bearer {esri}"
    return headers


def load() -> list[Server]:
    """The configured servers; one at the default URL when none is configured."""
    raw = QgsSettings().value(SETTINGS_KEY, "", type=str)
    try:
        entries = json.loads(raw) if raw else []
    except ValueError:
        entries = []
    servers = []
    for entry in entries if isinstance(entries, list) else []:
        if isinstance(entry, dict):
            known = {key: str(entry[key]) for key in Server.__dataclass_fields__ if key in entry}
            servers.append(Server(**known))
    return servers or [Server()]


def save(servers: list[Server]) -> None:
    problems = [f"{server.id}: {problem}" for server in servers for problem in server.problems()]
    ids = [server.id for server in servers]
    problems += [f"the id {i!r} is used twice" for i in sorted(set(ids)) if ids.count(i) > 1]
    if problems:
        raise ValueError("; ".join(problems))
    settings = QgsSettings()
    settings.setValue(SETTINGS_KEY, json.dumps([asdict(server) for server in servers]))
    settings.sync()
