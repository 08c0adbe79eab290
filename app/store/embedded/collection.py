"""One embedded collection: ingest, search, get, page and delete over a DocStore and a
VectorIndex."""

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from app.combining import Combiner
from app.errors import BadInput
from app.models.encoder import Encoder
from app.store import encoding
from app.store.embedded.docstore import ChunkHit, DocStore
from app.store.embedded.index_build import IndexBuilder
from app.store.embedded.index_spec import IndexSpec, spec_from_config
from app.store.embedded.layout import DOCSTORE_FILE, SNAPSHOT_FILE
from app.store.embedded.vectors import DamagedSnapshot, VectorIndex
from app.store.interface import (
    CollectionConfig,
    CollectionStore,
    DocumentRow,
    Hit,
    NewDocument,
    StoredDocument,
)
from app.store.ranking import DEFAULT_FUSION, check_search_mode, rank_queries

log = logging.getLogger(__name__)


class _Round(NamedTuple):
    """One query's ranked (chunk id, score) pairs and the stored chunks they name."""

    pairs: list[tuple[int, float]]
    found: dict[int, ChunkHit]


def _pairs(ids: np.ndarray, scores: np.ndarray) -> list[tuple[int, float]]:
    return [(int(i), float(s)) for i, s in zip(ids, scores, strict=True) if i >= 0]


def index_spec_of(config: CollectionConfig) -> IndexSpec:
    """The checked index choice of a collection; one whose options cannot be read searches
    exactly rather than not opening."""
    try:
        return spec_from_config(config.index, config.index_options, config.dimension)
    except Exception as exc:
        log.warning(
            "collection %s: index %r unusable (%s); exact search", config.name, config.index, exc
        )
        return spec_from_config("flat", {}, config.dimension)


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
        self.index_spec = index_spec_of(config)
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
        return encoding.encoder_mismatch(self.config, self.encoder)

    @property
    def index_in_use(self) -> str:
        return self.vectors.in_use

    @property
    def index_building(self) -> bool:
        return self.index_builder.building

    # -- writes --------------------------------------------------------------------------------
    def chunk_limits(self, chunk_tokens: int, overlap: int) -> tuple[int, int]:
        return encoding.chunk_limits(self.encoder, chunk_tokens, overlap)

    def upsert(
        self,
        documents: list[NewDocument],
        chunk_tokens: int = 0,
        overlap: int = 32,
        replace_source: str | None = None,
    ) -> list[str]:
        """Chunk, embed and store documents; an existing id is replaced. Durable on return.
        With `replace_source`, the stored documents of that source (metadata `source`) that
        this call does not write are deleted in the same transaction: a re-ingested file's
        vanished pages, rows or lines go with the write of its new ones."""
        rows = self.prepare(documents, chunk_tokens, overlap)
        self.store(rows, replace_source)
        return [r.id for r in rows]

    def prepare(
        self, documents: list[NewDocument], chunk_tokens: int = 0, overlap: int = 32
    ) -> list[DocumentRow]:
        """Chunk and embed documents (ids generated where missing), ready to store."""
        encoding.require_encoder(self.config, self.encoder)
        return encoding.prepare_documents(self.encoder, documents, chunk_tokens, overlap)

    def store(self, rows: list[DocumentRow], replace_source: str | None = None) -> None:
        """Write prepared documents in one transaction, with `replace_source` as in `upsert`.
        Durable on return. Of an id given twice, the later one is written."""
        latest = list(encoding.latest_by_id(rows).values())
        self._write(latest, [], {"source": replace_source} if replace_source else None)

    def delete(self, doc_ids: list[str]) -> int:
        """Delete documents by id; returns how many existed."""
        return self._write([], doc_ids)

    def delete_matching(self, filter_: dict[str, Any]) -> int:
        """Delete the documents whose metadata matches the filter, in one transaction, durable
        on return; returns how many there were. An empty filter is refused."""
        if not filter_:
            raise BadInput(
                "filter: must name at least one field; to delete every document, "
                "delete the collection"
            )
        return self._write([], [], filter_)

    def patch_metadata(self, doc_id: str, patch: dict[str, Any]) -> StoredDocument | None:
        """Merge `patch` (RFC 7396) into a document's metadata; nothing is embedded again."""
        with self._write_lock:
            return self.docstore.patch_metadata(doc_id, patch)

    def _write(
        self,
        rows: list[DocumentRow],
        deletes: list[str],
        stale_filter: dict[str, Any] | None = None,
    ) -> int:
        """Write rows and delete ids in one transaction; with `stale_filter`, the documents it
        matches that `rows` do not hold are deleted in it too."""
        # One writer at a time per collection, so the index applies writes in sequence order.
        with self._write_lock:
            if stale_filter:
                kept = {r.id for r in rows}
                stale = self.ids_matching(stale_filter)
                deletes = [*deletes, *(i for i in stale if i not in kept)]
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

    def page(
        self, limit: int, after: int, filter_: dict[str, Any] | None = None
    ) -> list[StoredDocument]:
        return self.docstore.page(limit, after, filter_)

    def count_matching(self, filter_: dict[str, Any] | None = None) -> int:
        return self.docstore.count_matching(filter_)

    def ids_matching(self, filter_: dict[str, Any]) -> list[str]:
        """Ids of the documents whose metadata matches the filter."""
        return self.docstore.ids_matching(filter_)

    def sample_chunks(self, limit: int) -> tuple[list[Hit], np.ndarray]:
        """Up to `limit` chunks spread evenly over the collection in storage order, each as a
        Hit (score 0.0) with its document, and their stored vectors, row for row."""
        _, total = self.docstore.count()
        none = np.zeros((0, self.config.dimension), np.float32)
        if total == 0 or limit < 1:
            return [], none
        wanted = np.unique(np.linspace(0, total - 1, min(limit, total)).round().astype(np.int64))
        ids: list[np.ndarray] = []
        vectors: list[np.ndarray] = []
        seen = 0
        for batch_ids, batch_vectors in self.docstore.vectors_since(0):
            rows = wanted[(wanted >= seen) & (wanted < seen + len(batch_ids))] - seen
            ids.append(batch_ids[rows])
            vectors.append(batch_vectors[rows])
            seen += len(batch_ids)
            if seen > wanted[-1]:
                break
        if not ids:
            return [], none
        chosen = np.concatenate(ids)
        stacked = np.vstack(vectors)
        found = self.docstore.chunk_hits([int(i) for i in chosen])
        keep = [row for row, chunk_id in enumerate(chosen) if int(chunk_id) in found]
        hits = []
        for row in keep:
            h = found[int(chosen[row])]
            d = h.document
            text = d.text[h.start : h.end]
            hits.append(Hit(d.id, 0.0, d.text, d.metadata, h.index, text, h.start))
        return hits, stacked[keep]

    def export(self, after: int, limit: int) -> list[tuple[int, DocumentRow]]:
        return self.docstore.export(after, limit)

    def counts(self) -> dict[str, int]:
        documents, chunks = self.docstore.count()
        return {"documents": documents, "chunks": chunks, "vectors": self.vectors.ntotal}

    def embed_queries(self, queries: list[str]) -> np.ndarray:
        encoding.require_encoder(self.config, self.encoder)
        return self.encoder.encode(queries)

    def check_vectors(self, vectors: np.ndarray, field_name: str = "vector") -> None:
        encoding.check_vectors(self.config, vectors, field_name)

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
        fusion: str = DEFAULT_FUSION,
        alpha: float | None = None,
    ) -> list[list[Hit]]:
        """The documents ranked offset+1 .. offset+k for each query, each with its best chunk.

        dense: cosine similarity of the query vectors; lexical: BM25 over the chunks (needs
        `texts`); hybrid: the two rankings fused by `fusion` (see `app.store.ranking.fuse`).
        """
        check_search_mode(mode, queries, texts, fusion, alpha)
        if queries is not None and mode != "lexical":
            self.check_vectors(queries)
        allowed = (
            self.docstore.chunk_ids_matching(filter_) if filter_ and mode != "lexical" else None
        )
        count = len(queries) if queries is not None else len(texts or [])

        def dense(i: int, depth: int, least: float | None) -> list[Hit]:
            assert queries is not None
            return self._dense(queries[i][None, :], depth, allowed, least)

        def lexical(i: int, depth: int) -> list[Hit]:
            return self._lexical((texts or [])[i], depth, filter_)

        return rank_queries(count, k, offset, min_score, mode, dense, lexical, fusion, alpha)

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


implements: type[CollectionStore] = Collection  # mypy checks it against the interface
