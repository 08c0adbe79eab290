"""The default generator on both backends: it answers, streams, stops, samples and cancels."""

import itertools
import threading
from pathlib import Path
from typing import Any

import pytest
import torch

from app.config import Settings
from app.models import decoder_transformers
from app.models.decoder import (
    DEFAULT_GENERATOR,
    Decoder,
    GenerationParams,
    GenerationResult,
    load_decoder,
    ready_length,
)
from app.models.decoder_llama import LlamaDecoder
from app.models.decoder_transformers import TransformersDecoder

PARIS = "The capital of France is Paris."


@pytest.fixture(scope="module", params=["llama", "transformers"])
def decoder(request: pytest.FixtureRequest) -> Decoder:
    """Through the test model cache, so it converts once per machine, as the apps' does."""
    return load_decoder(DEFAULT_GENERATOR, Settings().model_cache_dir, backend=request.param)


@pytest.fixture(scope="module")
def france_prompt(decoder: Decoder) -> str:
    return decoder.chat_prompt([{"role": "user", "content": "What is the capital of France?"}])


@pytest.fixture(scope="module")
def story_prompt(decoder: Decoder) -> str:
    return decoder.chat_prompt(
        [{"role": "user", "content": "Write a long story about a dragon who bakes bread."}]
    )


@pytest.fixture(scope="module")
def france(decoder: Decoder, france_prompt: str) -> GenerationResult:
    return decoder.generate(france_prompt, GenerationParams(max_new_tokens=32))


def split_stream(items: list[str | GenerationResult]) -> tuple[list[str], GenerationResult]:
    *chunks, result = items
    assert all(isinstance(c, str) and c for c in chunks)
    assert isinstance(result, GenerationResult)
    return [str(c) for c in chunks], result


def test_greedy_chat_answers_the_capital_of_france(france: GenerationResult) -> None:
    assert france.text == PARIS
    assert france.finish_reason == "stop"


def test_usage_counts_agree_with_count_tokens(
    decoder: Decoder, france_prompt: str, france: GenerationResult
) -> None:
    assert france.prompt_tokens == decoder.count_tokens(france_prompt) > 0
    assert france.completion_tokens == decoder.count_tokens(france.text) + 1  # with the EOS token


def test_model_facts(decoder: Decoder) -> None:
    assert decoder.name == DEFAULT_GENERATOR
    assert decoder.backend in ("llama", "transformers")
    assert 130_000_000 < decoder.parameters < 140_000_000
    assert decoder.max_context_tokens == 8192


def test_max_new_tokens_ends_with_length(decoder: Decoder, story_prompt: str) -> None:
    result = decoder.generate(story_prompt, GenerationParams(max_new_tokens=5))
    assert result.finish_reason == "length"
    assert result.completion_tokens == 5
    assert result.text


def test_stop_string_cuts_the_text_before_it(decoder: Decoder, france_prompt: str) -> None:
    params = GenerationParams(max_new_tokens=32, stop=["never appears", "is Par"])
    chunks, result = split_stream(list(decoder.stream(france_prompt, params)))
    assert result.text == "".join(chunks) == "The capital of France "
    assert result.finish_reason == "stop"
    assert decoder.generate(france_prompt, params) == result


def test_the_earliest_stop_string_ends_the_text() -> None:
    stops = ["\n\n", "User:"]
    assert ready_length("Paris.\n\nUser: and", 0, stops) == (6, True)
    assert ready_length("Paris. User:\n\n", 0, stops) == (7, True)
    assert ready_length("Paris.", 0, stops) == (6, False)
    assert ready_length("Paris.", 0, []) == (6, False)


def test_what_may_start_a_stop_string_or_a_character_waits_for_the_next_token() -> None:
    assert ready_length("Paris.\n", 0, ["\n\n"]) == (6, False)
    assert ready_length("Paris. Us", 0, ["User:"]) == (7, False)
    assert ready_length("Paris \ufffd", 0, []) == (6, False)
    assert ready_length("Paris \ufffd", 7, []) == (7, False)
    assert ready_length("Us", 2, ["User:"]) == (2, False)


def test_stream_chunks_concatenate_to_the_generated_text(
    decoder: Decoder, story_prompt: str
) -> None:
    params = GenerationParams(max_new_tokens=12)
    chunks, result = split_stream(list(decoder.stream(story_prompt, params)))
    assert len(chunks) > 3
    assert "".join(chunks) == result.text
    assert decoder.generate(story_prompt, params) == result


def test_a_stream_may_be_pulled_from_changing_threads(decoder: Decoder, story_prompt: str) -> None:
    stream = decoder.stream(story_prompt, GenerationParams(max_new_tokens=6))
    items: list[str | GenerationResult] = []
    leaked: list[bool] = []

    def pull() -> None:
        items.extend(itertools.islice(stream, 1))
        leaked.append(torch.is_inference_mode_enabled())

    for _ in range(10):
        if items and isinstance(items[-1], GenerationResult):
            break
        worker = threading.Thread(target=pull)
        worker.start()
        worker.join()
    chunks, result = split_stream(items)
    assert "".join(chunks) == result.text and result.completion_tokens == 6
    assert not any(leaked)


def test_cancel_stops_a_stream_within_a_token(decoder: Decoder, story_prompt: str) -> None:
    cancel = threading.Event()
    items: list[str | GenerationResult] = []
    for item in decoder.stream(story_prompt, GenerationParams(max_new_tokens=500), cancel):
        items.append(item)
        cancel.set()
    chunks, result = split_stream(items)
    assert result.finish_reason == "cancelled"
    assert result.completion_tokens <= 3
    assert "".join(chunks) == result.text


def test_cancel_set_before_the_start_generates_nothing(
    decoder: Decoder, france_prompt: str
) -> None:
    cancel = threading.Event()
    cancel.set()
    result = decoder.generate(france_prompt, GenerationParams(), cancel)
    assert (result.text, result.completion_tokens, result.finish_reason) == ("", 0, "cancelled")


def test_same_seed_samples_the_same_text(decoder: Decoder, france_prompt: str) -> None:
    params = GenerationParams(max_new_tokens=8, temperature=0.9, top_p=0.95, seed=3)
    first = decoder.generate(france_prompt, params)
    assert first.text
    assert decoder.generate(france_prompt, params) == first


def test_other_seeds_sample_other_texts(decoder: Decoder, story_prompt: str) -> None:
    texts = {
        decoder.generate(story_prompt, GenerationParams(24, temperature=1.5, seed=seed)).text
        for seed in range(4)
    }
    assert len(texts) > 1


def test_greedy_ignores_the_seed(decoder: Decoder, france_prompt: str) -> None:
    results = {decoder.generate(france_prompt, GenerationParams(16, seed=s)) for s in (1, 2)}
    assert len(results) == 1


def test_chat_prompt_without_a_template_falls_back_to_role_lines(
    decoder: Decoder, monkeypatch: pytest.MonkeyPatch
) -> None:
    if isinstance(decoder, LlamaDecoder):
        monkeypatch.setattr(decoder, "_template", None)
    else:
        assert isinstance(decoder, TransformersDecoder)
        monkeypatch.setattr(decoder._tokenizer, "chat_template", None)
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]
    assert decoder.chat_prompt(messages) == "system: Be brief.\nuser: Hi\nassistant:"


@pytest.mark.parametrize(
    "kwargs", [{"max_new_tokens": -1}, {"temperature": -0.1}, {"top_p": 0.0}, {"top_p": 1.5}]
)
def test_bad_params_are_refused(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        GenerationParams(**kwargs)


def test_empty_prompt_is_refused(decoder: Decoder) -> None:
    with pytest.raises(ValueError, match="empty"):
        decoder.generate("", GenerationParams())


def test_a_prompt_over_the_context_is_refused(decoder: Decoder) -> None:
    with pytest.raises(ValueError, match="context"):
        decoder.generate("word " * (decoder.max_context_tokens + 10), GenerationParams())


def test_transformers_converts_the_gguf_once_into_the_cache(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path_factory.mktemp("models")
    first = TransformersDecoder(DEFAULT_GENERATOR, cache)
    (folder,) = cache.iterdir()
    assert (folder / "config.json").is_file() and (folder / "model.safetensors").is_file()

    def no_conversion(gguf: Path) -> Any:
        raise AssertionError("converted again")

    monkeypatch.setattr(decoder_transformers, "load_gguf", no_conversion)
    second = TransformersDecoder(DEFAULT_GENERATOR, cache)
    assert second.parameters == first.parameters
    france = second.chat_prompt([{"role": "user", "content": "What is the capital of France?"}])
    assert second.generate(france, GenerationParams(max_new_tokens=16)).text == PARIS
    by_path = load_decoder(str(folder), tmp_path_factory.mktemp("unused"))
    assert isinstance(by_path, TransformersDecoder)
    assert by_path.name == str(folder) and by_path.parameters == first.parameters


def test_a_crash_while_converting_leaves_no_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    class HalfWritten:
        def save_pretrained(self, path: Path) -> None:
            (Path(path) / "config.json").write_text("{}")
            raise OSError("disk full")

    monkeypatch.setattr(
        decoder_transformers, "load_gguf", lambda gguf: (HalfWritten(), HalfWritten())
    )
    with pytest.raises(OSError, match="disk full"):
        TransformersDecoder(DEFAULT_GENERATOR, tmp_path)
    assert list(tmp_path.iterdir()) == []
