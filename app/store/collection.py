"""One collection: ingest, search, get, page and delete over a DocStore and a VectorIndex."""

import logging
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from app.combining import Combiner
from app.errors import BadInput, Conflict
from app.ingest.chunking import chunk_by_tokens
from app.models.encoder import Encoder, EncoderInfo
from app.store.docstore import ChunkHit, ChunkRow, DocStore, DocumentRow, StoredDocument
from app.store.index_build import IndexBuilder
from app.store.index_spec import IndexSpec, spec_from_config
from app.store.vectors import DamagedSnapshot, VectorIndex

log = logging.getLogger(__name__)

SEARCH_MODES = ("dense", "lexical", "hybrid")
HYBRID_DEPTH = 50  # documents each ranking contributes to a hybrid fusion
RRF_K = 60  # the usual reciprocal rank fusion constant

DOCSTORE_FILE = "docstore.sqlite"
SNAPSHOT_FILE = "vectors.faiss"


@dataclass(frozen=True)
class NewDocument:
    text: str
    id: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Hit:
    id: str
    score: float
    text: str
    metadata: dict[str, Any]
    chunk_index: int
    chunk_text: str
    chunk_start: int = 0


class _Round(NamedTuple):
    """One query's ranked (chunk id, score) pairs and the stored chunks they name."""

    pairs: list[tuple[int, float]]
    found: dict[int, ChunkHit]


def _pairs(ids: np.ndarray, scores: np.ndarray) -> list[tuple[int, float]]:
    return [(int(i), float(s)) for i, s in zip(ids, scores, strict=True) if i >= 0]


@dataclass(frozen=True)
class CollectionConfig:
    """What a collection records at creation and checks on every open."""

    name: str
    model: str
    dimension: int
    normalized: bool
    index: str
    language: str = "en"
    index_options: dict[str, Any] = field(default_factory=dict)

    def to_meta(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "model": self.model,
            "dimension": self.dimension,
            "normalized": self.normalized,
            "index": self.index,
            "language": self.language,
            "index_options": self.index_options,
        }

    @classmethod
    def from_meta(cls, meta: dict[str, Any]) -> "CollectionConfig":
        return cls(
            meta["name"],
            meta["model"],
            int(meta["dimension"]),
            bool(meta["normalized"]),
            meta["index"],
            meta.get("language", "en"),
            meta.get("index_options") or {},
        )

    def index_spec(self) -> IndexSpec:
        """The checked index choice; a collection whose options cannot be read searches
        exactly rather than not opening."""
        try:
            return spec_from_config(self.index, self.index_options, self.dimension)
        except Exception as exc:
            log.warning(
                "collection %s: index %r unusable (%s); exact search", self.name, self.index, exc
            )
            return spec_from_config("flat", {}, self.dimension)


class Collection:
    """Documents of one collection. SQLite commits first; the FAISS index follows in memory
    and is snapshotted to disk from time to time, recovering from SQLite on open."""

    def __init__(
        self,
        folder: Path,
        config: CollectionConfig,
        encoder: Encoder,
        search_batching: bool = True,
    ) -> None:
        self.folder = folder
        self.config = config
        self.encoder = encoder
        self.docstore = DocStore(folder / DOCSTORE_FILE, config.dimension)
        self._write_lock = threading.Lock()
        self.index_spec = config.index_spec()
        self.vectors = self._open_vectors()
        self._snapshot_lock = threading.Lock()
        self.snapshot_seq = self.vectors.seq
        self._snapshot_swaps = self.vectors.swaps
        self.index_builder = IndexBuilder(
            config.name, self.docstore, self.vectors, self._write_lock
        )
        self.index_builder.maybe_start()
        # While every document is one chunk, the k best chunks are k documents: a search
        # fetches k, not twice as many to make up for chunks of the same document.
        self._one_chunk_each = not self.docstore.has_multi_chunk_documents()
        # Concurrent single unfiltered queries: one FAISS search and one SQLite read for all.
        self._first_rounds: Combiner[tuple[np.ndarray, int], _Round] | None = (
            Combiner(self._search_rounds) if search_batching else None
        )

    # -- lifecycle -----------------------------------------------------------------------------
    @classmethod
    def create(
        cls,
        folder: Path,
        config: CollectionConfig,
        encoder: Encoder,
        search_batching: bool = True,
    ) -> "Collection":
        folder.mkdir(parents=True, exist_ok=False)
        store = DocStore(folder / DOCSTORE_FILE, config.dimension)
        store.set_meta(config.to_meta())
        store.close()
        return cls(folder, config, encoder, search_batching)

    @classmethod
    def open(cls, folder: Path, encoder: Encoder, search_batching: bool = True) -> "Collection":
        store = DocStore(folder / DOCSTORE_FILE, 0)
        try:
            config = CollectionConfig.from_meta(store.get_meta())
        finally:
            store.close()
        return cls(folder, config, encoder, search_batching)

    def _open_vectors(self) -> VectorIndex:
        """Load the snapshot and bring it forward from SQLite; rebuild if missing or damaged.
        A rebuild is exact; an approximate index then follows in the background."""
        path = self.folder / SNAPSHOT_FILE
        dim, spec = self.config.dimension, self.index_spec
        vectors: VectorIndex | None = None
        if path.exists():
            try:
                vectors = VectorIndex.load(path, dim, spec)
            except (DamagedSnapshot, OSError) as exc:
                log.warning(
                    "collection %s: snapshot unusable (%s); rebuilding", self.config.name, exc
                )
        if vectors is None or vectors.seq > self.docstore.last_seq():
            vectors = VectorIndex(dim, spec, exact=self.docstore.last_seq() > 0)
        since = vectors.seq
        removed = self.docstore.tombstones_since(since)
        vectors.apply(since, np.zeros(0, np.int64), np.zeros((0, dim), np.float32), removed)
        for ids, batch in self.docstore.vectors_since(since):
            vectors.apply(since, ids, batch, np.zeros(0, np.int64))
        vectors.seq = self.docstore.last_seq()
        _, chunks = self.docstore.count()
        if vectors.ntotal != chunks:
            log.warning(
                "collection %s: index holds %d vectors for %d chunks; rebuilding",
                self.config.name,
                vectors.ntotal,
                chunks,
            )
            vectors = VectorIndex(dim, spec, exact=True)
            for ids, batch in self.docstore.vectors_since(0):
                vectors.apply(0, ids, batch, np.zeros(0, np.int64))
            vectors.seq = self.docstore.last_seq()
        return vectors

    def snapshot(self) -> bool:
        """Save the index if it changed since the last snapshot; True if it wrote one."""
        with self._snapshot_lock:
            unchanged = (self.vectors.seq, self.vectors.swaps) == (
                self.snapshot_seq,
                self._snapshot_swaps,
            )
            if unchanged and (self.folder / SNAPSHOT_FILE).exists():
                return False
            swaps = self.vectors.swaps
            seq = self.vectors.save(self.folder / SNAPSHOT_FILE)
            # A background index build still needs the tombstones written since it started.
            building_since = self.index_builder.keep_tombstones_after
            self.docstore.prune_tombstones(
                seq if building_since is None else min(seq, building_since)
            )
            self.snapshot_seq, self._snapshot_swaps = seq, swaps
            return True

    @contextmanager
    def snapshots_held(self) -> Iterator[None]:
        """Hold off index snapshots, and the tombstone pruning that follows them, meanwhile."""
        with self._snapshot_lock:
            yield

    def close(self) -> None:
        self.index_builder.close()
        self.docstore.close()

    # -- checks --------------------------------------------------------------------------------
    @property
    def encoder_mismatch(self) -> str | None:
        """Why this collection cannot be used with the loaded encoder, or None."""
        mine = EncoderInfo(self.config.model, self.config.dimension, self.config.normalized)
        if mine == self.encoder.info:
            return None
        return (
            f"collection {self.config.name!r} was built with encoder {mine.name!r} "
            f"(dimension {mine.dimension}); the service runs {self.encoder.name!r} "
            f"(dimension {self.encoder.dimension})"
        )

    def _require_encoder(self) -> None:
        reason = self.encoder_mismatch
        if reason:
            raise Conflict(reason)

    # -- writes --------------------------------------------------------------------------------
    def chunk_limits(self, chunk_tokens: int, overlap: int) -> tuple[int, int]:
        window = max(8, self.encoder.max_seq_length - 2)
        size = min(chunk_tokens, window) if chunk_tokens > 0 else window
        return size, min(overlap, size // 2)

    def upsert(
        self,
        documents: list[NewDocument],
        chunk_tokens: int = 0,
        overlap: int = 32,
    ) -> list[str]:
        """Chunk, embed and store documents; an existing id is replaced. Durable on return."""
        rows = self.prepare(documents, chunk_tokens, overlap)
        self.store(rows)
        return [r.id for r in rows]

    def prepare(
        self, documents: list[NewDocument], chunk_tokens: int = 0, overlap: int = 32
    ) -> list[DocumentRow]:
        """Chunk and embed documents (ids generated where missing), ready to store."""
        self._require_encoder()
        ids = [d.id or uuid.uuid4().hex for d in documents]
        size, overlap = self.chunk_limits(chunk_tokens, overlap)
        offsets = self.encoder.token_offsets([d.text for d in documents])
        chunked = [
            chunk_by_tokens(d.text, spans, size, overlap)
            for d, spans in zip(documents, offsets, strict=True)
        ]
        texts = [c.text for chunks in chunked for c in chunks]
        vectors = self.encoder.encode(texts)
        rows: list[DocumentRow] = []
        at = 0
        for doc_id, doc, chunks in zip(ids, documents, chunked, strict=True):
            chunk_rows = [
                ChunkRow(c.index, c.start, c.end, vectors[at + i]) for i, c in enumerate(chunks)
            ]
            rows.append(DocumentRow(doc_id, doc.text, doc.metadata, chunk_rows))
            at += len(chunks)
        return rows

    def store(self, rows: list[DocumentRow], delete_ids: list[str] | None = None) -> None:
        """Write prepared documents and `delete_ids` in one transaction. Durable on return."""
        kept = {r.id for r in rows}
        self._write(rows, [i for i in delete_ids or [] if i not in kept])

    def delete(self, doc_ids: list[str]) -> int:
        """Delete documents by id; returns how many existed."""
        return self._write([], doc_ids)

    def _write(self, rows: list[DocumentRow], deletes: list[str]) -> int:
        # One writer at a time per collection, so the index applies writes in sequence order.
        with self._write_lock:
            if any(len(row.chunks) > 1 for row in rows):
                self._one_chunk_each = False  # before any search can see them
            result, deleted = self.docstore.write(rows, deletes)
            self.vectors.apply(
                result.seq, result.added_ids, result.added_vectors, result.removed_ids
            )
        self.index_builder.maybe_start()
        return deleted

    # -- reads ---------------------------------------------------------------------------------
    def get(self, doc_id: str) -> StoredDocument | None:
        return self.docstore.get(doc_id)

    def page(self, limit: int, after: int) -> list[StoredDocument]:
        return self.docstore.page(limit, after)

    def ids_matching(self, filter_: dict[str, Any]) -> list[str]:
        """Ids of the documents whose metadata matches the filter."""
        return self.docstore.ids_matching(filter_)

    def counts(self) -> dict[str, int]:
        documents, chunks = self.docstore.count()
        return {"documents": documents, "chunks": chunks, "vectors": self.vectors.ntotal}

    def embed_queries(self, queries: list[str]) -> np.ndarray:
        self._require_encoder()
        return self.encoder.encode(queries)

    def check_vectors(self, vectors: np.ndarray, field_name: str = "vector") -> None:
        if vectors.ndim != 2 or vectors.shape[1] != self.config.dimension:
            got = vectors.shape[-1] if vectors.ndim else 0
            raise BadInput(
                f"{field_name}: has {got} dimensions; collection {self.config.name!r} "
                f"holds {self.config.dimension}-dimensional vectors"
            )

    def search(
        self,
        queries: np.ndarray | None,
        k: int,
        filter_: dict[str, Any] | None = None,
        min_score: float | None = None,
        *,
        texts: list[str] | None = None,
        mode: str = "dense",
        offset: int = 0,
    ) -> list[list[Hit]]:
        """The documents ranked offset+1 .. offset+k for each query, each with its best chunk.

        dense: cosine similarity of the query vectors; lexical: BM25 over the chunks (needs
        `texts`); hybrid: the two rankings fused by reciprocal rank.
        """
        if mode not in SEARCH_MODES:
            raise BadInput(f"mode: {mode!r} is not one of {', '.join(SEARCH_MODES)}")
        if mode != "dense" and texts is None:
            raise BadInput(f"mode: {mode} search needs query text, not a vector")
        if mode != "lexical":
            if queries is None:
                raise BadInput(f"mode: {mode} search needs query vectors")
            self.check_vectors(queries)
        wanted = k + offset
        allowed = (
            self.docstore.chunk_ids_matching(filter_) if filter_ and mode != "lexical" else None
        )
        count = len(queries) if queries is not None else len(texts or [])
        results: list[list[Hit]] = []
        for i in range(count):
            if mode == "lexical":
                hits = self._lexical((texts or [])[i], wanted, filter_)
            elif mode == "dense":
                assert queries is not None
                hits = self._dense(queries[i][None, :], wanted, allowed, min_score)
            else:
                assert queries is not None
                query = queries[i]
                depth = max(wanted * 2, HYBRID_DEPTH)
                dense = self._dense(query[None, :], depth, allowed, None)
                lexical = self._lexical((texts or [])[i], depth, filter_)
                hits = reciprocal_rank_fusion([dense, lexical])[:wanted]
            if min_score is not None:
                hits = [h for h in hits if h.score >= min_score]
            results.append(hits[offset:])
        return results

    def _best_chunks(
        self, pairs: list[tuple[int, float]], found: dict[int, ChunkHit] | None = None
    ) -> dict[int, Hit]:
        """Ranked (chunk id, score) pairs as hits, keeping each document's first (best) chunk;
        a chunk deleted since it was ranked is simply absent."""
        if found is None:
            found = self.docstore.chunk_hits([i for i, _ in pairs])
        best: dict[int, Hit] = {}
        for chunk_id, score in pairs:
            h = found.get(chunk_id)
            if h is not None and h.doc_num not in best:
                d = h.document
                text = d.text[h.start : h.end]
                best[h.doc_num] = Hit(d.id, score, d.text, d.metadata, h.index, text, h.start)
        return best

    def _search_rounds(self, items: list[tuple[np.ndarray, int]]) -> list[_Round]:
        """The first round of several unfiltered queries: one FAISS search for each depth
        asked for (they are nearly always the same), one SQLite read for all their hits."""
        pairs: list[list[tuple[int, float]]] = [[] for _ in items]
        depths: dict[int, list[int]] = {}
        for i, (_, fetch) in enumerate(items):
            depths.setdefault(fetch, []).append(i)
        for fetch, rows in depths.items():
            scores, ids = self.vectors.search(np.vstack([items[i][0] for i in rows]), fetch)
            for row, i in enumerate(rows):
                pairs[i] = _pairs(ids[row], scores[row])
        found = self.docstore.chunk_hits(sorted({c for p in pairs for c, _ in p}))
        return [_Round(p, found) for p in pairs]

    def _dense(
        self, query: np.ndarray, k: int, allowed: np.ndarray | None, min_score: float | None
    ) -> list[Hit]:
        available = len(allowed) if allowed is not None else self.vectors.ntotal
        if available == 0:
            return []
        fetch = min(available, k if self._one_chunk_each else max(k * 2, k + 8))
        found: dict[int, ChunkHit] | None = None
        if allowed is None and self._first_rounds is not None:
            pairs, found = self._first_rounds((query, fetch))
        else:
            pairs = self._search_pairs(query, fetch, allowed)
        while True:
            exhausted = fetch >= available or len(pairs) < fetch
            if min_score is not None and pairs and pairs[-1][1] < min_score:
                pairs = [(i, s) for i, s in pairs if s >= min_score]
                exhausted = True
            best = self._best_chunks(pairs, found)
            if len(best) >= k or exhausted:
                return list(best.values())[:k]
            fetch = min(available, fetch * 4)
            pairs, found = self._search_pairs(query, fetch, allowed), None

    def _search_pairs(
        self, query: np.ndarray, fetch: int, allowed: np.ndarray | None
    ) -> list[tuple[int, float]]:
        scores, ids = self.vectors.search(query, fetch, allowed)
        return _pairs(ids[0], scores[0])

    def _lexical(self, text: str, k: int, filter_: dict[str, Any] | None) -> list[Hit]:
        fetch = max(k * 2, k + 8)
        while True:
            pairs = self.docstore.lexical_chunks(text, fetch, filter_)
            best = self._best_chunks(pairs)
            if len(best) >= k or len(pairs) < fetch:
                return list(best.values())[:k]
            fetch *= 4


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
