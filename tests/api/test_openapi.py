"""The OpenAPI document states what the API enforces, so that generated clients and the web
page can rely on it."""

from collections.abc import Iterator
from typing import Any

import jsonschema
import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from app.models.encoder import Encoder
from tests.conftest import make_client


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, encoder: Encoder) -> Iterator[TestClient]:
    settings = Settings(data_dir=tmp_path_factory.mktemp("openapi"), max_k=50, max_queries=7)
    yield from make_client(settings, encoder)


@pytest.fixture(scope="module")
def spec(served: TestClient) -> dict[str, Any]:
    return served.get("/openapi.json").json()  # type: ignore[no-any-return]


def valid(spec: dict[str, Any], model: str, instance: Any) -> bool:
    """Whether `instance` is valid against a component of the document."""
    schema = {**spec["components"]["schemas"][model], "components": spec["components"]}
    return jsonschema.Draft202012Validator(schema).is_valid(instance)


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


def test_a_query_vector_has_the_encoders_dimension(spec: dict[str, Any], encoder: Encoder) -> None:
    vector = body(spec, "/collections/{name}/search")["properties"]["vector"]
    array = vector["anyOf"][0]
    assert array["minItems"] == array["maxItems"] == encoder.dimension
    assert vector["items"]["maximum"] == 1e15 and "contains" in vector


@pytest.mark.parametrize(
    ("request_body", "field"),
    [
        ({"vector": [1e16] + [0.0] * 383}, "vector"),
        ({"vector": [1e-16] * 384}, "vector"),
        ({"vector": [0.1] * 384, "mode": "lexical"}, "mode"),
        ({"query": "cats", "alpha": 0.5}, "alpha"),
        ({"query": "cats", "mode": "hybrid", "fusion": "rrf", "alpha": 0.5}, "alpha"),
        ({"query": "cats", "rerank": True}, "rerank"),
    ],
)
def test_what_the_search_body_rules_out_the_api_refuses(
    spec: dict[str, Any], served: TestClient, request_body: dict[str, Any], field: str
) -> None:
    served.post("/collections/rules/documents", json={"documents": [{"text": "cats"}]})
    search = body(spec, "/collections/{name}/search")
    assert not jsonschema.Draft202012Validator(search).is_valid(request_body)
    r = served.post("/collections/rules/search", json=request_body)
    assert r.status_code == 400 and field in r.json()["error"]["message"]


def test_a_get_search_ignores_alpha_where_it_has_no_meaning(
    spec: dict[str, Any], served: TestClient
) -> None:
    """Query parameters cannot state a rule between them: alpha outside a convex hybrid
    search is dropped, where the POST body refuses it."""
    docs = [{"text": "cats purr"}, {"text": "dogs bark at cats"}]
    served.post("/collections/plain/documents", json={"documents": docs})
    for params in ({}, {"mode": "lexical"}, {"mode": "hybrid", "fusion": "rrf"}):
        url, query = "/collections/plain/search", {"q": "cats", **params}
        without = served.get(url, params=query).json()["results"]
        r = served.get(url, params={**query, "alpha": 0.3})
        assert r.status_code == 200, r.text
        assert [h["id"] for h in r.json()["results"]] == [h["id"] for h in without]
    mode = parameter(spec, "/collections/{name}/search", "get", "mode")
    assert mode["schema"]["enum"] == ["dense", "lexical", "hybrid"]


def test_the_embedding_dimensions_option_states_the_only_value(
    spec: dict[str, Any], encoder: Encoder
) -> None:
    dimensions = spec["components"]["schemas"]["OpenAIEmbeddingRequest"]["properties"]
    shape = dimensions["dimensions"]["anyOf"][0]
    assert shape["minimum"] == shape["maximum"] == encoder.dimension


def test_a_translation_pair_is_one_the_translator_serves(spec: dict[str, Any]) -> None:
    assert valid(spec, "TranslateRequest", {"text": "hi", "source": "en", "target": "pt"})
    assert valid(spec, "TranslateRequest", {"text": "oi", "source": "pt-BR", "target": "EN"})
    assert not valid(spec, "TranslateRequest", {"text": "hi", "source": "en", "target": "de"})
    assert not valid(spec, "TranslateRequest", {"text": "hi", "source": "en", "target": "en"})


@pytest.mark.parametrize(
    ("request_body", "accepted"),
    [
        ({"name": "c1"}, True),
        ({"name": "c2", "index": "hnsw", "index_options": {"m": 16, "ef_search": 32}}, True),
        ({"name": "c3", "index": "ivf", "index_options": {"quantization": "pq", "pq_m": 48}}, True),
        ({"name": "c4", "index": "auto", "index_options": {"then": "ivf", "nprobe": 4}}, True),
        ({"name": "c5", "index": "flat", "index_options": {"quantization": "sq8"}}, True),
        ({"name": "c6", "index": "hnsw", "index_options": {"m": 16.0}}, True),
        ({"name": "c7", "index": "flat", "index_options": {"ef_search": 64}}, False),
        ({"name": "c8", "index_options": {"threshold": 100}}, False),
        ({"name": "c9", "index": "ivf", "index_options": {"quantization": "pq", "pq_m": 7}}, False),
        ({"name": "c10", "index": "hnsw", "index_options": {"quantization": "pq"}}, False),
        ({"name": "c11", "index": "auto", "index_options": {"then": "flat"}}, False),
        ({"name": "c12", "index": "hnsw", "index_options": {"m": 500}}, False),
        ({"name": "", "index": "flat"}, False),
        ({"name": "c13", "model": "another-encoder"}, False),
    ],
)
def test_the_options_of_each_index_type_are_stated(
    spec: dict[str, Any], served: TestClient, request_body: dict[str, Any], accepted: bool
) -> None:
    assert valid(spec, "CreateCollection", request_body) is accepted
    r = served.post("/collections", json=request_body)
    assert r.status_code == (201 if accepted else 400), r.text


def test_an_upload_needs_a_file(spec: dict[str, Any]) -> None:
    upload = spec["components"]["schemas"]["Body_upload_files_collections__name__files_post"]
    assert upload["properties"]["files"]["minItems"] == 1
