"""Users ask a collection and get an answer grounded in cited sources."""

import json

from fastapi.testclient import TestClient

from tests.helpers import ingest

DOCS = [
    {"id": "paris", "text": "Paris is the capital and largest city of France."},
    {"id": "berlin", "text": "Berlin is the capital of Germany."},
    {"id": "soup", "text": "Tomato soup is made from tomatoes, onions and basil."},
]


def test_ask_answers_from_the_sources_it_returns(module_client: TestClient) -> None:
    ingest(module_client, "facts", DOCS)
    r = module_client.post(
        "/collections/facts/ask",
        json={"question": "What is the capital of France?", "k": 2, "max_new_tokens": 40},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert [s["id"] for s in body["sources"]][0] == "paris" and len(body["sources"]) == 2
    assert body["sources"][0]["text"] == DOCS[0]["text"]
    assert "Paris" in body["answer"]
    assert body["usage"]["completion_tokens"] <= 40


def test_ask_streams_sources_then_text_then_the_answer(module_client: TestClient) -> None:
    ingest(module_client, "facts", DOCS)
    events = []
    body = {"question": "What is the capital of Germany?", "k": 2, "max_new_tokens": 30,
            "stream": True}  # fmt: skip
    with module_client.stream("POST", "/collections/facts/ask", json=body) as r:
        for line in r.iter_lines():
            if line.startswith("data: "):
                events.append(json.loads(line.removeprefix("data: ")))
    assert events[0]["sources"][0]["id"] == "berlin"
    final = events[-1]
    assert final["done"] is True
    assert "".join(e["text"] for e in events[1:-1]).strip() == final["answer"]


def test_ask_a_collection_that_does_not_exist_is_404(module_client: TestClient) -> None:
    r = module_client.post("/collections/nothere/ask", json={"question": "why?"})
    assert r.status_code == 404 and "nothere" in r.json()["error"]["message"]


def test_bad_ask_input(module_client: TestClient) -> None:
    ingest(module_client, "facts", DOCS)
    for body, word in [
        ({"question": " "}, "question"),
        ({"question": "why?", "k": 0}, "k"),
        ({"question": "why?", "k": 21}, "k"),
        ({"question": "why?", "max_new_tokens": 100_000}, "max_new_tokens"),
        ({"question": "why?", "filter": {"a": {"$bad": 1}}}, "filter.a.$bad"),
    ]:
        r = module_client.post("/collections/facts/ask", json=body)
        assert r.status_code == 400, (body, r.text)
        assert word in r.json()["error"]["message"]
