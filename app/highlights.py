"""Highlights: the sentences of a hit's chunk that best match the query, with offsets."""

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from app.text.sentences import split_sentences


@dataclass(frozen=True)
class Highlight:
    text: str
    start: int  # character offsets into the document's text
    end: int
    score: float


def sentence_spans(text: str, offset: int = 0) -> list[tuple[int, int]]:
    """(start, end) of each non-blank sentence of text, shifted by offset."""
    spans = []
    at = offset
    for sentence, separator in split_sentences(text):
        if sentence.strip():
            lead = len(sentence) - len(sentence.lstrip())
            spans.append((at + lead, at + len(sentence.rstrip())))
        at += len(sentence) + len(separator)
    return spans


def best_sentences(
    query: np.ndarray,
    chunks: list[tuple[str, int]],
    encode: Callable[[list[str]], np.ndarray],
    document_texts: list[str],
    top: int = 2,
) -> list[list[Highlight]]:
    """For each (chunk text, chunk start) the `top` sentences closest to the query vector,
    in reading order; one encoder call embeds the sentences of every chunk."""
    spans = [sentence_spans(text, start) for text, start in chunks]
    flat = [
        doc[a:b] for doc, doc_spans in zip(document_texts, spans, strict=True) for a, b in doc_spans
    ]
    if not flat:
        return [[] for _ in chunks]
    scores = encode(flat) @ query
    out: list[list[Highlight]] = []
    at = 0
    for doc, doc_spans in zip(document_texts, spans, strict=True):
        mine = scores[at : at + len(doc_spans)]
        chosen = sorted(np.argsort(-mine)[:top].tolist())
        picked = []
        for i in chosen:
            start, end = doc_spans[i]
            picked.append(Highlight(doc[start:end], start, end, float(mine[i])))
        out.append(picked)
        at += len(doc_spans)
    return out
