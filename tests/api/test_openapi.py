"""The OpenAPI document states what the API enforces, so that generated clients and the web
page can rely on it."""

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from app.models.encoder import Encoder
from tests.conftest import make_client


@pytest.fixture(scope="module")
def spec(tmp_path_factory: pytest.TempPathFactory, encoder: Encoder) -> Iterator[dict[str, Any]]:
    settings = Settings(data_dir=tmp_path_factory.mktemp("openapi"), max_k=50, max_queries=7)
    for client in make_client(settings, encoder):
        yield client.get("/openapi.json").json()


def parameter(spec: dict[str, Any], path: str, method: str, name: str) -> dict[str, Any]:
    found = [p for p in spec["paths"][path][method]["parameters"] if p["name"] == name]
    assert len(found) == 1
    return found[0]


def body(spec: dict[str, Any], path: str) -> dict[str, Any]:
    schema: dict[str, Any] = spec["paths"][path]["post"]["requestBody"]["content"][
        "application/json"
    ]["schema"]
    if "$ref" in schema:
        return spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]  # type: ignore[no-any-return]
    return schema


def test_collection_names_carry_their_pattern(spec: dict[str, Any]) -> None:
    name = parameter(spec, "/collections/{name}/documents", "get", "name")
    assert name["schema"]["pattern"] == "^[A-Za-z0-9_-]{1,64}$"


def test_texts_that_must_not_be_blank_say_so(spec: dict[str, Any]) -> None:
    text = spec["components"]["schemas"]["DocumentIn"]["properties"]["text"]
    assert text["minLength"] == 1 and text["pattern"] == r"\S"
    queries = body(spec, "/collections/{name}/search")["properties"]["queries"]["anyOf"][0]
    assert queries["items"]["pattern"] == r"\S"


def test_a_filter_parameter_is_declared_as_json(spec: dict[str, Any]) -> None:
    found = parameter(spec, "/collections/{name}/search", "get", "filter")
    shape = found["content"]["application/json"]["schema"]
    assert shape["type"] == "object" and "propertyNames" in shape


def test_the_limits_of_the_settings_are_in_the_schema(spec: dict[str, Any]) -> None:
    search = body(spec, "/collections/{name}/search")["properties"]
    assert search["k"]["maximum"] == 50
    assert search["queries"]["anyOf"][0]["maxItems"] == 7
    assert parameter(spec, "/collections/{name}/search", "get", "k")["schema"]["maximum"] == 50


def test_exactly_one_of_query_queries_and_vector(spec: dict[str, Any]) -> None:
    branches = body(spec, "/collections/{name}/search")["oneOf"]
    assert [b["required"] for b in branches] == [["query"], ["queries"], ["vector"]]


def test_without_keys_no_operation_asks_for_one(spec: dict[str, Any]) -> None:
    assert "securitySchemes" not in spec.get("components", {})
    assert all("security" not in op for ops in spec["paths"].values() for op in ops.values())


def test_uploads_are_multipart(client: TestClient) -> None:
    upload = client.get("/openapi.json").json()["paths"]["/collections/{name}/files"]["post"]
    assert list(upload["requestBody"]["content"]) == ["multipart/form-data"]
