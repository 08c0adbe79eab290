"""GET /metrics: Prometheus text with requests per route template, collections, models."""

import re
from pathlib import Path

from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from app.config import Settings
from app.main import create_app
from app.metrics import ENCODER_BATCH_SIZE, ENCODER_QUEUE_DEPTH
from app.models.encoder import Encoder
from tests.conftest import make_client


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def value(text: str, name: str, **labels: str) -> float:
    return samples(text)[(name, frozenset(labels.items()))]


def test_metrics_after_a_few_requests(client: TestClient) -> None:
    docs = [{"id": "1", "text": "a cat on a mat"}, {"id": "2", "text": "a dog " * 150}]
    assert client.post("/collections/pets/documents", json={"documents": docs}).status_code == 200
    for q in ("cat", "dog", "bird"):
        assert client.post("/collections/pets/search", json={"query": q}).status_code == 200
    assert client.get("/collections/nothing").status_code == 404
    r = client.get("/metrics")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain")
    text = r.text

    search = {"route": "/collections/{name}/search", "method": "POST"}
    assert value(text, "semsearch_http_requests_total", **search, status="200") == 3
    assert value(text, "semsearch_http_request_duration_seconds_count", **search) == 3
    assert value(text, "semsearch_http_request_duration_seconds_bucket", **search, le="+Inf") == 3
    missing = {"route": "/collections/{name}", "method": "GET", "status": "404"}
    assert value(text, "semsearch_http_requests_total", **missing) == 1
    # Labels are route templates, never raw paths.
    assert "/collections/pets" not in text and "/collections/nothing" not in text

    assert value(text, "semsearch_collection_documents", collection="pets") == 2
    assert value(text, "semsearch_collection_chunks", collection="pets") > 2
    assert value(text, "semsearch_ready") == 1
    loaded = {"model": "all-MiniLM-L6-v2", "task": "embedding", "state": "loaded"}
    assert value(text, "semsearch_model_state", **loaded) == 1
    generator = {"model": "SmolLM2-135M-Instruct", "task": "generation", "state": "not_loaded"}
    assert value(text, "semsearch_model_state", **generator) == 1
    assert "semsearch_encoder_batch_size_bucket" in text
    assert "semsearch_encoder_queue_depth" in text
    assert "_created" not in text


def test_encoder_metrics_are_process_wide(client: TestClient) -> None:
    before = value(client.get("/metrics").text, "semsearch_encoder_batch_size_count")
    ENCODER_BATCH_SIZE.observe(7)
    ENCODER_QUEUE_DEPTH.set(3)
    text = client.get("/metrics").text
    assert value(text, "semsearch_encoder_batch_size_count") >= before + 1
    assert value(text, "semsearch_encoder_queue_depth") in (0, 3)  # the encoder may update it
    ENCODER_QUEUE_DEPTH.set(0)


def test_apps_in_one_process_count_their_own_requests(tmp_path: Path, encoder: Encoder) -> None:
    """Many apps in one process (as in these tests) register nothing twice."""
    first = create_app(Settings(data_dir=tmp_path / "one"), encoder)
    second = create_app(Settings(data_dir=tmp_path / "two"), encoder)
    with TestClient(first) as a, TestClient(second) as b:
        for _ in range(2):
            a.get("/health")
        b.get("/health")
        health = {"route": "/health", "method": "GET", "status": "200"}
        assert value(a.get("/metrics").text, "semsearch_http_requests_total", **health) == 2
        assert value(b.get("/metrics").text, "semsearch_http_requests_total", **health) == 1


def test_metrics_before_ready_and_without_a_key_name(tmp_path: Path, encoder: Encoder) -> None:
    app = create_app(Settings(data_dir=tmp_path / "data"), encoder)
    text = app.state.metrics.exposition().decode()  # not started: the encoder is not loaded
    assert value(text, "semsearch_ready") == 0
    assert not re.search(r"^semsearch_collection_documents\{", text, re.M)


def test_metrics_need_a_read_key_when_keys_are_set(tmp_path: Path, encoder: Encoder) -> None:
    key = "metrics-reader-0123456789"
    settings = Settings(data_dir=tmp_path / "data", api_keys=f"{key}:read")
    for c in make_client(settings, encoder):
        assert c.get("/metrics").status_code == 401
        r = c.get("/metrics", headers={"Authorization": f"Bearer {key}"})
        assert r.status_code == 200 and key not in r.text
