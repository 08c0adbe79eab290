"""SIGTERM lets a request in flight finish, flushes every index snapshot and exits 0."""

import json
import signal
from collections.abc import Iterator
from pathlib import Path

import httpx

from app.store.collection import DOCSTORE_FILE, SNAPSHOT_FILE
from app.store.docstore import DocStore
from app.store.vectors import VectorIndex
from tests.helpers import ServerProcess, kjv_verses

DOCUMENTS = 100
DIMENSION = 384


def test_sigterm_during_an_ingest_finishes_it_then_flushes_and_exits_0(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    # The snapshot is written only at shutdown; the grace period outlasts a slow machine.
    env = {"SEMSEARCH_SNAPSHOT_INTERVAL_S": "3600", "SEMSEARCH_SHUTDOWN_TIMEOUT_S": "600"}
    server = ServerProcess(data, env).start()
    assert server.proc is not None
    proc = server.proc
    verses = kjv_verses(DOCUMENTS)
    body = json.dumps(
        {"documents": [{"id": v["citation"], "text": v["text"]} for v in verses]}
    ).encode()

    def upload() -> Iterator[bytes]:
        """Half the body, then SIGTERM, then the rest: the signal lands mid-request. The
        /health reply in between shows the server has read the headers sent before it."""
        yield body[: len(body) // 2]
        assert httpx.get(f"{server.url}/health", timeout=60).status_code == 200
        proc.send_signal(signal.SIGTERM)
        yield body[len(body) // 2 :]

    try:
        r = httpx.post(
            f"{server.url}/collections/verses/documents",
            content=upload(),
            headers={"Content-Type": "application/json"},
            timeout=120,
        )
        assert r.status_code == 200, r.text
        assert len(r.json()["ids"]) == DOCUMENTS
        assert proc.wait(timeout=120) == 0, server.log()
    finally:
        server.kill()

    folder = data / "verses"
    store = DocStore(folder / DOCSTORE_FILE, DIMENSION)
    try:
        seq, (documents, chunks) = store.last_seq(), store.count()
    finally:
        store.close()
    index = VectorIndex.load(folder / SNAPSHOT_FILE, DIMENSION)
    assert documents == DOCUMENTS
    assert index.seq == seq, "the snapshot written at shutdown holds every write"
    assert index.ntotal == chunks
