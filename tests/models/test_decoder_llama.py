"""llama.cpp serves GGUF models by default: the tokenizer's template and counts, a context of the
service's size, concurrent and reused contexts, and a precise output layer written once."""

import itertools
from pathlib import Path
from typing import Any

import pytest
from transformers import AutoTokenizer

from app.config import Settings
from app.errors import ModelUnavailable
from app.models import decoder_llama
from app.models.decoder import (
    DEFAULT_GENERATOR,
    GenerationParams,
    GenerationResult,
    choose_backend,
    default_threads,
    packaged_gguf,
)
from app.models.decoder_llama import F16_OUTPUT_FILE, LlamaDecoder
from app.models.registry import ModelRegistry

PARIS = "The capital of France is Paris."
FRANCE = [{"role": "user", "content": "What is the capital of France?"}]
CHATS = [
    FRANCE,
    [{"role": "system", "content": "Be brief."}, *FRANCE],
    [
        {"role": "system", "content": "Answer in French."},
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Bonjour !"},
        {"role": "user", "content": "Où est la tour Eiffel ? \u00e9\u4e2d\U0001f600"},
    ],
]
TEXTS = [
    "Hello, world!",
    "  leading and trailing spaces  ",
    "tabs\tand\nnew lines\n\n\n    indented",
    "Unicode: caf\u00e9, na\u00efve, \u4e2d\u6587, \U0001f600",
    "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n",
    "x" * 300,
]


@pytest.fixture(scope="module")
def decoder() -> LlamaDecoder:
    return LlamaDecoder(DEFAULT_GENERATOR, Settings().model_cache_dir, context_tokens=2560)


@pytest.fixture(scope="module")
def tokenizer() -> Any:
    gguf = packaged_gguf()
    assert gguf is not None
    return AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)


def france_prompt(decoder: LlamaDecoder) -> str:
    return decoder.chat_prompt(FRANCE)


def test_gguf_models_on_the_cpu_run_on_llama_by_default(tmp_path: Path) -> None:
    gguf = tmp_path / "model.gguf"
    gguf.write_bytes(b"GGUF")
    assert choose_backend(DEFAULT_GENERATOR, "auto") == "llama"
    assert choose_backend(str(gguf), "auto") == "llama"
    assert choose_backend(DEFAULT_GENERATOR, "auto", device="cuda") == "transformers"
    assert choose_backend("HuggingFaceTB/SmolLM2-135M-Instruct", "auto") == "transformers"
    assert choose_backend(str(tmp_path), "auto") == "transformers"
    assert choose_backend(DEFAULT_GENERATOR, "transformers") == "transformers"


def test_the_backend_is_a_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings().decoder_backend == "auto"
    monkeypatch.setenv("SEMSEARCH_DECODER_BACKEND", "transformers")
    monkeypatch.setenv("SEMSEARCH_DECODER_THREADS", "2")
    settings = Settings()
    assert (settings.decoder_backend, settings.decoder_threads) == ("transformers", 2)
    monkeypatch.setenv("SEMSEARCH_DECODER_BACKEND", "onnx")
    with pytest.raises(ValueError, match="decoder_backend"):
        Settings()


def test_the_service_sizes_the_context_to_its_limits(tmp_path: Path) -> None:
    settings = Settings(max_prompt_tokens=1000, max_new_tokens=24)
    generator = ModelRegistry(settings).generator.get()
    assert isinstance(generator, LlamaDecoder)
    assert generator.max_context_tokens == 1024
    assert generator.threads == default_threads() >= 1
    assert generator.generate(generator.chat_prompt(FRANCE), GenerationParams(16)).text == PARIS


def test_the_context_never_exceeds_the_model_s(tmp_path: Path) -> None:
    big = LlamaDecoder(DEFAULT_GENERATOR, Settings().model_cache_dir, context_tokens=100_000)
    assert big.max_context_tokens == 8192


def test_llama_refuses_what_is_not_a_gguf_file(tmp_path: Path) -> None:
    settings = Settings(generator=str(tmp_path), decoder_backend="llama")
    with pytest.raises(ModelUnavailable, match="GGUF"):
        ModelRegistry(settings).generator.get()


def test_the_chat_template_is_the_tokenizer_s(decoder: LlamaDecoder, tokenizer: Any) -> None:
    for messages in CHATS:
        expected = tokenizer.apply_chat_template(
            messages, tokenize=False, add_generation_prompt=True
        )
        assert decoder.chat_prompt(messages) == expected


def test_token_counts_are_the_tokenizer_s(decoder: LlamaDecoder, tokenizer: Any) -> None:
    for text in [*TEXTS, *(decoder.chat_prompt(m) for m in CHATS)]:
        assert decoder.count_tokens(text) == len(tokenizer(text)["input_ids"]), text


def test_generated_text_decodes_as_the_tokenizer_does(
    decoder: LlamaDecoder, tokenizer: Any
) -> None:
    ids = tokenizer(TEXTS[3] + TEXTS[2])["input_ids"]
    assert decoder._detokenize(ids) == tokenizer.decode(ids, skip_special_tokens=True)


def test_a_long_answer_ends_at_the_context(tmp_path: Path) -> None:
    small = LlamaDecoder(DEFAULT_GENERATOR, Settings().model_cache_dir, context_tokens=48)
    prompt = small.chat_prompt([{"role": "user", "content": "Write a long story."}])
    tokens = small.count_tokens(prompt)
    result = small.generate(prompt, GenerationParams(max_new_tokens=100))
    assert (result.completion_tokens, result.finish_reason) == (48 - tokens, "length")


def test_interleaved_streams_write_what_each_writes_alone(decoder: LlamaDecoder) -> None:
    story = decoder.chat_prompt([{"role": "user", "content": "Tell me about the sea."}])
    france = france_prompt(decoder)
    params = GenerationParams(max_new_tokens=20)
    alone = [decoder.generate(story, params), decoder.generate(france, params)]
    streams = [decoder.stream(story, params), decoder.stream(france, params)]
    items: list[list[str | GenerationResult]] = [[], []]
    for pair in itertools.zip_longest(*streams):
        for i, item in enumerate(pair):
            if item is not None:
                items[i].append(item)
    assert [i[-1] for i in items] == alone
    assert ["".join(str(c) for c in i[:-1]) for i in items] == [r.text for r in alone]


def test_prompts_sharing_a_start_answer_as_they_do_fresh(decoder: LlamaDecoder) -> None:
    france = france_prompt(decoder)
    briefly = decoder.chat_prompt([{"role": "system", "content": "Be brief."}, *FRANCE])
    params = GenerationParams(max_new_tokens=24)
    first = [decoder.generate(p, params) for p in (france, briefly, france, france)]
    fresh = LlamaDecoder(DEFAULT_GENERATOR, Settings().model_cache_dir, context_tokens=2560)
    assert first[0] == first[2] == first[3] == fresh.generate(france, params)
    assert first[1] == fresh.generate(briefly, params)


def test_an_abandoned_stream_frees_its_context(decoder: LlamaDecoder) -> None:
    france = france_prompt(decoder)
    expected = decoder.generate(france, GenerationParams(16))
    idle = len(decoder._idle)
    stream = decoder.stream(france, GenerationParams(max_new_tokens=100))
    next(stream)
    assert len(decoder._idle) == idle - 1
    stream.close()
    assert len(decoder._idle) == idle
    assert decoder.generate(france, GenerationParams(16)) == expected


def test_a_gguf_path_runs_as_it_is(tmp_path: Path) -> None:
    gguf = packaged_gguf()
    assert gguf is not None
    by_path = LlamaDecoder(str(gguf), tmp_path)
    assert by_path.path == gguf and list(tmp_path.iterdir()) == []
    result = by_path.generate(by_path.chat_prompt(FRANCE), GenerationParams(max_new_tokens=4))
    assert result.completion_tokens == 4 and result.text


def test_the_precise_output_layer_is_written_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = LlamaDecoder(DEFAULT_GENERATOR, tmp_path)
    (folder,) = tmp_path.iterdir()
    assert first.path == folder / F16_OUTPUT_FILE and first.path.is_file()
    assert decoder_llama.gguf_metadata(first.path, ["general.file_type"]) == {
        "general.file_type": "3"  # the packaged file's Q4_1 layers, copied as they are
    }

    def no_conversion(*args: Any) -> int:
        raise AssertionError("converted again")

    import llama_cpp

    monkeypatch.setattr(llama_cpp, "llama_model_quantize", no_conversion)
    second = LlamaDecoder(DEFAULT_GENERATOR, tmp_path)
    assert second.generate(second.chat_prompt(FRANCE), GenerationParams(16)).text == PARIS


def test_a_failed_conversion_leaves_no_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import llama_cpp

    def half_written(source: bytes, target: bytes, params: Any) -> int:
        Path(target.decode()).write_bytes(b"GGUF")
        return 1

    monkeypatch.setattr(llama_cpp, "llama_model_quantize", half_written)
    with pytest.raises(RuntimeError, match="float16"):
        LlamaDecoder(DEFAULT_GENERATOR, tmp_path)
    assert list(tmp_path.iterdir()) == []
