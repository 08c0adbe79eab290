"""A delete by filter is one transaction: killed with -9 in the middle, it is either all there
or not there at all, and the indexes agree with what is stored."""

import threading
import time
from pathlib import Path

import httpx
import numpy as np

from app.models.encoder import Encoder
from app.store.catalog import Catalog
from app.store.embedded.layout import DOCSTORE_FILE
from app.store.interface import ChunkRow, DocumentRow
from tests.helpers import ServerProcess

DOCUMENTS = 40_000
DROPPED = DOCUMENTS // 2
# The kill lands once the delete has written this much of its transaction to the WAL.
KILL_AT_WAL_BYTES = 1 << 20


def build_collection(data: Path, encoder: Encoder) -> np.ndarray:
    """A collection `big` of DOCUMENTS one-chunk documents with random unit vectors, every other
    one in part "drop"; returns the vectors. Stored directly: embedding them would take long."""
    rng = np.random.default_rng(7)
    vectors = rng.standard_normal((DOCUMENTS, encoder.info.dimension)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    catalog = Catalog(data, encoder)
    collection = catalog.create("big", index="flat")
    rows = []
    for i, vector in enumerate(vectors):
        part = "drop" if i % 2 else "keep"
        text = f"document {i} of part {part}"
        rows.append(DocumentRow(f"d{i}", text, {"part": part}, [ChunkRow(0, 0, len(text), vector)]))
    for start in range(0, DOCUMENTS, 10_000):
        collection.store(rows[start : start + 10_000])
    catalog.close()
    return vectors


def wal_size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def test_kill_9_during_a_large_delete_by_filter_leaves_all_or_nothing(
    tmp_path: Path, encoder: Encoder
) -> None:
    data = tmp_path / "data"
    vectors = build_collection(data, encoder)
    server = ServerProcess(data).start()
    wal = data / "big" / f"{DOCSTORE_FILE}-wal"
    start_size = wal_size(wal)
    replies: list[httpx.Response] = []

    def delete() -> None:
        body = {"filter": {"part": "drop"}}
        try:
            with httpx.Client(base_url=server.url, timeout=120) as http:
                replies.append(http.post("/collections/big/documents/delete", json=body))
        except httpx.HTTPError:
            pass  # the server died mid-request: the delete was never acknowledged

    thread = threading.Thread(target=delete)
    thread.start()
    deadline = time.monotonic() + 120
    while (
        wal_size(wal) < start_size + KILL_AT_WAL_BYTES
        and thread.is_alive()
        and time.monotonic() < deadline
    ):
        time.sleep(0.001)
    server.kill()
    thread.join(timeout=60)
    assert not replies, "the kill should land before the delete is acknowledged"

    restarted = ServerProcess(data).start()
    try:
        with httpx.Client(base_url=restarted.url, timeout=120) as http:
            info = http.get("/collections/big").json()
            assert info["documents"] == info["chunks"] == info["vectors"]
            assert info["documents"] in (DOCUMENTS, DOCUMENTS - DROPPED)
            deleted = info["documents"] == DOCUMENTS - DROPPED
            dropped = http.post(
                "/collections/big/documents/count", json={"filter": {"part": "drop"}}
            ).json()["count"]
            assert dropped == (0 if deleted else DROPPED)
            lexical = http.post(
                "/collections/big/search", json={"query": "drop", "mode": "lexical", "k": 5}
            ).json()["results"]
            assert len(lexical) == (0 if deleted else 5)
            for i in (1, 2, 3, DOCUMENTS - 1):
                body = {"vector": vectors[i].tolist(), "k": 1}
                (hit,) = http.post("/collections/big/search", json=body).json()["results"]
                assert (hit["id"] == f"d{i}") == (i % 2 == 0 or not deleted), i

            # The service goes on: the same delete completes and is acknowledged.
            body = {"filter": {"part": "drop"}}
            r = http.post("/collections/big/documents/delete", json=body)
            assert r.json() == {"deleted": 0 if deleted else DROPPED}
            assert http.get("/collections/big").json()["vectors"] == DOCUMENTS - DROPPED
    finally:
        assert restarted.stop() == 0, restarted.log()
