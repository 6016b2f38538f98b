"""CCP for QGIS: every Method of a CCP server as a QGIS Processing algorithm.

A client of the CCP HTTP API (OGC API - Processes) only; it never imports the `ccp` package.
"""


def classFactory(iface):  # noqa: N802, ANN001, ANN201 (the name QGIS looks for)
    from .plugin import CCPPlugin

    return CCPPlugin(iface)
