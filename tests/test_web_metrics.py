"""The pictures of the web pages, in a real headless Chromium against `ccp serve`: live CPU
and memory charts and the phase timeline on the job page (local processes and a two-replica
Swarm service), the outputs browser with its previews (text, CSV, image, GeoJSON on a map,
hostile HTML shown and never run), and the overview page. Screenshots in docs/screenshots/.
"""
# ruff: noqa: F811  (the tests take the `page` fixture imported from test_web by its name)

from __future__ import annotations

import json
import re
import shutil
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from conftest import REPO, ServerProcess
from engines import ENGINE, Engine
from helpers import ASYNC
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Page, expect
from test_metrics import busy_method
from test_outputs_preview import CSV, FILES, GEOJSON, gallery_method
from test_web import browser, page, shot  # noqa: F401  (the Chromium fixtures)

LEAFLET = REPO / "ccp" / "web" / "static" / "vendor" / "leaflet" / "leaflet.js"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    assert LEAFLET.is_file(), "Leaflet is not vendored: run scripts/vendor-web.sh"
    Engine(ENGINE, swarm=True).require()
    root = tmp_path_factory.mktemp("web-metrics")
    methods = root / "methods"
    methods.mkdir()
    for name in ("hello-world.json", "always-fails.json", "sleep.json"):
        shutil.copy(REPO / "methods" / name, methods)
    for method in (gallery_method(), busy_method("local"), busy_method("swarm", replicas=2)):
        (methods / f"{method['id']}.json").write_text(json.dumps(method))
    started = ServerProcess(root / "data", CCP_METHODS_DIR=str(methods),
                            CCP_METRICS_INTERVAL="0.5").start()
    yield started
    started.stop()


def run(server: ServerProcess, method: str, inputs: dict[str, Any] | None = None) -> str:
    response = requests.post(f"{server.url}/processes/{method}/execution",
                             json={"inputs": inputs or {}}, headers=ASYNC, timeout=10)
    assert response.status_code == 201, response.text
    return response.json()["jobID"]


def status_of(server: ServerProcess, job_id: str) -> str:
    return requests.get(f"{server.url}/jobs/{job_id}", timeout=10).json()["status"]


def wait_final(server: ServerProcess, job_id: str, timeout: float = 120) -> str:
    deadline = time.monotonic() + timeout
    while (status := status_of(server, job_id)) in ("accepted", "running"):
        assert time.monotonic() < deadline, f"{job_id} still {status}"
        time.sleep(0.2)
    return status


def test_metrics_live_charts_then_summary_on_the_job_page(page: Page, server: Any) -> None:
    job_id = run(server, "busy-local", {"seconds": 8})
    page.goto(f"{server.url}/ui/executions/{job_id}")
    cpu = page.locator("#cpu-chart path.chart-line[data-series='replica 1']")
    memory = page.locator("#memory-chart path.chart-line[data-series='replica 1']")
    expect(cpu).to_be_visible(timeout=30_000)
    expect(memory).to_be_visible()
    expect(page.locator("#timeline .phase-bar[data-phase='Execute'] rect.phase > title")
           ).to_contain_text("(running)")
    assert status_of(server, job_id) == "running"  # the charts were drawn live
    first_path = cpu.get_attribute("d")
    expect(cpu).not_to_have_attribute("d", first_path or "")  # and they grow as samples come
    expect(page.locator("#stat-memory")).to_contain_text("MiB")

    expect(page.locator("#job-status")).to_have_text("successful", timeout=60_000)
    for phase in ("Launch", "Execute", "Fetch", "Destroy"):
        expect(page.locator(f"#timeline .phase-bar[data-phase='{phase}']")).to_have_count(1)
    expect(page.locator("#timeline rect.phase.open")).to_have_count(0)
    expect(page.locator("#timeline .busy[data-busy='Execute']")).to_have_count(1)
    expect(page.locator("#stat-cpu")).to_have_text(re.compile(r"^\d+(\.\d+)? (s|ms)$"))
    statistics = requests.get(f"{server.url}/jobs/{job_id}/statistics", timeout=10).json()
    assert statistics["cpuSeconds"] > 1 and statistics["samples"] >= 10
    expect(page.locator("#stat-samples")).to_contain_text(str(statistics["samples"]))
    expect(page.locator("#outputs-panel")).to_be_visible()
    expect(page.locator("#outputs-list tr[data-file='held-1.txt']")).to_be_visible()
    page.locator("#usage-panel").scroll_into_view_if_needed()
    shot(page, "job-metrics")


def test_timeline_has_a_row_per_replica_of_a_swarm_execution(page: Page, server: Any) -> None:
    job_id = run(server, "busy-swarm", {"seconds": 3})
    page.goto(f"{server.url}/ui/executions/{job_id}")
    expect(page.locator("#job-status")).to_have_text("successful", timeout=120_000)
    for replica in ("1", "2"):
        rows = page.locator(f"#timeline .phase-bar[data-replica='{replica}']")
        expect(rows).to_have_count(4)  # Launch, Execute, Fetch, Destroy
        expect(page.locator(f"#memory-chart path[data-series='replica {replica}']")
               ).to_be_visible()
        expect(page.locator(f"#timeline .phase-bar[data-replica='{replica}'] .busy")
               ).to_have_count(1)
    expect(page.locator("#stat-network")).to_contain_text(" in · ")
    page.locator("#timeline-panel").scroll_into_view_if_needed()
    shot(page, "job-timeline")


def test_preview_outputs_browser_shows_text_tables_images_and_maps(page: Page,
                                                                   server: Any) -> None:
    job_id = run(server, "gallery")
    assert wait_final(server, job_id) == "successful"
    page.goto(f"{server.url}/ui/executions/{job_id}")
    rows = page.locator("#outputs-list tr[data-file]")
    expect(rows).to_have_count(len(FILES) + 1)  # and big.bin
    expect(page.locator("#outputs-count")).to_contain_text(f"{len(FILES) + 1} files")
    big = page.locator("#outputs-list tr[data-file='data/big.bin']")
    expect(big).to_contain_text("2.0 MiB")
    expect(big).to_contain_text("no preview")

    def preview(name: str) -> None:
        page.locator(f"#outputs-list tr[data-file='{name}'] button[data-preview]").click()
        expect(page.locator("#output-preview h3")).to_contain_text(name)

    preview("tables/cities.csv")
    table = page.locator("#output-preview table")
    expect(table.locator("th")).to_have_text(["city", "population"])
    expect(table.locator("tbody tr")).to_have_count(2)
    expect(table.locator("tbody tr").nth(1).locator("td").first).to_have_text("<b>bold</b>")
    expect(table.locator("b")).to_have_count(0)  # the cell is text, not markup
    assert CSV.splitlines()[1].split(",")[0] in table.inner_text()

    preview("images/gradient.png")
    image = page.locator("#output-preview img")
    expect(image).to_be_visible()
    assert image.get_attribute("src").startswith("data:image/png;base64,")
    page.wait_for_function("document.querySelector('#output-preview img').naturalWidth === 48")

    preview("readme.txt")
    expect(page.locator("#output-preview pre")).to_have_text(
        "Outputs of the gallery Method\nline two\n")

    preview("maps/points.geojson")
    features = page.locator("#output-map path.leaflet-interactive")
    expect(features).to_have_count(len(GEOJSON["features"]))
    expect(page.locator("#output-map .graticule-label").first).to_contain_text("°")
    expect(page.locator("#map-summary")).to_contain_text("8 features · west 5.0000")
    assert page.locator("#output-map .leaflet-tile").count() == 0  # no tile server
    features.first.dispatch_event("mouseover")  # the first point (a line crosses it)
    expect(page.locator(".leaflet-tooltip")).to_contain_text("<img src=x onerror=alert(1)>")
    page.mouse.move(400, 300)
    page.locator("#output-map").hover()
    expect(page.locator("#map-coordinates")).to_contain_text("lat 4")
    page.locator("#outputs-panel").scroll_into_view_if_needed()
    shot(page, "job-outputs")


def test_preview_hostile_html_and_svg_never_run(page: Page, server: Any) -> None:
    job_id = run(server, "gallery")
    assert wait_final(server, job_id) == "successful"
    page.goto(f"{server.url}/ui/executions/{job_id}")
    expect(page.locator("#job-status")).to_have_text("successful")
    expect(page).to_have_title("successful · gallery · CCP")  # set by job.js; then unchanged
    title = page.title()
    for name in ("evil.html", "evil.svg"):
        page.locator(f"#outputs-list tr[data-file='{name}'] button[data-preview]").click()
        expect(page.locator("#output-preview pre")).to_contain_text("<script>")
        expect(page.locator("#output-preview .notice")).to_contain_text("never rendered")
    assert page.title() == title and "pwned" not in page.title()
    assert page.locator("#output-preview script, #output-preview iframe, "
                        "#output-preview img").count() == 0
    # opened directly, they are downloads (attachment), never pages that run
    for name in ("evil.html", "evil.svg"):
        with page.expect_download() as download:
            try:
                page.goto(f"{server.url}/jobs/{job_id}/outputs/{name}")
            except PlaywrightError as err:  # Chromium aborts the navigation for a download
                assert "ERR_ABORTED" in str(err) or "Download" in str(err), err
        assert download.value.suggested_filename == name
    assert "pwned" not in page.title()


def test_overview_shows_days_queue_and_infrastructures(page: Page, server: Any) -> None:
    done = [run(server, "hello-world"), run(server, "always-fails")]
    assert [wait_final(server, job_id) for job_id in done] == ["successful", "failed"]
    running = run(server, "sleep", {"seconds": 30})
    deadline = time.monotonic() + 30
    while status_of(server, running) != "running":
        assert time.monotonic() < deadline
        time.sleep(0.2)
    try:
        page.goto(f"{server.url}/ui/")
        page.click("nav >> text=Overview")
        expect(page).to_have_url(re.compile(r"/ui/overview$"))
        today = time.strftime("%Y-%m-%d", time.gmtime())
        for status in ("successful", "failed", "running"):
            expect(page.locator(f"#per-day rect.bar[data-category='{today}']"
                                f"[data-stack='{status}']")).to_have_count(1)
        expect(page.locator("#per-day text.chart-tick").first).to_be_visible()
        local = page.locator("#per-infrastructure tr[data-infrastructure='local']")
        expect(local.locator(".running-count")).to_have_text("1")
        expect(local).to_contain_text("reachable")
        expect(page.locator("#queued")).to_have_text(re.compile(r"^\d+$"))
        expect(page.locator("#scope")).to_have_text("every user's executions")
        shot(page, "overview")
    finally:
        requests.delete(f"{server.url}/jobs/{running}", timeout=30)
