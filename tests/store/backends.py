"""One factory per storage backend: the store's behaviour tests build their collections here,
so the same tests run on every backend."""

from pathlib import Path
from typing import Protocol

from app.models.encoder import Encoder
from app.store.embedded.collection import Collection
from app.store.interface import CollectionConfig, CollectionStore
from app.store.postgres.catalog import PgCatalog
from app.store.postgres.database import Database
from tests.store.postgres.server import drop_database, fresh_database

BACKENDS = ["embedded", "postgres"]


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


class PostgresBackend:
    """Collections in a database of their own on the test server: its catalog and tables."""

    def __init__(self, server_url: str, encoder: Encoder) -> None:
        self.url = fresh_database(server_url)
        self.encoder = encoder
        self.db = Database(self.url, pool_size=4)
        self.catalog = PgCatalog(self.db, encoder)
        self.catalog.open_all()

    def create(
        self, name: str = "c", *, model: str | None = None, dimension: int | None = None
    ) -> CollectionStore:
        info = self.encoder.info
        config = CollectionConfig(
            name, model or info.name, dimension or info.dimension, info.normalized, "flat"
        )
        self.catalog.create_from_config(config)
        return self.catalog.get(name)

    def reopen(self, collection: CollectionStore) -> CollectionStore:
        collection.close()
        fresh = PgCatalog(self.db, self.encoder)
        return fresh.get(collection.config.name)

    def close(self) -> None:
        self.catalog.close()
        drop_database(self.url)


def make_backend(
    kind: str, root: Path, encoder: Encoder, postgres_url: str | None = None
) -> Backend:
    if kind == "embedded":
        return EmbeddedBackend(root, encoder)
    if kind == "postgres":
        assert postgres_url is not None, "the postgres backend needs the postgres_url fixture"
        return PostgresBackend(postgres_url, encoder)
    raise ValueError(f"unknown store backend {kind!r}")
