"""SIGTERM lets a request in flight finish, flushes every index snapshot and exits 0.

One server, with snapshots only at shutdown, holds a collection written before the signal and
gets the signal in the middle of an ingest into another; the tests check what it left behind."""

import json
import signal
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from app.store.embedded.docstore import DocStore
from app.store.embedded.layout import DOCSTORE_FILE, SNAPSHOT_FILE
from app.store.embedded.vectors import VectorIndex
from tests.helpers import ServerProcess, kjv_verses

DOCUMENTS = 100
DIMENSION = 384


@dataclass
class Shutdown:
    data: Path
    snapshot_before_the_signal: bool  # of the collection written before it
    reply: httpx.Response  # to the ingest the signal landed in
    exit_code: int
    log: str


@pytest.fixture(scope="module")
def sigterm_during_an_ingest(tmp_path_factory: pytest.TempPathFactory) -> Shutdown:
    data = tmp_path_factory.mktemp("shutdown") / "data"
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
        with httpx.Client(base_url=server.url, timeout=60) as http:
            earlier = [{"id": str(i), "text": f"verse {i}"} for i in range(50)]
            r = http.post("/collections/t/documents", json={"documents": earlier})
            assert r.status_code == 200, r.text
        snapshot_before = (data / "t" / SNAPSHOT_FILE).exists()
        reply = httpx.post(
            f"{server.url}/collections/verses/documents",
            content=upload(),
            headers={"Content-Type": "application/json"},
            timeout=120,
        )
        exit_code = proc.wait(timeout=120)
    finally:
        server.kill()
    return Shutdown(data, snapshot_before, reply, exit_code, server.log())


def test_sigterm_exits_cleanly_and_writes_the_snapshot(sigterm_during_an_ingest: Shutdown) -> None:
    outcome = sigterm_during_an_ingest
    assert not outcome.snapshot_before_the_signal
    assert outcome.exit_code == 0, outcome.log
    assert (outcome.data / "t" / SNAPSHOT_FILE).exists()


def test_sigterm_during_an_ingest_finishes_it_then_flushes_and_exits_0(
    sigterm_during_an_ingest: Shutdown,
) -> None:
    outcome = sigterm_during_an_ingest
    assert outcome.reply.status_code == 200, outcome.reply.text
    assert len(outcome.reply.json()["ids"]) == DOCUMENTS
    assert outcome.exit_code == 0, outcome.log

    folder = outcome.data / "verses"
    store = DocStore(folder / DOCSTORE_FILE, DIMENSION)
    try:
        seq, (documents, chunks) = store.last_seq(), store.count()
    finally:
        store.close()
    index = VectorIndex.load(folder / SNAPSHOT_FILE, DIMENSION)
    assert documents == DOCUMENTS
    assert index.seq == seq, "the snapshot written at shutdown holds every write"
    assert index.ntotal == chunks
