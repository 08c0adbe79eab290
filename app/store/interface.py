"""What the rest of the service needs of a collection's storage, whatever the backend."""

import re
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from app.errors import BadInput

SEARCH_MODES = ("dense", "lexical", "hybrid")
NAME_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,64}")


def validate_name(name: str) -> str:
    """A collection name, or BadInput saying which names are allowed."""
    if not NAME_PATTERN.fullmatch(name):
        raise BadInput(
            f"name: {name!r} is not a valid collection name; "
            "use 1-64 characters of A-Z, a-z, 0-9, _ and -"
        )
    return name


@dataclass(frozen=True)
class NewDocument:
    text: str
    id: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Hit:
    """A document found by a search, with its best chunk."""

    id: str
    score: float
    text: str
    metadata: dict[str, Any]
    chunk_index: int
    chunk_text: str
    chunk_start: int = 0


@dataclass(frozen=True)
class StoredDocument:
    """A stored document; `num` orders documents by first write and pages through them."""

    id: str
    text: str
    metadata: dict[str, Any]
    num: int


@dataclass(frozen=True)
class ChunkRow:
    """One chunk ready to store: where it lies in its document and its vector."""

    index: int
    start: int
    end: int
    vector: np.ndarray


@dataclass(frozen=True)
class DocumentRow:
    """A document chunked and embedded, ready to store."""

    id: str
    text: str
    metadata: dict[str, Any]
    chunks: list[ChunkRow]


@dataclass(frozen=True)
class IndexDefaults:
    """Defaults a new collection's index options take from the service settings."""

    auto_threshold: int = 50_000
    compact_fraction: float = 0.1


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


class CollectionStore(Protocol):
    """One collection's documents, chunks and vectors. Writes are durable on return; a search
    applies its metadata filter inside the vector search and sees every acknowledged write."""

    @property
    def config(self) -> CollectionConfig: ...

    @property
    def encoder_mismatch(self) -> str | None:
        """Why this collection cannot be used with the loaded encoder, or None."""
        ...

    @property
    def index_in_use(self) -> str:
        """The vector index that answers searches now."""
        ...

    @property
    def index_building(self) -> bool:
        """Whether an index is being built in the background."""
        ...

    # -- writes
    def upsert(
        self,
        documents: list[NewDocument],
        chunk_tokens: int = 0,
        overlap: int = 32,
        replace_source: str | None = None,
    ) -> list[str]:
        """Chunk, embed and store documents; an existing id is replaced. With `replace_source`,
        that source's stored documents this call does not write are deleted with it."""
        ...

    def prepare(
        self, documents: list[NewDocument], chunk_tokens: int = 0, overlap: int = 32
    ) -> list[DocumentRow]:
        """Chunk and embed documents (ids generated where missing), ready to store."""
        ...

    def store(self, rows: list[DocumentRow], replace_source: str | None = None) -> None:
        """Write prepared documents in one transaction; `replace_source` as in `upsert`."""
        ...

    def delete(self, doc_ids: list[str]) -> int:
        """Delete documents by id; returns how many existed."""
        ...

    def delete_matching(self, filter_: dict[str, Any]) -> int:
        """Delete the documents whose metadata matches the filter, in one transaction, durable
        on return; returns how many there were."""
        ...

    def patch_metadata(self, doc_id: str, patch: dict[str, Any]) -> StoredDocument | None:
        """Apply a JSON merge patch (RFC 7396) to a document's flat metadata: a key set to None
        is removed. The document is not embedded again. None for an unknown id."""
        ...

    # -- reads
    def get(self, doc_id: str) -> StoredDocument | None: ...

    def page(
        self, limit: int, after: int, filter_: dict[str, Any] | None = None
    ) -> list[StoredDocument]:
        """Up to `limit` documents whose `num` is above `after` (and whose metadata matches
        the filter), in `num` order."""
        ...

    def count_matching(self, filter_: dict[str, Any] | None = None) -> int:
        """How many documents match the filter (all of them without one)."""
        ...

    def counts(self) -> dict[str, int]:
        """How many documents, chunks and vectors the collection holds."""
        ...

    def ids_matching(self, filter_: dict[str, Any]) -> list[str]:
        """Ids of the documents whose metadata matches the filter."""
        ...

    def sample_chunks(self, limit: int) -> tuple[list[Hit], np.ndarray]:
        """Up to `limit` chunks spread evenly over the collection, each as a Hit (score 0.0)
        with its document, and their stored vectors, row for row."""
        ...

    def export(self, after: int, limit: int) -> list[tuple[int, DocumentRow]]:
        """Up to `limit` documents whose `num` is above `after`, in `num` order, each with its
        `num` and its chunks with their stored vectors (as float32), read at one point in
        time: what `store` takes to write them into another collection without embedding."""
        ...

    def embed_queries(self, queries: list[str]) -> np.ndarray: ...

    def check_vectors(self, vectors: np.ndarray, field_name: str = "vector") -> None:
        """Raise BadInput unless `vectors` is a 2-D array of the collection's dimension."""
        ...

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
        fusion: str = "convex",
        alpha: float | None = None,
    ) -> list[list[Hit]]:
        """The documents ranked offset+1 .. offset+k for each query, each with its best chunk.
        Hybrid fuses the dense and lexical rankings by `fusion` ("convex": normalised scores
        weighted `alpha` for dense, 1 - alpha for lexical; "rrf": reciprocal rank)."""
        ...

    # -- lifecycle
    def snapshot(self) -> bool:
        """Persist what the backend keeps in memory, if it changed; True if it wrote."""
        ...

    def close(self) -> None: ...


class CollectionCatalog(Protocol):
    """The collections of one backend by name: create, open, list, delete."""

    def open_all(self) -> None:
        """Open what the backend holds (and create or migrate its schema)."""
        ...

    def names(self) -> list[str]: ...

    def get(self, name: str) -> CollectionStore:
        """The collection, or NotFound."""
        ...

    def create(
        self,
        name: str,
        model: str | None = None,
        index: str | None = None,
        language: str = "en",
        index_options: dict[str, Any] | None = None,
        index_defaults: IndexDefaults | None = None,
    ) -> CollectionStore:
        """A new empty collection; Conflict if the name is taken."""
        ...

    def get_or_create(self, name: str) -> CollectionStore: ...

    def delete(self, name: str) -> None: ...

    def snapshot_all(self) -> None:
        """Persist what the collections keep in memory."""
        ...

    def close(self) -> None: ...
