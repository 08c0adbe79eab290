"""Token-aware chunking: overlapping windows that fit the encoder."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Chunk:
    index: int
    start: int
    end: int
    text: str


def chunk_by_tokens(
    text: str, offsets: list[tuple[int, int]], max_tokens: int, overlap: int
) -> list[Chunk]:
    """Split text into windows of at most max_tokens tokens, neighbours sharing `overlap` tokens.

    `offsets` are the character spans of the text's tokens, as the encoder's tokenizer gives them.
    A text that fits in one window is one chunk holding the whole text.
    """
    if max_tokens < 1:
        raise ValueError("max_tokens must be at least 1")
    overlap = max(0, min(overlap, max_tokens // 2))
    if len(offsets) <= max_tokens:
        return [Chunk(0, 0, len(text), text)]
    chunks: list[Chunk] = []
    step = max_tokens - overlap
    first = 0
    while True:
        last = min(first + max_tokens, len(offsets)) - 1
        start, end = offsets[first][0], offsets[last][1]
        chunks.append(Chunk(len(chunks), start, end, text[start:end]))
        if last == len(offsets) - 1:
            return chunks
        first += step
