"""Run by QGIS desktop (`qgis --code tests/qgis_screenshot.py` under Xvfb), never by pytest.

Opens the Processing toolbox on the CCP provider, runs the geospatial example so its layer
is on the map, opens that algorithm's dialog, then grabs the whole screen into
$CCP_SHOT_PNG and writes what it saw to $CCP_SHOT_REPORT (JSON) for the test to check.
"""

import json
import os
import traceback

import processing
from qgis.core import QgsApplication, QgsProject
from qgis.PyQt.QtCore import Qt, QTimer
from qgis.PyQt.QtWidgets import QAbstractItemView
from qgis.utils import iface, plugins

ALGORITHM = "ccp:points-geojson"
report = {"errors": []}
keep = {}  # the dialog must outlive the timer callbacks


def guarded(step):
    def run():
        try:
            step()
        except Exception:  # report it: the test fails with the traceback
            report["errors"].append(traceback.format_exc())
            finish()
    return run


def children(model, parent):
    return [model.index(row, 0, parent) for row in range(model.rowCount(parent))]


def open_toolbox():
    window = iface.mainWindow()
    screen = QgsApplication.primaryScreen().geometry()
    window.setGeometry(0, 0, screen.width(), screen.height())  # no window manager to maximize
    toolbox = plugins["processing"].toolbox
    toolbox.setVisible(True)
    toolbox.raise_()
    tree = toolbox.algorithmTree
    model = tree.model()
    tree.collapseAll()
    names = {model.data(index, Qt.DisplayRole): index
             for index in children(model, tree.rootIndex())}
    report["toolbox_providers"] = sorted(str(name) for name in names)
    ccp = names["CCP"]
    tree.expandRecursively(ccp)
    tree.scrollTo(ccp, QAbstractItemView.PositionAtTop)
    groups = {model.data(index, Qt.DisplayRole): index for index in children(model, ccp)}
    report["ccp_groups"] = sorted(str(name) for name in groups)
    for index in children(model, groups["Geospatial"]):
        if model.data(index, Qt.DisplayRole) == "Grid of points (GeoJSON)":
            tree.setCurrentIndex(index)
    report["toolbox_selected"] = tree.selectedAlgorithm().id() if tree.selectedAlgorithm() \
        else None

    results = processing.runAndLoadResults(ALGORITHM, {"west": 5.0, "south": 45.0,
                                                       "columns": 8, "rows": 5,
                                                       "spacing": 0.5})
    report["job"] = results["JOB_ID"]
    layers = list(QgsProject.instance().mapLayers().values())
    report["layers"] = [[layer.name(), layer.featureCount(), layer.crs().authid()]
                        for layer in layers]
    QTimer.singleShot(1500, guarded(open_dialog))


def show_points_beside_the_dialog():
    """Once the window has its size: the grid in the right third of the map canvas."""
    canvas = iface.mapCanvas()
    extent = list(QgsProject.instance().mapLayers().values())[0].extent()
    width, height = extent.width(), extent.height()
    extent.set(extent.xMinimum() - 2.6 * width, extent.yMinimum() - 0.6 * height,
               extent.xMaximum() + 0.1 * width, extent.yMaximum() + 0.6 * height)
    canvas.setExtent(extent)
    canvas.refresh()


def open_dialog():
    show_points_beside_the_dialog()
    dialog = processing.createAlgorithmDialog(ALGORITHM, {"columns": 8, "rows": 5})
    keep["dialog"] = dialog
    dialog.show()
    dialog.resize(720, 600)
    dialog.move(250, 250)
    report["dialog_title"] = dialog.windowTitle()
    report["dialog_visible"] = dialog.isVisible()
    QTimer.singleShot(2500, guarded(grab))


def grab():
    screen = QgsApplication.primaryScreen()
    image = screen.grabWindow(0)  # the whole X screen: main window and dialog
    report["saved"] = image.save(os.environ["CCP_SHOT_PNG"], "PNG")
    report["size"] = [image.width(), image.height()]
    finish()


def finish():
    with open(os.environ["CCP_SHOT_REPORT"], "w", encoding="utf-8") as out:
        json.dump(report, out)
    QgsApplication.exit(0)


QTimer.singleShot(2500, guarded(open_toolbox))
