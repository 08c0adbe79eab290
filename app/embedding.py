"""Embeddings at the three levels an encoder serves: a vector per token, per text (its
window), or per document (every chunk of it, pooled)."""

from dataclasses import dataclass
from typing import Literal, get_args

import numpy as np

from app.config import Settings
from app.errors import BadInput
from app.models.encoder import Encoder, TokenEmbeddings
from app.store.encoding import chunk_limits
from app.text.chunking import chunk_by_tokens

Level = Literal["sentence", "document", "token"]
LEVELS: tuple[str, ...] = get_args(Level)


@dataclass(frozen=True)
class TextEmbeddings:
    """One unit vector per text; `truncated`: the texts longer than the window (sentence
    level); `chunks`: how many chunks each text was pooled from (document level)."""

    vectors: np.ndarray
    truncated: list[int] | None = None
    chunks: list[int] | None = None


def embed_sentences(encoder: Encoder, texts: list[str]) -> TextEmbeddings:
    """The encoder's vector of each text; a text longer than the window is read to its end
    of window only, and reported."""
    return TextEmbeddings(encoder.encode(texts), truncated=encoder.truncated(texts))


def embed_documents(encoder: Encoder, texts: list[str], settings: Settings) -> TextEmbeddings:
    """Each text cut into the overlapping chunks ingest makes, the chunks' vectors averaged
    and normalised: the whole text counts, however long. A text that fits the window is one
    chunk, and its vector is the sentence one."""
    size, overlap = chunk_limits(encoder, settings.chunk_tokens, settings.chunk_overlap)
    offsets = encoder.token_offsets(texts)
    chunked = [
        chunk_by_tokens(text, spans, size, overlap)
        for text, spans in zip(texts, offsets, strict=True)
    ]
    vectors = encoder.encode([c.text for chunks in chunked for c in chunks])
    pooled = np.empty((len(texts), vectors.shape[1]), dtype=np.float32)
    at = 0
    for i, chunks in enumerate(chunked):
        mean = vectors[at : at + len(chunks)].mean(axis=0)
        pooled[i] = mean / max(float(np.linalg.norm(mean)), 1e-12)
        at += len(chunks)
    return TextEmbeddings(pooled, chunks=[len(chunks) for chunks in chunked])


def check_token_budget(encoder: Encoder, texts: list[str], settings: Settings) -> int:
    """The tokens a token-level reply would hold, or BadInput past max_embed_tokens."""
    counts = encoder.window_tokens(texts)
    total = sum(counts)
    if total > settings.max_embed_tokens:
        raise BadInput(
            f"texts: level 'token' would return {total} tokens (special tokens included, at "
            f"most {encoder.max_seq_length} per text), over the limit of "
            f"{settings.max_embed_tokens} (max_embed_tokens, SEMSEARCH_MAX_EMBED_TOKENS)"
        )
    return total


def embed_tokens(encoder: Encoder, texts: list[str], settings: Settings) -> list[TokenEmbeddings]:
    """Each text's token embeddings before pooling, within the request's token budget."""
    check_token_budget(encoder, texts, settings)
    return encoder.encode_tokens(texts)
