"""OGC API - Processes - Part 1: Core 1.0, conformance class `html` (/conf/html/definition,
/conf/html/content) against a live server, plus what HTML makes CCP's business: user data
(Method titles, descriptions, inputs) is shown as text and never runs, every page keeps the
web pages' Content-Security-Policy, and the API page (Swagger UI) loads nothing from
elsewhere. The browser is a real headless Chromium."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from conftest import REPO, ServerProcess
from ogc import (
    HTML,
    JSON,
    execute,
    get,
    html_page,
    live_server,  # noqa: F401  (the `live` fixture)
    same_href,
    wait_for,
)
from playwright.sync_api import Browser, Page, expect, sync_playwright

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
HOSTILE_TITLE = "<script>alert('title')</script>"
HOSTILE_DESCRIPTION = "<img src=x onerror=alert('description')>"
HOSTILE_IMAGE = "<script>alert('image')</script>"
HOSTILE_METHOD = "ogc-hostile"


@pytest.fixture(scope="module")
def job_id(live: ServerProcess) -> str:
    job = execute(live, "hello-world", {"name": "HTML"})
    assert wait_for(live, job)["status"] == "successful"
    return job


def resources(job_id: str) -> list[str]:
    return ["/", "/conformance", "/processes", "/processes/hello-world", "/jobs",
            f"/jobs/{job_id}", f"/jobs/{job_id}/results", "/infrastructures",
            "/infrastructures/local", "/openapi"]


@pytest.mark.parametrize("how", ["accept", "f"])
def test_conformance_html_definition(live: ServerProcess, job_id: str, how: str) -> None:
    """/conf/html/definition: every resource where HTML is asked for (Accept: text/html, or
    ?f=html) answers 200 with media type text/html, an HTML5 document."""
    for path in resources(job_id):
        if how == "accept":
            response = get(live, path, accept=HTML)
        else:
            response = get(live, path, accept=JSON, f="html")
        html_page(response)


def test_conformance_html_content(live: ServerProcess, job_id: str) -> None:
    """/conf/html/content: each HTML page holds the information of its JSON document in its
    body, and every link of that document as an <a> element."""
    for path in resources(job_id)[:-1]:
        document = get(live, path, f="json").json()
        page = html_page(get(live, path, accept=HTML))
        hrefs = [link["href"] for link in document.get("links", [])]
        if path.endswith("/results"):
            header = get(live, path).headers["Link"]
            hrefs = re.findall(r"<([^>]+)>", header)
        missing = [href for href in hrefs if not same_href(href, page.hrefs, live)]
        assert missing == [], f"{path}: links missing from the page: {missing}"
        text = page.body_text
        for fact in facts(path, document):
            assert " ".join(fact.split()) in text, f"{path}: {fact!r} is not on the page"


def facts(path: str, document: dict[str, Any]) -> list[str]:
    """What a page must show of its document (the members of its schema)."""
    if path == "/":
        return [document["title"], document["description"]]
    if path == "/conformance":
        return document["conformsTo"]
    if path == "/processes":
        return [fact for p in document["processes"] for fact in (p["id"], p["title"], p["version"])]
    if path.startswith("/processes/"):
        return [document["id"], document["title"], document["version"], document["description"],
                *document["inputs"], *document["outputs"], *document["jobControlOptions"]]
    if path == "/jobs":
        return [fact for job in document["jobs"]
                for fact in (job["jobID"], job["processID"], job["status"], job["created"])]
    if path.endswith("/results"):
        return [*document, document["stdout"]["value"].strip()]
    if path.startswith("/jobs/"):
        return [document[key] for key in ("jobID", "processID", "status", "message", "created",
                                          "started", "finished", "updated")]
    if path == "/infrastructures":
        return [fact for i in document["infrastructures"] for fact in (i["id"], i["name"])]
    return [document["id"], document["name"], document["type"]]


def test_conformance_html_pages_keep_the_content_security_policy(live: ServerProcess,
                                                                 job_id: str) -> None:
    """Every HTML page carries the Content-Security-Policy of the /ui/ pages."""
    policy = requests.get(f"{live.url}/ui/", timeout=10).headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy
    for path in resources(job_id):
        response = get(live, path, accept=HTML)
        assert response.headers["Content-Security-Policy"] == policy, path
        assert response.headers["X-Content-Type-Options"] == "nosniff"


@pytest.fixture(scope="module")
def hostile(live: ServerProcess) -> dict[str, str]:
    """A deployed Method whose title, description, links and an input are markup, and a
    successful job of it whose inputs are markup too."""
    method = copy.deepcopy(json.loads((REPO / "methods" / "hello-world.json").read_text()))
    method.update(id=HOSTILE_METHOD, title=HOSTILE_TITLE, description=HOSTILE_DESCRIPTION)
    method["inputs"]["name"]["title"] = HOSTILE_TITLE
    method["inputs"]["ccpimage"]["schema"].pop("readOnly", None)  # the local runtime ignores it
    method["links"].append({"rel": "about", "href": "javascript:alert('href')",
                            "title": HOSTILE_TITLE})
    response = requests.post(f"{live.url}/processes", json=method, timeout=30)
    assert response.status_code == 201, response.text
    job = execute(live, HOSTILE_METHOD, {"name": HOSTILE_TITLE, "ccpimage": HOSTILE_IMAGE})
    assert wait_for(live, job)["status"] == "successful"
    return {"process": f"/processes/{HOSTILE_METHOD}", "job": f"/jobs/{job}",
            "results": f"/jobs/{job}/results", "list": "/processes", "jobs": "/jobs"}


def test_conformance_html_user_markup_is_escaped(live: ServerProcess,
                                                 hostile: dict[str, str]) -> None:
    """User data reaches the page as text: escaped markup, no script element, no
    javascript: link."""
    for path in hostile.values():
        html = get(live, path, accept=HTML).text
        assert "<script>alert" not in html and "<img src=x" not in html, path
        assert 'href="javascript:' not in html.lower(), path
    process_page = get(live, hostile["process"], accept=HTML).text
    assert "&lt;script&gt;alert(&#39;title&#39;)&lt;/script&gt;" in process_page
    assert "&lt;img src=x onerror=alert(&#39;description&#39;)&gt;" in process_page


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


class Watched:
    """A browser tab that records dialogs, page errors, CSP reports and every request."""

    def __init__(self, browser: Browser) -> None:
        self.context = browser.new_context(viewport={"width": 1360, "height": 900})
        self.context.set_default_timeout(30_000)
        self.tab: Page = self.context.new_page()
        self.dialogs: list[str] = []
        self.errors: list[str] = []
        self.requests: list[str] = []
        self.tab.on("dialog", self._dialog)
        self.tab.on("pageerror", lambda error: self.errors.append(str(error)))
        self.tab.on("console", lambda message: self.errors.append(message.text)
                    if message.type == "error" else None)
        self.tab.on("request", lambda request: self.requests.append(request.url))

    def _dialog(self, dialog: Any) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()


@pytest.fixture
def tab(browser: Browser) -> Iterator[Watched]:
    watched = Watched(browser)
    yield watched
    watched.context.close()


def test_conformance_html_hostile_title_is_inert_in_a_browser(live: ServerProcess,
                                                              hostile: dict[str, str],
                                                              tab: Watched) -> None:
    """In Chromium, a Method whose title is a <script> element shows that text as its title
    and runs nothing: no dialog, no error, on its description, the process list, its job and
    its results."""
    for path in hostile.values():
        tab.tab.goto(f"{live.url}{path}?f=html")
        tab.tab.wait_for_load_state("networkidle")
    tab.tab.goto(f"{live.url}{hostile['process']}?f=html")
    expect(tab.tab.locator("#process-title")).to_have_text(HOSTILE_TITLE)
    expect(tab.tab.locator("#process-description")).to_have_text(HOSTILE_DESCRIPTION)
    assert tab.tab.locator("main script").count() == 0
    assert tab.tab.locator("main img").count() == 0
    assert tab.dialogs == [] and tab.errors == [], (tab.dialogs, tab.errors)


def test_conformance_html_api_page_loads_nothing_from_elsewhere(live: ServerProcess,
                                                                tab: Watched) -> None:
    """/conf/oas30/oas-definition-1 (HTML version): /openapi?f=html is Swagger UI over the
    server's own definition, every file from this server (no CDN), no CSP violation."""
    tab.tab.goto(f"{live.url}/openapi?f=html")
    operations = tab.tab.locator(".swagger-ui .opblock")
    expect(operations.first).to_be_visible()
    expect(tab.tab.locator(".swagger-ui .info .title")).to_contain_text("CCP")
    assert operations.count() > 20
    tab.tab.wait_for_load_state("networkidle")
    elsewhere = [url for url in tab.requests
                 if not url.startswith(f"{live.url}/") and not url.startswith("data:")]
    assert elsewhere == [], elsewhere
    assert any(url.endswith("/ui/swagger-ui/swagger-ui-bundle.js") for url in tab.requests)
    assert tab.dialogs == [] and tab.errors == [], (tab.dialogs, tab.errors)


def test_conformance_html_pages_link_into_each_other_and_the_web_pages(
        live: ServerProcess, job_id: str, tab: Watched) -> None:
    """From the HTML landing page a browser reaches the processes, a process, its execution
    page in /ui/, the jobs and a job, with no page error on the way."""
    page = tab.tab
    page.goto(f"{live.url}/")
    page.click("#card-processes")
    expect(page).to_have_url(re.compile(r"/processes\?f=html$"))
    page.click("#processes a[href='/processes/hello-world?f=html']")
    expect(page.locator("#process-title")).to_have_text("Hello World")
    page.get_by_role("link", name="Execute", exact=True).click()
    expect(page).to_have_url(re.compile(r"/ui/methods/hello-world/execute$"))
    page.goto(f"{live.url}/")
    page.click("#card-jobs")
    page.click(f"#jobs a[href='/jobs/{job_id}?f=html']")
    expect(page.locator("#job-message")).to_have_text("Execution successful")
    page.get_by_role("link", name="Open in the web pages").click()
    expect(page).to_have_url(re.compile(f"/ui/executions/{job_id}$"))
    assert tab.dialogs == [] and tab.errors == [], (tab.dialogs, tab.errors)
