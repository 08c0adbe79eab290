"""The decoder on transformers: a causal LM by hub id or folder, or a GGUF file dequantized."""

import logging
import threading
import time
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

import torch

from app.models.decoder import (
    DEFAULT_GENERATOR,
    DEFAULT_GENERATOR_HUB_ID,
    GenerationParams,
    GenerationResult,
    decode_steps,
    first_result,
    generation_budget,
    gguf_cache_path,
    gguf_source,
    role_lines,
)
from app.models.folders import write_atomically

log = logging.getLogger(__name__)

CONFIG_FILE = "config.json"
"""Present in a complete model folder, so in every cached conversion."""


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
    """Model and tokenizer; a GGUF file is dequantized once into the cache."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    source = name
    gguf = gguf_source(name)
    if gguf is None and name == DEFAULT_GENERATOR and not Path(name).exists():
        source = DEFAULT_GENERATOR_HUB_ID
    elif gguf is not None:
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


class TransformersDecoder:
    """One causal LM and its tokenizer: chat prompts, token counts, generation whole or streamed."""

    backend = "transformers"

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
        return role_lines(messages)

    def _steps(self, prompt_ids: list[int], params: GenerationParams) -> Generator[int, None, None]:
        """Each next token, one forward pass (extending the cache) per request for one.

        Inference mode is entered per step, never across a yield, so a stream may be consumed
        from changing threads and the caller's own tensors are left alone.
        """
        from transformers import DynamicCache

        generator: torch.Generator | None = None
        if params.temperature > 0:
            generator = torch.Generator(device=self.device)
            if params.seed is None:
                generator.seed()
            else:
                generator.manual_seed(params.seed)
        cache = DynamicCache(config=self._model.config)
        inputs = torch.tensor([prompt_ids], device=self.device)
        while True:
            with torch.inference_mode():
                out = self._model(input_ids=inputs, cache=cache, use_cache=True, logits_to_keep=1)
                token = _next_token(out.logits[0, -1], params, generator)
            yield token
            inputs = torch.tensor([[token]], device=self.device)

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

        def detokenize(tokens: list[int]) -> str:
            return str(self._tokenizer.decode(tokens, skip_special_tokens=True))

        steps = self._steps(prompt_ids, params)
        yield from decode_steps(
            steps, len(prompt_ids), budget, detokenize, self._eos, params, cancel
        )
