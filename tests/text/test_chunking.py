"""Long texts become overlapping chunks that fit the encoder's window."""

import pytest

from app.models.encoder import Encoder
from app.text.chunking import chunk_by_tokens


def spans(words: list[str]) -> tuple[str, list[tuple[int, int]]]:
    text, out, at = "", [], 0
    for w in words:
        out.append((at, at + len(w)))
        text += w + " "
        at += len(w) + 1
    return text.rstrip(), out


def test_a_short_text_is_one_chunk_holding_the_whole_text() -> None:
    text, offsets = spans(["a", "b", "c"])
    chunks = chunk_by_tokens(text, offsets, max_tokens=10, overlap=2)
    assert [(c.index, c.start, c.end, c.text) for c in chunks] == [(0, 0, len(text), text)]


def test_windows_respect_the_size_and_share_the_overlap() -> None:
    words = [f"w{i}" for i in range(25)]
    text, offsets = spans(words)
    chunks = chunk_by_tokens(text, offsets, max_tokens=10, overlap=3)
    assert [c.text.split() for c in chunks] == [
        words[0:10],
        words[7:17],
        words[14:24],
        words[21:25],
    ]
    assert [c.index for c in chunks] == [0, 1, 2, 3]
    for c in chunks:
        assert text[c.start : c.end] == c.text


def test_overlap_is_capped_at_half_a_window() -> None:
    text, offsets = spans([f"w{i}" for i in range(30)])
    chunks = chunk_by_tokens(text, offsets, max_tokens=4, overlap=100)
    assert all(len(c.text.split()) <= 4 for c in chunks)
    assert chunks[-1].text.endswith("w29")


def test_a_window_of_zero_tokens_is_refused() -> None:
    with pytest.raises(ValueError):
        chunk_by_tokens("a", [(0, 1)], max_tokens=0, overlap=0)


def test_real_tokenizer_chunks_fit_the_encoder_window(encoder: Encoder) -> None:
    text = " ".join(f"Sentence number {i} talks about topic {i % 7}." for i in range(200))
    (offsets,) = encoder.token_offsets([text])
    chunks = chunk_by_tokens(text, offsets, max_tokens=encoder.max_seq_length - 2, overlap=32)
    assert len(chunks) > 1
    for count in encoder.count_tokens([c.text for c in chunks]):
        assert count <= encoder.max_seq_length - 2
    assert chunks[0].text.startswith("Sentence number 0")
    assert chunks[-1].text.endswith("topic 3.")
