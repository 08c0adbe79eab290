"""A 2D map of a collection's embeddings: a principal component analysis of a sample of its
chunks, and a query placed on the same plane."""

from dataclasses import dataclass
from typing import Any

import numpy as np

from app.store.interface import CollectionStore, Hit

MAX_MAP_POINTS = 5000
DEFAULT_MAP_POINTS = 1000
TEXT_CHARS = 300
"""A point carries the start of its chunk's text, enough to recognise it on hover."""


@dataclass(frozen=True)
class Projection:
    """A plane through the vectors' mean spanned by their two main directions."""

    mean: np.ndarray
    axes: np.ndarray  # (2, dimension), orthonormal rows
    explained: tuple[float, float]  # share of the variance along each axis

    def apply(self, vectors: np.ndarray) -> np.ndarray:
        """(n, dimension) vectors as (n, 2) coordinates on the plane."""
        result: np.ndarray = (np.asarray(vectors, dtype=np.float64) - self.mean) @ self.axes.T
        return result


def fit_projection(vectors: np.ndarray) -> Projection:
    """The two principal components of at least one vector. Each axis's sign is fixed (its
    largest component positive), so the same vectors always give the same picture."""
    data = np.asarray(vectors, dtype=np.float64)
    if data.ndim != 2 or len(data) == 0:
        raise ValueError("fit_projection needs a non-empty (n, dimension) array")
    mean = data.mean(axis=0)
    centered = data - mean
    _, singular, rows = np.linalg.svd(centered, full_matrices=False)
    axes = np.zeros((2, data.shape[1]))
    found = min(2, len(rows))
    axes[:found] = rows[:found]
    for axis in axes:
        if axis.any() and axis[np.argmax(np.abs(axis))] < 0:
            axis *= -1
    variance = singular**2
    total = float(variance.sum())
    shares = [float(v) / total if total > 0 else 0.0 for v in variance[:2]]
    shares += [0.0] * (2 - len(shares))
    return Projection(mean, axes, (shares[0], shares[1]))


@dataclass(frozen=True)
class MapPoint:
    hit: Hit
    x: float
    y: float
    value: Any


@dataclass(frozen=True)
class EmbeddingMap:
    points: list[MapPoint]
    query: tuple[float, float] | None
    fields: list[str]
    chunks: int
    explained: tuple[float, float]


def colour_value(metadata: dict[str, Any], field: str | None) -> Any:
    """The metadata value a point is coloured by; a list reads as its items joined."""
    if field is None:
        return None
    value = metadata.get(field)
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return value


def embedding_map(
    collection: CollectionStore, limit: int, colour: str | None, query: str | None
) -> EmbeddingMap:
    """Up to `limit` chunks spread over the collection on their principal plane, each with
    its `colour` metadata value, and where `query` falls on that plane."""
    hits, vectors = collection.sample_chunks(limit)
    query_vector = collection.embed_queries([query]) if query is not None else None
    fields = sorted({key for hit in hits for key in hit.metadata})
    chunks = collection.counts()["chunks"]
    if not hits:
        return EmbeddingMap([], None, fields, chunks, (0.0, 0.0))
    projection = fit_projection(vectors)
    xy = projection.apply(vectors)
    points = [
        MapPoint(hit, float(x), float(y), colour_value(hit.metadata, colour))
        for hit, (x, y) in zip(hits, xy, strict=True)
    ]
    placed = None
    if query_vector is not None:
        qx, qy = projection.apply(query_vector)[0]
        placed = (float(qx), float(qy))
    return EmbeddingMap(points, placed, fields, chunks, projection.explained)
