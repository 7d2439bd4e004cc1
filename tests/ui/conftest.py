"""The admin UI on the real app, real Postgres and Redis: Starlette's TestClient for the pages,
and (tests/ui/browser) a real API server, worker and Chromium for what a person does."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from html.parser import HTMLParser
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Page, sync_playwright
from sqlalchemy import Engine
from starlette.testclient import TestClient

from devkit.generator import District, DistrictSpec, write_oneroster_csv
from libs.auth import mint_token
from libs.settings import Settings
from services.api.app import create_app
from tests.support.api import ThreadedApi
from tests.support.sshd import sshd  # noqa: F401  (the real sshd fixture, for connection tests over SFTP)
from tests.support.workers import ServiceProcess, start_worker

TENANT_A = "district-a"
TENANT_B = "district-b"
LOGIN = "/integrations/sis/login"


def pytest_configure(config: pytest.Config) -> None:
    # pytest-xdist registers this marker; declare it too so that --strict-markers still collects
    # the browser tests when they run with -p no:xdist
    config.addinivalue_line("markers", "xdist_group(name): run the marked tests in one xdist worker")


@pytest.fixture
def ui_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"api_requests_per_minute": 1_000_000, "api_sync_triggers_per_minute": 1_000})


@pytest.fixture
def mint(ui_settings: Settings) -> Callable[..., str]:
    secret = ui_settings.auth_jwt_secret
    assert secret is not None

    def make(
        role: str = "DISTRICT_ADMIN", tenant: str | None = TENANT_A, *, sub: str = "admin@a", ttl: int = 600
    ) -> str:
        return mint_token(secret, subject=sub, roles=[role], tenant_id=tenant, ttl_seconds=ttl)

    return make


@pytest.fixture
def browser_client(db: Engine, ui_settings: Settings) -> Iterator[TestClient]:
    # https base URL: the session cookie is Secure there, as behind a TLS-terminating proxy
    with TestClient(create_app(ui_settings), base_url="https://testserver", follow_redirects=False) as client:
        yield client


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf-token" content="([0-9a-f]+)"', html)
    assert match, "the page carries no CSRF token"
    return match.group(1)


def sign_in(client: TestClient, token: str) -> str:
    """Signs in through the login form; returns the CSRF token for the session's forms."""
    page = client.get(LOGIN)
    response = client.post(LOGIN, data={"token": token, "csrf": csrf_of(page.text), "next": "/integrations/sis"})
    assert response.status_code == 303, response.text
    return csrf_of(client.get("/integrations/sis").text) if "sis_session" in client.cookies else ""


class _FormReader(HTMLParser):
    def __init__(self, form_id: str) -> None:
        super().__init__(convert_charrefs=True)
        self.form_id = form_id
        self.inside = False
        self.select: str | None = None
        self.textarea: str | None = None
        self.fields: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.inside = a.get("id") == self.form_id
        if not self.inside or ("name" not in a and tag != "option"):
            return
        if tag == "input" and a.get("type") not in ("submit", "button"):
            if a.get("type") not in ("checkbox", "radio") or "checked" in a:
                self.fields.setdefault(a["name"], a.get("value", ""))
        elif tag == "select":
            self.select = a["name"]
        elif tag == "option" and self.select and ("selected" in a or self.select not in self.fields):
            self.fields[self.select] = a.get("value", "")
        elif tag == "textarea":
            self.textarea = a["name"]
            self.fields[a["name"]] = ""

    def handle_data(self, data: str) -> None:
        if self.textarea:
            self.fields[self.textarea] += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.inside = False
        elif tag == "select":
            self.select = None
        elif tag == "textarea":
            self.textarea = None


def form_fields(html: str, form_id: str) -> dict[str, str]:
    """What a browser would submit from the form as the page rendered it (checked boxes and
    radios, selected options, every input's value), without its buttons."""
    reader = _FormReader(form_id)
    reader.feed(html)
    assert reader.fields, f"the page has no form #{form_id}"
    return reader.fields


# ---- a real server, worker and browser ------------------------------------------------------

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
# without the background-networking flags Chromium keeps calling home on a closed network
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def require_chromium() -> None:
    if CHROMIUM.exists():
        return
    if os.environ.get("CI"):
        pytest.fail(f"{CHROMIUM} is missing; .ci/run installs Debian's chromium package")
    pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium); browser tests need it")


@pytest.fixture(scope="module")
def browser_settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "api_requests_per_minute": 1_000_000,
            "api_sync_triggers_per_minute": 1_000,
            "allow_local_csv_paths": True,
        }
    )


@pytest.fixture(scope="module")
def api_server(browser_settings: Settings, engine: Engine) -> Iterator[ThreadedApi]:
    with ThreadedApi(browser_settings) as server:
        yield server


@pytest.fixture(scope="module")
def ui_worker(browser_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    worker = start_worker(browser_settings, tmp_path_factory.mktemp("ui-logs"), threads=4)
    yield worker
    worker.stop()


@pytest.fixture(scope="module")
def s_tier_package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_oneroster_csv(District(DistrictSpec.for_tier("S", seed=1)), tmp_path_factory.mktemp("s-tier") / "pkg")


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    require_chromium()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(chromium: Browser, api_server: ThreadedApi) -> Iterator[Page]:
    context = chromium.new_context(base_url=api_server.url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    page = context.new_page()
    yield page
    context.close()


def screenshot_path(name: str) -> Path:
    """Where the artifact goes; one left by an earlier run is removed, so a check finds only this run's."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    path.unlink(missing_ok=True)
    return path


def screenshot(page: Page, name: str, *, full_page: bool = True) -> Path:
    """A screenshot of the page as a test artifact, checked to be a PNG of the page's width."""
    path = screenshot_path(name)
    page.evaluate("document.getElementById('toasts')?.replaceChildren()")
    page.screenshot(path=str(path), full_page=full_page)
    viewport = page.viewport_size
    assert_png(path, width=viewport["width"] if viewport else None)
    return path


PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def assert_png(path: Path, *, width: int | None = None) -> tuple[int, int]:
    """The artifact exists and is a PNG with an image in it (its IHDR header: width, height)."""
    assert path.is_file(), f"no screenshot was written to {path}"
    head = path.read_bytes()[:24]
    assert head[:8] == PNG_SIGNATURE, f"{path} is not a PNG"
    assert head[12:16] == b"IHDR", f"{path} has no PNG header chunk"
    size = int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")
    assert min(size) > 0, f"{path} is an empty image {size}"
    assert path.stat().st_size > 1000, f"{path} is too small to show a page ({path.stat().st_size} bytes)"
    if width is not None:
        assert size[0] == width, f"{path} is {size[0]} px wide, the page {width} px"
    return size


def assert_accessible(page: Page, what: str) -> None:
    """axe-core (bundled by axe-playwright-python): no serious or critical violation."""
    results = Axe().run(page)
    bad = [v for v in results.response["violations"] if v["impact"] in ("serious", "critical")]
    details = "\n".join(
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}" for v in bad
    )
    assert not bad, f"{what}: accessibility violations\n{details}"
