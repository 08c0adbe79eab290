"""The decoder on llama.cpp: a GGUF file run as it is quantized, token by token, on the CPU."""

import ctypes
import logging
import random
import threading
import time
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from app.models.decoder import (
    DEFAULT_GENERATOR,
    GenerationParams,
    GenerationResult,
    decode_steps,
    default_threads,
    first_result,
    generation_budget,
    gguf_cache_path,
    gguf_source,
    role_lines,
)
from app.models.folders import write_atomically

log = logging.getLogger(__name__)

F16_OUTPUT_FILE = "model.gguf"
RANDOM_SEED = 0xFFFFFFFF
"""llama.cpp's sampler seed that asks for a random one; a request's seed never maps to it."""


def gguf_metadata(gguf: Path, keys: list[str]) -> dict[str, str]:
    """Values of a GGUF file's header keys (those present), read by llama.cpp without weights.

    "{arch}" in a key stands for the file's architecture, as in "{arch}.context_length".
    """
    import llama_cpp

    params = llama_cpp.llama_model_default_params()
    params.vocab_only = True
    model = llama_cpp.llama_model_load_from_file(str(gguf).encode(), params)
    if not model:
        raise ValueError(f"llama.cpp cannot read {gguf}")
    buffer = ctypes.create_string_buffer(256)

    def value(key: str) -> str | None:
        if llama_cpp.llama_model_meta_val_str(model, key.encode(), buffer, 256) < 0:
            return None
        return buffer.value.decode("utf-8", "replace")

    try:
        arch = value("general.architecture") or ""
        found = {key: value(key.replace("{arch}", arch)) for key in keys}
        return {key: v for key, v in found.items() if v is not None}
    finally:
        llama_cpp.llama_model_free(model)


def f16_output_gguf(gguf: Path, cache_dir: Path) -> Path:
    """The GGUF file with its token embedding (the output layer too, when tied) in float16.

    Written once into cache_dir; every other tensor is copied as it is. llama.cpp multiplies
    a quantized matrix with activations quantized to 8 bits; on the output layer that moves
    logits enough to flip near ties (SmolLM2-135M starts its answer to "What is the capital
    of France?" with "L'Étoile" instead of "The capital of France is Paris."). In float16
    the logits agree with the float32 model's to 0.01.
    """
    cached = gguf_cache_path(cache_dir, gguf, "-llama-f16-output")
    if not (cached / F16_OUTPUT_FILE).is_file():
        import llama_cpp

        file_type = gguf_metadata(gguf, ["general.file_type"]).get("general.file_type", "")
        if not file_type.isdigit():
            return gguf

        def write(folder: Path) -> None:
            params = llama_cpp.llama_model_quantize_default_params()
            params.ftype = int(file_type)
            params.allow_requantize = True
            params.token_embedding_type = llama_cpp.GGML_TYPE_F16
            params.output_tensor_type = llama_cpp.GGML_TYPE_F16
            params.nthread = 1
            target = str(folder / F16_OUTPUT_FILE).encode()
            if llama_cpp.llama_model_quantize(str(gguf).encode(), target, params) != 0:
                raise RuntimeError(f"llama.cpp could not write {gguf.name} with a float16 output")

        log.info("writing %s with a float16 output layer into %s", gguf, cached)
        write_atomically(cached, write, F16_OUTPUT_FILE)
    return cached / F16_OUTPUT_FILE


def _sampler(params: GenerationParams) -> Any:
    """llama.cpp's sampler chain for params: greedy, or temperature, then top-p, then a draw."""
    import llama_cpp

    chain = llama_cpp.llama_sampler_chain_init(llama_cpp.llama_sampler_chain_default_params())
    if params.temperature == 0:
        llama_cpp.llama_sampler_chain_add(chain, llama_cpp.llama_sampler_init_greedy())
        return chain
    add = llama_cpp.llama_sampler_chain_add
    add(chain, llama_cpp.llama_sampler_init_temp(params.temperature))
    if params.top_p is not None and params.top_p < 1:
        add(chain, llama_cpp.llama_sampler_init_top_p(params.top_p, 1))
    seed = random.getrandbits(31) if params.seed is None else params.seed % RANDOM_SEED
    add(chain, llama_cpp.llama_sampler_init_dist(seed))
    return chain


def _reuse_prefix(llm: Any, prompt_ids: list[int]) -> int:
    """Keep the context's cached tokens that start the prompt (all but its last); drop the rest."""
    import llama_cpp

    limit = min(int(llm.n_tokens), len(prompt_ids) - 1)
    cached = llm.input_ids[:limit]
    differ = np.flatnonzero(cached != np.asarray(prompt_ids[:limit], dtype=cached.dtype))
    keep = int(differ[0]) if differ.size else limit
    memory = llama_cpp.llama_get_memory(llm.ctx)
    if not llama_cpp.llama_memory_seq_rm(memory, -1, keep, -1):
        llama_cpp.llama_memory_clear(memory, True)
        keep = 0
    llm.n_tokens = keep
    return keep


class LlamaDecoder:
    """A GGUF model on llama.cpp: chat prompts, token counts, generation whole or streamed.

    Each generation runs in a context of its own, taken from a pool that grows to the number
    of generations at once (the weights are mapped from the file once and shared). A context
    keeps the tokens of its last prompt, so a prompt that starts the same way (a chat's
    system prompt) evaluates only what differs.
    """

    backend = "llama"

    def __init__(
        self, name: str, cache_dir: Path, context_tokens: int = 0, threads: int = 0
    ) -> None:
        import llama_cpp

        started = time.perf_counter()
        quiet = logging.getLogger("llama-cpp-python")
        if quiet.level == logging.NOTSET:
            quiet.setLevel(logging.ERROR)  # llama.cpp's own log lines, as Llama(verbose=False)
        gguf = gguf_source(name)
        if gguf is None:
            raise ValueError(f"the llama backend runs GGUF files; {name!r} is not one")
        self.name = name
        self.path = f16_output_gguf(gguf, cache_dir) if name == DEFAULT_GENERATOR else gguf
        key = "{arch}.context_length"
        trained = int(gguf_metadata(self.path, [key]).get(key, "0") or 0)
        context = min(context_tokens, trained) if context_tokens and trained else 0
        self.max_context_tokens: int = context or context_tokens or trained
        self.threads = threads or default_threads()
        self._idle: list[Any] = []
        self._lock = threading.Lock()
        first = self._new_context()
        self._idle.append(first)
        self._vocab = llama_cpp.llama_model_get_vocab(first.model)
        self.parameters: int = int(llama_cpp.llama_model_n_params(first.model))
        if not self.max_context_tokens:
            self.max_context_tokens = int(first.n_ctx())
        self._eos = frozenset(
            t
            for t in range(llama_cpp.llama_vocab_n_tokens(self._vocab))
            if llama_cpp.llama_vocab_is_eog(self._vocab, t)
        )
        self._bos_text = self._piece(first.token_bos(), special=True).decode("utf-8", "replace")
        self._template: Any = None
        template = first.metadata.get("tokenizer.chat_template")
        if template:
            from llama_cpp.llama_chat_format import Jinja2ChatFormatter

            eos_text = self._piece(first.token_eos(), special=True).decode("utf-8", "replace")
            self._template = Jinja2ChatFormatter(template, eos_text, self._bos_text)
        self._pieces: dict[int, bytes] = {}
        log.info(
            "loaded generator %s (%s, %d threads) in %.1fs",
            name,
            self.path.name,
            self.threads,
            time.perf_counter() - started,
        )

    def _new_context(self) -> Any:
        from llama_cpp import Llama

        return Llama(
            str(self.path),
            n_ctx=self.max_context_tokens,
            n_threads=self.threads,
            n_threads_batch=self.threads,
            verbose=False,
        )

    def _acquire(self) -> Any:
        with self._lock:
            if self._idle:
                return self._idle.pop()
        return self._new_context()

    def _release(self, llm: Any) -> None:
        with self._lock:
            self._idle.append(llm)

    def _piece(self, token: int, special: bool = False) -> bytes:
        import llama_cpp

        size = 64
        while True:
            buffer = ctypes.create_string_buffer(size)
            n = llama_cpp.llama_token_to_piece(self._vocab, token, buffer, size, 0, special)
            if n >= 0:
                return buffer.raw[:n]
            size = -n

    def _detokenize(self, tokens: list[int]) -> str:
        """The text of generated tokens; special tokens are left out."""
        pieces = self._pieces
        for token in tokens:
            if token not in pieces:
                pieces[token] = self._piece(token)
        return b"".join(pieces[t] for t in tokens).decode("utf-8", "replace")

    def _encode(self, text: str) -> list[int]:
        """Token ids of text, special tokens parsed; BOS is added unless text starts with it."""
        import llama_cpp

        data = text.encode("utf-8")
        add_bos = not (self._bos_text and text.startswith(self._bos_text))
        size = len(data) + 2
        while True:
            ids = (llama_cpp.llama_token * size)()
            n = llama_cpp.llama_tokenize(self._vocab, data, len(data), ids, size, add_bos, True)
            if n >= 0:
                return list(ids[:n])
            size = -n

    def count_tokens(self, text: str) -> int:
        return len(self._encode(text))

    def chat_prompt(self, messages: list[dict[str, str]]) -> str:
        """The prompt for a chat, ending where the assistant's reply begins."""
        if self._template is None:
            return role_lines(messages)
        return str(self._template(messages=messages).prompt)

    def _steps(self, prompt_ids: list[int], params: GenerationParams) -> Generator[int, None, None]:
        """Each next token: the prompt evaluated first, then one token per request for one."""
        import llama_cpp

        llm = self._acquire()
        sampler = _sampler(params)
        try:
            keep = _reuse_prefix(llm, prompt_ids)
            llm.eval(prompt_ids[keep:])
            while True:
                token = int(llama_cpp.llama_sampler_sample(sampler, llm.ctx, -1))
                yield token
                llm.eval([token])
        except Exception:
            llama_cpp.llama_memory_clear(llama_cpp.llama_get_memory(llm.ctx), True)
            llm.n_tokens = 0
            raise
        finally:
            llama_cpp.llama_sampler_free(sampler)
            self._release(llm)

    def generate(
        self, prompt: str, params: GenerationParams, cancel: threading.Event | None = None
    ) -> GenerationResult:
        return first_result(self.stream(prompt, params, cancel))

    def stream(
        self, prompt: str, params: GenerationParams, cancel: threading.Event | None = None
    ) -> Iterator[str | GenerationResult]:
        """Text chunks as tokens are produced, then one GenerationResult.

        Stops at EOS, at a stop string (left out of the text), after max_new_tokens or at the
        end of the context window, or within a token once cancel is set.
        """
        prompt_ids = self._encode(prompt)
        budget = generation_budget(len(prompt_ids), params, self.max_context_tokens)
        steps = self._steps(prompt_ids, params)
        yield from decode_steps(
            steps, len(prompt_ids), budget, self._detokenize, self._eos, params, cancel
        )
