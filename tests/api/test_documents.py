"""Users add, replace, read, page through and delete documents."""

from fastapi.testclient import TestClient

from tests.helpers import all_ids, ingest


def test_ingest_creates_the_collection_and_returns_ids_in_order(client: TestClient) -> None:
    ids = ingest(client, "new", [{"id": "x", "text": "one"}, {"text": "two"}])
    assert ids[0] == "x" and len(ids[1]) == 32
    assert client.get("/collections/new").json()["documents"] == 2


def test_get_returns_the_stored_document(client: TestClient) -> None:
    ingest(client, "c", [{"id": "d1", "text": "hello world", "metadata": {"lang": "en", "n": 1}}])
    r = client.get("/collections/c/documents/d1")
    assert r.json() == {"id": "d1", "text": "hello world", "metadata": {"lang": "en", "n": 1}}


def test_an_existing_id_is_replaced_not_duplicated(client: TestClient) -> None:
    ingest(client, "c", [{"id": "d1", "text": "old text"}])
    ingest(client, "c", [{"id": "d1", "text": "new text", "metadata": {"v": 2}}])
    assert client.get("/collections/c/documents/d1").json()["text"] == "new text"
    info = client.get("/collections/c").json()
    assert (info["documents"], info["chunks"], info["vectors"]) == (1, 1, 1)


def test_delete_is_204_then_404(client: TestClient) -> None:
    ingest(client, "c", [{"id": "d1", "text": "hello"}, {"id": "d2", "text": "bye"}])
    assert client.delete("/collections/c/documents/d1").status_code == 204
    assert client.get("/collections/c/documents/d1").status_code == 404
    assert client.delete("/collections/c/documents/d1").status_code == 404
    assert client.get("/collections/c").json()["vectors"] == 1


def test_paging_walks_every_document_once_in_order(client: TestClient) -> None:
    ingest(client, "p", [{"id": f"d{i:02}", "text": f"document {i}"} for i in range(25)])
    seen, pages = all_ids(client, "p", 10)
    assert seen == [f"d{i:02}" for i in range(25)] and pages == 3


def test_long_documents_are_split_into_chunks(client: TestClient) -> None:
    text = " ".join(f"Paragraph {i} describes a different animal in detail." for i in range(120))
    ingest(client, "long", [{"id": "big", "text": text}])
    info = client.get("/collections/long").json()
    assert info["documents"] == 1 and info["chunks"] > 1 and info["vectors"] == info["chunks"]
    assert client.get("/collections/long/documents/big").json()["text"] == text


def test_ids_with_slashes_can_be_read_and_deleted(client: TestClient) -> None:
    ingest(client, "c", [{"id": "docs/guide/README.md", "text": "A guide."}])
    r = client.get("/collections/c/documents/docs/guide/README.md")
    assert r.status_code == 200 and r.json()["id"] == "docs/guide/README.md"
    assert client.get("/collections/c/documents/docs%2Fguide%2FREADME.md").status_code == 200
    assert client.delete("/collections/c/documents/docs/guide/README.md").status_code == 204
    assert client.get("/collections/c/documents/docs/guide/README.md").status_code == 404


def test_replace_source_drops_what_a_reingested_file_no_longer_holds(client: TestClient) -> None:
    old = [
        {"id": f"f.jsonl:{i}", "text": f"line {i}", "metadata": {"source": "f.jsonl"}}
        for i in range(3)
    ]
    other = {"id": "g", "text": "another file", "metadata": {"source": "g.txt"}}
    ingest(client, "c", [*old, other])
    body = {"documents": [old[0]], "replace_source": "f.jsonl"}
    assert client.post("/collections/c/documents", json=body).status_code == 200
    assert sorted(all_ids(client, "c", 10)[0]) == ["f.jsonl:0", "g"]


def test_replace_source_must_not_be_empty(client: TestClient) -> None:
    body = {"documents": [{"text": "x"}], "replace_source": ""}
    r = client.post("/collections/c/documents", json=body)
    assert r.status_code == 400 and "replace_source" in r.json()["error"]["message"]
