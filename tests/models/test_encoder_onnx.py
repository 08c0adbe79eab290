"""The encoder's ONNX Runtime backends: exported once from the same weights into the model
cache, reused on later loads, and in agreement with the torch encoder's vectors."""

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from app import cli
from app.config import Settings
from app.main import create_app
from app.models import encoder_onnx
from app.models.encoder import Encoder
from app.models.encoder_onnx import (
    MODEL_FILE,
    EncoderBackendUnavailable,
    onnx_cache_path,
)
from tests.conftest import make_client
from tests.helpers import ingest, kjv_verses, wait_for_load_outcome

VERSES = [v["text"] for v in kjv_verses(120)]
QUERIES = [
    "a kitten", "how do I reset my password", "error XJ-4471", "Jesus wept.", "hello",
    "stock markets fell", "What is the capital of France?", "python list sort", "God", "x",
]  # fmt: skip


@pytest.fixture(scope="module")
def cache_dir() -> Path:
    """The test model cache (kept between runs, so the export happens once per machine)."""
    pytest.importorskip("onnxruntime", reason="the onnx extra is not installed")
    return Settings().model_cache_dir


@pytest.fixture(scope="module")
def onnx_encoder(cache_dir: Path) -> Encoder:
    return Encoder(Settings().encoder, backend="onnx", cache_dir=cache_dir)


@pytest.fixture(scope="module")
def int8_encoder(cache_dir: Path, onnx_encoder: Encoder) -> Encoder:
    return Encoder(Settings().encoder, backend="onnx-int8", cache_dir=cache_dir)


@pytest.fixture(scope="module")
def torch_vectors(encoder: Encoder) -> tuple[np.ndarray, np.ndarray]:
    return encoder.encode(VERSES), np.vstack([encoder.encode([q]) for q in QUERIES])


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.asarray((a * b).sum(axis=1))


# -- export and cache --------------------------------------------------------------------------
def test_the_export_is_cached_by_model_and_backend(cache_dir: Path, onnx_encoder: Encoder) -> None:
    from app.models.encoder import resolve_encoder_path

    source = resolve_encoder_path(onnx_encoder.name)
    fp32 = onnx_cache_path(cache_dir, onnx_encoder.name, source, "onnx")
    int8 = onnx_cache_path(cache_dir, onnx_encoder.name, source, "onnx-int8")
    assert fp32 != int8 and fp32.parent == int8.parent
    assert fp32.is_relative_to(cache_dir) and (fp32 / MODEL_FILE).is_file()
    info = json.loads((fp32 / "export.json").read_text())
    assert info["inputs"][:2] == ["input_ids", "attention_mask"] and not info["quantized"]
    assert not [p for p in fp32.parent.iterdir() if p.name.endswith(".tmp")]


def test_a_later_load_reuses_the_cache_without_exporting(
    cache_dir: Path, onnx_encoder: Encoder, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_export(*args: object) -> None:
        raise AssertionError("exported again")

    monkeypatch.setattr(encoder_onnx, "export_onnx", no_export)
    monkeypatch.setattr(encoder_onnx, "quantize_onnx", no_export)
    again = Encoder(onnx_encoder.name, backend="onnx", cache_dir=cache_dir)
    assert np.allclose(again.encode(QUERIES[:3]), onnx_encoder.encode(QUERIES[:3]), atol=1e-6)


def test_the_cache_key_follows_the_weights_and_the_name(tmp_path: Path) -> None:
    model = tmp_path / "model"
    model.mkdir()
    (model / "model.safetensors").write_bytes(b"1234")
    first = onnx_cache_path(tmp_path, "m", str(model), "onnx")
    assert onnx_cache_path(tmp_path, "m", str(model), "onnx") == first
    assert onnx_cache_path(tmp_path, "other/m", str(model), "onnx") != first
    (model / "model.safetensors").write_bytes(b"123456")
    assert onnx_cache_path(tmp_path, "m", str(model), "onnx") != first
    with pytest.raises(ValueError, match="not an onnx backend"):
        onnx_cache_path(tmp_path, "m", str(model), "torch")


# -- agreement with torch ----------------------------------------------------------------------
def test_float32_onnx_agrees_with_torch(
    onnx_encoder: Encoder, torch_vectors: tuple[np.ndarray, np.ndarray]
) -> None:
    verses, queries = torch_vectors
    assert cosines(onnx_encoder.encode(VERSES), verses).min() >= 0.999
    single = np.vstack([onnx_encoder.encode([q]) for q in QUERIES])
    assert cosines(single, queries).min() >= 0.999


def test_int8_onnx_agrees_with_torch_to_099_on_verses(
    int8_encoder: Encoder, torch_vectors: tuple[np.ndarray, np.ndarray]
) -> None:
    verses, queries = torch_vectors
    on_verses = cosines(int8_encoder.encode(VERSES), verses)
    assert on_verses.min() >= 0.99 and on_verses.mean() >= 0.99
    # One- and two-word queries agree less (few tokens to average the rounding over).
    on_queries = cosines(np.vstack([int8_encoder.encode([q]) for q in QUERIES]), queries)
    assert on_queries.min() >= 0.97 and on_queries.mean() >= 0.98


@pytest.mark.parametrize("backend", ["onnx", "onnx-int8"])
def test_the_interface_is_the_torch_encoders(
    backend: str, encoder: Encoder, onnx_encoder: Encoder, int8_encoder: Encoder
) -> None:
    other = onnx_encoder if backend == "onnx" else int8_encoder
    assert other.backend == backend and encoder.backend == "torch"
    assert other.info == encoder.info and other.name == encoder.name
    assert (other.dimension, other.max_seq_length, other.parameters) == (
        encoder.dimension,
        encoder.max_seq_length,
        encoder.parameters,
    )
    assert other.token_offsets(["a cat sat"]) == encoder.token_offsets(["a cat sat"])
    assert other.count_tokens(VERSES[:5]) == encoder.count_tokens(VERSES[:5])
    assert other.encode([]).shape == (0, 384)
    vectors = other.encode(VERSES[:7], batch_size=3)
    assert vectors.shape == (7, 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    # int8 activations are scaled per batch, so a text's vector moves a little with its batch.
    assert cosines(vectors, other.encode(VERSES[:7])).min() >= (
        0.9999 if backend == "onnx" else 0.99
    )
    q, near, far = other.encode(["a kitten", "a small cat", "interest rates rose"])
    assert float(q @ near) > float(q @ far) + 0.2


def test_a_collection_built_with_torch_is_searched_with_onnx(
    tmp_path: Path, encoder: Encoder, int8_encoder: Encoder
) -> None:
    settings = Settings(data_dir=tmp_path / "data", snapshot_interval_s=3600)
    docs = [
        {"id": "cat", "text": "The cat sat on the mat."},
        {"id": "stocks", "text": "Stock markets fell sharply on Monday."},
        {"id": "soup", "text": "A recipe for tomato soup with basil."},
    ]
    for c in make_client(settings, encoder):
        ingest(c, "mixed", docs)
    for c in make_client(settings, int8_encoder):
        assert c.get("/collections/mixed").json()["status"] == "ready"
        r = c.post("/collections/mixed/search", json={"query": "a kitten resting", "k": 1})
        assert r.status_code == 200 and r.json()["results"][0]["id"] == "cat"
        r = c.post("/embed", json={"texts": ["a kitten"]})
        assert r.status_code == 200 and len(r.json()["embeddings"][0]) == 384


# -- bad settings ------------------------------------------------------------------------------
def test_an_unknown_backend_is_refused_naming_the_setting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with pytest.raises(ValidationError, match="encoder_backend"):
        Settings(encoder_backend="tensorrt")
    monkeypatch.setenv("SEMSEARCH_ENCODER_BACKEND", "onnx-fp8")
    with pytest.raises(ValidationError, match="encoder_backend"):
        Settings()
    with pytest.raises(ValueError, match="SEMSEARCH_ENCODER_BACKEND.*'tensorrt'"):
        Encoder("all-MiniLM-L6-v2", backend="tensorrt")


def test_onnx_on_a_gpu_device_is_refused() -> None:
    with pytest.raises(ValueError, match="SEMSEARCH_ENCODER_DEVICE=cpu"):
        Encoder("all-MiniLM-L6-v2", device="cuda", backend="onnx")


def test_serve_takes_the_backend_flag(capsys: pytest.CaptureFixture[str]) -> None:
    args = cli.build_parser().parse_args(["serve", "--encoder-backend", "onnx-int8"])
    assert args.encoder_backend == "onnx-int8"
    with pytest.raises(SystemExit) as exited:
        cli.build_parser().parse_args(["serve", "--encoder-backend", "gpu"])
    assert exited.value.code == 2 and "--encoder-backend" in capsys.readouterr().err


@pytest.fixture
def without_onnxruntime(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """As if the onnx extra were not installed: importing onnxruntime fails."""
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    yield


@pytest.mark.usefixtures("without_onnxruntime")
def test_without_the_extra_loading_says_what_to_install(tmp_path: Path) -> None:
    with pytest.raises(EncoderBackendUnavailable) as raised:
        Encoder("all-MiniLM-L6-v2", backend="onnx", cache_dir=tmp_path)
    message = str(raised.value)
    assert "SEMSEARCH_ENCODER_BACKEND=onnx" in message and "semsearch[onnx]" in message
    assert "onnxruntime" in message and not list(tmp_path.iterdir())


@pytest.mark.usefixtures("without_onnxruntime")
def test_without_the_extra_ready_reports_why(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", encoder_backend="onnx-int8")
    app = create_app(settings)
    with TestClient(app) as c:
        services = app.state.services
        wait_for_load_outcome(services)
        r = c.get("/ready")
        assert r.status_code == 503, r.text
        message = r.json()["error"]["message"]
        assert "SEMSEARCH_ENCODER_BACKEND=onnx-int8" in message and "semsearch[onnx]" in message
