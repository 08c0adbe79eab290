"""What was acknowledged survives kill -9: searchable, not duplicated, counts in agreement."""

import threading
import time
from pathlib import Path

import httpx
import pytest

from app.store.embedded.layout import SNAPSHOT_FILE
from tests.helpers import ServerProcess, all_ids, kjv_verses

BATCH = 100
# The kill lands once this many documents are acknowledged and a snapshot is on disk.
KILL_AFTER = 300


def test_kill_9_during_a_large_ingest_loses_nothing_acknowledged(tmp_path: Path) -> None:
    verses = kjv_verses(4000)
    data = tmp_path / "data"
    # Snapshots every second, so the kill leaves a FAISS snapshot behind SQLite.
    env = {"SEMSEARCH_SNAPSHOT_INTERVAL_S": "1"}
    server = ServerProcess(data, env).start()
    acked: list[str] = []
    stop = threading.Event()

    def writer() -> None:
        with httpx.Client(base_url=server.url, timeout=60) as http:
            for start in range(0, len(verses), BATCH):
                if stop.is_set():
                    return
                docs = [
                    {"id": v["citation"], "text": v["text"], "metadata": {"book": v["book"]}}
                    for v in verses[start : start + BATCH]
                ]
                try:
                    r = http.post("/collections/bible/documents", json={"documents": docs})
                except httpx.HTTPError:
                    return  # the server died mid-request: this batch was never acknowledged
                if r.status_code != 200:
                    return
                acked.extend(r.json()["ids"])

    thread = threading.Thread(target=writer)
    thread.start()
    snapshot = data / "bible" / SNAPSHOT_FILE
    deadline = time.monotonic() + 240
    while (
        (len(acked) < KILL_AFTER or not snapshot.exists())
        and thread.is_alive()
        and time.monotonic() < deadline
    ):
        time.sleep(0.05)
    server.kill()
    stop.set()
    thread.join(timeout=60)
    assert KILL_AFTER <= len(acked) < len(verses), "the kill should land mid-ingest"

    restarted = ServerProcess(data, env).start()
    try:
        with httpx.Client(base_url=restarted.url, timeout=60) as http:
            info = http.get("/collections/bible").json()
            assert info["chunks"] == info["vectors"] == info["documents"]
            assert len(acked) <= info["documents"] <= len(acked) + BATCH

            ids, _ = all_ids(http, "bible", 1000)
            assert len(ids) == len(set(ids)) == info["documents"]
            assert set(acked) <= set(ids)

            by_id = {v["citation"]: v for v in verses}
            for doc_id in acked[::10]:
                text = by_id[doc_id]["text"]
                assert http.get(f"/collections/bible/documents/{doc_id}").json()["text"] == text
                hits = http.post("/collections/bible/search", json={"query": text, "k": 10}).json()[
                    "results"
                ]
                assert doc_id in [h["id"] for h in hits], doc_id
                assert hits[0]["score"] == pytest.approx(1.0, abs=1e-3)

            # The service keeps working after recovery.
            after_doc = {"documents": [{"id": "after", "text": "Amen."}]}
            r = http.post("/collections/bible/documents", json=after_doc)
            assert r.status_code == 200
    finally:
        assert restarted.stop() == 0
