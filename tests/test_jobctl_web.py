"""Job control and Infrastructure health in the web UI, in a real headless Chromium against
`ccp serve` on a real socket (the pages are shells; their scripts use the JSON API).

Suspend, resume and extend appear on the job page only where the Infrastructure's manifest
offers them; the Infrastructure page shows health with its history, the manifest, and (for
admins) verify. Screenshots: docs/screenshots/job-control.png, infrastructure.png.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from conftest import ServerProcess
from jobctl_setup import infrastructure, ticker
from playwright.sync_api import Page, expect
from test_web import browser, page, shot  # noqa: F401  (the fixtures of the web tests)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    root = tmp_path_factory.mktemp("jobctl-web")
    methods, infrastructures = root / "methods", root / "infrastructures"
    methods.mkdir()
    infrastructures.mkdir()
    for descriptor in (infrastructure("local", maxTime=900),
                       infrastructure("local", "local-plain", maxSuspend=0, extend=False)):
        (infrastructures / f"{descriptor['id']}.json").write_text(json.dumps(descriptor))
        method = ticker(descriptor["id"], "local")
        (methods / f"{method['id']}.json").write_text(json.dumps(method))
    started = ServerProcess(root / "data", CCP_METHODS_DIR=str(methods),
                            CCP_INFRASTRUCTURES_DIR=str(infrastructures)).start()
    yield started
    started.stop()


def submit(server: ServerProcess, method_id: str, **inputs: Any) -> str:
    response = requests.post(f"{server.url}/processes/{method_id}/execution",
                             json={"inputs": inputs}, timeout=10)
    assert response.status_code == 201, response.text
    job_id = response.json()["jobID"]
    deadline = time.monotonic() + 30
    while requests.get(f"{server.url}/jobs/{job_id}", timeout=10).json()["status"] != "running":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    return job_id


def test_the_job_page_suspends_resumes_and_extends_where_the_manifest_allows(
        page: Page, server: ServerProcess) -> None:  # noqa: F811
    job_id = submit(server, "ticker-local", seconds=120, ccpmaxtime=300)
    page.goto(f"{server.url}/ui/executions/{job_id}")
    expect(page.locator("#time-limit")).to_have_text("300 s")
    expect(page.locator("#extend-seconds")).to_have_value("600")  # the most it may add

    page.click("button.suspend")
    expect(page.locator("#suspended-badge")).to_contain_text("suspended since")
    expect(page.locator("#job-message")).to_contain_text("Suspended since")
    expect(page.locator("#job-status")).to_have_text("running")  # OGC's status stays
    assert requests.get(f"{server.url}/jobs/{job_id}", timeout=10).json()["suspended"] is True
    page.fill("#extend-seconds", "60")
    page.click("button.extend")
    expect(page.locator("#flash")).to_contain_text("Time limit now 360 s")
    expect(page.locator("#time-limit")).to_have_text("360 s")
    shot(page, "job-control")

    page.click("button.resume")
    expect(page.locator("button.suspend")).to_be_visible()
    expect(page.locator("#suspended-badge")).to_have_count(0)
    status = requests.get(f"{server.url}/jobs/{job_id}", timeout=10).json()
    assert (status["suspended"], status["timeLimit"]) == (False, 360)

    page.fill("#extend-seconds", "100000")  # past the maximum: the server's reason shows
    page.locator("#extend-seconds").evaluate("input => input.removeAttribute('max')")
    page.click("button.extend")
    expect(page.locator("#flash")).to_contain_text("over the maximum of infrastructure "
                                                  "'local' (900 s)")
    requests.delete(f"{server.url}/jobs/{job_id}", timeout=30)
    expect(page.locator("#job-status")).to_have_text("dismissed")
    expect(page.locator("button.suspend")).to_have_count(0)
    expect(page.locator("button.extend")).to_have_count(0)


def test_the_job_page_offers_no_control_an_infrastructure_lacks(
        page: Page, server: ServerProcess) -> None:  # noqa: F811
    job_id = submit(server, "ticker-local-plain", seconds=60)
    page.goto(f"{server.url}/ui/executions/{job_id}")
    expect(page.locator("#no-job-control")).to_contain_text(
        "Infrastructure local-plain offers no suspend or extend")
    expect(page.locator("button.suspend")).to_have_count(0)
    expect(page.locator("button.extend")).to_have_count(0)
    requests.delete(f"{server.url}/jobs/{job_id}", timeout=30)


def test_the_infrastructure_page_shows_health_history_features_and_verify(
        page: Page, server: ServerProcess) -> None:  # noqa: F811
    page.goto(f"{server.url}/ui/")
    item = page.locator("[data-infrastructure='local']")
    expect(item.locator(".infra-health")).to_have_text("healthy")
    item.get_by_role("link").click()
    expect(page).to_have_url(re.compile(r"/ui/infrastructures/local$"))
    expect(page.locator("#health-badge")).to_have_text("healthy")
    rows = page.locator("#health-history tr.health-check")
    expect(rows.first).to_contain_text("healthy: the engine answers")
    before = rows.count()
    page.click("button.check-now")
    expect(rows).to_have_count(before + 1)
    expect(page.locator("tr[data-feature='suspend'] td").nth(1)).to_have_text("yes")
    expect(page.locator("tr[data-feature='replicas'] td").nth(1)).to_have_text("no")
    page.click("button.verify-now")
    expect(page.locator("#verify-summary")).to_contain_text("engine and job store agree")
    shot(page, "infrastructure")

    page.goto(f"{server.url}/ui/infrastructures/local-plain")
    expect(page.locator("tr[data-feature='suspend'] td").nth(1)).to_have_text("no")
    expect(page.locator("tr[data-feature='extend'] td").nth(1)).to_have_text("no")
    expect(page.locator("#limits")).to_contain_text("not offered")
