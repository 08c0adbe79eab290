"""The encoder's ONNX Runtime backends: exported once from the same weights into the model
cache, reused on later loads, and in agreement with the torch encoder's vectors at every level
(sentence, document, token)."""

import json
import subprocess
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
from app.models.encoder import Encoder, TokenEmbeddings, resolve_encoder_path
from app.models.encoder_onnx import (
    MODEL_FILE,
    EncoderBackendUnavailable,
    cpu_flags,
    has_vnni,
    onnx_cache_path,
    read_info,
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
    assert info["format"] == encoder_onnx.EXPORT_FORMAT
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


def test_several_threads_run_batches_at_once_with_the_same_vectors(
    onnx_encoder: Encoder, torch_vectors: tuple[np.ndarray, np.ndarray]
) -> None:
    verses, _ = torch_vectors
    try:
        onnx_encoder.use_threads(1)
        one = onnx_encoder.encode(VERSES, batch_size=2)
        onnx_encoder.use_threads(3)
        three = onnx_encoder.encode(VERSES, batch_size=2)
        onnx_encoder.use_threads(2)  # one batch per worker: cut smaller than batch_size
        two = onnx_encoder.encode(VERSES, batch_size=64)
    finally:
        onnx_encoder.use_threads(0)
    assert cosines(one, verses).min() >= 0.999
    assert cosines(three, one).min() >= 0.9999 and cosines(two, one).min() >= 0.9999


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


def token_cosines(a: list[TokenEmbeddings], b: list[TokenEmbeddings]) -> np.ndarray:
    """The cosine of each token's two vectors; the two sides must hold the same tokens."""
    found = []
    for x, y in zip(a, b, strict=True):
        assert (x.ids, x.offsets, x.special, x.truncated) == (
            y.ids,
            y.offsets,
            y.special,
            y.truncated,
        )
        norms = np.linalg.norm(x.vectors, axis=1) * np.linalg.norm(y.vectors, axis=1)
        found.append((x.vectors * y.vectors).sum(axis=1) / norms)
    return np.concatenate(found)


TOKEN_SAMPLE = [*VERSES[:20], *QUERIES, "word " * 300]


def test_token_embeddings_agree_with_torch(
    encoder: Encoder, onnx_encoder: Encoder, int8_encoder: Encoder
) -> None:
    expected = encoder.encode_tokens(TOKEN_SAMPLE)
    assert token_cosines(onnx_encoder.encode_tokens(TOKEN_SAMPLE), expected).min() >= 0.999
    on_int8 = token_cosines(int8_encoder.encode_tokens(TOKEN_SAMPLE), expected)
    assert on_int8.min() >= 0.95 and on_int8.mean() >= 0.99


@pytest.mark.parametrize("level", ["sentence", "document", "token"])
def test_every_embed_level_agrees_with_torch(
    level: str, tmp_path: Path, encoder: Encoder, onnx_encoder: Encoder
) -> None:
    texts = [" ".join(VERSES), *QUERIES[:4]]  # the first text spans several windows
    replies = []
    for backend in (encoder, onnx_encoder):
        settings = Settings(data_dir=tmp_path / backend.backend, max_embed_tokens=4096)
        for c in make_client(settings, backend):
            r = c.post("/embed", json={"texts": texts, "level": level})
            assert r.status_code == 200, r.text
            replies.append(r.json())
    torch_reply, onnx_reply = replies
    if level == "token":
        assert onnx_reply["truncated"] == torch_reply["truncated"] == [0]
        for a, b in zip(
            torch_reply["token_embeddings"], onnx_reply["token_embeddings"], strict=True
        ):
            assert a["tokens"] == b["tokens"]
            x, y = np.asarray(a["embeddings"]), np.asarray(b["embeddings"])
            norms = np.linalg.norm(x, axis=1) * np.linalg.norm(y, axis=1)
            assert ((x * y).sum(axis=1) / norms).min() >= 0.999
        return
    for key in ("truncated", "chunks"):
        assert onnx_reply.get(key) == torch_reply.get(key)
    x, y = np.asarray(torch_reply["embeddings"]), np.asarray(onnx_reply["embeddings"])
    assert cosines(x, y).min() >= 0.999


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


# -- auto: ONNX Runtime where it agrees, torch where it does not ----------------------------------
def test_auto_is_the_default_and_runs_onnx_runtime(cache_dir: Path) -> None:
    assert Settings().encoder_backend == "auto"
    chosen = Encoder(Settings().encoder, backend="auto", cache_dir=cache_dir)
    source = resolve_encoder_path(chosen.name)
    int8 = onnx_cache_path(cache_dir, chosen.name, source, "onnx-int8")
    if has_vnni() and encoder_onnx.int8_agrees(read_info(int8)):
        assert chosen.backend == "onnx-int8" and int8.name == "onnx-int8-vnni"
    else:
        assert chosen.backend == "onnx"
    q, near, far = chosen.encode(["a kitten", "a small cat", "interest rates rose"])
    assert float(q @ near) > float(q @ far) + 0.2


def test_a_later_start_loads_from_the_cache_without_torch(
    cache_dir: Path, encoder: Encoder, onnx_encoder: Encoder, int8_encoder: Encoder
) -> None:
    """The exported folder holds the tokenizer too, so a start with the cache in place imports
    neither torch nor sentence-transformers, and reads texts exactly as the torch model does."""
    Encoder(Settings().encoder, backend="auto", cache_dir=cache_dir)  # saves the tokenizer
    texts = [*QUERIES, *VERSES[:3], "  spaced  ", "word " * 400]
    heavy = ["torch", "sentence_transformers", "transformers"]
    script = (
        "import sys, json\n"
        "from pathlib import Path\n"
        "from app.models.encoder import Encoder\n"
        f"e = Encoder({encoder.name!r}, backend='auto', cache_dir=Path({str(cache_dir)!r}))\n"
        f"texts = {texts!r}\n"
        "print(json.dumps({'backend': e.backend, 'vectors': e.encode(texts).tolist(),\n"
        "  'tokens': [t.tokens for t in e.encode_tokens(texts)], 'n': e.count_tokens(texts),\n"
        "  'facts': [e.dimension, e.max_seq_length, e.parameters, e.special_tokens],\n"
        f"  'heavy': sorted(set({heavy!r}) & set(sys.modules))}}))"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found["heavy"] == [] and found["backend"] in ("onnx", "onnx-int8")
    assert found["tokens"] == [t.tokens for t in encoder.encode_tokens(texts)]
    assert found["n"] == encoder.count_tokens(texts)
    assert found["facts"] == [
        encoder.dimension,
        encoder.max_seq_length,
        encoder.parameters,
        encoder.special_tokens,
    ]
    expected = np.vstack([encoder.encode([t]) for t in texts])
    agree = 0.999 if found["backend"] == "onnx" else encoder_onnx.INT8_MIN_COSINE - 0.01
    assert cosines(np.asarray(found["vectors"]), expected).min() >= agree


def test_int8_records_its_agreement_with_torch_and_across_batches(
    cache_dir: Path, int8_encoder: Encoder
) -> None:
    folder = onnx_cache_path(
        cache_dir, int8_encoder.name, resolve_encoder_path(int8_encoder.name), "onnx-int8"
    )
    info = read_info(folder)
    assert info["quantized"] and info["vnni"] == has_vnni()
    assert 0.9 < info["agreement"] <= 1.0 and 0.9 < info["batch_agreement"] <= 1.0


def test_auto_takes_float32_where_int8_agrees_too_little_or_the_cpu_lacks_vnni(
    cache_dir: Path, int8_encoder: Encoder, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(encoder_onnx, "INT8_MIN_COSINE", 1.01)
    assert Encoder(Settings().encoder, backend="auto", cache_dir=cache_dir).backend == "onnx"
    monkeypatch.undo()
    monkeypatch.setattr(encoder_onnx, "cpu_flags", lambda: {"sse4_2", "avx2"})
    assert not has_vnni()
    assert Encoder(Settings().encoder, backend="auto", cache_dir=cache_dir).backend == "onnx"


def test_auto_falls_back_to_torch_where_the_export_disagrees(
    tmp_path: Path, encoder: Encoder, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(encoder_onnx, "EXPORT_MIN_COSINE", 1.01)  # no export can meet it
    chosen = Encoder(Settings().encoder, backend="auto", cache_dir=tmp_path)
    assert chosen.backend == "torch"
    assert not list(tmp_path.glob(f"encoders/*/*/{MODEL_FILE}"))
    assert np.allclose(chosen.encode(QUERIES[:3]), encoder.encode(QUERIES[:3]), atol=1e-6)


@pytest.mark.usefixtures("without_onnxruntime")
def test_auto_without_onnxruntime_runs_torch(tmp_path: Path) -> None:
    assert Encoder(Settings().encoder, backend="auto", cache_dir=tmp_path).backend == "torch"


def test_auto_on_a_gpu_device_means_torch() -> None:
    from app.models.encoder import check_backend

    check_backend("auto", "cuda")  # accepted: auto is torch there


def test_vnni_is_read_from_the_cpu_flags(tmp_path: Path) -> None:
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nflags\t\t: fpu sse4_2 avx2 avx512f avx512_vnni\n")
    assert {"avx2", "avx512_vnni"} <= cpu_flags(cpuinfo)
    assert has_vnni(cpu_flags(cpuinfo)) and has_vnni({"avx_vnni"})
    assert not has_vnni({"avx2", "avx512f"})
    assert cpu_flags(tmp_path / "missing") == set()


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
