"""Hybrid fusion: the convex combination of normalised scores, reciprocal rank fusion, and the
checks of a search's fusion arguments."""

import numpy as np
import pytest

from app.errors import BadInput
from app.store.interface import Hit
from app.store.ranking import check_search_mode, convex_fusion, cosine_tmm, fuse, over_max


def hits(*pairs: tuple[str, float]) -> list[Hit]:
    return [Hit(doc_id, score, doc_id, {}, 0, doc_id) for doc_id, score in pairs]


DENSE = hits(("a", 0.9), ("b", 0.7), ("c", 0.5))
LEXICAL = hits(("c", 12.0), ("d", 6.0), ("a", 2.0))


def ranked(found: list[Hit]) -> list[tuple[str, float]]:
    return [(h.id, round(h.score, 6)) for h in found]


def test_convex_fusion_weighs_scores_normalised_from_their_theoretical_minimum() -> None:
    fused = convex_fusion(DENSE, LEXICAL, 0.5)
    # dense (s + 1) / 1.9, lexical s / 12, each weighed 0.5; d is absent from dense (0)
    expected = {
        "a": 0.5 * 1.0 + 0.5 * 2 / 12,
        "c": 0.5 * 1.5 / 1.9 + 0.5 * 1.0,
        "b": 0.5 * 1.7 / 1.9,
        "d": 0.5 * 0.5,
    }
    assert [h.id for h in fused] == sorted(expected, key=lambda i: -expected[i])
    assert {h.id: h.score for h in fused} == pytest.approx(expected)
    assert [h.id for h in convex_fusion(DENSE, LEXICAL, 1.0)][:3] == ["a", "b", "c"]
    assert [h.id for h in convex_fusion(DENSE, LEXICAL, 0.0)][:3] == ["c", "d", "a"]


def test_one_empty_ranking_leaves_the_other_in_its_order() -> None:
    assert [h.id for h in convex_fusion(DENSE, [], 0.7)] == ["a", "b", "c"]
    assert [h.id for h in convex_fusion([], LEXICAL, 0.7)] == ["c", "d", "a"]
    assert convex_fusion([], [], 0.5) == []


def test_normalised_scores_do_not_depend_on_the_ranking_depth() -> None:
    assert cosine_tmm(np.array([0.6, 0.2])).tolist() == pytest.approx([1.0, 0.75])
    assert cosine_tmm(np.array([0.6, 0.2, -0.2])).tolist()[:2] == pytest.approx([1.0, 0.75])
    assert over_max(np.array([8.0, 2.0])).tolist() == [1.0, 0.25]
    assert over_max(np.array([0.0, 0.0])).tolist() == [1.0, 1.0]


def test_rrf_stays_available() -> None:
    fused = fuse(DENSE, LEXICAL, "rrf")
    assert fused[0].id in {"a", "c"}
    assert fused[0].score == pytest.approx(1 / 61 + 1 / 63)


@pytest.mark.parametrize(
    ("mode", "fusion", "alpha", "word"),
    [
        ("hybrid", "max", None, "fusion"),
        ("hybrid", "convex", 1.5, "alpha"),
        ("hybrid", "convex", -0.5, "alpha"),
        ("hybrid", "rrf", 0.5, "alpha"),
        ("dense", "convex", 0.5, "alpha"),
    ],
)
def test_bad_fusion_arguments_name_the_field(
    mode: str, fusion: str, alpha: float | None, word: str
) -> None:
    vectors = np.zeros((1, 4), dtype=np.float32)
    with pytest.raises(BadInput, match=word):
        check_search_mode(mode, vectors, ["q"], fusion, alpha)
