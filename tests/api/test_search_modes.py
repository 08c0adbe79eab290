"""Users search by meaning, by words (BM25) or both fused, page through results and see
the sentences that matched."""

import pytest
from fastapi.testclient import TestClient

from tests.helpers import ingest

DOCS = [
    {"id": "cat", "text": "The cat sat on the mat. It purred quietly all afternoon.",
     "metadata": {"lang": "en"}},
    {"id": "kitten", "text": "A small kitten slept by the warm fire.", "metadata": {"lang": "en"}},
    {"id": "code", "text": "Error code XJ-4471 means the pump valve is stuck.",
     "metadata": {"lang": "en"}},
    {"id": "pump", "text": "Water pumps move fluid through pipes using pressure.",
     "metadata": {"lang": "en"}},
    {"id": "chat", "text": "Le chat dort sur le canapé.", "metadata": {"lang": "fr"}},
    {"id": "soup", "text": "A recipe for tomato soup. Add basil at the end.",
     "metadata": {"lang": "en"}},
]  # fmt: skip


@pytest.fixture
def loaded(client: TestClient) -> TestClient:
    ingest(client, "m", DOCS)
    return client


def ids(client: TestClient, **body: object) -> list[str]:
    r = client.post("/collections/m/search", json=body)
    assert r.status_code == 200, r.text
    return [h["id"] for h in r.json()["results"]]


def test_lexical_mode_finds_exact_rare_words(loaded: TestClient) -> None:
    assert ids(loaded, query="XJ-4471", mode="lexical", k=3)[0] == "code"


def test_lexical_mode_returns_only_documents_sharing_a_word(loaded: TestClient) -> None:
    assert set(ids(loaded, query="tomato", mode="lexical", k=10)) == {"soup"}
    assert ids(loaded, query="zebra", mode="lexical") == []


def test_hybrid_mode_keeps_the_exact_match_and_the_meaning(loaded: TestClient) -> None:
    hybrid = ids(loaded, query="XJ-4471 pump problem", mode="hybrid", k=2)
    assert set(hybrid) == {"code", "pump"}
    r = loaded.post("/collections/m/search", json={"query": "kitten", "mode": "hybrid", "k": 1})
    assert 0 < r.json()["results"][0]["score"] <= 1


def test_hybrid_fusion_is_convex_by_default_and_rrf_on_request(loaded: TestClient) -> None:
    query = "XJ-4471 pump problem"
    convex = loaded.post("/collections/m/search", json={"query": query, "mode": "hybrid"})
    rrf_body = {"query": query, "mode": "hybrid", "fusion": "rrf"}
    rrf = loaded.post("/collections/m/search", json=rrf_body).json()["results"]
    assert all(0 < h["score"] <= 2 / 61 for h in rrf)
    assert {h["id"] for h in rrf[:2]} == {"code", "pump"}
    assert {h["id"] for h in convex.json()["results"]} == {h["id"] for h in rrf}


def test_alpha_weighs_dense_against_lexical(loaded: TestClient) -> None:
    query = "kitten XJ-4471"
    dense = ids(loaded, query=query, mode="dense", k=3)
    lexical = ids(loaded, query=query, mode="lexical", k=3)
    assert ids(loaded, query=query, mode="hybrid", alpha=1, k=3) == dense
    assert ids(loaded, query=query, mode="hybrid", alpha=0, k=len(lexical)) == lexical
    both = ids(loaded, query=query, mode="hybrid", alpha=0.5, k=2)
    assert set(both) == {"kitten", "code"}
    r = loaded.get(
        "/collections/m/search", params={"q": query, "mode": "hybrid", "alpha": 0, "k": 1}
    )
    assert r.json()["results"][0]["id"] == "code"


def test_filters_and_k_behave_the_same_in_every_mode(loaded: TestClient) -> None:
    for mode in ("dense", "lexical", "hybrid"):
        found = ids(loaded, query="cat chat", mode=mode, k=5, filter={"lang": "fr"})
        assert found == ["chat"], mode
        assert len(ids(loaded, query="the cat", mode=mode, k=2)) == 2, mode


@pytest.mark.parametrize("mode", ["dense", "lexical", "hybrid"])
def test_offset_pages_through_the_same_ranking(loaded: TestClient, mode: str) -> None:
    query = "the cat and the pump"
    whole = ids(loaded, query=query, mode=mode, k=6)
    pages = ids(loaded, query=query, mode=mode, k=2) + ids(loaded, query=query, mode=mode, k=2,
                                                             offset=2)  # fmt: skip
    assert pages == whole[:4]
    assert ids(loaded, query=query, mode=mode, k=2, offset=100) == []


def test_get_search_takes_mode_and_offset(loaded: TestClient) -> None:
    r = loaded.get("/collections/m/search", params={"q": "XJ-4471", "mode": "lexical", "k": 1})
    assert r.json()["results"][0]["id"] == "code"
    r = loaded.get("/collections/m/search", params={"q": "x", "mode": "fuzzy"})
    assert r.status_code == 400 and "mode" in r.json()["error"]["message"]
    for params in ({"fusion": "max"}, {"alpha": "2"}):
        r = loaded.get("/collections/m/search", params={"q": "x", "mode": "hybrid", **params})
        assert r.status_code == 400 and next(iter(params)) in r.json()["error"]["message"]


def test_highlights_point_at_the_best_sentence(loaded: TestClient) -> None:
    r = loaded.post("/collections/m/search", json={"query": "purring", "k": 1, "highlights": True})
    hit = r.json()["results"][0]
    assert hit["id"] == "cat"
    best = max(hit["highlights"], key=lambda h: h["score"])
    assert best["text"] == "It purred quietly all afternoon."
    assert hit["text"][best["start"] : best["end"]] == best["text"]
    plain = loaded.post("/collections/m/search", json={"query": "purring", "k": 1}).json()
    assert plain["results"][0]["highlights"] is None


def test_highlights_in_lexical_mode_too(loaded: TestClient) -> None:
    r = loaded.post(
        "/collections/m/search",
        json={"query": "basil", "mode": "lexical", "k": 1, "highlights": True},
    )
    hit = r.json()["results"][0]
    assert hit["id"] == "soup" and any("basil" in h["text"] for h in hit["highlights"])


@pytest.mark.parametrize(
    ("body", "word"),
    [
        ({"query": "x", "mode": "fuzzy"}, "mode"),
        ({"query": "x", "offset": -1}, "offset"),
        ({"query": "x", "offset": 10_001}, "offset"),
        ({"vector": [0.1] * 384, "mode": "lexical"}, "mode"),
        ({"query": "x", "highlights": [1]}, "highlights"),
        ({"query": "x", "mode": "hybrid", "fusion": "max"}, "fusion"),
        ({"query": "x", "mode": "hybrid", "alpha": 1.5}, "alpha"),
        ({"query": "x", "mode": "hybrid", "alpha": -0.1}, "alpha"),
        ({"query": "x", "mode": "hybrid", "alpha": "high"}, "alpha"),
        ({"query": "x", "mode": "hybrid", "fusion": "rrf", "alpha": 0.5}, "alpha"),
        ({"query": "x", "mode": "dense", "alpha": 0.5}, "alpha"),
    ],
)
def test_bad_mode_and_offset_are_400(
    loaded: TestClient, body: dict[str, object], word: str
) -> None:
    r = loaded.post("/collections/m/search", json=body)
    assert r.status_code == 400, r.text
    assert word in r.json()["error"]["message"]


def test_the_lexical_index_follows_replacements_and_deletes(loaded: TestClient) -> None:
    ingest(loaded, "m", [{"id": "code", "text": "Nothing to see here."}])
    assert "code" not in ids(loaded, query="XJ-4471", mode="lexical")
    loaded.delete("/collections/m/documents/soup")
    assert ids(loaded, query="tomato", mode="lexical") == []
