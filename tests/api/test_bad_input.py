"""Every bad input gets a 4xx JSON error naming the field and the limit; nothing stored is lost."""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from app.main import create_app
from app.models.encoder import Encoder
from tests.helpers import ingest, wait_for_load_outcome

STORED = [{"id": f"keep{i}", "text": f"Stored document number {i} about rivers."} for i in range(5)]


@pytest.fixture(scope="module")
def small_limits_client(
    tmp_path_factory: pytest.TempPathFactory, encoder: Encoder
) -> Iterator[TestClient]:
    """An app with small limits, holding documents that no bad request may disturb."""
    data: Path = tmp_path_factory.mktemp("bad") / "data"
    settings = Settings(
        data_dir=data,
        max_batch_documents=10,
        max_body_bytes=64 * 1024,
        max_text_chars=2000,
        max_queries=5,
        max_embed_texts=5,
        max_page_size=50,
        snapshot_interval_s=3600,
    )
    app = create_app(settings, encoder)
    with TestClient(app) as c:
        assert app.state.services.wait_ready(60)
        ingest(c, "kept", STORED)
        yield c


DOC = "/collections/kept/documents"
SEARCH = "/collections/kept/search"

# (name, method, path, json body or raw bytes, status, words the message must hold)
CASES: list[tuple[str, str, str, Any, int, list[str]]] = [
    ("malformed json", "POST", DOC, b'{"documents": [', 400, ["malformed JSON"]),
    ("body not an object", "POST", DOC, b"[1, 2]", 400, ["body"]),
    ("documents wrong type", "POST", DOC, {"documents": "text"}, 400, ["documents"]),
    ("text wrong type", "POST", DOC, {"documents": [{"text": 5}]}, 400, ["documents.0.text"]),
    ("text missing", "POST", DOC, {"documents": [{"id": "x"}]}, 400, ["documents.0.text"]),
    ("empty text", "POST", DOC, {"documents": [{"text": ""}]}, 400, ["documents.0.text", "empty"]),
    ("whitespace text", "POST", DOC, {"documents": [{"text": " \n\t"}]}, 400, ["documents.0.text"]),
    ("empty batch", "POST", DOC, {"documents": []}, 400, ["documents", "at least 1"]),
    ("batch over limit", "POST", DOC, {"documents": [{"text": "t"}] * 11}, 400,
     ["documents", "10"]),
    ("text over limit", "POST", DOC, {"documents": [{"text": "a" * 2001}]}, 400,
     ["documents.0", "2000"]),
    ("duplicate ids", "POST", DOC,
     {"documents": [{"id": "a", "text": "x"}, {"id": "a", "text": "y"}]},
     400, ["documents.1.id", "more than once"]),
    ("empty id", "POST", DOC, {"documents": [{"id": "", "text": "x"}]}, 400, ["documents.0.id"]),
    ("id not a string", "POST", DOC, {"documents": [{"id": 7, "text": "x"}]}, 400,
     ["documents.0.id"]),
    ("nested metadata", "POST", DOC, {"documents": [{"text": "x", "metadata": {"a": {"b": 1}}}]},
     400, ["documents.0.metadata", "flat"]),
    ("metadata list of objects", "POST", DOC,
     {"documents": [{"text": "x", "metadata": {"a": [{"b": 1}]}}]}, 400, ["documents.0.metadata"]),
    ("metadata not an object", "POST", DOC, {"documents": [{"text": "x", "metadata": [1]}]}, 400,
     ["documents.0.metadata"]),
    ("unknown field", "POST", DOC, {"documents": [{"text": "x", "colour": "red"}]}, 400,
     ["documents.0.colour"]),
    ("bad collection name on ingest", "POST", "/collections/a%20b/documents",
     {"documents": [{"text": "x"}]}, 400, ["name"]),
    ("bad collection name", "POST", "/collections", {"name": "a/b"}, 400, ["name", "1-64"]),
    ("collection name too long", "POST", "/collections", {"name": "a" * 65}, 400, ["name", "1-64"]),
    ("collection name with dot", "POST", "/collections", {"name": "a.b"}, 400, ["name"]),
    ("unknown index type", "POST", "/collections", {"name": "z", "index": "lsh"}, 400,
     ["index", "flat"]),
    ("unserved model", "POST", "/collections", {"name": "z", "model": "bert"}, 400, ["model"]),
    ("existing collection", "POST", "/collections", {"name": "kept"}, 409, ["kept"]),
    ("unknown collection", "GET", "/collections/nothere", None, 404, ["nothere"]),
    ("search unknown collection", "POST", "/collections/nothere/search", {"query": "x"}, 404,
     ["nothere"]),
    ("unknown document", "GET", f"{DOC}/nope", None, 404, ["nope"]),
    ("delete unknown document", "DELETE", f"{DOC}/nope", None, 404, ["nope"]),
    ("k zero", "POST", SEARCH, {"query": "x", "k": 0}, 400, ["k", "1"]),
    ("k negative", "POST", SEARCH, {"query": "x", "k": -3}, 400, ["k"]),
    ("k over limit", "POST", SEARCH, {"query": "x", "k": 1001}, 400, ["k", "1000"]),
    ("k not a number", "POST", SEARCH, {"query": "x", "k": "ten"}, 400, ["k"]),
    ("empty query", "POST", SEARCH, {"query": "  "}, 400, ["query", "empty"]),
    ("no query", "POST", SEARCH, {"k": 3}, 400, ["query", "queries", "vector"]),
    ("two queries kinds", "POST", SEARCH, {"query": "a", "queries": ["b"]}, 400, ["exactly one"]),
    ("empty queries", "POST", SEARCH, {"queries": []}, 400, ["queries"]),
    ("too many queries", "POST", SEARCH, {"queries": ["q"] * 6}, 400, ["queries", "5"]),
    ("query too long", "POST", SEARCH, {"query": "a" * 2001}, 400, ["query", "2000"]),
    ("unknown filter operator", "POST", SEARCH,
     {"query": "x", "filter": {"a": {"$like": "x"}}}, 400,
     ["filter.a.$like", "$in"]),
    ("filter not an object", "POST", SEARCH, {"query": "x", "filter": [1]}, 400, ["filter"]),
    ("filter $in not a list", "POST", SEARCH, {"query": "x", "filter": {"a": {"$in": 3}}}, 400,
     ["filter.a.$in"]),
    ("min_score out of range", "POST", SEARCH, {"query": "x", "min_score": 2}, 400, ["min_score"]),
    ("vector of wrong size", "POST", SEARCH, {"vector": [0.1, 0.2, 0.3]}, 400, ["vector", "384"]),
    ("vector of zeros", "POST", SEARCH, {"vector": [0.0] * 384}, 400, ["vector"]),
    ("get search without q", "GET", SEARCH, None, 400, ["q"]),
    ("get search with bad k", "GET", SEARCH + "?q=x&k=0", None, 400, ["k"]),
    ("get search with bad filter json", "GET", SEARCH + "?q=x&filter={", None, 400, ["filter"]),
    ("get search with blank q", "GET", SEARCH + "?q=%20", None, 400, ["query"]),
    ("page limit over", "GET", DOC + "?limit=51", None, 400, ["limit", "50"]),
    ("page limit zero", "GET", DOC + "?limit=0", None, 400, ["limit"]),
    ("page bad cursor", "GET", DOC + "?after=abc", None, 400, ["after"]),
    ("embed empty list", "POST", "/embed", {"texts": []}, 400, ["texts"]),
    ("embed blank text", "POST", "/embed", {"texts": ["ok", " "]}, 400, ["texts", "1"]),
    ("embed too many", "POST", "/embed", {"texts": ["a"] * 6}, 400, ["texts", "5"]),
    ("openai empty input", "POST", "/v1/embeddings", {"input": []}, 400, ["input"]),
    ("openai blank input", "POST", "/v1/embeddings", {"input": ""}, 400, ["input"]),
    ("openai wrong dimensions", "POST", "/v1/embeddings", {"input": "x", "dimensions": 12}, 400,
     ["dimensions", "384"]),
    ("openai bad format", "POST", "/v1/embeddings", {"input": "x", "encoding_format": "hex"}, 400,
     ["encoding_format"]),
    ("unknown route", "GET", "/nowhere", None, 404, ["Not Found"]),
    ("wrong method", "PUT", "/collections", {"name": "x"}, 405, ["method", "PUT", "GET, POST"]),
]  # fmt: skip


@pytest.mark.parametrize(("name", "method", "path", "body", "status", "words"), CASES,
                         ids=[c[0] for c in CASES])  # fmt: skip
def test_bad_input_is_a_clear_error_and_nothing_is_lost(
    small_limits_client: TestClient,
    name: str,
    method: str,
    path: str,
    body: Any,
    status: int,
    words: list[str],
) -> None:
    c = small_limits_client
    if isinstance(body, bytes):
        r = c.request(method, path, content=body, headers={"content-type": "application/json"})
    else:
        r = c.request(method, path, json=body)
    assert r.status_code == status, r.text
    error = r.json()["error"]
    assert set(error) == {"code", "message"} and error["code"]
    for word in words:
        assert word in error["message"], (word, error["message"])
    assert_nothing_lost(c)


def assert_nothing_lost(c: TestClient) -> None:
    info = c.get("/collections/kept").json()
    assert (info["documents"], info["chunks"], info["vectors"]) == (5, 5, 5)
    for doc in STORED:
        assert c.get(f"{DOC}/{doc['id']}").json()["text"] == doc["text"]


def test_a_body_over_the_size_limit_is_413(small_limits_client: TestClient) -> None:
    big = {"documents": [{"text": "x" * 1000, "metadata": {"pad": "y" * 70_000}}]}
    r = small_limits_client.post(DOC, json=big)
    assert r.status_code == 413
    assert "65536" in r.json()["error"]["message"]
    assert_nothing_lost(small_limits_client)


def test_a_chunked_body_over_the_size_limit_is_413(small_limits_client: TestClient) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"documents": [{"text": "'
        for _ in range(100):
            yield b"z" * 1024
        yield b'"}]}'

    r = small_limits_client.post(
        DOC, content=chunks(), headers={"content-type": "application/json"}
    )
    assert r.status_code == 413
    assert_nothing_lost(small_limits_client)


def test_a_failed_batch_stores_none_of_its_documents(small_limits_client: TestClient) -> None:
    r = small_limits_client.post(
        DOC, json={"documents": [{"id": "new1", "text": "fine"}, {"id": "new2", "text": ""}]}
    )
    assert r.status_code == 400
    assert small_limits_client.get(f"{DOC}/new1").status_code == 404
    assert_nothing_lost(small_limits_client)


def test_the_service_answers_503_until_ready(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, encoder=str(tmp_path / "no-such-model"))
    app = create_app(settings)
    with TestClient(app) as c:
        services = app.state.services
        wait_for_load_outcome(services)
        assert services.load_error
        assert c.get("/health").status_code == 200
        r = c.get("/ready")
        assert r.status_code == 503 and "no-such-model" in r.json()["error"]["message"]
        r = c.post("/collections", json={"name": "x"})
        assert r.status_code == 503 and r.json()["error"]["code"] == "not_ready"


def test_a_wrong_method_lists_every_method_of_the_path(small_limits_client: TestClient) -> None:
    r = small_limits_client.request("OPTIONS", "/collections/c/search")
    assert r.status_code == 405 and r.headers["Allow"] == "GET, POST"
    r = small_limits_client.put("/collections/c/documents/d1")
    assert r.status_code == 405 and {"DELETE", "GET"} <= set(r.headers["Allow"].split(", "))


def test_a_wrong_method_on_a_named_path_lists_that_paths_methods(
    small_limits_client: TestClient,
) -> None:
    r = small_limits_client.get("/collections/c/documents/count/extra/x")
    assert r.status_code == 404  # a document id with slashes, not the count route
    r = small_limits_client.request("OPTIONS", "/collections/c/documents/count")
    assert r.status_code == 405 and r.headers["Allow"] == "POST"
