"""The plugin where QGIS users meet it: `qgis_process` on the command line, QGIS desktop
(under Xvfb, with a screenshot for the docs) and the servers dialog. Live CCP server."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import requests
from qgistools import REPO, TESTS, Profile, qgis_env, qgis_process, server_entry

SCREENSHOT = REPO / "docs" / "screenshots" / "qgis-toolbox.png"


def test_qgis_process_runs_hello_world_from_the_command_line(server_process,
                                                             qgis_profile: Profile,
                                                             tmp_path: Path) -> None:
    server = server_process()
    qgis_profile.configure([server_entry(server.url)])
    env = qgis_env(QGIS_CUSTOM_CONFIG_PATH=str(qgis_profile.root))
    result = subprocess.run([*qgis_process(), "run", "ccp:hello-world", "--", "name=Ada"],
                            cwd=tmp_path, capture_output=True, text=True, timeout=180, env=env)
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"
    outputs = dict(re.findall(r"^([A-Za-z_]+):\t(.*)$", result.stdout, re.M))
    job = requests.get(f"{server.url}/jobs/{outputs['JOB_ID']}", timeout=10).json()
    assert job["status"] == "successful" and job["processID"] == "hello-world"
    assert "[stdout] Hello, Ada!" in result.stdout  # the live log, on the console
    assert outputs["stdout"] == "Hello, Ada!"
    assert f"Output folder: {outputs['OUTPUT_FOLDER']} (1 files, 0 layers)" in result.stdout
    assert outputs["ARCHIVE_URL"] == f"{server.url}/jobs/{outputs['JOB_ID']}/archive"

    # qgis_process removes its temporary folders on exit: a chosen folder stays
    folder = tmp_path / "out"
    kept = subprocess.run([*qgis_process(), "run", "ccp:hello-world", "--", "name=Grace",
                           f"OUTPUT_FOLDER={folder}"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=180, env=env)
    assert kept.returncode == 0, f"{kept.stdout}\n{kept.stderr}"
    assert (folder / "hello.txt").read_text() == "Hello, Grace!\n"


def test_qgis_desktop_screenshot_of_the_toolbox_and_an_algorithm_dialog(
        server_process, qgis_profile: Profile, tmp_path: Path) -> None:
    server = server_process()
    qgis_profile.configure([server_entry(server.url)])
    report_path = tmp_path / "report.json"
    shot = tmp_path / "shot.png"
    result = subprocess.run(
        ["xvfb-run", "-a", "-s", "-screen 0 1600x1000x24", "qgis", "--nologo",
         "--noversioncheck", "--profiles-path", str(qgis_profile.root),
         "--code", str(TESTS / "qgis_screenshot.py")],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
        env=qgis_env(QT_QPA_PLATFORM="xcb", CCP_SHOT_PNG=str(shot),
                     CCP_SHOT_REPORT=str(report_path)))
    assert report_path.exists(), f"QGIS wrote no report (exit {result.returncode})\n" \
                                 f"{result.stdout}\n{result.stderr}"
    report = json.loads(report_path.read_text())
    assert report["errors"] == []
    assert "CCP" in report["toolbox_providers"]
    assert {"Examples", "Geospatial"} <= set(report["ccp_groups"])
    assert report["toolbox_selected"] == "ccp:points-geojson"
    assert report["layers"] == [["Points", 40, "EPSG:4326"]]
    assert report["dialog_title"] == "Grid of points (GeoJSON)" and report["dialog_visible"]
    assert report["saved"] and report["size"] == [1600, 1000]
    job = requests.get(f"{server.url}/jobs/{report['job']}", timeout=10).json()
    assert job["status"] == "successful"
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 50_000
    SCREENSHOT.write_bytes(shot.read_bytes())


def test_qgis_servers_dialog_tests_the_connection_and_saves(server_process,
                                                           qgis_profile: Profile) -> None:
    server = server_process()
    found = qgis_profile.run(f"""
from ccp_qgis.dialog import ServersDialog
from ccp_qgis import servers
dialog = ServersDialog()
first = [dialog.id_edit.text(), dialog.url_edit.text(), dialog.list.count()]
dialog.url_edit.setText({server.url!r} + "/")
connected = dialog.test_connection()
dialog.add_server()
dialog.id_edit.setText("Bad Id")
dialog.url_edit.setText("ftp://nowhere")
not_saved = (dialog.accept(), dialog.status.text())[1]
failed = dialog.test_connection()
dialog.id_edit.setText("other")
dialog.title_edit.setText("Other")
dialog.url_edit.setText("http://127.0.0.1:9")
refused = dialog.test_connection()
dialog.accept()
saved = [[s.id, s.title, s.url] for s in servers.load()]
ccp.register_providers()
emit({{"first": first, "connected": connected, "not_saved": not_saved, "failed": failed,
       "refused": refused, "saved": saved, "result": dialog.result(),
       "providers": sorted(p.id() for p in ccp.providers),
       "count": len(registry.providerById("ccp").algorithms())}})
""", servers=[server_entry("http://localhost:5000")], gui=True)
    assert found["first"] == ["ccp", "http://localhost:5000", 1]
    listed = requests.get(f"{server.url}/processes", timeout=10).json()["processes"]
    assert found["connected"] == f"Connected: {len(listed)} Methods at {server.url}"
    assert found["not_saved"].startswith("Not saved: Bad Id: the id 'Bad Id' must be")
    assert "must be lowercase" in found["failed"] and "http:// or https://" in found["failed"]
    assert found["refused"].startswith("Failed: cannot reach the CCP server")
    assert found["saved"] == [["ccp", "CCP", server.url], ["other", "Other",
                                                          "http://127.0.0.1:9"]]
    assert found["result"] == 1  # accepted
    assert found["providers"] == ["ccp", "other"] and found["count"] == len(listed)
