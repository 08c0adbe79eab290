"""Users count, list, delete and re-tag documents by metadata; each change survives a restart,
and the lexical index follows it."""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from app.models.encoder import Encoder
from tests.conftest import make_client
from tests.helpers import ingest

DOCS = [
    {"id": "cat", "text": "The cat sat on the mat.", "metadata": {"kind": "pet", "year": 2019}},
    {"id": "dog", "text": "Dogs like long walks.", "metadata": {"kind": "pet", "year": 2021}},
    {"id": "soup", "text": "A recipe for tomato soup.", "metadata": {"kind": "food", "year": 2020}},
    {"id": "bread", "text": "Bread is baked from flour.", "metadata": {"kind": "food"}},
    {"id": "rain", "text": "Rain is expected tomorrow.", "metadata": {"kind": "weather"}},
]


@contextmanager
def serving(settings: Settings, encoder: Encoder) -> Iterator[TestClient]:
    """The app on `settings`' data folder, shut down (as by SIGTERM) at the end."""
    clients = make_client(settings, encoder)
    try:
        yield next(clients)
    finally:
        clients.close()


@pytest.fixture
def loaded(client: TestClient) -> TestClient:
    ingest(client, "m", DOCS)
    return client


def count(client: TestClient, filter_: dict[str, Any] | None = None) -> int:
    body = {} if filter_ is None else {"filter": filter_}
    r = client.post("/collections/m/documents/count", json=body)
    assert r.status_code == 200, r.text
    return int(r.json()["count"])


def delete(client: TestClient, body: dict[str, Any]) -> int:
    r = client.post("/collections/m/documents/delete", json=body)
    assert r.status_code == 200, r.text
    return int(r.json()["deleted"])


def search_ids(client: TestClient, query: str, mode: str, **extra: Any) -> list[str]:
    r = client.post("/collections/m/search", json={"query": query, "mode": mode, **extra})
    assert r.status_code == 200, r.text
    return [h["id"] for h in r.json()["results"]]


def listed(client: TestClient, filter_: str, limit: int = 2) -> list[str]:
    """Every id of the filtered listing, walking its pages."""
    ids: list[str] = []
    after: str | None = None
    while True:
        params: dict[str, Any] = {"filter": filter_, "limit": limit}
        if after is not None:
            params["after"] = after
        r = client.get("/collections/m/documents", params=params)
        assert r.status_code == 200, r.text
        ids += [d["id"] for d in r.json()["documents"]]
        after = r.json()["next"]
        if after is None:
            return ids


def totals(client: TestClient) -> tuple[int, int, int]:
    info = client.get("/collections/m").json()
    return info["documents"], info["chunks"], info["vectors"]


def error(r: Any, status: int = 400) -> str:
    assert r.status_code == status, r.text
    return str(r.json()["error"]["message"])


# -- count


def test_count_all_or_by_filter(loaded: TestClient) -> None:
    assert count(loaded) == 5
    assert loaded.post("/collections/m/documents/count").json() == {"count": 5}
    assert count(loaded, {"kind": "pet"}) == 2
    assert count(loaded, {"year": {"$gte": 2020}}) == 2
    assert count(loaded, {"kind": {"$in": ["food", "weather"]}, "year": None}) == 2
    assert count(loaded, {"kind": "nothing"}) == 0


# -- list


def test_the_listing_filters_and_pages_with_the_same_cursor(loaded: TestClient) -> None:
    assert listed(loaded, '{"kind": {"$ne": "weather"}}') == ["cat", "dog", "soup", "bread"]
    assert listed(loaded, '{"kind": "food"}', limit=1) == ["soup", "bread"]
    assert listed(loaded, '{"kind": "none"}') == []
    assert listed(loaded, "{}", limit=10) == [d["id"] for d in DOCS]


# -- delete


def test_delete_by_ids_counts_what_existed_and_ignores_unknown_ids(loaded: TestClient) -> None:
    assert delete(loaded, {"ids": ["cat", "nope", "cat", "soup"]}) == 2
    assert loaded.get("/collections/m/documents/cat").status_code == 404
    assert totals(loaded) == (3, 3, 3)
    assert search_ids(loaded, "tomato", "lexical") == []
    assert "cat" not in search_ids(loaded, "kitten on a mat", "dense")
    assert delete(loaded, {"ids": ["cat"]}) == 0


def test_delete_by_filter_removes_every_match_from_each_index(loaded: TestClient) -> None:
    assert delete(loaded, {"filter": {"kind": "food"}}) == 2
    assert count(loaded) == 3 and count(loaded, {"kind": "food"}) == 0
    assert totals(loaded) == (3, 3, 3)
    for mode in ("dense", "lexical", "hybrid"):
        assert not {"soup", "bread"} & set(search_ids(loaded, "tomato soup and bread", mode))
    assert delete(loaded, {"filter": {"kind": "food"}}) == 0


def test_deleting_from_a_missing_collection_is_404(client: TestClient) -> None:
    r = client.post("/collections/none/documents/delete", json={"ids": ["a"]})
    assert "none" in error(r, 404)
    assert client.post("/collections/none/documents/count", json={}).status_code == 404


# -- patch


def test_patch_merges_metadata_without_embedding_again(loaded: TestClient) -> None:
    before = loaded.post("/collections/m/search", json={"query": "kitten", "k": 5}).json()
    patch = {"metadata": {"kind": None, "tags": ["a", "b"], "year": 2024}}
    r = loaded.patch("/collections/m/documents/cat", json=patch)
    assert r.status_code == 200, r.text
    assert r.json() == {
        "id": "cat",
        "text": "The cat sat on the mat.",
        "metadata": {"year": 2024, "tags": ["a", "b"]},
    }
    assert loaded.get("/collections/m/documents/cat").json()["metadata"] == r.json()["metadata"]
    after = loaded.post("/collections/m/search", json={"query": "kitten", "k": 5}).json()
    scores = {h["id"]: h["score"] for h in before["results"]}
    assert {h["id"]: h["score"] for h in after["results"]} == scores
    assert totals(loaded) == (5, 5, 5)
    assert count(loaded, {"tags": "b"}) == 1 and count(loaded, {"kind": "pet"}) == 1
    assert search_ids(loaded, "cat", "lexical", filter={"year": 2024}) == ["cat"]
    assert search_ids(loaded, "kitten", "dense", filter={"tags": "a"}) == ["cat"]


def test_patch_with_an_empty_object_changes_nothing(loaded: TestClient) -> None:
    r = loaded.patch("/collections/m/documents/dog", json={"metadata": {}})
    assert r.status_code == 200 and r.json()["metadata"] == DOCS[1]["metadata"]


# -- bad requests


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"ids": ["cat"], "filter": {"kind": "pet"}}, ["exactly one of ids and filter"]),
        ({}, ["exactly one of ids and filter"]),
        ({"filter": {}}, ["filter", "collection"]),
        ({"filter": {"kind": {"$like": "p%"}}}, ["filter.kind.$like", "unknown operator"]),
        ({"filter": {"year": {"$gt": [1]}}}, ["filter.year.$gt"]),
        ({"filter": ["kind"]}, ["filter"]),
        ({"ids": []}, ["ids", "at least 1"]),
        ({"ids": [""]}, ["ids.0"]),
        ({"ids": ["x"] * 10_001}, ["ids", "10000"]),
        ({"ids": ["cat"], "where": {}}, ["where"]),
    ],
)
def test_bad_deletes_are_400_and_delete_nothing(
    loaded: TestClient, body: dict[str, Any], words: list[str]
) -> None:
    message = error(loaded.post("/collections/m/documents/delete", json=body))
    assert all(w in message for w in words), message
    assert count(loaded) == 5


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"filter": {"kind": {"$regex": "p"}}}, ["filter.kind.$regex", "unknown operator"]),
        ({"filter": "kind"}, ["filter"]),
        ({"where": {}}, ["where"]),
    ],
)
def test_bad_counts_are_400(loaded: TestClient, body: dict[str, Any], words: list[str]) -> None:
    message = error(loaded.post("/collections/m/documents/count", json=body))
    assert all(w in message for w in words), message


@pytest.mark.parametrize(
    ("params", "words"),
    [
        ({"filter": "{kind"}, ["filter", "not valid JSON"]),
        ({"filter": '["kind"]'}, ["filter", "JSON object"]),
        ({"filter": '{"kind": {"$near": 1}}'}, ["filter.kind.$near", "unknown operator"]),
        ({"filter": '{"kind": "pet"}', "after": "x"}, ["after"]),
    ],
)
def test_bad_listings_are_400(loaded: TestClient, params: dict[str, str], words: list[str]) -> None:
    message = error(loaded.get("/collections/m/documents", params=params))
    assert all(w in message for w in words), message


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"metadata": {"a": {"b": 1}}}, ["metadata", "'a'", "flat"]),
        ({"metadata": {"a": [{"b": 1}]}}, ["metadata", "'a'", "flat"]),
        ({"metadata": ["a"]}, ["metadata", "dictionary"]),
        ({"metadata": {'a"b': 1}}, ["metadata", "quotes"]),
        ({"metadata": {f"k{i}": i for i in range(129)}}, ["metadata", "at most 128 keys"]),
        ({}, ["metadata"]),
        ({"metadata": {}, "text": "new"}, ["text"]),
    ],
)
def test_bad_patches_are_400_and_change_nothing(
    loaded: TestClient, body: dict[str, Any], words: list[str]
) -> None:
    message = error(loaded.patch("/collections/m/documents/cat", json=body))
    assert all(w in message for w in words), message
    assert loaded.get("/collections/m/documents/cat").json()["metadata"] == DOCS[0]["metadata"]


def test_a_patch_past_the_key_limit_is_400(loaded: TestClient) -> None:
    body = {"metadata": {f"k{i}": i for i in range(63)}}
    message = error(loaded.patch("/collections/m/documents/cat", json=body))
    assert "65 keys" in message and "64" in message
    assert loaded.get("/collections/m/documents/cat").json()["metadata"] == DOCS[0]["metadata"]


def test_patching_an_unknown_id_is_404(loaded: TestClient) -> None:
    r = loaded.patch("/collections/m/documents/nope", json={"metadata": {"a": 1}})
    assert "nope" in error(r, 404)
    r = loaded.patch("/collections/none/documents/cat", json={"metadata": {"a": 1}})
    assert "none" in error(r, 404)


# -- restarts


def after_delete_by_ids(client: TestClient) -> None:
    assert delete(client, {"ids": ["soup", "cat"]}) == 2


def after_delete_by_filter(client: TestClient) -> None:
    assert delete(client, {"filter": {"kind": {"$in": ["food"]}}}) == 2


def after_patch(client: TestClient) -> None:
    r = client.patch("/collections/m/documents/soup", json={"metadata": {"kind": None, "n": 1}})
    assert r.status_code == 200


@pytest.mark.parametrize("operation", [after_delete_by_ids, after_delete_by_filter, after_patch])
def test_each_operation_survives_a_restart(
    settings: Settings, encoder: Encoder, operation: Any
) -> None:
    with serving(settings, encoder) as first:
        ingest(first, "m", DOCS)
        operation(first)
        expected = {
            "totals": totals(first),
            "food": count(first, {"kind": "food"}),
            "listing": listed(first, '{"year": {"$gte": 2019}}'),
            "lexical": search_ids(first, "tomato soup bread cat", "lexical"),
            "dense": search_ids(first, "tomato soup", "dense", k=5),
            "soup": first.get("/collections/m/documents/soup").json(),
        }
    with serving(settings, encoder) as second:
        assert {
            "totals": totals(second),
            "food": count(second, {"kind": "food"}),
            "listing": listed(second, '{"year": {"$gte": 2019}}'),
            "lexical": search_ids(second, "tomato soup bread cat", "lexical"),
            "dense": search_ids(second, "tomato soup", "dense", k=5),
            "soup": second.get("/collections/m/documents/soup").json(),
        } == expected
