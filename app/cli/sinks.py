"""Where `semsearch ingest` puts documents: a running service over HTTP, or a data folder
written in-process. Both replace a re-ingested file's documents the same way: a request that
names the file in `replace_source` also deletes, in the same transaction, the stored documents
of that file that it does not write."""

import hashlib
import os
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote

from app.cli.client import ServiceClient, error_message
from app.config import Settings
from app.ingest.parsers import ParsedDocument

DATA_DIR_STATE_FILE = "ingest-state.json"


class BatchRejected(Exception):
    """The target refused a request (a 4xx, or a bad input in-process); str() says why."""


class UsageError(Exception):
    """A wrong argument found only once the target answered (e.g. an invalid name)."""


class Sink(Protocol):
    """Where ingested documents go: a running service, or a data folder in-process."""

    target: str
    state_path: Path

    def describe(self) -> dict[str, Any] | None: ...

    def send(self, documents: list[ParsedDocument], replace_source: str | None = None) -> None:
        """Store documents in one transaction; with `replace_source`, the stored documents of
        that source (metadata `source`) that `documents` does not hold are deleted in it too."""
        ...

    def close(self) -> None: ...


class UrlSink:
    """A collection of a running service, over HTTP; server errors and lost connections are
    retried by the client, a 4xx is the caller's to report (BatchRejected)."""

    def __init__(self, client: ServiceClient, collection: str) -> None:
        self.client = client
        self.collection = collection
        self.target = f"collection {collection!r} at {client.url}"
        self.path = f"/collections/{quote(collection, safe='')}"
        key = hashlib.sha256(f"{client.url}\n{collection}".encode()).hexdigest()[:16]
        cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
        self.state_path = cache / "semsearch" / "ingest-state" / f"{key}.json"

    def describe(self) -> dict[str, Any] | None:
        """The collection's description, or None if it does not exist yet."""
        response = self.client.request("GET", self.path)
        if response.status_code == 404:
            return None
        if response.status_code == 400:
            raise UsageError(error_message(response))
        if response.status_code >= 400:
            raise BatchRejected(error_message(response))
        description: dict[str, Any] = response.json()
        return description

    def send(self, documents: list[ParsedDocument], replace_source: str | None = None) -> None:
        body: dict[str, Any] = {
            "documents": [{"id": d.id, "text": d.text, "metadata": d.metadata} for d in documents]
        }
        if replace_source is not None:
            body["replace_source"] = replace_source
        response = self.client.request("POST", f"{self.path}/documents", json=body)
        if response.status_code >= 400:
            raise BatchRejected(error_message(response))

    def close(self) -> None:
        self.client.close()


class DataDirSink:
    """A collection of a data folder, written in-process through the catalog; the service must
    not be running on that folder at the same time."""

    def __init__(self, data_dir: Path, collection: str) -> None:
        from app.errors import BadInput
        from app.models.encoder import Encoder
        from app.store.catalog import Catalog
        from app.store.interface import validate_name

        try:
            validate_name(collection)
        except BadInput as exc:
            raise UsageError(exc.message) from exc
        self.settings = Settings()
        self.catalog = Catalog(data_dir, Encoder.from_settings(self.settings))
        self.catalog.open_all()
        self.collection = self.catalog.get_or_create(collection)
        self.target = f"collection {collection!r} in {data_dir}"
        self.state_path = self.collection.folder / DATA_DIR_STATE_FILE

    def describe(self) -> dict[str, Any]:
        return {
            "documents": self.collection.counts()["documents"],
            "detail": self.collection.encoder_mismatch,
        }

    def send(self, documents: list[ParsedDocument], replace_source: str | None = None) -> None:
        from app.errors import ServiceError
        from app.store.interface import NewDocument

        try:
            self.collection.upsert(
                [NewDocument(d.text, d.id, d.metadata) for d in documents],
                self.settings.chunk_tokens,
                self.settings.chunk_overlap,
                replace_source=replace_source,
            )
        except ServiceError as exc:
            raise BatchRejected(exc.message) from exc

    def close(self) -> None:
        self.catalog.close()
