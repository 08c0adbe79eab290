"""The search pipeline: query translation, mode (dense, lexical or hybrid), filter, offset,
rerank and highlights. The search routes (GET, POST, batches of queries) and `ask` all call
`run_search`; it returns hits, and the callers shape the reply."""

import time
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from app.errors import BadInput
from app.highlights import Highlight, best_sentences
from app.limits import check_count, check_k, check_texts
from app.services import Services
from app.store.interface import CollectionStore, Hit
from app.store.ranking import DEFAULT_FUSION
from app.translation import translate_texts


@dataclass(frozen=True)
class SearchSpec:
    """What to search for: exactly one of query, queries and vector."""

    query: str | None = None
    queries: list[str] | None = None
    vector: list[float] | None = None
    k: int = 10
    filter: dict[str, Any] | None = None
    min_score: float | None = None
    query_language: str | None = None
    mode: str = "dense"
    offset: int = 0
    fusion: str = DEFAULT_FUSION
    alpha: float | None = None
    highlights: bool = False
    rerank: bool = False


@dataclass(frozen=True)
class Found:
    hit: Hit
    highlights: list[Highlight] | None = None


@dataclass(frozen=True)
class SearchResult:
    found: list[list[Found]]  # one ranked list per query
    searched: list[str] | None  # the queries as searched, when they were translated
    took_ms: float


def run_search(services: Services, name: str, spec: SearchSpec) -> SearchResult:
    """Search collection `name`; blocking (call it from a worker thread)."""
    started = time.perf_counter()
    settings = services.settings
    check_k(spec.k, settings)
    collection = services.catalog.get(name)
    searched: list[str] | None = None
    texts: list[str] | None = None
    vectors: np.ndarray | None = None
    if spec.vector is not None:
        vectors = query_vector(collection, spec.vector)
    else:
        texts = spec.queries if spec.queries is not None else [spec.query or ""]
        field = "queries" if spec.queries is not None else "query"
        check_count(field, len(texts), settings.max_queries)
        check_texts(field, texts, settings)
        language = collection.config.language
        if spec.query_language and spec.query_language != language:
            translator = services.registry.translator.get()
            texts = searched = translate_texts(
                translator, texts, spec.query_language, language, name
            )
        if spec.mode != "lexical" or spec.highlights:
            vectors = collection.embed_queries(texts)
    if spec.rerank:
        hits = reranked(services, collection, spec, vectors, texts)
    else:
        hits = collection.search(
            vectors, spec.k, spec.filter, spec.min_score, texts=texts, mode=spec.mode,
            offset=spec.offset, fusion=spec.fusion, alpha=spec.alpha,
        )  # fmt: skip
    if spec.highlights and vectors is not None:
        found = [
            [
                Found(h, marks)
                for h, marks in zip(ranked, highlight(services, v, ranked), strict=True)
            ]
            for v, ranked in zip(vectors, hits, strict=True)
        ]
    else:
        found = [[Found(h) for h in ranked] for ranked in hits]
    took = (time.perf_counter() - started) * 1000
    return SearchResult(found, searched, took)


def query_vector(collection: CollectionStore, vector: list[float]) -> np.ndarray:
    """A query vector of the collection's dimension, normalised."""
    vectors = np.asarray([vector], dtype=np.float32)
    collection.check_vectors(vectors)
    norm = float(np.linalg.norm(vectors))
    if not np.isfinite(norm) or norm == 0:
        raise BadInput("vector: must be finite and not all zeros")
    vectors /= norm
    return vectors


def highlight(services: Services, vector: np.ndarray, hits: list[Hit]) -> list[list[Highlight]]:
    """Each hit's sentences that best match the query."""
    chunks = [(h.chunk_text, h.chunk_start) for h in hits]
    return best_sentences(vector, chunks, services.encoder.encode, [h.text for h in hits])


def reranked(
    services: Services,
    collection: CollectionStore,
    spec: SearchSpec,
    vectors: np.ndarray | None,
    texts: list[str] | None,
) -> list[list[Hit]]:
    """The top candidates of the chosen mode, re-scored by the cross-encoder, then paged."""
    model = services.registry.reranker
    if model is None:
        raise BadInput("rerank: no reranker is configured (set SEMSEARCH_RERANKER)")
    if texts is None:
        raise BadInput("rerank: needs query text, not a vector")
    depth = max(spec.k + spec.offset, services.settings.rerank_depth)
    found = collection.search(
        vectors, depth, spec.filter, None, texts=texts, mode=spec.mode, fusion=spec.fusion,
        alpha=spec.alpha,
    )  # fmt: skip
    reranker = model.get()
    out = []
    for text, hits in zip(texts, found, strict=True):
        scores = reranker.score(text, [h.chunk_text for h in hits])
        ranked = sorted(
            (replace(h, score=s) for h, s in zip(hits, scores, strict=True)),
            key=lambda h: -h.score,
        )
        if spec.min_score is not None:
            ranked = [h for h in ranked if h.score >= spec.min_score]
        out.append(ranked[spec.offset : spec.offset + spec.k])
    return out
