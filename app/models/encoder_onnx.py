"""The encoder's ONNX Runtime backends: the sentence-transformers model exported once to ONNX
(optionally with its weights quantized to int8), cached on disk, run by onnxruntime.

The export traces the whole sentence-transformers pipeline (transformer, pooling, any dense or
normalize module) with torch.onnx's exporter, so the ONNX graph turns token ids into the same
sentence embedding the torch model gives, and also gives the token embeddings before pooling.
Tokenizing stays with the model's own tokenizer.

Each variant lives in its own folder under `<cache>/encoders/<model>-<key>/`: `onnx` (float32)
and `onnx-int8` or, on a CPU with VNNI, `onnx-int8-vnni` (quantized from the float32 one). A
folder is written under a temporary name and renamed into place, so a folder that exists is
complete, and later starts only load it.

The `auto` backend (the default) runs the float32 export where it agrees with torch, and the
int8 one instead only where the CPU has VNNI and the quantized model agrees with torch to
INT8_MIN_COSINE on AGREEMENT_TEXTS and with itself across batches to BATCH_MIN_COSINE.
"""

import contextlib
import hashlib
import importlib
import json
import logging
import re
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from app.models.folders import write_atomically

log = logging.getLogger(__name__)

ONNX_BACKENDS = ("onnx", "onnx-int8")
EXPORT_FORMAT = 2
"""Part of the cache key: raise it when the exported graph or the quantization changes."""
MODEL_FILE = "model.onnx"
EXPORT_INFO_FILE = "export.json"
OUTPUT_NAME = "sentence_embedding"
TOKEN_OUTPUT_NAME = "token_embeddings"
TRACE_TEXTS = ["A short sentence to trace the graph with.", "Another one."]
EXPORT_MIN_COSINE = 0.999
"""An export whose embeddings differ more than this from the torch model's is refused."""
KEEP_FLOAT_AFTER = ("Gelu", "FastGelu", "BiasGelu")
"""Matrix products fed by these activations stay float32 in int8 models: they carry the widest
activations, and quantizing them costs the most agreement with the float model."""
CHATTY_LOGGERS = ("torch.onnx", "onnxscript", "onnx_ir")
INT8_MIN_COSINE = 0.99
"""The `auto` backend takes the int8 model only if every text of AGREEMENT_TEXTS agrees with
the torch model's embedding to at least this cosine."""
AGREEMENT_TEXTS = [
    "a kitten", "hello", "God", "Jesus wept.", "error XJ-4471", "python list sort",
    "how do I reset my password", "What is the capital of France?", "stock markets fell",
    "In the beginning God created the heaven and the earth.",
    "And the earth was without form, and void; and darkness was upon the face of the deep.",
    "The quarterly report shows revenue growth in every region except the north-east.",
    "Preheat the oven, then bake the bread for forty minutes until the crust is golden.",
]  # fmt: skip
BATCH_MIN_COSINE = 0.9999
"""...and gives each of them, encoded in one batch with the others, the vector it has alone to at
least this cosine, as float32 does: with request batching a query's company changes from call
to call, and its hits must not change with it."""
VNNI_FLAGS = ("avx512_vnni", "avx_vnni", "amx_int8")
"""CPU flags of int8 dot-product instructions: with one, int8 matrix products use the full
8-bit range without saturating, and run faster than float32."""
EXPORTING = "exporting the encoder to ONNX"
QUANTIZING = "quantizing the encoder to int8"
Progress = Callable[[str], None]
"""Told what a slow first start is doing (EXPORTING, QUANTIZING), and "" when it is done."""


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


def cpu_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> set[str]:
    """The CPU's feature flags as Linux lists them (empty where /proc/cpuinfo is missing)."""
    try:
        text = cpuinfo.read_text()
    except OSError:
        return set()
    for line in text.splitlines():
        if line.startswith("flags") and ":" in line:
            return set(line.split(":", 1)[1].split())
    return set()


def has_vnni(flags: set[str] | None = None) -> bool:
    """Whether the CPU has int8 dot-product instructions, read from its flags."""
    return bool(set(VNNI_FLAGS) & (cpu_flags() if flags is None else flags))


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
    come from (and their size and time, for a local folder) and by the export format. On a CPU
    with VNNI, int8 lives in `onnx-int8-vnni` (quantized over the full 8-bit range)."""
    if backend not in ONNX_BACKENDS:
        raise ValueError(f"not an onnx backend: {backend!r}")
    variant = "onnx-int8-vnni" if backend == "onnx-int8" and has_vnni() else backend
    key = f"{EXPORT_FORMAT}\n{Path(source).resolve() if Path(source).exists() else source}\n"
    key += _weights_stamp(source)
    digest = hashlib.sha256(key.encode()).hexdigest()[:12]
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._")[-60:] or "model"
    return cache_dir / "encoders" / f"{slug}-{digest}" / variant


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
    """The sentence-transformers pipeline as a module of tensors in, sentence embedding and
    token embeddings (before pooling) out."""
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
        ) -> tuple[torch.Tensor, torch.Tensor]:
            features = {"input_ids": input_ids, "attention_mask": attention_mask, **extras}
            if token_type_ids is not None:
                features["token_type_ids"] = token_type_ids
            output = self.model(features)
            return output[OUTPUT_NAME], output[TOKEN_OUTPUT_NAME]

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
        expected, expected_tokens = (t.numpy() for t in module(*inputs))
    mask = features["attention_mask"].numpy().astype(bool)

    def write(folder: Path) -> None:
        with _quiet_export():
            torch.onnx.export(
                module,
                inputs,
                str(folder / MODEL_FILE),
                input_names=names,
                output_names=[OUTPUT_NAME, TOKEN_OUTPUT_NAME],
                dynamic_shapes=dynamic,
                dynamo=True,
                external_data=True,
                verbose=False,
            )
        session = load_session(folder)
        feed = {n: features[n].numpy() for n in names}
        got, got_tokens = session.run(feed), session.run_tokens(feed)
        agreement = min(
            float(_cosines(got, expected).min()),
            float(_cosines(got_tokens[mask], expected_tokens[mask]).min()),
        )
        if agreement < EXPORT_MIN_COSINE:
            raise RuntimeError(
                f"the ONNX export of {target} agrees with the torch model only to cosine "
                f"{agreement:.4f} (needs {EXPORT_MIN_COSINE})"
            )
        _write_info(folder, {"inputs": names, "quantized": False, "torch": torch.__version__})

    log.info("exporting the encoder to ONNX in %s", target)
    write_atomically(target, write, MODEL_FILE)


def quantize_onnx(source: Path, target: Path, model: Any = None) -> None:
    """Quantize the float32 model in `source` to int8 weights (dynamic, per channel; 7-bit
    range on CPUs without VNNI, so that they do not saturate) in `target`; matrix products fed
    by GELU stay float32. With the torch `model`, export.json records the int8 model's
    agreement with it on AGREEMENT_TEXTS (the lowest cosine)."""
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
    vnni = has_vnni()

    def write(folder: Path) -> None:
        with _quiet_export():
            quantize_dynamic(
                source / MODEL_FILE,
                folder / MODEL_FILE,
                weight_type=QuantType.QInt8,
                per_channel=True,
                reduce_range=not vnni,
                nodes_to_exclude=keep_float,
            )
        found = {**info, "quantized": True, "kept_float": len(keep_float), "vnni": vnni}
        if model is not None:
            session = load_session(folder)
            found["agreement"] = round(agreement(model, session), 6)
            found["batch_agreement"] = round(batch_agreement(model, session), 6)
        _write_info(folder, found)

    log.info("quantizing the ONNX encoder to int8 in %s", target)
    write_atomically(target, write, MODEL_FILE)


def agreement(model: Any, session: "OnnxSession", texts: list[str] | None = None) -> float:
    """The lowest cosine between the torch model's and the session's embeddings of `texts`
    (AGREEMENT_TEXTS), each text run alone as a query is."""
    import torch

    found = []
    for text in texts or AGREEMENT_TEXTS:
        features = model_features(model, [text])
        with torch.no_grad():
            expected = model(features)[OUTPUT_NAME].numpy()
        got = session.run({n: features[n].numpy() for n in session.input_names})
        found.append(float(_cosines(got, expected).min()))
    return min(found)


def batch_agreement(model: Any, session: "OnnxSession", texts: list[str] | None = None) -> float:
    """The lowest cosine between a text's embedding alone and in one batch with `texts`."""
    texts = texts or AGREEMENT_TEXTS
    features = model_features(model, texts)
    together = session.run({n: features[n].numpy() for n in session.input_names})
    alone = []
    for text in texts:
        one = model_features(model, [text])
        alone.append(session.run({n: one[n].numpy() for n in session.input_names})[0])
    return float(_cosines(together, np.vstack(alone)).min())


def int8_agrees(info: dict[str, Any]) -> bool:
    """Whether an int8 folder's recorded checks let `auto` run it."""
    return (
        info.get("agreement", 0.0) >= INT8_MIN_COSINE
        and info.get("batch_agreement", 0.0) >= BATCH_MIN_COSINE
    )


def read_info(folder: Path) -> dict[str, Any]:
    """The export.json of a cached model folder."""
    info: dict[str, Any] = json.loads((folder / EXPORT_INFO_FILE).read_text())
    return info


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
        """Sentence embeddings, (texts, dimension)."""
        return self._output(OUTPUT_NAME, feed)

    def run_tokens(self, feed: dict[str, np.ndarray]) -> np.ndarray:
        """Token embeddings before pooling, (texts, tokens, dimension)."""
        return self._output(TOKEN_OUTPUT_NAME, feed)

    def _output(self, name: str, feed: dict[str, np.ndarray]) -> np.ndarray:
        feed = {n: np.asarray(feed[n], dtype=np.int64) for n in self.input_names}
        output: np.ndarray = self._session.run([name], feed)[0]
        return output


def load_session(folder: Path, threads: int = 0) -> OnnxSession:
    """A CPU session; `threads` intra-op threads, 0 for onnxruntime's default (one per core).
    Its idle threads sleep at once: by default they spin after every call, which on a machine
    with other work costs more (a lone query 20 ms after the last: 34 ms of CPU and 12 to 16 ms
    of wall time spinning, against 10 and 7 ms not)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.add_session_config_entry("session.inter_op.allow_spinning", "0")
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3
    session = ort.InferenceSession(
        str(folder / MODEL_FILE), options, providers=["CPUExecutionProvider"]
    )
    return OnnxSession(session)


def prepare_onnx(
    model: Any,
    cache_dir: Path,
    name: str,
    source: str,
    backend: str,
    progress: Progress | None = None,
) -> Path:
    """The cached folder of `backend` for this model, exported (and quantized) if missing."""
    import_onnx_packages(backend, ("onnxruntime",))
    fp32 = onnx_cache_path(cache_dir, name, source, "onnx")
    target = onnx_cache_path(cache_dir, name, source, backend)
    if (target / MODEL_FILE).is_file():
        return target
    tell = progress or (lambda stage: None)
    try:
        if not (fp32 / MODEL_FILE).is_file():
            import_onnx_packages(backend, ("onnx", "onnxscript"))
            tell(EXPORTING)
            started = time.perf_counter()
            export_onnx(model, fp32)
            log.info("exported the encoder to ONNX in %.1f s", time.perf_counter() - started)
        if backend == "onnx-int8":
            import_onnx_packages(backend, ("onnx",))
            tell(QUANTIZING)
            quantize_onnx(fp32, target, model)
    finally:
        tell("")
    return target


def cached_choice(cache_dir: Path, name: str, source: str, backend: str) -> tuple[str, Path] | None:
    """The backend and folder that `backend` (onnx, onnx-int8 or auto) runs, where the cache
    already holds it with its tokenizer, so the encoder loads without torch; None where a start
    must load the torch model first (to export, quantize, check or save the tokenizer)."""
    from app.models.encoder_tokenizer import ENCODER_INFO_FILE

    def ready(folder: Path) -> bool:
        return (folder / MODEL_FILE).is_file() and (folder / ENCODER_INFO_FILE).is_file()

    if backend != "auto":
        folder = onnx_cache_path(cache_dir, name, source, backend)
        return (backend, folder) if ready(folder) else None
    fp32 = onnx_cache_path(cache_dir, name, source, "onnx")
    if not has_vnni():
        return ("onnx", fp32) if ready(fp32) else None
    int8 = onnx_cache_path(cache_dir, name, source, "onnx-int8")
    if not (int8 / MODEL_FILE).is_file():
        return None
    info = read_info(int8)
    if "batch_agreement" not in info:
        return None
    if int8_agrees(info):
        return ("onnx-int8", int8) if ready(int8) else None
    return ("onnx", fp32) if ready(fp32) else None


def save_tokenizer_beside(model: Any, folder: Path) -> None:
    """Save the model's tokenizer into an ONNX folder (checked against the model's own inputs),
    so that later starts load the encoder without torch."""
    from app.models.encoder_tokenizer import ENCODER_INFO_FILE, save_tokenizer

    if (folder / ENCODER_INFO_FILE).is_file():
        return
    samples = [*AGREEMENT_TEXTS, *TRACE_TEXTS, "  spaced  out  ", "", "word " * 600]
    try:
        if not save_tokenizer(model, folder, samples):
            log.info("the encoder's tokenizer cannot run without transformers: kept with torch")
    except Exception:
        log.exception("could not save the encoder's tokenizer in %s", folder)


def choose_auto(
    model: Any, cache_dir: Path, name: str, source: str, progress: Progress | None = None
) -> tuple[str, Path]:
    """The backend `auto` runs and its cached folder: float32, or int8 where the CPU has VNNI and
    the int8 model passes int8_agrees. Raises where the model does not
    export, or its export disagrees with torch (the caller falls back to torch)."""
    fp32 = prepare_onnx(model, cache_dir, name, source, "onnx", progress)
    if not has_vnni():
        return "onnx", fp32
    int8 = prepare_onnx(model, cache_dir, name, source, "onnx-int8", progress)
    info = read_info(int8)
    if "batch_agreement" not in info:
        session = load_session(int8)
        info["agreement"] = agreement(model, session)
        info["batch_agreement"] = batch_agreement(model, session)
    if int8_agrees(info):
        return "onnx-int8", int8
    log.info(
        "the int8 encoder agrees with torch to cosine %.4f (needs %s) and with itself across "
        "batches to %.5f (needs %s): running float32",
        info["agreement"],
        INT8_MIN_COSINE,
        info["batch_agreement"],
        BATCH_MIN_COSINE,
    )
    return "onnx", fp32
