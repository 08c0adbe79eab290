"""One factory per storage backend: the store's behaviour tests build their collections here,
so the same tests run on every backend."""

from pathlib import Path
from typing import Protocol

from app.models.encoder import Encoder
from app.store.embedded.collection import Collection
from app.store.interface import CollectionConfig, CollectionStore

BACKENDS = ["embedded"]


class Backend(Protocol):
    """Creates collections of one backend, reopens them from what it stored, closes them."""

    def create(
        self, name: str = "c", *, model: str | None = None, dimension: int | None = None
    ) -> CollectionStore:
        """An empty exact-search collection, recorded as built by `model` with vectors of
        `dimension` (the test encoder's unless given)."""
        ...

    def reopen(self, collection: CollectionStore) -> CollectionStore:
        """Close `collection` and open it again from what the backend stored."""
        ...

    def close(self) -> None: ...


class EmbeddedBackend:
    """Collections in folders under `root`: SQLite and a FAISS index."""

    def __init__(self, root: Path, encoder: Encoder) -> None:
        self.root = root
        self.encoder = encoder
        self._open: list[Collection] = []

    def create(
        self, name: str = "c", *, model: str | None = None, dimension: int | None = None
    ) -> CollectionStore:
        info = self.encoder.info
        config = CollectionConfig(
            name, model or info.name, dimension or info.dimension, info.normalized, "flat"
        )
        return self._track(Collection.create(self.root / name, config, self.encoder))

    def reopen(self, collection: CollectionStore) -> CollectionStore:
        collection.close()
        return self._track(Collection.open(self.root / collection.config.name, self.encoder))

    def close(self) -> None:
        for collection in self._open:
            collection.close()
        self._open.clear()

    def _track(self, collection: Collection) -> Collection:
        self._open.append(collection)
        return collection


def make_backend(kind: str, root: Path, encoder: Encoder) -> Backend:
    if kind == "embedded":
        return EmbeddedBackend(root, encoder)
    raise ValueError(f"unknown store backend {kind!r}")
