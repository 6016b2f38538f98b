"""The web pages in a real headless Chromium against a real server socket: no mocks.

When ccp/app.py registers the `web` blueprint, the server is `ccp serve` in its own process
(conftest.ServerProcess); until then it is the same app, plus the blueprint, in a thread.
Screenshots of every page land in docs/screenshots/.
"""

from __future__ import annotations

import copy
import io
import json
import re
import threading
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
import requests
from conftest import FINAL, REPO, ServerProcess, free_port, make_config
from playwright.sync_api import Browser, Page, expect, sync_playwright
from werkzeug.serving import make_server

import ccp.auth
import ccp.web
from ccp.app import create_app

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
SCREENSHOTS = REPO / "docs" / "screenshots"
HELLO = json.loads((REPO / "methods" / "hello-world.json").read_text())
HOSTILE = "<script>alert(1)</script>"
JWT_SECRET = "web-test-secret-0123456789abcdef0123456789"
TIMEOUT_MS = 30_000
expect.set_options(timeout=TIMEOUT_MS)


class ThreadServer:
    """The app from create_app plus the web blueprint, on a real socket, in a thread."""

    def __init__(self, data_dir: Path, auth: dict[str, Any] | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = make_config(data_dir)
        config["server"]["url"] = config["server"]["manager"]["base_url"] = self.url
        if auth is not None:
            config["server"]["auth"] = auth
        self.app = create_app(config, start_workers=False)
        if "web" not in self.app.blueprints:
            self.app.register_blueprint(ccp.web.blueprint)
        self.app.extensions["ccp"].manager.start()
        self.server = make_server("127.0.0.1", self.port, self.app, threaded=True)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.app.extensions["ccp"].manager.stop()


def web_is_wired(scratch: Path) -> bool:
    """Does ccp.app.create_app register the web pages itself?"""
    app = create_app(make_config(scratch), start_workers=False)
    try:
        return "web" in app.blueprints
    finally:
        app.extensions["ccp"].manager.stop()


def start_server(root: Path, auth: dict[str, Any] | None = None) -> Any:
    if web_is_wired(root / "probe"):
        env = {}
        if auth is not None:
            env = {"CCP_AUTH": "true", "CCP_JWT_SECRET": auth["secret"]}
        return ServerProcess(root / "data", **env).start()
    if auth is not None:
        auth = {"enabled": True, "algorithm": "HS256", "secret_env": "CCP_WEB_TEST_SECRET"}
    return ThreadServer(root / "data", auth)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    started = start_server(tmp_path_factory.mktemp("web"))
    yield started
    started.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh browser context; fails the test on any dialog, uncaught error or CSP report."""
    context = browser.new_context(accept_downloads=True, viewport={"width": 1360, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    tab = context.new_page()
    dialogs: list[str] = []
    errors: list[str] = []

    def on_dialog(dialog: Any) -> None:
        dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    tab.on("dialog", on_dialog)
    tab.on("pageerror", lambda error: errors.append(str(error)))
    tab.on("console", lambda message: errors.append(message.text)
           if "Content Security Policy" in message.text else None)
    yield tab
    context.close()
    assert dialogs == [], f"a dialog fired: {dialogs}"
    assert errors == [], f"errors in the page: {errors}"


def shot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.wait_for_load_state("networkidle")
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def method_card(page: Page, method_id: str) -> Any:
    return page.locator(".method-card").filter(
        has=page.locator("code.method-id", has_text=re.compile(f"^{re.escape(method_id)}$")))


def hello_copy(method_id: str, **changes: Any) -> dict[str, Any]:
    method = copy.deepcopy(HELLO)
    method.update(id=method_id, **changes)
    return method


def deploy(server: Any, method: dict[str, Any]) -> None:
    response = requests.post(f"{server.url}/processes", json=method, timeout=10)
    assert response.status_code == 201, response.text


def wait_api(server: Any, job_id: str, statuses: tuple[str, ...] = FINAL,
             timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = requests.get(f"{server.url}/jobs/{job_id}", timeout=10).json()
        if job["status"] in statuses:
            return job
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} never reached {statuses}: {job}")


def job_id_of(page: Page) -> str:
    return page.url.rstrip("/").rsplit("/", 1)[-1]


# --- tests -------------------------------------------------------------------------------------


def test_every_page_is_reachable_by_links(page: Page, server: Any) -> None:
    page.goto(f"{server.url}/ui/")
    expect(page.locator("#stat-methods")).to_contain_text("executable")
    expect(page.locator("#infrastructures")).to_contain_text("local")
    assert page.locator("a[href='/?f=json']").count() >= 1
    assert requests.get(f"{server.url}/?f=json", timeout=10).status_code == 200
    shot(page, "home")

    page.click("#card-methods")
    expect(page).to_have_url(re.compile(r"/ui/methods$"))
    hello = method_card(page, "hello-world")
    expect(hello).to_contain_text("Hello World")
    hello.get_by_role("link", name="Execute").click()
    expect(page).to_have_url(re.compile(r"/ui/methods/hello-world/execute$"))
    expect(page.locator("#in-name")).to_have_value("World")

    page.click("#edit-link")
    expect(page).to_have_url(re.compile(r"/ui/methods/hello-world/edit$"))
    expect(page.locator("#f-id")).to_have_value("hello-world")

    page.click("nav >> text=Executions")
    expect(page).to_have_url(re.compile(r"/ui/executions$"))
    expect(page.locator("#summary")).to_contain_text("Executions")
    page.click("nav >> text=New Method")
    expect(page).to_have_url(re.compile(r"/ui/methods/new$"))
    page.click(".brand")
    expect(page).to_have_url(re.compile(r"/ui/$"))


def test_landing_sends_browsers_to_the_pages(page: Page, server: Any) -> None:
    if not isinstance(server, ServerProcess):
        pytest.skip("the web pages are not wired into ccp/app.py and api.landing yet")
    page.goto(f"{server.url}/")  # the OGC landing page as HTML, with a way into the pages
    page.click("#card-ui")
    expect(page).to_have_url(re.compile(r"/ui/$"))
    expect(page.locator("#card-methods")).to_be_visible()
    assert requests.get(f"{server.url}/", timeout=10).json()["links"]  # */* still gets JSON
    assert requests.get(f"{server.url}/?f=json", headers={"Accept": "text/html"},
                        timeout=10).json()["links"]


def test_upload_edit_execute_download_reexecute(page: Page, server: Any, tmp_path: Path) -> None:
    method_file = tmp_path / "web-greeter.json"
    method_file.write_text(json.dumps(hello_copy("web-greeter", title="Web Greeter")))

    # upload through the list page
    page.goto(f"{server.url}/ui/methods")
    expect(page.locator("#summary")).to_contain_text("executable")
    page.set_input_files("#upload-file", str(method_file))
    expect(page.locator("#flash")).to_contain_text("Deployed 'Web Greeter' (web-greeter")
    card = method_card(page, "web-greeter")
    expect(card).to_contain_text("v1.0.0")
    expect(card).to_contain_text("CCP team")
    page.fill("#search", "greeter")
    expect(card).to_be_visible()
    expect(method_card(page, "sleep")).to_be_hidden()
    page.fill("#search", "")
    page.locator("#search").blur()
    shot(page, "methods")
    with page.expect_download() as download_info:
        card.get_by_role("link", name="Download JSON").click()
    assert download_info.value.suggested_filename == "web-greeter.json"
    exported = json.loads(Path(download_info.value.path()).read_text())
    assert exported["id"] == "web-greeter" and exported["executable"] is True

    # edit: new title, bumped version
    card.get_by_role("link", name="Edit").click()
    expect(page.locator("#f-id")).to_have_value("web-greeter")
    expect(page.locator("#readonly-notice")).to_be_hidden()
    page.fill("#f-title", "Web Greeter, edited")
    page.fill("#f-version", "1.1.0")
    page.click("#save")
    expect(page.locator("#flash")).to_contain_text("Saved 'web-greeter' version 1.1.0")
    described = requests.get(f"{server.url}/processes/web-greeter", timeout=10).json()
    assert (described["title"], described["version"]) == ("Web Greeter, edited", "1.1.0")
    assert described["inputs"]["name"] == HELLO["inputs"]["name"]
    shot(page, "editor")

    # execute from the form, with the code panel open
    page.click("#execute-link")
    expect(page.locator("#method-title")).to_contain_text("Web Greeter, edited")
    expect(page.locator("#in-ccpimage")).to_be_disabled()
    page.fill("#in-name", "Ada")
    expect(page.locator("#share-link")).to_have_value(re.compile("Ada"))
    expect(page.locator("#code")).to_contain_text("web-greeter")
    shot(page, "execute")
    page.click("#execute")
    page.click("#job-link")

    # the job page follows it to the end
    expect(page.locator("#job-status")).to_have_text("successful")
    first = job_id_of(page)
    expect(page.locator("#job-facts")).to_contain_text("1.1.0")
    expect(page.locator("#log")).to_contain_text("Hello, Ada!")
    expect(page.locator(".result[data-output='stdout'] pre")).to_contain_text("Hello, Ada!")
    shot(page, "job")

    # the archive downloads as a zip holding the outputs
    with page.expect_download() as download_info:
        page.click("#job-actions .archive-link")
    download = download_info.value
    assert download.suggested_filename == f"ccp-{first}.zip"
    with zipfile.ZipFile(download.path()) as archive:
        assert "outputs/output.zip" in archive.namelist()
        outputs = zipfile.ZipFile(io.BytesIO(archive.read("outputs/output.zip")))
        assert outputs.read("hello.txt") == b"Hello, Ada!\n"

    for link in page.locator("#job-actions a.prov").all():
        response = requests.get(server.url + link.get_attribute("href"), timeout=10)
        assert response.status_code == 200 and first in response.text

    # re-execute: a new job, derived from the first, succeeds too
    page.click("#job-actions button.reexecute")
    page.click("#new-job-link")
    expect(page.locator("#job-status")).to_have_text("successful")
    second = job_id_of(page)
    assert second != first
    expect(page.locator("#job-facts")).to_contain_text(first)
    assert requests.get(f"{server.url}/jobs/{second}", timeout=10).json()["derivedFrom"] == first

    # the executions page groups them under the Method
    page.click("nav >> text=Executions")
    group = page.locator(".job-group[data-process='web-greeter']")
    expect(group.locator("tr.job-row")).to_have_count(2)
    expect(group.locator(".group-head")).to_contain_text("2 successful")
    expect(group).to_contain_text("Web Greeter, edited")
    expect(group).to_contain_text("ccp/busybox:1")


def test_dismiss_a_long_execution(page: Page, server: Any) -> None:
    page.goto(f"{server.url}/ui/methods/sleep/execute")
    page.fill("#in-seconds", "120")
    page.click("#execute")
    page.click("#job-link")
    expect(page.locator("#job-status")).to_have_text("running", timeout=15_000)
    expect(page.locator("#log")).to_contain_text("tick 1", timeout=15_000)
    page.click("#job-actions button.dismiss")
    expect(page.locator("#job-status")).to_have_text("dismissed", timeout=15_000)
    assert requests.get(f"{server.url}/jobs/{job_id_of(page)}",
                        timeout=10).json()["status"] == "dismissed"


def test_form_fields_follow_the_input_schemas(page: Page, server: Any) -> None:
    method = hello_copy("web-typed", title="Typed inputs")
    method["inputs"] = {
        "colour": {"title": "Colour", "schema": {"type": "string", "enum": ["red", "green"],
                                                 "default": "green"}},
        "loud": {"title": "Loud", "schema": {"type": "boolean", "default": False}},
        "count": {"title": "Count", "schema": {"type": "integer", "default": 2, "minimum": 1}},
        "ratio": {"title": "Ratio", "schema": {"type": "number"}, "minOccurs": 0},
        "tags": {"title": "Tags", "schema": {"type": "array"}, "minOccurs": 0},
        "fixed": {"title": "Fixed", "schema": {"type": "string", "default": "f",
                                               "readOnly": True}},
        "ccpimage": HELLO["inputs"]["ccpimage"],
    }
    method["additionalParameters"]["parameters"] = [{"name": "execute-script", "value": [
        "echo colour={{ colour }} loud={{ loud }} count={{ count }} ratio={{ ratio }}",
        "echo tags={{ tags | join(',') }} fixed={{ fixed }}"]}]
    deploy(server, method)

    page.goto(f"{server.url}/ui/methods/web-typed/execute")
    colour = page.locator("select#in-colour")
    expect(colour.locator("option:checked")).to_have_text("green")
    expect(page.locator("input#in-loud[type=checkbox]")).not_to_be_checked()
    expect(page.locator("input#in-count[type=number]")).to_have_value("2")
    expect(page.locator("input#in-ratio[type=number]")).to_have_value("")
    expect(page.locator("#in-fixed")).to_be_disabled()
    colour.select_option(label="red")
    page.check("#in-loud")
    page.fill("#in-count", "3")
    page.fill("#in-ratio", "0.5")
    page.fill("#in-tags", '["a", "b"]')
    page.click("#execute")
    page.click("#job-link")
    expect(page.locator("#job-status")).to_have_text("successful")
    expect(page.locator(".result[data-output='stdout'] pre")).to_contain_text(
        "colour=red loud=true count=3 ratio=0.5")
    expect(page.locator(".result[data-output='stdout'] pre")).to_contain_text("tags=a,b fixed=f")

    page.go_back()
    page.fill("#in-count", "0")  # below the minimum: the server's answer lands on the field
    page.click("#execute")
    expect(page.locator("[data-input='count'] .field-error")).to_contain_text("count")


def test_hostile_strings_stay_text(page: Page, server: Any) -> None:
    method = hello_copy("web-hostile", title=HOSTILE,
                        description='<img src=x onerror="alert(2)">',
                        keywords=["<b onmouseover=alert(3)>kw</b>"])
    method["metadata"] = [{"role": "author", "title": "<iframe src=javascript:alert(4)>"},
                          {"role": "category", "title": "<svg onload=alert(5)>"}]
    method["inputs"]["name"]["title"] = "<img src=y onerror=alert(6)>"
    deploy(server, method)

    page.goto(f"{server.url}/ui/methods")
    card = method_card(page, "web-hostile")
    expect(card.locator(".method-title")).to_have_text(HOSTILE)
    expect(card).to_contain_text('<img src=x onerror="alert(2)">')
    expect(page.locator("section.category h2", has_text="<svg onload=alert(5)>")).to_be_visible()
    assert page.locator("#methods script, #methods img, #methods iframe, #methods svg, "
                        "#methods b").count() == 0

    card.get_by_role("link", name="Execute").click()
    expect(page.locator("#method-title")).to_have_text(f"Execute: {HOSTILE}")
    expect(page.locator("label[for='in-name']")).to_contain_text("<img src=y onerror=alert(6)>")
    page.click("#edit-link")
    expect(page.locator("#f-title")).to_have_value(HOSTILE)
    page.wait_for_timeout(300)  # time for any injected handler to fire (the fixture checks)


def test_validation_errors_show_next_to_their_fields(page: Page, server: Any) -> None:
    page.goto(f"{server.url}/ui/methods/new")
    page.fill("#f-id", "web-written")
    page.fill("#f-title", "Written in the editor")
    page.fill("#f-version", "")
    page.fill("#f-execute-script", "echo {% if %}")
    page.click("#save")
    version_error = page.locator(".field-error[data-error-for='version']")
    expect(version_error).to_contain_text("'version' is required")
    expect(page.locator(".field-error[data-error-for='execute-script']")).to_contain_text(
        "not a valid template")
    ccpimage_row = page.locator("#inputs tr.input-row").filter(
        has=page.locator(".in-id[value='ccpimage']"))
    expect(ccpimage_row).to_have_class(re.compile("has-error"))
    expect(page.locator("#inputs tr.row-error")).to_contain_text("ccpimage")
    shot(page, "editor-errors")
    assert requests.get(f"{server.url}/processes/web-written", timeout=10).status_code == 404

    page.fill("#f-version", "0.1.0")
    page.fill("#f-execute-script", "printf '%s\\n' {{ greeting }} > /ccp_data/out.txt")
    ccpimage_row.locator(".in-default").fill("ccp/busybox:1")
    page.click("#add-input")
    row = page.locator("#inputs tr.input-row").last
    row.locator(".in-id").fill("greeting")
    row.locator(".in-default").fill("hi")
    page.click("#add-stderr")
    page.click("#save")
    expect(page.locator("#flash")).to_contain_text("Deployed 'web-written' version 0.1.0")
    expect(version_error).to_be_empty()
    expect(page).to_have_url(re.compile(r"/ui/methods/web-written/edit$"))
    written = requests.get(f"{server.url}/processes/web-written", timeout=10).json()
    assert written["inputs"]["greeting"]["schema"] == {"type": "string", "default": "hi"}
    assert set(written["outputs"]) == {"output", "stdout", "stderr"}

    # replacing without bumping the version: the 409 lands next to the version field
    page.fill("#f-title", "Changed, same version")
    expect(page.locator("#version-hint")).to_have_class(re.compile("remind"))
    page.click("#save")
    expect(version_error).to_contain_text("new version")


def test_read_only_method_is_cloned_then_deleted(page: Page, server: Any) -> None:
    page.goto(f"{server.url}/ui/methods/hello-world/edit")
    expect(page.locator("#readonly-notice")).to_be_visible()
    expect(page.locator("#readonly-notice")).to_contain_text("read-only")
    assert page.locator("#delete-slot button").count() == 0
    page.fill("#f-id", "web-hello-clone")
    page.click("#save")
    expect(page.locator("#flash")).to_contain_text("Deployed 'web-hello-clone'")
    expect(page).to_have_url(re.compile(r"/ui/methods/web-hello-clone/edit$"))
    expect(page.locator("#readonly-notice")).to_be_hidden()
    assert requests.get(f"{server.url}/processes/web-hello-clone", timeout=10).status_code == 200

    delete = page.locator("#delete-slot button")
    delete.click()
    expect(delete).to_have_text("Click again to delete")
    delete.click()
    expect(page.locator("#flash")).to_contain_text("Deleted 'web-hello-clone'")
    assert requests.get(f"{server.url}/processes/web-hello-clone", timeout=10).status_code == 404


def test_form_link_prefills_and_code_tabs(page: Page, server: Any) -> None:
    inputs = json.dumps({"name": "Grace", "ccpmaxtime": 30})
    page.goto(f"{server.url}/ui/methods/hello-world/execute?inputs={requests.utils.quote(inputs)}")
    expect(page.locator("#in-name")).to_have_value("Grace")
    expect(page.locator("#in-ccpmaxtime")).to_have_value("30")
    expect(page.locator("#advanced")).to_have_attribute("open", "")
    share = page.locator("#share-link").input_value()
    assert json.loads(requests.utils.unquote(share.split("?inputs=", 1)[1])) == {
        "name": "Grace", "ccpmaxtime": 30, "ccpreplicas": 1}
    for tab, text in (("R", "library"), ("Julia", "using"), ("Notebook", "nbformat"),
                      ("Python", "import")):
        page.click(f"#code-tabs >> text={tab}")
        expect(page.locator("#code")).to_contain_text(text)


def test_import_archive_from_the_executions_page(page: Page, server: Any, tmp_path: Path) -> None:
    response = requests.post(f"{server.url}/processes/hello-world/execution",
                             json={"inputs": {"name": "Imported"}},
                             headers={"Prefer": "respond-async"}, timeout=10)
    job_id = response.json()["jobID"]
    wait_api(server, job_id)
    archive = tmp_path / "execution.zip"
    archive.write_bytes(requests.get(f"{server.url}/jobs/{job_id}/archive", timeout=10).content)
    assert requests.delete(f"{server.url}/jobs/{job_id}", timeout=10).status_code == 200

    page.goto(f"{server.url}/ui/executions")
    expect(page.locator("#summary")).to_contain_text("Executions")
    page.set_input_files("#import-file", str(archive))
    expect(page.locator("#flash")).to_contain_text(f"as Execution {job_id}")
    expect(page.locator(f"tr.job-row[data-job='{job_id}']")).to_contain_text("successful")
    page.set_input_files("#import-file", str(archive))  # the same one again: a job of its own
    expect(page.locator("#flash")).not_to_contain_text(f"as Execution {job_id}")
    expect(page.locator("#flash")).to_contain_text("Imported")
    new_id = re.search(r"as Execution ([0-9a-f-]{36})", page.locator("#flash").inner_text())
    assert new_id is not None and new_id.group(1) != job_id
    expect(page.locator(f"tr.job-row[data-job='{new_id.group(1)}']")).to_contain_text(
        "successful")


def test_token_is_sent_with_every_request(page: Page, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CCP_WEB_TEST_SECRET", JWT_SECRET)
    if "/ui/" not in ccp.auth.PUBLIC_PREFIXES:  # until ccp/auth.py lists it
        monkeypatch.setattr(ccp.auth, "PUBLIC_PREFIXES", (*ccp.auth.PUBLIC_PREFIXES, "/ui/"))
    secured = start_server(tmp_path, auth={"secret": JWT_SECRET})
    try:
        page.goto(f"{secured.url}/ui/methods")
        expect(page.locator("#methods .error-box")).to_contain_text("bearer token is required")
        token = jwt.encode({"sub": "ada", "exp": int(time.time()) + 600}, JWT_SECRET,
                           algorithm="HS256")
        page.fill("#token-input", token)
        page.click("#token-form button[type=submit]")
        expect(page.locator("#token-state")).to_have_text("token saved")
        expect(method_card(page, "hello-world")).to_be_visible()
        with page.expect_download() as download_info:
            method_card(page, "hello-world").get_by_role("link", name="Download JSON").click()
        saved = json.loads(Path(download_info.value.path()).read_text())
        assert saved["id"] == "hello-world" and "inputs" in saved

        page.goto(f"{secured.url}/ui/executions")  # the token survives in localStorage
        expect(page.locator("#summary")).to_contain_text("0 Executions")
        page.click("#token-clear")
        page.reload()
        expect(page.locator("#executions .error-box")).to_contain_text("bearer token")
    finally:
        secured.stop()


def test_executions_overview_counts_and_filters(page: Page, server: Any) -> None:
    failed = requests.post(f"{server.url}/processes/always-fails/execution", json={"inputs": {}},
                           timeout=10).json()["jobID"]
    assert wait_api(server, failed)["status"] == "failed"
    page.goto(f"{server.url}/ui/executions")
    group = page.locator(".job-group[data-process='always-fails']")
    expect(group.locator(".group-head")).to_contain_text("1 failed")
    expect(group.locator(f"tr.job-row[data-job='{failed}']")).to_contain_text("failed")
    page.select_option("#filter-status", "failed")
    expect(page.locator("tr.job-row[data-status='successful']")).to_have_count(0)
    expect(page.locator(f"tr.job-row[data-job='{failed}']")).to_be_visible()
    page.select_option("#filter-status", "")
    expect(page.locator("tr.job-row[data-status='successful']").first).to_be_visible()
    shot(page, "executions")

    page.locator(f"tr.job-row[data-job='{failed}'] a.job-link").click()
    expect(page.locator("#job-status")).to_have_text("failed")
    expect(page.locator("#results-panel")).to_be_hidden()
    delete = page.locator("#job-actions button.delete")
    delete.click()
    delete.click()
    expect(page.locator("#flash")).to_contain_text("deleted")
    assert requests.get(f"{server.url}/jobs/{failed}", timeout=10).status_code == 404
