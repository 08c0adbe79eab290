"""Which model serves which task; generation and translation models load lazily."""

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from app.config import Settings
from app.errors import ModelUnavailable
from app.models.limiter import ConcurrencyLimiter

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass
class LazyModel(Generic[T]):
    """One model: loaded on first use (once, under a lock); a failed load is remembered."""

    name: str
    task: str
    architecture: str
    loader: Callable[[], T]
    limiter: ConcurrencyLimiter | None = None
    instance: T | None = None
    error: str | None = None
    load_seconds: float | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def state(self) -> str:
        if self.instance is not None:
            return "loaded"
        if self.error is not None:
            return "failed"
        return "loading" if self._lock.locked() else "not_loaded"

    def get(self) -> T:
        if self.instance is not None:
            return self.instance
        with self._lock:
            if self.instance is None and self.error is None:
                started = time.perf_counter()
                try:
                    self.instance = self.loader()
                except Exception as exc:
                    log.exception("loading %s model %s failed", self.task, self.name)
                    self.error = f"{type(exc).__name__}: {exc}"
                else:
                    self.load_seconds = time.perf_counter() - started
                    log.info("loaded %s model %s in %.1fs", self.task, self.name, self.load_seconds)
        if self.instance is None:
            raise ModelUnavailable(
                f"the {self.task} model {self.name!r} failed to load: {self.error}"
            )
        return self.instance

    def describe(self) -> dict[str, Any]:
        info: dict[str, Any] = {
            "name": self.name,
            "task": self.task,
            "architecture": self.architecture,
            "loaded": self.instance is not None,
            "state": self.state,
        }
        if self.error:
            info["error"] = self.error
        instance: Any = self.instance
        if instance is not None:
            if getattr(instance, "parameters", None):
                info["parameters"] = int(instance.parameters)
            if hasattr(instance, "pairs"):
                info["languages"] = sorted({code for pair in instance.pairs() for code in pair})
            elif getattr(instance, "dimension", None):
                info["dimension"] = int(instance.dimension)
        return info


class ModelRegistry:
    """The generation and translation models of the service, each behind a limiter."""

    def __init__(self, settings: Settings) -> None:
        from app.models.decoder import Decoder, load_decoder
        from app.models.reranker import Reranker
        from app.models.seq2seq import Translator, load_translator

        s = settings
        self.generator: LazyModel[Decoder] = LazyModel(
            s.generator,
            "generation",
            "decoder",
            lambda: load_decoder(
                s.generator,
                s.model_cache_dir,
                s.encoder_device,
                s.decoder_backend,
                context_tokens=s.max_prompt_tokens + s.max_new_tokens,
                threads=s.decoder_threads,
            ),
            ConcurrencyLimiter("generation", s.generation_concurrency, s.generation_queue),
        )
        self.translator: LazyModel[Translator] = LazyModel(
            s.translator,
            "translation",
            "encoder-decoder",
            lambda: load_translator(s.translator, s.encoder_device),
            ConcurrencyLimiter("translation", s.translation_concurrency, s.translation_queue),
        )

        self.reranker: LazyModel[Reranker] | None = None
        if s.reranker:
            reranker_name = s.reranker
            self.reranker = LazyModel(
                reranker_name,
                "reranking",
                "encoder",
                lambda: Reranker(reranker_name, s.encoder_device),
            )

    def models(self) -> list[LazyModel[Any]]:
        return [m for m in (self.generator, self.translator, self.reranker) if m is not None]

    def preload(self) -> None:
        for model in self.models():
            with contextlib.suppress(ModelUnavailable):
                model.get()
