"""Users create, list, describe and delete collections."""

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
