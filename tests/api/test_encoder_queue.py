"""Over HTTP, a full encoder queue answers 429 with Retry-After, and nothing is lost."""

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from app.models.encoder import Encoder
from tests.conftest import make_client

LONG_TEXT = " ".join(["the words of the preacher, the son of david, king in jerusalem"] * 20)


@pytest.fixture
def small_queue_client(tmp_path: Path, encoder: Encoder) -> Iterator[TestClient]:
    settings = Settings(
        data_dir=tmp_path / "data",
        snapshot_interval_s=3600,
        max_encode_queue=1,
        encode_piece_ms=40,
        encode_max_wait_ms=0,
    )
    yield from make_client(settings, encoder)


def test_searches_beyond_the_encoder_queue_get_429_and_the_ingest_completes(
    small_queue_client: TestClient,
) -> None:
    client = small_queue_client
    docs = [{"id": f"d{i}", "text": f"{i} {LONG_TEXT}"} for i in range(48)]
    ingest_result: dict[str, int] = {}

    def ingest() -> None:
        for _ in range(20):  # a client retries a 429 after Retry-After
            r = client.post("/collections/q/documents", json={"documents": docs})
            ingest_result["status"] = r.status_code
            if r.status_code != 429:
                return
            time.sleep(float(r.headers["Retry-After"]))

    client.post("/collections", json={"name": "q"})
    thread = threading.Thread(target=ingest)
    thread.start()
    refused = []
    with ThreadPoolExecutor(6) as pool:
        for _ in range(50):  # bounded: the ingest's pieces keep the encoder busy meanwhile
            if not thread.is_alive():
                break
            replies = list(pool.map(lambda _: client.get("/collections/q/search?q=king"), range(6)))
            assert {r.status_code for r in replies} <= {200, 429}
            refused += [r for r in replies if r.status_code == 429]
            if refused:
                break
    thread.join(120)
    assert ingest_result == {"status": 200}
    assert refused, "no search was refused while the encoder queue was full"
    reply = refused[0]
    assert reply.headers["Retry-After"] == "1"
    error = reply.json()["error"]
    assert error["code"] == "overloaded"
    assert "max_encode_queue" in error["message"]
    assert client.get("/collections/q").json()["documents"] == len(docs)
    assert client.get("/collections/q/search?q=king").status_code == 200
