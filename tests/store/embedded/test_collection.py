"""An embedded collection keeps SQLite and FAISS in step, recovers its index from SQLite, and
answers concurrent searches with one FAISS search."""

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from app.models.encoder import Encoder
from app.store.embedded.collection import Collection
from app.store.embedded.layout import SNAPSHOT_FILE
from app.store.interface import CollectionConfig, NewDocument
from tests.helpers import combiner_busy, wait_for_waiting

TEXTS = [
    "The cat sat on the mat.",
    "Stock markets fell sharply on Monday.",
    "A recipe for tomato soup with basil.",
    "The football team won the championship.",
    "Rain is expected across the north tomorrow.",
]


def make(
    folder: Path, encoder: Encoder, name: str = "c", search_batching: bool = True
) -> Collection:
    info = encoder.info
    config = CollectionConfig(name, info.name, info.dimension, info.normalized, "flat")
    return Collection.create(folder / name, config, encoder, search_batching)


def top_id(collection: Collection, query: str) -> str:
    (hits,) = collection.search(collection.embed_queries([query]), 1)
    return hits[0].id


def test_reopening_without_a_snapshot_rebuilds_from_sqlite(
    tmp_path: Path, encoder: Encoder
) -> None:
    c = make(tmp_path, encoder)
    c.upsert([NewDocument(t, f"d{i}") for i, t in enumerate(TEXTS)])
    c.close()
    assert not (tmp_path / "c" / SNAPSHOT_FILE).exists()
    reopened = Collection.open(tmp_path / "c", encoder)
    assert reopened.counts() == {"documents": 5, "chunks": 5, "vectors": 5}
    assert top_id(reopened, "kitten") == "d0"


def test_reopening_brings_an_old_snapshot_forward(tmp_path: Path, encoder: Encoder) -> None:
    c = make(tmp_path, encoder)
    c.upsert([NewDocument(t, f"d{i}") for i, t in enumerate(TEXTS[:3])])
    assert c.snapshot()
    c.upsert([NewDocument(TEXTS[3], "d3"), NewDocument(TEXTS[4], "d4")])
    c.upsert([NewDocument("Quantum computers use qubits.", "d0")])
    c.delete(["d1"])
    c.close()
    reopened = Collection.open(tmp_path / "c", encoder)
    assert reopened.counts() == {"documents": 4, "chunks": 4, "vectors": 4}
    assert top_id(reopened, "qubits") == "d0"
    assert top_id(reopened, "weather forecast") == "d4"
    (hits,) = reopened.search(reopened.embed_queries(["stock market"]), 10)
    assert "d1" not in [h.id for h in hits]


def test_a_damaged_snapshot_is_rebuilt(tmp_path: Path, encoder: Encoder) -> None:
    c = make(tmp_path, encoder)
    c.upsert([NewDocument(t, f"d{i}") for i, t in enumerate(TEXTS)])
    c.snapshot()
    c.close()
    path = tmp_path / "c" / SNAPSHOT_FILE
    path.write_bytes(path.read_bytes()[:100])
    reopened = Collection.open(tmp_path / "c", encoder)
    assert reopened.counts()["vectors"] == 5 and top_id(reopened, "kitten") == "d0"


def test_concurrent_searches_are_answered_together_with_the_answers_they_get_alone(
    tmp_path: Path, encoder: Encoder
) -> None:
    c = make(tmp_path, encoder)
    words = ["apple", "river", "engine", "violin", "desert", "planet", "garden", "castle"]
    c.upsert(
        [NewDocument(f"A story about a {w} and a {v}.", f"{w}-{v}") for w in words for v in words]
    )
    queries = c.embed_queries(words)
    alone = [c.search(queries[i : i + 1], 5)[0] for i in range(len(words))]
    with ThreadPoolExecutor(len(words)) as pool:
        with combiner_busy(c._first_rounds):  # a search in progress: the others queue
            futures = [pool.submit(c.search, queries[i : i + 1], 5) for i in range(len(words))]
            wait_for_waiting(c._first_rounds, len(words))
        together = [f.result(30)[0] for f in futures]
    for mine, theirs in zip(together, alone, strict=True):
        assert [h.id for h in mine] == [h.id for h in theirs]
        assert [h.score for h in mine] == pytest.approx([h.score for h in theirs], abs=1e-5)
        assert [h.text for h in mine] == [h.text for h in theirs]


def test_with_search_batching_off_each_search_runs_on_its_own(
    tmp_path: Path, encoder: Encoder
) -> None:
    c = make(tmp_path, encoder, search_batching=False)
    c.upsert([NewDocument(t, f"d{i}") for i, t in enumerate(TEXTS)])
    queries = c.embed_queries(["kitten", "weather forecast", "soup", "football"])
    with ThreadPoolExecutor(4) as pool:
        tops = list(pool.map(lambda i: c.search(queries[i : i + 1], 1)[0][0].id, range(4)))
    assert tops == ["d0", "d4", "d2", "d3"]
    assert c._first_rounds is None


def test_while_every_document_is_one_chunk_a_search_reads_only_k_chunks(
    tmp_path: Path, encoder: Encoder
) -> None:
    c = make(tmp_path, encoder)
    c.upsert([NewDocument(t, f"d{i}") for i, t in enumerate(TEXTS)])
    read: list[int] = []
    chunk_hits = c.docstore.chunk_hits
    c.docstore.chunk_hits = lambda ids: read.append(len(ids)) or chunk_hits(ids)  # type: ignore[method-assign]
    (hits,) = c.search(c.embed_queries(["kitten"]), 2)
    assert [h.id for h in hits][:1] == ["d0"] and len(hits) == 2
    assert read == [2]
    # A document of several chunks: a search fetches more, to find k distinct documents.
    long_text = " ".join(f"Sentence number {i} talks about sailing boats." for i in range(200))
    c.upsert([NewDocument(long_text, "long")])
    assert c.counts()["chunks"] > len(TEXTS) + 1
    read.clear()
    (hits,) = c.search(c.embed_queries(["sailing boats"]), 2)
    assert hits[0].id == "long" and len({h.id for h in hits}) == 2
    assert read[0] > 2
    # Reopened, the collection finds out again from what it stores.
    c.close()
    reopened = Collection.open(c.folder, encoder)
    assert reopened._one_chunk_each is False
    # Once that document is gone, a reopened collection reads k chunks again.
    assert reopened.delete(["long"]) == 1
    reopened.close()
    assert Collection.open(c.folder, encoder)._one_chunk_each is True
