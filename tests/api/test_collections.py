"""Users create, list, describe and delete collections."""

import pytest
from fastapi.testclient import TestClient

from tests.helpers import ingest


def test_health_is_ok_and_ready_once_loaded(client: TestClient) -> None:
    assert client.get("/health").json() == {"status": "ok"}
    assert client.get("/ready").status_code == 200


def test_create_returns_201_with_the_description(client: TestClient) -> None:
    r = client.post("/collections", json={"name": "docs"})
    assert r.status_code == 201
    body = r.json()
    assert body["name"] == "docs" and body["model"] == "all-MiniLM-L6-v2"
    assert body["dimension"] == 384 and body["index"] == "flat"
    assert body["documents"] == body["chunks"] == body["vectors"] == 0
    assert body["status"] == "ready"


def test_creating_twice_is_409(client: TestClient) -> None:
    client.post("/collections", json={"name": "docs"})
    r = client.post("/collections", json={"name": "docs"})
    assert r.status_code == 409 and r.json()["error"]["code"] == "conflict"


def test_list_and_describe_show_counts(client: TestClient) -> None:
    client.post("/collections", json={"name": "b"})
    ingest(client, "a", [{"text": "one"}, {"text": "two"}])
    names = [c["name"] for c in client.get("/collections").json()["collections"]]
    assert names == ["a", "b"]
    a = client.get("/collections/a").json()
    assert (a["documents"], a["chunks"], a["vectors"]) == (2, 2, 2)


def test_delete_removes_the_collection_and_its_folder(client: TestClient) -> None:
    ingest(client, "gone", [{"text": "one"}])
    folder = client.app.state.services.settings.data_dir / "gone"  # type: ignore[attr-defined]
    assert folder.exists()
    assert client.delete("/collections/gone").status_code == 204
    assert client.get("/collections/gone").status_code == 404
    assert not folder.exists()
    assert client.delete("/collections/gone").status_code == 404


def test_a_deleted_name_can_be_created_again_empty(client: TestClient) -> None:
    ingest(client, "again", [{"text": "one"}])
    client.delete("/collections/again")
    assert client.post("/collections", json={"name": "again"}).json()["documents"] == 0


def test_the_model_may_be_named_if_it_is_the_services(client: TestClient) -> None:
    r = client.post(
        "/collections", json={"name": "m", "model": "all-MiniLM-L6-v2", "index": "flat"}
    )
    assert r.status_code == 201


def test_an_index_type_and_its_options_are_shown_with_the_index_in_use(
    client: TestClient,
) -> None:
    r = client.post(
        "/collections",
        json={"name": "g", "index": "hnsw", "index_options": {"m": 16, "ef_search": 100}},
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["index"] == "hnsw" and body["index_in_use"] == "HNSW16,Flat"
    assert body["index_options"]["m"] == 16 and body["index_options"]["ef_search"] == 100
    assert body["index_options"]["ef_construction"] == 80  # defaults filled in
    ingest(client, "g", [{"text": "one"}, {"text": "two"}])
    hits = client.post("/collections/g/search", json={"query": "one", "k": 2}).json()["results"]
    assert len(hits) == 2 and hits[0]["text"] == "one"


def test_auto_shows_its_threshold_and_searches_exactly_until_it_is_reached(
    client: TestClient,
) -> None:
    body = client.post("/collections", json={"name": "a", "index": "auto"}).json()
    assert body["index"] == "auto" and body["index_in_use"] == "Flat"
    assert body["index_options"]["then"] == "hnsw"
    assert body["index_options"]["threshold"] == 50_000  # SEMSEARCH_INDEX_AUTO_THRESHOLD
    assert body["index_building"] is False
    info = client.get("/collections/a").json()
    assert info["index_options"] == body["index_options"] and info["index_in_use"] == "Flat"


def test_auto_past_its_threshold_reports_the_index_it_moved_to(client: TestClient) -> None:
    options = {"threshold": 3, "m": 8}
    client.post("/collections", json={"name": "m", "index": "auto", "index_options": options})
    texts = ["cats purr", "dogs bark", "rain falls", "stocks rose", "bread rises"]
    ingest(client, "m", [{"id": f"d{i}", "text": t} for i, t in enumerate(texts)])
    collection = client.app.state.services.catalog.get("m")  # type: ignore[attr-defined]
    assert collection.index_builder.wait(120)
    info = client.get("/collections/m").json()
    assert info["index_in_use"] == "HNSW8,Flat" and info["index_building"] is False
    assert info["vectors"] == 5
    hits = client.post("/collections/m/search", json={"query": "kitten", "k": 5}).json()
    assert [h["id"] for h in hits["results"]][0] == "d0" and len(hits["results"]) == 5


def test_a_factory_string_is_accepted(client: TestClient) -> None:
    r = client.post("/collections", json={"name": "f", "index": "IVF64,SQ8"})
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["index"] == "IVF64,SQ8" and body["index_in_use"] == "Flat"
    assert body["index_options"] == {"nprobe": 32, "threshold": 39 * 64}


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"index": "nope"}, ["index:", "flat, hnsw, ivf, auto"]),
        ({"index": ""}, ["index:"]),
        ({"index": 5}, ["index:"]),
        ({"index": "NSG32,Flat"}, ["index:", "NSG32: unsupported index", "supported:"]),
        ({"index": "IVF99999999,Flat"}, ["index:", "65536"]),
        ({"index": "hnsw", "index_options": {"m": 1000}}, ["index_options.m", "4-128"]),
        ({"index": "hnsw", "index_options": {"nprobe": 3}}, ["index_options.nprobe", "unknown"]),
        ({"index": "ivf", "index_options": {"nlist": 8, "nprobe": 9}}, ["nprobe", "1-8"]),
        ({"index": "ivf", "index_options": {"quantization": "fp4"}}, ["quantization", "sq8"]),
        ({"index": "auto", "index_options": {"threshold": -1}}, ["index_options.threshold"]),
        ({"index": "flat", "index_options": [1]}, ["index_options"]),
        ({"index": "flat", "index_options": {"pq_m": 8}}, ["index_options.pq_m"]),
    ],
)
def test_a_bad_index_or_option_is_400_naming_the_field(
    client: TestClient, body: dict[str, object], words: list[str]
) -> None:
    r = client.post("/collections", json={"name": "bad", **body})
    assert r.status_code == 400, r.text
    error = r.json()["error"]
    assert error["code"] == "invalid_request"
    for word in words:
        assert word in error["message"], error["message"]
    assert client.get("/collections/bad").status_code == 404
