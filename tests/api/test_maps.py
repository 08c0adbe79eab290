"""The embedding map: a sample of a collection's chunks on their principal plane, coloured by
a metadata field, with a query placed on the same plane."""

import math

import numpy as np
from fastapi.testclient import TestClient

from app.maps import MAX_MAP_POINTS, fit_projection
from tests.helpers import ingest

DOCS = [
    {"id": "cat", "text": "The cat sat on the mat.", "metadata": {"kind": "pet", "tags": ["a", "b"]}},  # noqa: E501
    {"id": "dog", "text": "A dog barked all night.", "metadata": {"kind": "pet"}},
    {"id": "oil", "text": "The engine needs an oil change.", "metadata": {"kind": "car"}},
    {"id": "tyre", "text": "Winter tyres grip on snow.", "metadata": {"kind": "car", "year": 2020}},
    {"id": "rain", "text": "Heavy rain is expected tomorrow.", "metadata": {}},
]  # fmt: skip


def test_every_chunk_is_placed_with_its_text_and_colour_value(client: TestClient) -> None:
    ingest(client, "m", DOCS)
    r = client.get("/collections/m/map", params={"color": "kind"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert [p["id"] for p in body["points"]] == [d["id"] for d in DOCS]
    assert [p["value"] for p in body["points"]] == ["pet", "pet", "car", "car", None]
    assert body["points"][0]["text"] == "The cat sat on the mat."
    assert body["color"] == "kind" and body["chunks"] == 5 and body["query"] is None
    assert body["fields"] == ["kind", "tags", "year"]
    assert all(math.isfinite(p["x"]) and math.isfinite(p["y"]) for p in body["points"])
    first, second = body["explained"]
    assert 0 < second <= first <= 1


def test_a_list_value_colours_as_its_items_joined(client: TestClient) -> None:
    ingest(client, "m", DOCS)
    points = client.get("/collections/m/map", params={"color": "tags"}).json()["points"]
    assert points[0]["value"] == "a, b" and points[1]["value"] is None


def test_the_same_collection_gives_the_same_picture(client: TestClient) -> None:
    ingest(client, "m", DOCS)
    assert client.get("/collections/m/map").json() == client.get("/collections/m/map").json()


def test_a_query_falls_where_the_same_text_stored_falls(client: TestClient) -> None:
    ingest(client, "m", DOCS)
    body = client.get("/collections/m/map", params={"q": "The engine needs an oil change."}).json()
    oil = next(p for p in body["points"] if p["id"] == "oil")
    query = body["query"]
    assert query["text"] == "The engine needs an oil change."
    assert math.isclose(query["x"], oil["x"], abs_tol=1e-4)
    assert math.isclose(query["y"], oil["y"], abs_tol=1e-4)


def test_limit_spreads_the_sample_over_the_whole_collection(client: TestClient) -> None:
    ingest(client, "big", [{"id": f"d{i:02}", "text": f"note number {i}"} for i in range(30)])
    ids = [p["id"] for p in client.get("/collections/big/map?limit=4").json()["points"]]
    assert ids == ["d00", "d10", "d19", "d29"]


def test_long_documents_give_a_point_per_chunk(client: TestClient) -> None:
    long_text = " ".join(f"Sentence {i} about rivers, boats and bridges." for i in range(200))
    ingest(client, "long", [{"id": "book", "text": long_text}])
    body = client.get("/collections/long/map").json()
    chunks = client.get("/collections/long").json()["chunks"]
    assert chunks > 1 and body["chunks"] == chunks
    assert [p["chunk"] for p in body["points"]] == list(range(chunks))
    assert all(len(p["text"]) <= 300 for p in body["points"])


def test_an_empty_collection_has_no_points(client: TestClient) -> None:
    client.post("/collections", json={"name": "empty"})
    body = client.get("/collections/empty/map", params={"q": "anything"}).json()
    assert body["points"] == [] and body["query"] is None and body["chunks"] == 0


def test_one_chunk_sits_at_the_origin(client: TestClient) -> None:
    ingest(client, "one", [{"id": "only", "text": "a single note"}])
    (point,) = client.get("/collections/one/map").json()["points"]
    assert (point["x"], point["y"]) == (0.0, 0.0)


def test_bad_input_names_the_field_and_the_limit(client: TestClient) -> None:
    ingest(client, "m", DOCS)
    cases = {
        f"limit={MAX_MAP_POINTS + 1}": f"limit: {MAX_MAP_POINTS + 1} is over the limit of 5000",
        "limit=0": "limit",
        "limit=many": "limit",
        "q=%20%20": "q: must not be empty",
    }
    for query, message in cases.items():
        r = client.get(f"/collections/m/map?{query}")
        assert r.status_code == 400, query
        assert r.json()["error"]["code"] == "invalid_request"
        assert message in r.json()["error"]["message"], (query, r.json())
    assert client.get("/collections/nope/map").status_code == 404
    assert client.get("/collections/bad%20name/map").status_code == 400


def test_the_map_is_in_the_openapi_schema_with_its_scope(client: TestClient) -> None:
    operation = client.get("/openapi.json").json()["paths"]["/collections/{name}/map"]["get"]
    assert {p["name"] for p in operation["parameters"]} == {"name", "limit", "color", "q"}
    assert operation["x-scope"] == "read"


def test_the_projection_finds_the_directions_of_most_spread() -> None:
    rng = np.random.default_rng(0)
    data = np.zeros((200, 5))
    data[:, 3] = rng.normal(0, 10, 200)  # most spread
    data[:, 1] = rng.normal(0, 3, 200)  # next
    data[:, 0] = rng.normal(0, 0.1, 200)
    projection = fit_projection(data + 7.0)
    assert abs(projection.axes[0, 3]) > 0.99 and abs(projection.axes[1, 1]) > 0.99
    assert projection.axes[0, 3] > 0 and projection.axes[1, 1] > 0  # signs fixed
    xy = projection.apply(data + 7.0)
    assert np.allclose(xy.mean(axis=0), 0, atol=1e-9)
    assert projection.explained[0] > projection.explained[1] > 0
