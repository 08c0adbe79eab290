"""Search pieces every backend shares: the checks of a search's arguments, and the fusion of
a dense and a lexical ranking."""

from dataclasses import replace

import numpy as np

from app.errors import BadInput
from app.store.interface import SEARCH_MODES, Hit

HYBRID_DEPTH = 50  # documents each ranking contributes to a hybrid fusion
RRF_K = 60  # the usual reciprocal rank fusion constant


def check_search_mode(mode: str, queries: np.ndarray | None, texts: list[str] | None) -> None:
    """Raise BadInput unless `mode` is known and has the query vectors or texts it needs."""
    if mode not in SEARCH_MODES:
        raise BadInput(f"mode: {mode!r} is not one of {', '.join(SEARCH_MODES)}")
    if mode != "dense" and texts is None:
        raise BadInput(f"mode: {mode} search needs query text, not a vector")
    if mode != "lexical" and queries is None:
        raise BadInput(f"mode: {mode} search needs query vectors")


def hybrid_depth(wanted: int) -> int:
    """How many documents each ranking contributes when fusing for `wanted` results."""
    return max(wanted * 2, HYBRID_DEPTH)


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
