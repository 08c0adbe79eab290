"""The HTTP API over the PostgreSQL backend: the same routes and replies, snapshots pointing to
the database's own backups, and a database that cannot be reached answered with 503."""

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr

from app.config import Settings
from app.main import create_app
from app.models.encoder import Encoder


@pytest.fixture(scope="module")
def pg_client(
    database_url: str, tmp_path_factory: pytest.TempPathFactory, encoder: Encoder
) -> Iterator[TestClient]:
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("unused") / "data", database_url=SecretStr(database_url)
    )
    app = create_app(settings, encoder)
    with TestClient(app) as client:
        assert app.state.services.wait_ready(60)
        yield client


def test_documents_go_in_and_are_found_through_the_api(pg_client: TestClient) -> None:
    r = pg_client.post("/collections", json={"name": "api", "index": "hnsw"})
    assert r.status_code == 201, r.text
    assert r.json()["index_in_use"] == "hnsw"
    docs = [
        {"id": "cat", "text": "The cat sat on the mat.", "metadata": {"kind": "pet"}},
        {
            "id": "soup",
            "text": "A recipe for tomato soup with basil.",
            "metadata": {"kind": "food"},
        },
    ]
    r = pg_client.post("/collections/api/documents", json={"documents": docs})
    assert r.status_code == 200, r.text
    r = pg_client.post("/collections/api/search", json={"query": "kitten", "k": 1})
    assert r.json()["results"][0]["id"] == "cat", r.text
    r = pg_client.post(
        "/collections/api/search",
        json={"query": "tomato", "k": 2, "mode": "hybrid", "filter": {"kind": "food"}},
    )
    assert [h["id"] for h in r.json()["results"]] == ["soup"], r.text
    assert pg_client.get("/collections/api/documents/soup").json()["metadata"] == {"kind": "food"}
    info = pg_client.get("/collections/api").json()
    assert (info["documents"], info["chunks"]) == (2, 2)


def test_a_snapshot_points_to_the_database_backups(pg_client: TestClient) -> None:
    pg_client.post("/collections", json={"name": "snap"})
    r = pg_client.post("/collections/snap/snapshot")
    assert r.status_code == 409
    assert r.json()["error"]["code"] == "conflict"
    assert "pg_dump" in r.json()["error"]["message"]


def test_options_of_the_embedded_backend_get_a_400_naming_them(pg_client: TestClient) -> None:
    r = pg_client.post("/collections", json={"name": "bad", "index": "IVF16,Flat"})
    assert r.status_code == 400 and "embedded backend only" in r.json()["error"]["message"]
    r = pg_client.post(
        "/collections", json={"name": "bad", "index": "hnsw", "index_options": {"m": 0}}
    )
    assert r.status_code == 400 and "index_options.m" in r.json()["error"]["message"]
    assert pg_client.get("/collections/bad").status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"documents": [{"text": "ok"}, {"text": "a\u0000b"}]}, "documents.1.text"),
        ({"documents": [{"id": "x\u0000", "text": "ok"}]}, "documents.0.id"),
        (
            {"documents": [{"text": "ok", "metadata": {"k": ["v", "\u0000"]}}]},
            "documents.0.metadata.k.1",
        ),
        ({"documents": [{"text": "ok"}], "replace_source": "f\u0000"}, "replace_source"),
    ],
)
def test_the_nul_character_gets_a_400_naming_where_it_is(
    pg_client: TestClient, body: dict[str, object], field: str
) -> None:
    pg_client.post("/collections/nul/documents", json={"documents": [{"id": "kept", "text": "ok"}]})
    r = pg_client.post("/collections/nul/documents", json=body)
    assert r.status_code == 400, r.text
    message = r.json()["error"]["message"]
    assert message.startswith(f"{field}: ") and "NUL" in message and "PostgreSQL" in message
    r = pg_client.post("/collections/nul/search", json={"query": "ok", "filter": {"k": "\u0000"}})
    assert r.status_code == 400 and r.json()["error"]["message"].startswith("filter.k: ")
    r = pg_client.patch("/collections/nul/documents/kept", json={"metadata": {"k": "\u0000"}})
    assert r.status_code == 400 and r.json()["error"]["message"].startswith("metadata.k: ")
    assert pg_client.get("/collections/nul").json()["documents"] == 1


def test_an_unreachable_database_answers_503_and_ready_says_why(
    tmp_path: Path, encoder: Encoder
) -> None:
    nowhere = f"postgresql://postgres@/postgres?host={tmp_path}"  # no server on that socket
    settings = Settings(
        data_dir=tmp_path / "data", database_url=SecretStr(nowhere), database_timeout_s=1
    )
    app = create_app(settings, encoder)
    with TestClient(app) as client:
        services = app.state.services
        for _ in range(100):  # bounded: the first connection attempt fails within 1 s
            if services.not_ready_reason:
                break
            time.sleep(0.1)
        r = client.get("/ready")
        assert r.status_code == 503
        assert "database" in r.json()["error"]["message"]
        r = client.get("/collections")
        assert r.status_code == 503, r.text
        assert r.json()["error"]["code"] == "database_unavailable"


def test_a_database_down_is_not_an_encoder_failure(tmp_path: Path, encoder: Encoder) -> None:
    nowhere = f"postgresql://postgres@/postgres?host={tmp_path}"
    settings = Settings(
        data_dir=tmp_path / "data", database_url=SecretStr(nowhere), database_timeout_s=1
    )
    app = create_app(settings, encoder)
    with TestClient(app) as client:
        services = app.state.services
        for _ in range(100):
            if services.not_ready_reason:
                break
            time.sleep(0.1)
        assert "database" in (services.not_ready_reason or "")
        assert services.load_error is None
        families = text_string_to_metric_families(client.get("/metrics").text)
        states = {
            (sample.labels["model"], sample.labels["state"]): sample.value
            for family in families
            if family.name == "semsearch_model_state"
            for sample in family.samples
        }
        assert states[(settings.encoder, "failed")] == 0
        assert states[(settings.encoder, "loading")] == 1
