"""Users may re-score the top candidates with a cross-encoder; without one, a clear 400.

No trained cross-encoder ships offline: the reranker here is the MiniLM encoder with a
randomly initialised scoring head, which proves the plumbing, not the quality."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from app.models.encoder import Encoder, resolve_encoder_path
from tests.conftest import make_client
from tests.helpers import ingest

DOCS = [{"id": f"d{i}", "text": f"Note {i} about rivers, boats and the sea."} for i in range(30)]


@pytest.fixture
def rerank_client(tmp_path: Path, encoder: Encoder) -> Iterator[TestClient]:
    settings = Settings(
        data_dir=tmp_path / "data",
        reranker=resolve_encoder_path("all-MiniLM-L6-v2"),
        rerank_depth=20,
    )
    yield from make_client(settings, encoder)


def test_rerank_rescores_the_top_candidates(rerank_client: TestClient) -> None:
    ingest(rerank_client, "r", DOCS)
    body = {"query": "boats on the river", "k": 5, "rerank": True}
    r = rerank_client.post("/collections/r/search", json=body)
    assert r.status_code == 200, r.text
    hits = r.json()["results"]
    scores = [h["score"] for h in hits]
    assert len(hits) == 5 and scores == sorted(scores, reverse=True)
    candidates = rerank_client.post(
        "/collections/r/search", json={"query": "boats on the river", "k": 20}
    ).json()["results"]
    assert {h["id"] for h in hits} <= {h["id"] for h in candidates}
    second = rerank_client.post("/collections/r/search", json={**body, "offset": 5}).json()
    assert not {h["id"] for h in hits} & {h["id"] for h in second["results"]}
    models = {m["task"]: m for m in rerank_client.get("/models").json()["models"]}
    assert models["reranking"]["loaded"] and models["reranking"]["architecture"] == "encoder"


def test_rerank_in_hybrid_mode(rerank_client: TestClient) -> None:
    ingest(rerank_client, "r", DOCS)
    body = {"query": "note 7", "k": 3, "rerank": True, "mode": "hybrid"}
    assert len(rerank_client.post("/collections/r/search", json=body).json()["results"]) == 3


def test_rerank_needs_text(rerank_client: TestClient) -> None:
    ingest(rerank_client, "r", DOCS)
    r = rerank_client.post("/collections/r/search", json={"vector": [0.1] * 384, "rerank": True})
    assert r.status_code == 400 and "rerank" in r.json()["error"]["message"]


def test_rerank_without_a_reranker_is_a_400_that_says_so(client: TestClient) -> None:
    ingest(client, "r", DOCS[:3])
    r = client.post("/collections/r/search", json={"query": "boats", "rerank": True})
    assert r.status_code == 400
    assert "SEMSEARCH_RERANKER" in r.json()["error"]["message"]
