"""The page is served by the service itself, asks for a key when one is needed, and reads
well at laptop and phone widths, in light and dark."""

import httpx
from playwright.sync_api import Browser, Page, expect

from tests.helpers import ServerProcess
from tests.ui.conftest import READ_KEY, WRITE_KEY, Console, goto, open_page


def test_root_redirects_to_the_page_served_from_the_package(server: ServerProcess) -> None:
    r = httpx.get(f"{server.url}/", follow_redirects=False)
    assert r.status_code == 307 and r.headers["location"] == "/ui"
    page = httpx.get(f"{server.url}/ui")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "Content-Security-Policy" in page.headers
    script = httpx.get(f"{server.url}/ui/main.js")
    assert script.headers["content-type"].startswith("text/javascript")
    for missing in ("/ui/nothing.js", "/ui/..%2Fconfig.py", "/ui/%2e%2e/main.py"):
        r = httpx.get(f"{server.url}{missing}")
        assert r.status_code == 404 and r.json()["error"]["code"] == "not_found", missing


def test_the_page_and_its_files_need_no_key(keyed_server: ServerProcess) -> None:
    for path in ("/", "/ui", "/ui/main.js", "/ui/style.css", "/ui/settings.json"):
        assert httpx.get(f"{keyed_server.url}{path}").status_code in (200, 307), path
    assert httpx.get(f"{keyed_server.url}/ui/settings.json").json() == {"keys": True}
    assert httpx.get(f"{keyed_server.url}/collections").status_code == 401


def test_the_page_asks_for_a_key_keeps_it_for_the_session_and_names_a_missing_scope(
    keyed_server: ServerProcess, page: Page, console: Console
) -> None:
    console.allowed_statuses = {401, 403}
    goto(page, keyed_server.url, "collections")
    key_box = page.get_by_role("textbox", name="API key", exact=True)
    expect(key_box).to_be_visible()
    expect(page.locator("#notice")).to_contain_text("needs an API key")

    key_box.fill("not-a-key")
    page.get_by_role("button", name="Use key").click()
    expect(page.locator("#notice")).to_contain_text("unknown API key")
    expect(key_box).to_be_visible()

    key_box.fill(READ_KEY)
    page.get_by_role("button", name="Use key").click()
    expect(key_box).to_be_hidden()
    assert page.evaluate("sessionStorage.getItem('semsearch.apiKey')") == READ_KEY
    page.get_by_role("textbox", name="New collection name").fill("refused")
    page.get_by_role("button", name="Create collection").click()
    expect(page.get_by_role("alert").filter(has_text="needs scope 'write'")).to_be_visible()

    page.reload()  # the key stays for the session
    expect(key_box).to_be_hidden()
    page.get_by_role("button", name="Forget key").click()
    key_box.fill(WRITE_KEY)
    page.get_by_role("button", name="Use key").click()
    page.get_by_role("textbox", name="New collection name").fill("allowed")
    page.get_by_role("button", name="Create collection").click()
    expect(page.get_by_role("table", name="Collections")).to_contain_text("allowed")
    expect(page.get_by_role("combobox", name="Collection", exact=True)).to_have_value("allowed")


def test_models_show_their_state_and_why_one_failed(
    keyed_server: ServerProcess, page: Page
) -> None:
    headers = {"Authorization": f"Bearer {READ_KEY}"}
    r = httpx.post(
        f"{keyed_server.url}/generate", json={"prompt": "Hello"}, headers=headers, timeout=60
    )
    assert r.status_code == 503
    page.goto(f"{keyed_server.url}/ui")
    page.evaluate(f"sessionStorage.setItem('semsearch.apiKey', '{READ_KEY}')")
    goto(page, keyed_server.url, "models")
    table = page.get_by_role("table", name="Models")
    expect(table.get_by_role("row")).to_have_count(4)  # the header and three models

    def row(architecture: str):  # type: ignore[no-untyped-def]
        cell = page.get_by_role("cell", name=architecture, exact=True)
        return table.get_by_role("row").filter(has=cell)

    expect(row("encoder")).to_contain_text("loaded")
    expect(row("decoder")).to_contain_text("failed")
    expect(row("decoder")).to_contain_text("/nonexistent/generator")
    expect(row("encoder-decoder")).to_contain_text("translation")


def test_laptop_and_phone_widths_in_light_and_dark(
    browser: Browser, server: ServerProcess, library: str, console: Console
) -> None:
    for viewport in ({"width": 1280, "height": 800}, {"width": 390, "height": 844}):
        for scheme in ("light", "dark"):
            page = open_page(browser, console, viewport, scheme)
            goto(page, server.url, "search", library)
            page.get_by_role("searchbox", name="Search").fill("a purring cat")
            results = page.get_by_role("list", name="Results").get_by_role("listitem")
            expect(results.first).to_be_visible()
            overflow = page.evaluate("document.documentElement.scrollWidth - innerWidth")
            assert overflow <= 0, (viewport, scheme, overflow)
            background = page.evaluate("getComputedStyle(document.body).backgroundColor")
            red = int(background.split("(")[1].split(",")[0])
            assert (red < 60) == (scheme == "dark"), (scheme, background)
            page.context.close()
    assert console.unexpected() == []
