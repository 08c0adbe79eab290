"""The collections of a PostgreSQL database: the catalog lives in the database, so every
process sharing it sees the same collections."""

import logging
import threading
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from app.errors import Conflict, NotFound
from app.models.encoder import Encoder
from app.store import encoding
from app.store.interface import CollectionConfig, IndexDefaults, validate_name
from app.store.postgres.collection import PgCollection, create_ann_index
from app.store.postgres.database import Database
from app.store.postgres.index import parse_pg_index
from app.store.postgres.schema import create_collection_tables, drop_collection_tables

log = logging.getLogger(__name__)


class PgCatalog:
    """Collections by name, read from the database on every lookup (a collection created or
    deleted by another process is seen at once); the objects are kept while their id holds."""

    def __init__(self, db: Database, encoder: Encoder) -> None:
        self.db = db
        self.encoder = encoder
        self._collections: dict[str, PgCollection] = {}
        self._lock = threading.Lock()

    def open_all(self) -> None:
        """Create or migrate the schema; the collections are read as they are asked for."""
        self.db.open()

    def names(self) -> list[str]:
        rows = self.db.run(
            lambda conn: conn.execute(
                "SELECT name FROM semsearch_collections ORDER BY name"
            ).fetchall()
        )
        return [r[0] for r in rows]

    def get(self, name: str) -> PgCollection:
        validate_name(name)
        row = self.db.run(
            lambda conn: conn.execute(
                "SELECT id, config FROM semsearch_collections WHERE name = %s", (name,)
            ).fetchone()
        )
        with self._lock:
            if row is None:
                self._collections.pop(name, None)
                raise NotFound(f"collection {name!r} does not exist")
            known = self._collections.get(name)
            if known is None or known.id != row[0]:
                known = PgCollection(
                    self.db, row[0], CollectionConfig.from_meta(row[1]), self.encoder
                )
                self._collections[name] = known
            return known

    def create(
        self,
        name: str,
        model: str | None = None,
        index: str | None = None,
        language: str = "en",
        index_options: dict[str, Any] | None = None,
        index_defaults: IndexDefaults | None = None,
    ) -> PgCollection:
        validate_name(name)
        encoding.check_model(model, self.encoder)
        info = self.encoder.info
        spec = parse_pg_index(index, index_options, index_defaults)
        config = CollectionConfig(
            name, info.name, info.dimension, info.normalized, spec.index, language, spec.options
        )
        self.create_from_config(config)
        return self.get(name)

    def create_from_config(self, config: CollectionConfig) -> int:
        """Record a collection and create its tables in one transaction; returns its id."""
        spec = parse_pg_index(config.index, config.index_options)

        def work(conn: psycopg.Connection) -> int:
            row = conn.execute(
                "INSERT INTO semsearch_collections (name, config) VALUES (%s, %s) "
                "ON CONFLICT (name) DO NOTHING RETURNING id",
                (config.name, Jsonb(config.to_meta())),
            ).fetchone()
            if row is None:
                raise Conflict(f"collection {config.name!r} already exists")
            collection_id = int(row[0])
            create_collection_tables(conn, collection_id, config.dimension, spec.half)
            if spec.target != "flat" and spec.threshold == 0:
                create_ann_index(conn, collection_id, spec, 0, concurrently=False)
            return collection_id

        return self.db.run(work)

    def get_or_create(self, name: str) -> PgCollection:
        try:
            return self.get(name)
        except NotFound:
            pass
        try:
            return self.create(name)
        except Conflict:  # another process created it meanwhile
            return self.get(name)

    def delete(self, name: str) -> None:
        validate_name(name)

        def work(conn: psycopg.Connection) -> int | None:
            row = conn.execute(
                "DELETE FROM semsearch_collections WHERE name = %s RETURNING id", (name,)
            ).fetchone()
            if row is None:
                return None
            drop_collection_tables(conn, int(row[0]))
            return int(row[0])

        if self.db.run(work) is None:
            raise NotFound(f"collection {name!r} does not exist")
        with self._lock:
            gone = self._collections.pop(name, None)
        if gone is not None:
            gone.close()

    def snapshot_all(self) -> None:
        """Nothing to do: the database holds every acknowledged write."""

    def close(self) -> None:
        with self._lock:
            collections = list(self._collections.values())
            self._collections.clear()
        for collection in collections:
            collection.close()
        self.db.close()
