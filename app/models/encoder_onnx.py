"""The encoder's ONNX Runtime backends: the sentence-transformers model exported once to ONNX
(optionally with its weights quantized to int8), cached on disk, run by onnxruntime.

The export traces the whole sentence-transformers pipeline (transformer, pooling, any dense or
normalize module) with torch.onnx's exporter, so the ONNX graph turns token ids into the same
sentence embedding the torch model gives. Tokenizing stays with the model's own tokenizer.

Each variant lives in its own folder under `<cache>/encoders/<model>-<key>/`: `onnx` (float32)
and `onnx-int8` (quantized from the float32 one). A folder is written under a temporary name
and renamed into place, so a folder that exists is complete, and later starts only load it.
"""

import contextlib
import hashlib
import importlib
import json
import logging
import re
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from app.models.folders import write_atomically

log = logging.getLogger(__name__)

ONNX_BACKENDS = ("onnx", "onnx-int8")
EXPORT_FORMAT = 1
"""Part of the cache key: raise it when the exported graph or the quantization changes."""
MODEL_FILE = "model.onnx"
EXPORT_INFO_FILE = "export.json"
OUTPUT_NAME = "sentence_embedding"
TRACE_TEXTS = ["A short sentence to trace the graph with.", "Another one."]
EXPORT_MIN_COSINE = 0.999
"""An export whose embeddings differ more than this from the torch model's is refused."""
KEEP_FLOAT_AFTER = ("Gelu", "FastGelu", "BiasGelu")
"""Matrix products fed by these activations stay float32 in int8 models: they carry the widest
activations, and quantizing them costs the most agreement with the float model."""
CHATTY_LOGGERS = ("torch.onnx", "onnxscript", "onnx_ir")


class _DropRootNotes(logging.Filter):
    """onnxruntime's quantizer reports every node, and general advice, on the root logger."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.ERROR


@contextlib.contextmanager
def _quiet_export() -> Iterator[None]:
    """Keep the exporter's and quantizer's step-by-step notes and warnings out of the log."""
    loggers = [logging.getLogger(name) for name in CHATTY_LOGGERS]
    levels = [logger.level for logger in loggers]
    root_filter = _DropRootNotes()
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    logging.getLogger().addFilter(root_filter)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logging.getLogger().removeFilter(root_filter)
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


class EncoderBackendUnavailable(RuntimeError):
    """An onnx backend was chosen but the packages of the `onnx` extra are not installed."""


def import_onnx_packages(backend: str, modules: tuple[str, ...]) -> None:
    """Import `modules`, or say which are missing, which setting needs them and how to get them."""
    missing = []
    for module in modules:
        try:
            importlib.import_module(module)
        except ImportError:
            missing.append(module)
    if missing:
        raise EncoderBackendUnavailable(
            f"SEMSEARCH_ENCODER_BACKEND={backend} needs the optional packages of the 'onnx' "
            f"extra (missing: {', '.join(missing)}); install them with "
            "pip install 'semsearch[onnx]', or set SEMSEARCH_ENCODER_BACKEND=torch"
        )


def _weights_stamp(source: str) -> str:
    """Size and modification time of a local model's weight files: a changed model re-exports."""
    folder = Path(source)
    if not folder.is_dir():
        return ""
    stamps = []
    for path in sorted(folder.glob("*")):
        if path.suffix in (".safetensors", ".bin") and path.is_file():
            stat = path.stat()
            stamps.append(f"{path.name}:{stat.st_size}:{stat.st_mtime_ns}")
    return ";".join(stamps)


def onnx_cache_path(cache_dir: Path, name: str, source: str, backend: str) -> Path:
    """The folder of one backend of one model: named by the model, keyed by where its weights
    come from (and their size and time, for a local folder) and by the export format."""
    if backend not in ONNX_BACKENDS:
        raise ValueError(f"not an onnx backend: {backend!r}")
    key = f"{EXPORT_FORMAT}\n{Path(source).resolve() if Path(source).exists() else source}\n"
    key += _weights_stamp(source)
    digest = hashlib.sha256(key.encode()).hexdigest()[:12]
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._")[-60:] or "model"
    return cache_dir / "encoders" / f"{slug}-{digest}" / backend


def model_features(model: Any, texts: list[str]) -> dict[str, Any]:
    """The model's own preprocessing (tokenizer, truncation, padding) of texts."""
    preprocess = getattr(model, "preprocess", None) or model.tokenize
    features: dict[str, Any] = preprocess(texts)
    return features


def _tensor_inputs(features: dict[str, Any]) -> list[str]:
    import torch

    order = ["input_ids", "attention_mask", "token_type_ids"]
    names = [n for n in order if isinstance(features.get(n), torch.Tensor)]
    if names[:2] != ["input_ids", "attention_mask"]:
        raise ValueError(
            f"the tokenizer gives {sorted(features)}, without input_ids or attention_mask"
        )
    return names


def _embedding_module(model: Any, extras: dict[str, Any]) -> Any:
    """The sentence-transformers pipeline as a module of tensors in, sentence embedding out."""
    import torch

    class SentenceEmbedding(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(
            self,
            input_ids: torch.Tensor,
            attention_mask: torch.Tensor,
            token_type_ids: torch.Tensor | None = None,
        ) -> torch.Tensor:
            features = {"input_ids": input_ids, "attention_mask": attention_mask, **extras}
            if token_type_ids is not None:
                features["token_type_ids"] = token_type_ids
            embedding: torch.Tensor = self.model(features)[OUTPUT_NAME]
            return embedding

    return SentenceEmbedding().eval()


def export_onnx(model: Any, target: Path) -> None:
    """Export a CPU sentence-transformers model to `target`/model.onnx (float32), checked
    against the torch model on a small sample before it is cached."""
    import torch

    features = model_features(model, TRACE_TEXTS)
    names = _tensor_inputs(features)
    extras = {k: v for k, v in features.items() if not isinstance(v, torch.Tensor)}
    module = _embedding_module(model, extras)
    inputs = tuple(features[n] for n in names)
    batch, sequence = torch.export.Dim("batch"), torch.export.Dim("sequence")
    dynamic = tuple({0: batch, 1: sequence} for _ in names)
    with torch.no_grad():
        expected = module(*inputs).numpy()

    def write(folder: Path) -> None:
        with _quiet_export():
            torch.onnx.export(
                module,
                inputs,
                str(folder / MODEL_FILE),
                input_names=names,
                output_names=[OUTPUT_NAME],
                dynamic_shapes=dynamic,
                dynamo=True,
                external_data=True,
                verbose=False,
            )
        session = load_session(folder)
        got = session.run({n: features[n].numpy() for n in names})
        agreement = float(_cosines(got, expected).min())
        if agreement < EXPORT_MIN_COSINE:
            raise RuntimeError(
                f"the ONNX export of {target} agrees with the torch model only to cosine "
                f"{agreement:.4f} (needs {EXPORT_MIN_COSINE})"
            )
        _write_info(folder, {"inputs": names, "quantized": False, "torch": torch.__version__})

    log.info("exporting the encoder to ONNX in %s", target)
    write_atomically(target, write, MODEL_FILE)


def quantize_onnx(source: Path, target: Path) -> None:
    """Quantize the float32 model in `source` to int8 weights (dynamic, per channel, 7-bit
    range so that CPUs without VNNI do not saturate) in `target`; matrix products fed by GELU
    stay float32."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    graph = onnx.load(str(source / MODEL_FILE), load_external_data=False).graph
    producer = {out: node.op_type for node in graph.node for out in node.output}
    keep_float = [
        node.name
        for node in graph.node
        if node.op_type == "MatMul" and producer.get(node.input[0]) in KEEP_FLOAT_AFTER
    ]
    info = json.loads((source / EXPORT_INFO_FILE).read_text())

    def write(folder: Path) -> None:
        with _quiet_export():
            quantize_dynamic(
                source / MODEL_FILE,
                folder / MODEL_FILE,
                weight_type=QuantType.QInt8,
                per_channel=True,
                reduce_range=True,
                nodes_to_exclude=keep_float,
            )
        _write_info(folder, {**info, "quantized": True, "kept_float": len(keep_float)})

    log.info("quantizing the ONNX encoder to int8 in %s", target)
    write_atomically(target, write, MODEL_FILE)


def _write_info(folder: Path, info: dict[str, Any]) -> None:
    info = {**info, "format": EXPORT_FORMAT}
    (folder / EXPORT_INFO_FILE).write_text(json.dumps(info, indent=2) + "\n")


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    return np.asarray((a * b).sum(axis=1))


class OnnxSession:
    """One onnxruntime session over a cached model folder: token ids in, embeddings out."""

    def __init__(self, session: Any) -> None:
        self._session = session
        self.input_names = [i.name for i in session.get_inputs()]

    def run(self, feed: dict[str, np.ndarray]) -> np.ndarray:
        feed = {n: np.asarray(feed[n], dtype=np.int64) for n in self.input_names}
        output: np.ndarray = self._session.run([OUTPUT_NAME], feed)[0]
        return output


def load_session(folder: Path, threads: int = 0) -> OnnxSession:
    """A CPU session; `threads` intra-op threads, 0 for onnxruntime's default (one per core)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3
    session = ort.InferenceSession(
        str(folder / MODEL_FILE), options, providers=["CPUExecutionProvider"]
    )
    return OnnxSession(session)


def prepare_onnx(model: Any, cache_dir: Path, name: str, source: str, backend: str) -> Path:
    """The cached folder of `backend` for this model, exported (and quantized) if missing."""
    import_onnx_packages(backend, ("onnxruntime",))
    fp32 = onnx_cache_path(cache_dir, name, source, "onnx")
    target = onnx_cache_path(cache_dir, name, source, backend)
    if (target / MODEL_FILE).is_file():
        return target
    if not (fp32 / MODEL_FILE).is_file():
        import_onnx_packages(backend, ("onnx", "onnxscript"))
        export_onnx(model, fp32)
    if backend == "onnx-int8":
        import_onnx_packages(backend, ("onnx",))
        quantize_onnx(fp32, target)
    return target
