"""Collections and documents: list, create, delete after a confirmation; page, open, delete."""

import httpx
from playwright.sync_api import Dialog, Page, expect

from tests.helpers import ServerProcess
from tests.ui.conftest import goto, seed


def test_collections_are_listed_with_their_counts_model_index_and_status(
    server: ServerProcess, library: str, page: Page
) -> None:
    goto(page, server.url, "collections")
    row = page.get_by_role("row").filter(has=page.get_by_role("cell", name=library, exact=True))
    for text in ("25", "all-MiniLM-L6-v2", "flat", "ready"):
        expect(row).to_contain_text(text)


def test_a_collection_is_created_and_deleted_only_after_confirming(
    server: ServerProcess, page: Page
) -> None:
    goto(page, server.url, "collections")
    page.get_by_role("textbox", name="New collection name").fill("made-here")
    page.get_by_role("combobox", name="Index type").select_option("hnsw")
    page.get_by_role("button", name="Create collection").click()
    table = page.get_by_role("table", name="Collections")
    row = table.get_by_role("row").filter(has=page.get_by_role("cell", name="made-here"))
    expect(row).to_contain_text("hnsw")
    expect(page.get_by_role("combobox", name="Collection", exact=True)).to_have_value("made-here")
    assert httpx.get(f"{server.url}/collections/made-here").json()["index"] == "hnsw"

    answers = iter([False, True])
    questions: list[str] = []

    def answer(dialog: Dialog) -> None:
        questions.append(dialog.message)
        dialog.accept() if next(answers) else dialog.dismiss()

    page.on("dialog", answer)
    row.get_by_role("button", name="Delete collection made-here").click()
    expect(row).to_be_visible()
    row.get_by_role("button", name="Delete collection made-here").click()
    expect(row).to_have_count(0)
    assert questions == [questions[0]] * 2 and "made-here" in questions[0]
    assert httpx.get(f"{server.url}/collections/made-here").status_code == 404


def test_documents_are_paged_opened_and_deleted(server: ServerProcess, page: Page) -> None:
    docs = [{"id": f"d{i:02d}", "text": f"Document number {i}."} for i in range(23)]
    seed(server.url, "paged", docs)
    goto(page, server.url, "documents", "paged")
    listed = page.get_by_role("list", name="Documents").get_by_role("listitem")
    expect(listed).to_have_count(20)
    expect(listed.first).to_contain_text("d00")
    page.get_by_role("button", name="Next page").click()
    expect(listed).to_have_count(3)
    expect(listed.first).to_contain_text("d20")
    expect(page.get_by_role("button", name="Next page")).to_be_disabled()
    page.get_by_role("button", name="Previous page").click()
    expect(listed).to_have_count(20)

    page.get_by_role("button", name="Open document d07").click()
    document = page.get_by_role("article", name="Document")
    expect(document).to_contain_text("Document number 7.")
    page.once("dialog", lambda dialog: dialog.accept())
    document.get_by_role("button", name="Delete document").click()
    expect(document).to_be_hidden()
    expect(page.get_by_role("button", name="Open document d07")).to_have_count(0)
    assert httpx.get(f"{server.url}/collections/paged/documents/d07").status_code == 404
