"""The running service's parts: encoder and collections, loaded in the background."""

import logging
import threading
from typing import TYPE_CHECKING

from app.config import Settings
from app.errors import DatabaseUnavailable, NotReady
from app.jobs import JobRunner
from app.metrics import ENCODER_BATCH_SIZE, ENCODER_QUEUE_DEPTH
from app.models.batcher import BatchingEncoder, EncodeBatcher
from app.models.encoder import Encoder
from app.models.registry import ModelRegistry
from app.store.catalog import Catalog
from app.store.embedded.vectors import set_search_threads
from app.store.interface import CollectionCatalog

if TYPE_CHECKING:
    from app.store.postgres.database import Database

log = logging.getLogger(__name__)


def observe_encoder_batch(size: int, waiting: int) -> None:
    ENCODER_BATCH_SIZE.observe(size)
    ENCODER_QUEUE_DEPTH.set(waiting)


class Services:
    """Loads the encoder and opens every collection off the event loop; `/ready` reports when
    that is done. A background thread snapshots changed FAISS indexes."""

    def __init__(self, settings: Settings, encoder: Encoder | None = None) -> None:
        self.settings = settings
        self._given_encoder = encoder
        self.registry = ModelRegistry(settings)
        self.jobs = JobRunner()
        self._encoder: Encoder | None = None
        self._batcher: EncodeBatcher | None = None
        self._catalog: CollectionCatalog | None = None
        self._database: Database | None = None
        self._database_problem: str | None = None
        self._load_error: str | None = None
        self._stage = ""
        self._ready = threading.Event()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    # -- lifecycle -----------------------------------------------------------------------------
    def start(self) -> None:
        loader = threading.Thread(target=self._load, name="semsearch-load", daemon=True)
        loader.start()
        self._threads.append(loader)

    def _load(self) -> None:
        try:
            s = self.settings
            if s.faiss_threads:
                set_search_threads(s.faiss_threads)
            encoder = self._given_encoder or Encoder.from_settings(s, self._set_stage)
            if s.encode_batching:
                self._batcher = EncodeBatcher(
                    encoder.encode,
                    max_batch=s.encode_max_batch,
                    max_wait_s=s.encode_max_wait_ms / 1000,
                    max_queue=s.max_encode_queue,
                    piece_ms=s.encode_piece_ms,
                    quiet_piece_ms=s.encode_quiet_piece_ms,
                    observer=observe_encoder_batch,
                    set_threads=encoder.use_threads,
                    bulk_threads=s.encoder_threads,
                    query_threads=s.encoder_query_threads,
                )
                encoder = BatchingEncoder(encoder, self._batcher)
            catalog = self._open_catalog(encoder)
            if catalog is None:
                return
        except Exception as exc:
            log.exception("start-up failed")
            self.load_error = f"{type(exc).__name__}: {exc}"
            return
        self._encoder, self._catalog = encoder, catalog
        self._ready.set()
        log.info("ready: encoder %s, %d collections", encoder.name, len(catalog.names()))
        if self.settings.preload_models:
            preloader = threading.Thread(
                target=self.registry.preload, name="semsearch-preload", daemon=True
            )
            preloader.start()
        if self._database is not None:
            watcher = threading.Thread(
                target=self._watch_database, name="semsearch-database", daemon=True
            )
            watcher.start()
            self._threads.append(watcher)
            return
        snapshotter = threading.Thread(
            target=self._snapshot_loop, name="semsearch-snapshot", daemon=True
        )
        snapshotter.start()
        self._threads.append(snapshotter)

    def _open_catalog(self, encoder: Encoder) -> CollectionCatalog | None:
        """The embedded catalog of data_dir, or with database_url the database's: its schema
        created or migrated, tried again each second while the database cannot be reached.
        None when the service stops first."""
        s = self.settings
        if s.database_url is None:
            catalog = Catalog(s.data_dir, encoder, search_batching=s.search_batching)
            catalog.open_all()
            return catalog
        from app.store.postgres.catalog import PgCatalog
        from app.store.postgres.database import Database
        from app.store.postgres.jobs import PgJobStore

        database = Database(
            s.database_url.get_secret_value(),
            pool_size=s.database_pool_size,
            timeout_s=s.database_timeout_s,
            statement_timeout_s=s.database_statement_timeout_s,
        )
        pg_catalog = PgCatalog(database, encoder)
        while True:
            try:
                pg_catalog.open_all()
                break
            except DatabaseUnavailable as exc:
                self._database_problem = exc.message
                log.warning("start-up waits for the database: %s", exc.message)
                if self._stop.wait(1.0):
                    return None
        self._database_problem = None
        self._database = database
        self.jobs.store = PgJobStore(database)
        return pg_catalog

    def _watch_database(self) -> None:
        """Check the database each second, so that /ready answers without waiting on it."""
        assert self._database is not None
        while not self._stop.wait(1.0):
            problem = self._database.check()
            if problem != self._database_problem:
                log.warning("database: %s", problem or "available again")
            self._database_problem = problem

    def _snapshot_loop(self) -> None:
        while not self._stop.wait(self.settings.snapshot_interval_s):
            if self._catalog is not None:
                self._catalog.snapshot_all()

    def _set_stage(self, stage: str) -> None:
        self._stage = stage

    def wait_ready(self, timeout: float | None = None) -> bool:
        return self._ready.wait(timeout)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=30)
        if self._catalog is not None:
            self._catalog.close()
        if self._batcher is not None:
            self._batcher.close()

    # -- access --------------------------------------------------------------------------------
    @property
    def ready(self) -> bool:
        """Loaded, and (with a database) the database answers."""
        return self._ready.is_set() and self._database_problem is None

    @property
    def load_error(self) -> str | None:
        """Why start-up failed (the encoder or the collections could not load), or None."""
        return self._load_error

    @load_error.setter
    def load_error(self, value: str | None) -> None:
        self._load_error = value

    @property
    def not_ready_reason(self) -> str | None:
        """What keeps the service from serving, for /ready: a failed start-up or the database
        unreachable, or what a slow start-up is doing (a first start exports the encoder to
        ONNX); None when ready or still loading with nothing to report."""
        stage = f"{self._stage} (on a first start only)" if self._stage else None
        return self._load_error or self._database_problem or stage

    def _require_ready(self) -> None:
        if not self._ready.is_set():
            if self._database_problem:
                raise DatabaseUnavailable(self._database_problem, retry_after_s=1)
            reason = (
                f"start-up failed: {self.load_error}"
                if self.load_error
                else (self._stage or "still loading")
            )
            raise NotReady(f"the service is not ready ({reason})", retry_after_s=1)

    @property
    def encoder(self) -> Encoder:
        self._require_ready()
        assert self._encoder is not None
        return self._encoder

    @property
    def catalog(self) -> CollectionCatalog:
        self._require_ready()
        assert self._catalog is not None
        return self._catalog
