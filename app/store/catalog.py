"""All collections under the data folder: create, open, list, delete, snapshot."""

import logging
import shutil
import threading
from pathlib import Path
from typing import Any

from app.errors import Conflict, NotFound
from app.models.encoder import Encoder
from app.store import encoding
from app.store.embedded.collection import Collection
from app.store.embedded.index_spec import parse_index
from app.store.embedded.layout import DOCSTORE_FILE
from app.store.interface import NAME_PATTERN, CollectionConfig, IndexDefaults, validate_name

log = logging.getLogger(__name__)


class Catalog:
    """The open collections, keyed by name. One folder per collection under data_dir."""

    def __init__(self, data_dir: Path, encoder: Encoder, search_batching: bool = True) -> None:
        self.data_dir = data_dir
        self.encoder = encoder
        self.search_batching = search_batching
        self._collections: dict[str, Collection] = {}
        self._lock = threading.RLock()
        data_dir.mkdir(parents=True, exist_ok=True)

    def open_all(self) -> None:
        for folder in sorted(self.data_dir.iterdir()):
            if (
                folder.is_dir()
                and NAME_PATTERN.fullmatch(folder.name)
                and (folder / DOCSTORE_FILE).exists()
            ):
                self._collections[folder.name] = Collection.open(
                    folder, self.encoder, self.search_batching
                )
                log.info("opened collection %s", folder.name)

    def names(self) -> list[str]:
        with self._lock:
            return sorted(self._collections)

    def get(self, name: str) -> Collection:
        validate_name(name)
        with self._lock:
            collection = self._collections.get(name)
        if collection is None:
            raise NotFound(f"collection {name!r} does not exist")
        return collection

    def create(
        self,
        name: str,
        model: str | None = None,
        index: str | None = None,
        language: str = "en",
        index_options: dict[str, Any] | None = None,
        index_defaults: IndexDefaults | None = None,
    ) -> Collection:
        validate_name(name)
        encoding.check_model(model, self.encoder)
        info = self.encoder.info
        spec = parse_index(index, index_options, info.dimension, index_defaults)
        with self._lock:
            if name in self._collections or (self.data_dir / name).exists():
                raise Conflict(f"collection {name!r} already exists")
            config = CollectionConfig(
                name,
                info.name,
                info.dimension,
                info.normalized,
                spec.index,
                language,
                spec.options,
            )
            collection = Collection.create(
                self.data_dir / name, config, self.encoder, self.search_batching
            )
            self._collections[name] = collection
            return collection

    def get_or_create(self, name: str) -> Collection:
        with self._lock:
            try:
                return self.get(name)
            except NotFound:
                return self.create(name)

    def delete(self, name: str) -> None:
        with self._lock:
            collection = self.get(name)
            del self._collections[name]
        collection.close()
        shutil.rmtree(collection.folder, ignore_errors=True)

    def snapshot_all(self) -> None:
        with self._lock:
            collections = list(self._collections.values())
        for collection in collections:
            try:
                collection.snapshot()
            except Exception:
                log.exception("snapshot of collection %s failed", collection.config.name)

    def close(self) -> None:
        self.snapshot_all()
        with self._lock:
            for collection in self._collections.values():
                collection.close()
            self._collections.clear()
