"""End to end over HTTP against a real uvicorn server."""

import threading
import time
from typing import Any

import httpx
import numpy as np
from openai import OpenAI

from tests.helpers import ServerProcess, ingest, kjv_verses

# Three ingest requests of BATCH verses run while the searches do, each several encoder pieces.
BUSY_VERSES = 400
BATCH = 100


def test_health_and_ready(server: ServerProcess) -> None:
    assert httpx.get(f"{server.url}/health").json() == {"status": "ok"}
    assert httpx.get(f"{server.url}/ready").status_code == 200


def test_openapi_describes_every_field(server: ServerProcess) -> None:
    spec = httpx.get(f"{server.url}/openapi.json").json()
    assert httpx.get(f"{server.url}/docs").status_code == 200
    undescribed = []
    for name, schema in spec["components"]["schemas"].items():
        if name in ("HTTPValidationError", "ValidationError"):
            continue
        for field, prop in schema.get("properties", {}).items():
            if "description" not in prop:
                undescribed.append(f"{name}.{field}")
    for path, methods in spec["paths"].items():
        for method, op in methods.items():
            for param in op.get("parameters", []):
                if "description" not in param and param["in"] == "query":
                    undescribed.append(f"{method.upper()} {path} ?{param['name']}")
    assert undescribed == []


def test_the_openai_client_gets_embeddings(server: ServerProcess) -> None:
    client = OpenAI(base_url=f"{server.url}/v1", api_key="unused", max_retries=0)
    many = client.embeddings.create(input=["a cat", "a dog"], model="all-MiniLM-L6-v2")
    assert [d.index for d in many.data] == [0, 1]
    assert all(len(d.embedding) == 384 for d in many.data)
    assert many.usage.prompt_tokens > 0
    one = client.embeddings.create(input="a cat", model="all-MiniLM-L6-v2", encoding_format="float")
    ours = httpx.post(f"{server.url}/embed", json={"texts": ["a cat"]}).json()
    assert ours["model"] == "all-MiniLM-L6-v2" and ours["dimension"] == 384
    assert np.allclose(one.data[0].embedding, ours["embeddings"][0], atol=1e-5)
    assert np.allclose(many.data[0].embedding, ours["embeddings"][0], atol=1e-5)


def test_curl_style_walkthrough(server: ServerProcess) -> None:
    with httpx.Client(base_url=server.url) as http:
        assert http.post("/collections", json={"name": "walk"}).status_code == 201
        ingest(http, "walk", [
            {"id": "1", "text": "The cat sat on the mat.", "metadata": {"lang": "en"}},
            {"id": "2", "text": "Le chat dort.", "metadata": {"lang": "fr"}},
        ])  # fmt: skip
        hits = http.get("/collections/walk/search", params={"q": "kitten", "k": 1}).json()
        assert hits["results"][0]["id"] == "1"
        assert http.get("/collections/walk/documents/2").json()["metadata"] == {"lang": "fr"}
        assert http.delete("/collections/walk/documents/2").status_code == 204
        assert http.delete("/collections/walk").status_code == 204


def test_searches_run_while_an_ingest_runs(server: ServerProcess) -> None:
    verses = kjv_verses(BUSY_VERSES)
    with httpx.Client(base_url=server.url, timeout=60) as http:
        ingest(http, "busy", [{"id": v["citation"], "text": v["text"]} for v in verses[:BATCH]])
    done = threading.Event()
    errors: list[str] = []

    def writer() -> None:
        try:
            with httpx.Client(base_url=server.url, timeout=60) as http:
                for start in range(BATCH, len(verses), BATCH):
                    batch = verses[start : start + BATCH]
                    ingest(http, "busy", [{"id": v["citation"], "text": v["text"]} for v in batch])
        except Exception as exc:  # reported below
            errors.append(repr(exc))
        finally:
            done.set()

    thread = threading.Thread(target=writer)
    thread.start()
    statuses: list[int] = []
    hits_seen: list[int] = []
    deadline = time.monotonic() + 300
    with httpx.Client(base_url=server.url, timeout=60) as http:
        while not done.is_set() and time.monotonic() < deadline and len(statuses) < 2000:
            r = http.post("/collections/busy/search", json={"query": "the light of the world"})
            statuses.append(r.status_code)
            body: dict[str, Any] = r.json()
            hits_seen.append(len(body.get("results", [])))
            time.sleep(0.05)
    thread.join(timeout=300)
    assert errors == []
    assert statuses and set(statuses) == {200}
    assert len(statuses) >= 10, "searches should complete while the ingest is running"
    assert min(hits_seen) == 10
    info = httpx.get(f"{server.url}/collections/busy").json()
    assert info["documents"] == info["chunks"] == info["vectors"] == len(verses)
