"""The reranker: a cross-encoder that scores (query, passage) pairs together."""

import logging

log = logging.getLogger(__name__)


class Reranker:
    """Wraps a sentence-transformers CrossEncoder (any hub id or local path)."""

    def __init__(self, name: str, device: str = "cpu") -> None:
        from sentence_transformers import CrossEncoder

        self.name = name
        self._model = CrossEncoder(name, device=device, num_labels=1)
        self.parameters = sum(p.numel() for p in self._model.model.parameters())

    def score(self, query: str, passages: list[str]) -> list[float]:
        """One relevance score per passage; higher is more relevant."""
        if not passages:
            return []
        scores = self._model.predict(
            [(query, p) for p in passages], batch_size=32, show_progress_bar=False
        )
        return [float(s) for s in scores]
