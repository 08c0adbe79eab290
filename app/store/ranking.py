"""Search pieces every backend shares: the checks of a search's arguments, and the fusion of
a dense and a lexical ranking into one hybrid ranking."""

from collections.abc import Callable
from dataclasses import replace

import numpy as np

from app.errors import BadInput
from app.store.interface import SEARCH_MODES, Hit

FUSIONS = ("convex", "rrf")
DEFAULT_FUSION = "convex"
# The dense ranking's weight in a convex fusion, tuned on the eval sets (docs/performance.md).
DEFAULT_ALPHA = 0.7
HYBRID_DEPTH = 100  # documents each ranking contributes to a hybrid fusion, at least
RRF_K = 60  # the usual reciprocal rank fusion constant

Normaliser = Callable[[np.ndarray], np.ndarray]


def check_search_mode(
    mode: str,
    queries: np.ndarray | None,
    texts: list[str] | None,
    fusion: str = DEFAULT_FUSION,
    alpha: float | None = None,
) -> None:
    """Raise BadInput unless `mode` is known and has the query vectors or texts it needs, and
    the fusion and its weight are ones it takes."""
    if mode not in SEARCH_MODES:
        raise BadInput(f"mode: {mode!r} is not one of {', '.join(SEARCH_MODES)}")
    if mode != "dense" and texts is None:
        raise BadInput(f"mode: {mode} search needs query text, not a vector")
    if mode != "lexical" and queries is None:
        raise BadInput(f"mode: {mode} search needs query vectors")
    check_fusion(fusion, alpha)
    if alpha is not None and mode != "hybrid":
        raise BadInput(f"alpha: weighs the two rankings of a hybrid search, not a {mode} one")


def check_fusion(fusion: str, alpha: float | None) -> None:
    """Raise BadInput unless `fusion` is known and `alpha`, if given, is a weight it takes."""
    if fusion not in FUSIONS:
        raise BadInput(f"fusion: {fusion!r} is not one of {', '.join(FUSIONS)}")
    if alpha is None:
        return
    if fusion != "convex":
        raise BadInput(f"alpha: weighs the convex fusion only, not {fusion}")
    if not 0.0 <= alpha <= 1.0:
        raise BadInput(f"alpha: {alpha} is not between 0 and 1")


def hybrid_depth(wanted: int) -> int:
    """How many documents each ranking contributes when fusing for `wanted` results."""
    return max(wanted * 2, HYBRID_DEPTH)


def fuse(
    dense: list[Hit], lexical: list[Hit], fusion: str = DEFAULT_FUSION, alpha: float | None = None
) -> list[Hit]:
    """One ranking of a dense and a lexical ranking of the same query, best first."""
    check_fusion(fusion, alpha)
    if fusion == "rrf":
        return reciprocal_rank_fusion([dense, lexical])
    return convex_fusion(dense, lexical, DEFAULT_ALPHA if alpha is None else alpha)


DenseRanking = Callable[[int, int, float | None], list[Hit]]
"""(query number, how many, min_score) -> that query's dense ranking, best first."""
LexicalRanking = Callable[[int, int], list[Hit]]
"""(query number, how many) -> that query's lexical ranking, best first."""


def rank_queries(
    count: int,
    k: int,
    offset: int,
    min_score: float | None,
    mode: str,
    dense: DenseRanking,
    lexical: LexicalRanking,
    fusion: str = DEFAULT_FUSION,
    alpha: float | None = None,
) -> list[list[Hit]]:
    """The documents ranked offset+1 .. offset+k for each of `count` queries, in the chosen
    mode, from a backend's own dense and lexical rankings: what every backend's search does."""
    wanted = k + offset
    results: list[list[Hit]] = []
    for i in range(count):
        if mode == "lexical":
            hits = lexical(i, wanted)
        elif mode == "dense":
            hits = dense(i, wanted, min_score)
        else:
            depth = hybrid_depth(wanted)
            hits = fuse(dense(i, depth, None), lexical(i, depth), fusion, alpha)[:wanted]
        if min_score is not None:
            hits = [h for h in hits if h.score >= min_score]
        results.append(hits[offset:])
    return results


def reciprocal_rank_fusion(rankings: list[list[Hit]], constant: int = RRF_K) -> list[Hit]:
    """Fuse ranked hit lists: each document scores the sum of 1 / (constant + rank)."""
    scores: dict[str, float] = {}
    first: dict[str, Hit] = {}
    for ranking in rankings:
        for rank, hit in enumerate(ranking, start=1):
            scores[hit.id] = scores.get(hit.id, 0.0) + 1.0 / (constant + rank)
            first.setdefault(hit.id, hit)
    order = sorted(scores, key=lambda doc_id: -scores[doc_id])
    return [replace(first[doc_id], score=scores[doc_id]) for doc_id in order]


def over_best(scores: np.ndarray) -> np.ndarray:
    """Scores divided by the best of them, negatives as 0: a dense ranking's cosines on 0..1."""
    top = float(scores.max())
    return np.clip(scores, 0.0, None) / top if top > 1e-12 else np.ones_like(scores)


def over_runner_up(scores: np.ndarray) -> np.ndarray:
    """Scores divided by the second best, capped at 1: a lexical ranking's BM25 on 0..1.

    BM25 sums over the query's words, so a document that quotes a long query word for word
    scores far above the rest; dividing by that one outlier would flatten every other lexical
    score towards 0 and leave the order below it to the dense ranking alone."""
    second = float(np.partition(scores, -2)[-2]) if len(scores) > 1 else 0.0
    if second <= 1e-12:
        return over_best(scores)
    return np.minimum(np.clip(scores, 0.0, None) / second, 1.0)


def convex_fusion(
    dense: list[Hit],
    lexical: list[Hit],
    alpha: float,
    normalisers: tuple[Normaliser, Normaliser] = (over_best, over_runner_up),
) -> list[Hit]:
    """Fuse by a convex combination of normalised scores (Bruch et al., ACM TOIS 2023):
    alpha * dense + (1 - alpha) * lexical, each ranking's scores normalised by its normaliser
    (by default dense over its best score, lexical over its second best); a document missing
    from a ranking scores 0 in it. Ties keep the order of the ranking weighed more."""
    fused: dict[str, float] = {}
    first: dict[str, Hit] = {}
    weighted = [(alpha, dense, normalisers[0]), (1.0 - alpha, lexical, normalisers[1])]
    weighted.sort(key=lambda part: -part[0])  # stable: dense first at alpha 0.5
    for weight, ranking, normalise in weighted:
        if not ranking:
            continue
        normalised = normalise(np.array([h.score for h in ranking], dtype=np.float64))
        for hit, score in zip(ranking, normalised, strict=True):
            fused[hit.id] = fused.get(hit.id, 0.0) + weight * float(score)
            first.setdefault(hit.id, hit)
    order = sorted(fused, key=lambda doc_id: -fused[doc_id])
    return [replace(first[doc_id], score=fused[doc_id]) for doc_id in order]
