"""The search playground: results as you type, mode, k, a JSON filter checked inline, marked
words, copy as curl and find similar."""

import json
import re
import shlex

import httpx
from playwright.sync_api import Page, expect

from tests.helpers import ServerProcess
from tests.ui.conftest import Console, goto


def search(page: Page, url: str, collection: str, query: str) -> None:
    goto(page, url, "search", collection)
    page.get_by_role("searchbox", name="Search", exact=True).fill(query)


def hits(page: Page):  # type: ignore[no-untyped-def]
    return page.get_by_role("list", name="Results", exact=True).get_by_role("listitem")


def test_results_appear_as_you_type_with_score_metadata_and_marked_words(
    server: ServerProcess, library: str, page: Page
) -> None:
    goto(page, server.url, "search", library)
    page.get_by_role("searchbox", name="Search", exact=True).press_sequentially(
        "purred cat", delay=20
    )
    first = hits(page).first
    expect(first).to_contain_text("cat")
    expect(first.locator(".score")).to_have_text(re.compile(r"^0\.\d{3}$"))
    expect(first).to_contain_text("topic")
    expect(first).to_contain_text("pets")
    expect(first.locator("mark").first).to_have_text(re.compile("^(purred|cat)$", re.I))
    expect(hits(page)).to_have_count(10)


def test_mode_and_k_choose_the_ranking_and_its_length(
    server: ServerProcess, library: str, page: Page
) -> None:
    search(page, server.url, library, "kilometres")
    page.get_by_role("combobox", name="Mode", exact=True).select_option("lexical")
    expect(hits(page)).to_have_count(1)  # only one document holds the word
    expect(hits(page).first).to_contain_text("engine")
    page.get_by_role("combobox", name="Mode", exact=True).select_option("hybrid")
    page.get_by_role("spinbutton", name="k", exact=True).fill("3")
    expect(hits(page)).to_have_count(3)
    expect(hits(page).first).to_contain_text("engine")


def test_a_filter_narrows_the_results(server: ServerProcess, library: str, page: Page) -> None:
    search(page, server.url, library, "a sleeping cat")
    page.get_by_role("textbox", name="Filter", exact=True).fill('{"lang": "fr"}')
    expect(hits(page)).to_have_count(2)
    for item in hits(page).all():
        expect(item).to_contain_text("fr")


def test_a_bad_filter_is_shown_inline_and_cleared_once_fixed(
    server: ServerProcess, library: str, page: Page, console: Console
) -> None:
    console.allowed_statuses = {400}  # the service refuses an unknown operator
    search(page, server.url, library, "cat")
    expect(hits(page).first).to_be_visible()
    box = page.get_by_role("textbox", name="Filter", exact=True)
    error = page.locator("#filter-error")
    box.fill('{"lang": ')
    expect(error).to_contain_text("Filter: not valid JSON")
    expect(box).to_have_attribute("aria-invalid", "true")
    box.fill('["en"]')
    expect(error).to_contain_text("must be a JSON object")
    box.fill('{"year": {"$near": 2020}}')
    expect(error).to_contain_text("$near")
    box.fill('{"lang": "en"}')
    expect(error).to_be_empty()
    expect(box).not_to_have_attribute("aria-invalid", "true")
    expect(hits(page).first).to_be_visible()


def test_copy_as_curl_gives_a_command_that_runs_the_same_search(
    server: ServerProcess, library: str, page: Page
) -> None:
    search(page, server.url, library, "oil change")
    page.get_by_role("textbox", name="Filter", exact=True).fill('{"topic": "cars"}')
    expect(hits(page)).to_have_count(2)
    page.get_by_role("button", name="Copy as curl").click()
    command = page.get_by_label("curl command").inner_text()
    words = shlex.split(command.replace("\\\n", " "))
    assert words[:4] == ["curl", "-s", "-X", "POST"]
    url = words[4]
    body = json.loads(words[words.index("-d") + 1])
    assert url == f"{server.url}/collections/{library}/search"
    assert body["filter"] == {"topic": "cars"} and body["query"] == "oil change"
    reply = httpx.post(url, json=body).json()
    assert [r["id"] for r in reply["results"]] == [
        t.split()[0] for t in hits(page).locator(".doc").all_inner_texts()
    ]


def test_find_similar_searches_with_a_hit_and_leaves_it_out(
    server: ServerProcess, library: str, page: Page
) -> None:
    search(page, server.url, library, "rain")
    hit = hits(page).filter(has_text="note-03")
    hit.get_by_role("button", name="Find documents similar").click()
    expect(page.locator("#search-status")).to_contain_text("similar to note-03")
    expect(hits(page)).to_have_count(10)
    expect(hits(page).first).to_contain_text("note-")
    expect(hits(page).filter(has_text="note-03")).to_have_count(0)
