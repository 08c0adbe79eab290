"""Snapshots are listed per collection while it exists, and all together even once deleted."""

from fastapi.testclient import TestClient

from tests.helpers import ingest


def test_a_deleted_collections_snapshots_stay_listed_under_snapshots(client: TestClient) -> None:
    ingest(client, "kept", [{"id": "a", "text": "a cat on a mat"}])
    taken = client.post("/collections/kept/snapshot")
    assert taken.status_code == 201, taken.text
    assert client.get("/collections/kept/snapshots").json() == {"snapshots": [taken.json()]}
    assert client.delete("/collections/kept").status_code == 204

    gone = client.get("/collections/kept/snapshots")
    assert gone.status_code == 404 and gone.json()["error"]["code"] == "not_found"
    assert client.get("/snapshots").json() == {"snapshots": [taken.json()]}
    assert client.get("/snapshots", params={"collection": "kept"}).json()["snapshots"] == [
        taken.json()
    ]
    assert client.get("/snapshots", params={"collection": "other"}).json() == {"snapshots": []}


def test_a_bad_collection_name_in_the_snapshot_filter_is_a_400(client: TestClient) -> None:
    r = client.get("/snapshots", params={"collection": "bad name"})
    assert r.status_code == 400 and "name:" in r.json()["error"]["message"]
