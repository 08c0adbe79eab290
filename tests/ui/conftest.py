"""The web page in Debian's chromium, driven by Playwright, against real uvicorn servers."""

import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import pytest
from playwright.sync_api import Browser, ConsoleMessage, Error, Page, sync_playwright

from tests.helpers import ServerProcess

READ_KEY = "ui-reader-key-0123456789abcdef"
WRITE_KEY = "ui-writer-key-0123456789abcdef"
RESOURCE_ERROR = re.compile(r"Failed to load resource: the server responded with a status of (\d+)")


def chromium_path() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        pytest.fail(
            "the web page's tests need Debian's chromium: run `apt-get install chromium` "
            "(make test installs it when run as root)"
        )
    return path


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path())
        yield browser
        browser.close()


def start_server(tmp: pytest.TempPathFactory, name: str, env: dict[str, str]) -> ServerProcess:
    return ServerProcess(tmp.mktemp(name) / "data", env).start()


@pytest.fixture(scope="package")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """Every upload goes through a job, so the page follows its progress."""
    proc = start_server(tmp_path_factory, "ui", {"SEMSEARCH_UPLOAD_ASYNC_BYTES": "0"})
    try:
        yield proc
    finally:
        proc.stop()


@pytest.fixture(scope="package")
def keyed_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """Keys switched on, and a generator that cannot load."""
    env = {
        "SEMSEARCH_API_KEYS": f"{READ_KEY}:read,{WRITE_KEY}:write",
        "SEMSEARCH_GENERATOR": "/nonexistent/generator",
    }
    proc = start_server(tmp_path_factory, "ui-keys", env)
    try:
        yield proc
    finally:
        proc.stop()


@dataclass
class Console:
    """What the page reported: script errors, and console errors. A refused request shows in
    the console as a failed resource; a test names the statuses it provokes on purpose."""

    errors: list[str] = field(default_factory=list)
    allowed_statuses: set[int] = field(default_factory=set)

    def on_message(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.errors.append(message.text)

    def on_page_error(self, error: Error) -> None:
        self.errors.append(f"page error: {error}")

    def unexpected(self) -> list[str]:
        def expected(text: str) -> bool:
            m = RESOURCE_ERROR.search(text)
            return m is not None and int(m.group(1)) in self.allowed_statuses

        return [e for e in self.errors if not expected(e)]


@pytest.fixture
def console() -> Console:
    return Console()


def open_page(
    browser: Browser, console: Console, viewport: dict[str, int], scheme: str = "light"
) -> Page:
    context = browser.new_context(viewport=viewport, color_scheme=scheme)  # type: ignore[arg-type]
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.on("console", console.on_message)
    page.on("pageerror", console.on_page_error)
    return page


@pytest.fixture
def page(browser: Browser, console: Console) -> Iterator[Page]:
    """A laptop-sized page; the test fails if the page logged an error it did not expect."""
    page = open_page(browser, console, {"width": 1280, "height": 860})
    yield page
    page.context.close()
    assert console.unexpected() == [], "the page logged errors"


def seed(url: str, collection: str, docs: list[dict[str, object]], key: str = "") -> None:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    r = httpx.post(
        f"{url}/collections/{collection}/documents",
        json={"documents": docs},
        headers=headers,
        timeout=120,
    )
    assert r.status_code == 200, r.text


COLLECTION = "library"
DOCS: list[dict[str, object]] = [
    {"id": "cat", "text": "The cat sat on the mat. It purred all afternoon in the sun.",
     "metadata": {"lang": "en", "topic": "pets", "year": 2021}},
    {"id": "dog", "text": "A dog barked at the mailman every morning.",
     "metadata": {"lang": "en", "topic": "pets", "year": 2022}},
    {"id": "chat", "text": "Le chat dort sur le canapé tout l'après-midi.",
     "metadata": {"lang": "fr", "topic": "pets", "year": 2023}},
    {"id": "engine", "text": "The car engine needs an oil change every ten thousand kilometres.",
     "metadata": {"lang": "en", "topic": "cars", "year": 2019}},
    {"id": "pneus", "text": "Les pneus d'hiver tiennent mieux sur la neige.",
     "metadata": {"lang": "fr", "topic": "cars", "year": 2020}},
] + [
    {"id": f"note-{i:02d}", "text": f"Weather note {i}: rain and wind expected on day {i}.",
     "metadata": {"lang": "en", "topic": "weather", "year": 2000 + i}}
    for i in range(20)
]  # fmt: skip


@pytest.fixture(scope="package")
def library(server: ServerProcess) -> str:
    """A collection of 25 short documents in English and French."""
    seed(server.url, COLLECTION, DOCS)
    return COLLECTION


def goto(page: Page, url: str, view: str, collection: str | None = None) -> None:
    """Open a view of the page, with `collection` chosen."""
    page.goto(f"{url}/ui#{view}")
    if collection is not None:
        chooser = page.get_by_role("combobox", name="Collection", exact=True)
        chooser.locator(f'option[value="{collection}"]').wait_for(state="attached")
        chooser.select_option(collection)
