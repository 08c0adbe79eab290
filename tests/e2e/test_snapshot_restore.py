"""A snapshot taken over HTTP, restored with `semsearch restore` into a new data folder, serves
the same search results from a new server."""

import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.helpers import ROOT, ServerProcess, ingest, kjv_verses

QUERIES = ["the light of the world", "bread and wine", "the waters of the deep"]


def search_all(http: httpx.Client, collection: str) -> list[list[tuple[str, float]]]:
    found = []
    for query in QUERIES:
        for mode in ("dense", "hybrid"):
            body = {"query": query, "k": 5, "mode": mode}
            r = http.post(f"/collections/{collection}/search", json=body)
            assert r.status_code == 200, r.text
            found.append([(h["id"], h["score"]) for h in r.json()["results"]])
    return found


def same_results(a: list[list[tuple[str, float]]], b: list[list[tuple[str, float]]]) -> None:
    assert [[i for i, _ in q] for q in a] == [[i for i, _ in q] for q in b]
    assert [[s for _, s in q] for q in a] == [pytest.approx([s for _, s in q]) for q in b]


def restore_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app.cli", "restore", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_snapshot_then_restore_into_a_new_data_folder_serves_the_same_results(
    server: ServerProcess, tmp_path: Path
) -> None:
    verses = kjv_verses(60)
    docs: list[dict[str, Any]] = [
        {"id": v["citation"], "text": v["text"], "metadata": {"book": v["book"]}} for v in verses
    ]
    with httpx.Client(base_url=server.url, timeout=120) as http:
        ingest(http, "bible", docs[:50])
        assert http.delete(f"/collections/bible/documents/{docs[0]['id']}").status_code == 204

        for url, status, words in [
            ("/collections/nope/snapshot", 404, "collection 'nope' does not exist"),
            ("/collections/bad%20name/snapshot", 400, "'bad name' is not a valid collection"),
        ]:
            r = http.post(url)
            assert r.status_code == status, r.text
            assert words in r.json()["error"]["message"]
        r = http.get("/collections/bad%20name/snapshots")
        assert r.status_code == 400 and "name:" in r.json()["error"]["message"]
        assert http.get("/collections/bible/snapshots").json() == {"snapshots": []}

        r = http.post("/collections/bible/snapshot")
        assert r.status_code == 201, r.text
        info = r.json()
        assert set(info) == {"path", "collection", "documents", "chunks", "seq", "created"}
        assert info["collection"] == "bible"
        assert info["documents"] == info["chunks"] == 49
        path = Path(info["path"])
        assert path.parent == (server.data_dir / ".snapshots").resolve()
        assert path.name.startswith("bible-") and info["created"].endswith("Z")
        assert http.get("/collections/bible/snapshots").json() == {"snapshots": [info]}
        expected = search_all(http, "bible")
        ingest(http, "bible", docs[50:])  # after the snapshot: not restored

    new_data = tmp_path / "data"
    done = restore_cli(str(path), "--data-dir", str(new_data))
    assert done.returncode == 0, done.stderr
    assert "restored collection 'bible'" in done.stdout and "49 documents" in done.stdout

    restored = ServerProcess(new_data).start()
    try:
        with httpx.Client(base_url=restored.url, timeout=120) as http:
            described = http.get("/collections/bible").json()
            assert described["documents"] == described["chunks"] == described["vectors"] == 49
            same_results(search_all(http, "bible"), expected)
            assert http.get(f"/collections/bible/documents/{docs[-1]['id']}").status_code == 404
        assert restored.stop() == 0, restored.log()
    finally:
        restored.kill()
