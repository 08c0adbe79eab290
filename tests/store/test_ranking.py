"""Hybrid fusion: the convex combination of normalised scores, reciprocal rank fusion, and the
checks of a search's fusion arguments."""

import numpy as np
import pytest

from app.errors import BadInput
from app.store.interface import Hit
from app.store.ranking import (
    DEFAULT_ALPHA,
    check_search_mode,
    convex_fusion,
    fuse,
    over_best,
    over_runner_up,
)


def hits(*pairs: tuple[str, float]) -> list[Hit]:
    return [Hit(doc_id, score, doc_id, {}, 0, doc_id) for doc_id, score in pairs]


DENSE = hits(("a", 0.9), ("b", 0.7), ("c", 0.5))
LEXICAL = hits(("c", 12.0), ("d", 6.0), ("a", 2.0))


def ranked(found: list[Hit]) -> list[tuple[str, float]]:
    return [(h.id, round(h.score, 6)) for h in found]


def test_convex_fusion_weighs_dense_over_its_best_and_lexical_over_its_runner_up() -> None:
    fused = convex_fusion(DENSE, LEXICAL, 0.5)
    # dense s / 0.9; lexical s / 6 (the second best) capped at 1; each weighed 0.5; d is
    # absent from dense (0)
    expected = {
        "a": 0.5 * 1.0 + 0.5 * 2 / 6,
        "c": 0.5 * 0.5 / 0.9 + 0.5 * 1.0,
        "b": 0.5 * 0.7 / 0.9,
        "d": 0.5 * 1.0,
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
    assert over_best(np.array([0.6, 0.3])).tolist() == pytest.approx([1.0, 0.5])
    assert over_best(np.array([0.6, 0.3, -0.2])).tolist() == pytest.approx([1.0, 0.5, 0.0])
    assert over_runner_up(np.array([8.0, 4.0, 2.0])).tolist() == [1.0, 1.0, 0.5]
    assert over_runner_up(np.array([8.0, 4.0, 2.0, 1.0])).tolist()[:3] == [1.0, 1.0, 0.5]
    assert over_best(np.array([0.0, 0.0])).tolist() == [1.0, 1.0]


def test_a_lexical_outlier_does_not_flatten_the_rest_of_its_ranking() -> None:
    """A document quoting a long query scores far above the rest in BM25; the documents below
    it keep their lexical differences instead of all sinking to about 0."""
    lexical = over_runner_up(np.array([100.0, 10.0, 5.0]))
    assert lexical.tolist() == [1.0, 1.0, 0.5]
    dense = hits(("quote", 0.9), ("far", 0.52), ("close", 0.5))
    words = hits(("quote", 100.0), ("close", 10.0), ("far", 5.0))
    ranked_ids = [h.id for h in convex_fusion(dense, words, DEFAULT_ALPHA)]
    assert ranked_ids == ["quote", "close", "far"]


def test_a_lone_lexical_match_keeps_its_lead() -> None:
    """With nothing else matching the query's words, the one match is still lexical's best."""
    assert over_runner_up(np.array([7.0])).tolist() == [1.0]
    assert over_runner_up(np.array([7.0, 0.0])).tolist() == [1.0, 0.0]
    dense = hits(("other", 0.6), ("match", 0.55))
    words = hits(("match", 7.0))
    assert [h.id for h in convex_fusion(dense, words, DEFAULT_ALPHA)][0] == "match"


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


def test_ties_keep_the_order_of_the_ranking_weighed_more() -> None:
    """The cap ties lexical's two best; at alpha 0 the lexical order still stands."""
    dense = hits(("d2", 0.9), ("d1", 0.8))
    words = hits(("d1", 9.0), ("d2", 3.0))
    assert [h.id for h in convex_fusion(dense, words, 0.0)] == ["d1", "d2"]
    assert [h.id for h in convex_fusion(dense, words, 1.0)] == ["d2", "d1"]
