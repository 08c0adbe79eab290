"""Uploads with their progress, the streamed answer with its sources, and translation."""

import httpx
from playwright.sync_api import Page, expect

from tests.helpers import ServerProcess
from tests.ui.conftest import goto, seed


def test_an_upload_shows_its_progress_until_done_and_each_files_error_by_name(
    server: ServerProcess, page: Page
) -> None:
    seed(server.url, "uploads", [{"id": "first", "text": "Already here."}])
    goto(page, server.url, "upload", "uploads")
    page.get_by_label("Upload files", exact=True).set_input_files(
        [
            {"name": "notes.md", "mimeType": "text/markdown", "buffer": b"# Notes\n\nTea at five."},
            {"name": "rows.csv", "mimeType": "text/csv", "buffer": b"text\nOne row\nTwo rows\n"},
            {"name": "broken.pdf", "mimeType": "application/pdf", "buffer": b"%PDF-not really"},
        ]
    )
    page.get_by_role("button", name="Upload", exact=True).click()
    bar = page.get_by_role("progressbar", name="Upload progress")
    expect(bar).to_have_attribute("data-state", "done", timeout=60_000)
    assert bar.evaluate("b => b.value") == 100
    expect(page.locator("#upload-status")).to_contain_text("Done: 3 files, 3 documents")
    report = page.get_by_role("list", name="Upload report").get_by_role("listitem")
    expect(report.filter(has_text="notes.md")).to_contain_text("1 document")
    expect(report.filter(has_text="rows.csv")).to_contain_text("2 documents")
    expect(report.filter(has_text="broken.pdf")).to_have_class("failed")
    assert httpx.get(f"{server.url}/collections/uploads").json()["documents"] == 4


def test_an_answer_streams_in_with_numbered_sources_that_open_their_documents(
    server: ServerProcess, library: str, page: Page
) -> None:
    goto(page, server.url, "ask", library)
    page.evaluate(
        """() => {
        window.answerUpdates = 0;
        new MutationObserver(() => window.answerUpdates++).observe(
          document.getElementById('answer-text'), {childList: true, characterData: true,
          subtree: true});
      }"""
    )
    page.get_by_role("textbox", name="Question", exact=True).fill("Where does the cat sit?")
    page.get_by_role("spinbutton", name="Max new tokens").fill("12")
    page.get_by_role("button", name="Ask", exact=True).click()
    answer = page.get_by_role("region", name="Answer")
    expect(answer).not_to_have_attribute("data-state", "running", timeout=60_000)
    expect(page.locator("#ask-error")).to_be_empty()
    expect(answer).to_have_attribute("data-state", "done")
    assert page.locator("#answer-text").inner_text().strip()
    assert page.evaluate("window.answerUpdates") >= 2  # pieces, then the whole answer
    sources = page.get_by_role("list", name="Sources").get_by_role("listitem")
    expect(sources.first).to_contain_text("[1]")
    expect(sources.first).to_contain_text("cat")
    sources.first.get_by_role("link", name="cat").click()
    expect(page.get_by_role("tab", name="Documents")).to_have_attribute("aria-selected", "true")
    expect(page.get_by_role("article", name="Document")).to_contain_text("purred")


def test_translation_offers_the_translators_languages(server: ServerProcess, page: Page) -> None:
    goto(page, server.url, "translate")
    source = page.get_by_role("combobox", name="From")
    expect(source.locator("option")).not_to_have_count(0)
    source.select_option("en")
    page.get_by_role("combobox", name="To").select_option("pt")
    page.get_by_role("textbox", name="Text to translate").fill("Good morning")
    page.get_by_role("button", name="Translate", exact=True).click()
    body = {"text": "Good morning", "source": "en", "target": "pt"}
    expected = httpx.post(f"{server.url}/translate", json=body, timeout=60).json()
    expect(page.get_by_role("status", name="Translation")).to_have_text(expected["translations"])
