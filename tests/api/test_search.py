"""Users search by text, batches, vectors and metadata filters, and get cosine scores."""

import numpy as np
import pytest
from fastapi.testclient import TestClient

from tests.helpers import ingest

DOCS = [
    {"id": "cat", "text": "The cat sat on the mat.",
     "metadata": {"lang": "en", "year": 2021, "tags": ["pets"]}},
    {"id": "dog", "text": "A dog chased the ball in the park.",
     "metadata": {"lang": "en", "year": 2018, "tags": ["pets", "outdoor"]}},
    {"id": "chat", "text": "Le chat dort sur le canapé.", "metadata": {"lang": "fr", "year": 2023}},
    {"id": "stocks", "text": "Stock markets fell sharply on Monday.",
     "metadata": {"lang": "en", "year": 2022}},
    {"id": "soup", "text": "A recipe for tomato soup with basil.",
     "metadata": {"lang": "en", "year": 2020}},
]  # fmt: skip


@pytest.fixture
def loaded(client: TestClient) -> TestClient:
    ingest(client, "s", DOCS)
    return client


def search(client: TestClient, **body: object) -> list[dict[str, object]]:
    r = client.post("/collections/s/search", json=body)
    assert r.status_code == 200, r.text
    results: list[dict[str, object]] = r.json()["results"]
    return results


def test_results_carry_text_metadata_chunk_and_cosine_score(loaded: TestClient) -> None:
    r = loaded.post("/collections/s/search", json={"query": "a kitten resting", "k": 2})
    body = r.json()
    top = body["results"][0]
    assert top["id"] == "cat" and top["text"] == DOCS[0]["text"]
    assert top["metadata"] == DOCS[0]["metadata"]
    assert top["chunk"] == {"index": 0, "text": DOCS[0]["text"]}
    assert body["took_ms"] >= 0 and len(body["results"]) == 2
    encoder = loaded.app.state.services.encoder  # type: ignore[attr-defined]
    q, d = encoder.encode(["a kitten resting", DOCS[0]["text"]])
    assert top["score"] == pytest.approx(float(np.dot(q, d)), abs=1e-4)


def test_results_are_sorted_best_first(loaded: TestClient) -> None:
    scores = [h["score"] for h in search(loaded, query="pets", k=5)]
    assert scores == sorted(scores, reverse=True)  # type: ignore[type-var]


def test_get_search_is_the_same_single_query(loaded: TestClient) -> None:
    r = loaded.get("/collections/s/search", params={"q": "stock market crash", "k": 1})
    assert r.status_code == 200 and r.json()["results"][0]["id"] == "stocks"


def test_get_search_takes_a_json_filter(loaded: TestClient) -> None:
    r = loaded.get("/collections/s/search", params={"q": "animal", "filter": '{"lang": "fr"}'})
    assert [h["id"] for h in r.json()["results"]] == ["chat"]


def test_a_batch_of_queries_gets_a_list_per_query(loaded: TestClient) -> None:
    results = search(loaded, queries=["kitten", "cooking dinner"], k=1)
    assert [[h["id"] for h in hits] for hits in results] == [["cat"], ["soup"]]  # type: ignore[attr-defined]


def test_a_vector_query_uses_the_vector(loaded: TestClient) -> None:
    encoder = loaded.app.state.services.encoder  # type: ignore[attr-defined]
    vector = encoder.encode(["soup recipe"])[0].tolist()
    assert search(loaded, vector=vector, k=1)[0]["id"] == "soup"


def test_equality_filter(loaded: TestClient) -> None:
    assert {h["id"] for h in search(loaded, query="animal", k=10, filter={"lang": "fr"})} == {
        "chat"
    }


def test_range_filter(loaded: TestClient) -> None:
    hits = search(loaded, query="anything", k=10, filter={"year": {"$gte": 2021}})
    assert {h["id"] for h in hits} == {"cat", "chat", "stocks"}


def test_in_ne_and_list_membership_filters(loaded: TestClient) -> None:
    assert {h["id"] for h in search(loaded, query="x", k=10, filter={"tags": "outdoor"})} == {"dog"}
    hits = search(loaded, query="x", k=10, filter={"year": {"$in": [2018, 2020]}})
    assert {h["id"] for h in hits} == {"dog", "soup"}
    hits = search(loaded, query="x", k=10, filter={"lang": {"$ne": "en"}})
    assert {h["id"] for h in hits} == {"chat"}
    hits = search(loaded, query="x", k=10, filter={"year": {"$lt": 2020}})
    assert {h["id"] for h in hits} == {"dog"}


def test_a_filtered_query_returns_k_hits_whenever_k_exist(client: TestClient) -> None:
    docs = [
        {"text": f"Note {i} about gardening and flowers.", "metadata": {"rare": i % 50 == 0}}
        for i in range(400)
    ]
    ingest(client, "s", docs)
    hits = search(client, query="gardening", k=8, filter={"rare": True})
    assert len(hits) == 8 and all(h["metadata"]["rare"] is True for h in hits)  # type: ignore[index]


def test_min_score_drops_weak_hits(loaded: TestClient) -> None:
    hits = search(loaded, query="a kitten resting on a rug", k=5, min_score=0.3)
    assert [h["id"] for h in hits] == ["cat"]


def test_k_larger_than_the_collection_returns_everything(loaded: TestClient) -> None:
    assert len(search(loaded, query="x", k=1000)) == len(DOCS)


def test_an_empty_collection_returns_no_hits(client: TestClient) -> None:
    client.post("/collections", json={"name": "s"})
    assert search(client, query="anything") == []


def test_a_filter_matching_nothing_returns_no_hits(loaded: TestClient) -> None:
    assert search(loaded, query="x", filter={"lang": "jp"}) == []


def test_deleted_documents_are_not_found(loaded: TestClient) -> None:
    loaded.delete("/collections/s/documents/cat")
    assert "cat" not in [h["id"] for h in search(loaded, query="kitten", k=10)]
