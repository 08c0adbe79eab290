"""`/ready` on a first start: the encoder is exported to ONNX into an empty model cache, `/ready`
says so while it runs, and the service is then ready on ONNX Runtime with the export cached."""

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from app.main import create_app
from app.models import encoder_onnx
from app.models.encoder_onnx import MODEL_FILE


@pytest.fixture
def export_held(
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[tuple[threading.Event, threading.Event]]:
    """The real export, held at its start until the test lets it go: (started, go)."""
    pytest.importorskip("onnxruntime")
    started, go = threading.Event(), threading.Event()
    export = encoder_onnx.export_onnx

    def held(model: object, target: Path) -> None:
        started.set()
        go.wait(60)
        export(model, target)

    monkeypatch.setattr(encoder_onnx, "export_onnx", held)
    yield started, go
    go.set()


def test_ready_reports_the_export_of_a_first_start_then_serves_on_onnx(
    tmp_path: Path, export_held: tuple[threading.Event, threading.Event]
) -> None:
    started, go = export_held
    cache = tmp_path / "models"
    settings = Settings(data_dir=tmp_path / "data", model_cache_dir=cache)
    assert settings.encoder_backend == "auto"
    app = create_app(settings)
    with TestClient(app) as c:
        assert started.wait(120), "the first start did not export the encoder"
        r = c.get("/ready")
        assert r.status_code == 503 and r.headers["Retry-After"] == "1"
        assert "exporting the encoder to ONNX" in r.json()["error"]["message"]
        r = c.post("/collections", json={"name": "early"})
        assert r.status_code == 503, r.text
        assert "exporting the encoder to ONNX" in r.json()["error"]["message"]
        go.set()
        services = app.state.services
        assert services.wait_ready(300), services.load_error
        assert c.get("/ready").status_code == 200
        assert services.encoder.backend in ("onnx", "onnx-int8")
        assert list(cache.glob(f"encoders/*/onnx/{MODEL_FILE}"))
        r = c.post("/embed", json={"texts": ["a kitten"]})
        assert r.status_code == 200 and len(r.json()["embeddings"][0]) == 384
