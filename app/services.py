"""The running service's parts: encoder and collections, loaded in the background."""

import logging
import threading

from app.config import Settings
from app.errors import NotReady
from app.jobs import JobRunner
from app.metrics import ENCODER_BATCH_SIZE, ENCODER_QUEUE_DEPTH
from app.models.batcher import BatchingEncoder, EncodeBatcher
from app.models.encoder import Encoder
from app.models.registry import ModelRegistry
from app.store.catalog import Catalog
from app.store.embedded.vectors import set_search_threads

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
        self._catalog: Catalog | None = None
        self.load_error: str | None = None
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
            encoder = self._given_encoder or Encoder.from_settings(s)
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
            catalog = Catalog(s.data_dir, encoder, search_batching=s.search_batching)
            catalog.open_all()
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
        snapshotter = threading.Thread(
            target=self._snapshot_loop, name="semsearch-snapshot", daemon=True
        )
        snapshotter.start()
        self._threads.append(snapshotter)

    def _snapshot_loop(self) -> None:
        while not self._stop.wait(self.settings.snapshot_interval_s):
            if self._catalog is not None:
                self._catalog.snapshot_all()

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
        return self._ready.is_set()

    def _require_ready(self) -> None:
        if not self._ready.is_set():
            reason = f"start-up failed: {self.load_error}" if self.load_error else "still loading"
            raise NotReady(f"the service is not ready ({reason})", retry_after_s=1)

    @property
    def encoder(self) -> Encoder:
        self._require_ready()
        assert self._encoder is not None
        return self._encoder

    @property
    def catalog(self) -> Catalog:
        self._require_ready()
        assert self._catalog is not None
        return self._catalog
