"""What the PostgreSQL backend adds to the store's shared behaviour: pgvector indexes that
still return k hits under a rare filter, index options checked for this backend, a schema that
several processes may create at once, collections every catalog sees, jobs in the database."""

import threading
import time

import numpy as np
import psycopg
import pytest

from app.errors import BadInput, Conflict, NotFound
from app.jobs import Job, JobRunner
from app.models.encoder import Encoder
from app.store.interface import ChunkRow, DocumentRow, NewDocument
from app.store.postgres.catalog import PgCatalog
from app.store.postgres.collection import PgCollection
from app.store.postgres.database import Database
from app.store.postgres.jobs import PgJobStore
from app.store.postgres.schema import SCHEMA_VERSION, migrate

ROWS = 3000
RARE_EVERY = 100  # one document in a hundred: a filter matching 1% of rows


def random_rows(dimension: int, count: int, seed: int = 0) -> list[DocumentRow]:
    rng = np.random.default_rng(seed)
    vectors = rng.standard_normal((count, dimension)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return [
        DocumentRow(
            f"r{i}",
            f"row {i}",
            {"rare": i % RARE_EVERY == 0, "n": i},
            [ChunkRow(0, 0, 5, vectors[i])],
        )
        for i in range(count)
    ]


def exact_top(rows: list[DocumentRow], query: np.ndarray, k: int, rare: bool) -> list[str]:
    chosen = [r for r in rows if not rare or r.metadata["rare"]]
    scores = np.array([float(r.chunks[0].vector @ query) for r in chosen])
    return [chosen[i].id for i in np.argsort(-scores)[:k]]


@pytest.fixture(scope="module")
def hnsw_collection(catalog: PgCatalog) -> tuple[PgCollection, list[DocumentRow]]:
    collection = catalog.create("vectors_hnsw", index="hnsw", index_options={"ef_search": 20})
    rows = random_rows(collection.config.dimension, ROWS)
    for i in range(0, ROWS, 1000):
        collection.store(rows[i : i + 1000])
    return collection, rows


def test_an_hnsw_collection_searches_through_its_index(
    hnsw_collection: tuple[PgCollection, list[DocumentRow]],
) -> None:
    collection, rows = hnsw_collection
    assert collection.index_in_use == "hnsw"
    query = rows[7].chunks[0].vector
    (hits,) = collection.search(query[None, :], 10)
    assert hits[0].id == "r7" and len(hits) == 10


def test_a_filter_matching_one_percent_of_rows_still_returns_k_hits(
    hnsw_collection: tuple[PgCollection, list[DocumentRow]],
) -> None:
    collection, rows = hnsw_collection
    rng = np.random.default_rng(1)
    for _ in range(5):
        query = rng.standard_normal(collection.config.dimension).astype(np.float32)
        query /= np.linalg.norm(query)
        (hits,) = collection.search(query[None, :], 10, {"rare": True})
        assert len(hits) == 10
        assert all(h.metadata["rare"] for h in hits)
        # Approximate (ef_search 20 on random vectors), yet most of the exact answer.
        expected = exact_top(rows, query, 10, rare=True)
        assert len(set(expected) & {h.id for h in hits}) >= 6
    near = rows[4200 % ROWS].chunks[0].vector  # r1200, a rare row
    (hits,) = collection.search(near[None, :], 10, {"rare": True})
    assert hits[0].id == "r1200" and len(hits) == 10
    # Every one of the matching rows, when k asks for all of them.
    (everything,) = collection.search(query[None, :], 100, {"rare": True})
    assert len(everything) == ROWS // RARE_EVERY


def test_an_auto_index_is_built_concurrently_past_its_threshold(catalog: PgCatalog) -> None:
    collection = catalog.create("vectors_auto", index="auto", index_options={"threshold": 500})
    rows = random_rows(collection.config.dimension, 600, seed=3)
    collection.store(rows[:400])
    assert collection.index_in_use == "flat" and not collection.index_building
    collection.store(rows[400:])
    for _ in range(600):
        if collection.index_in_use == "hnsw":
            break
        time.sleep(0.1)
    assert collection.index_in_use == "hnsw"
    query = rows[5].chunks[0].vector
    (hits,) = collection.search(query[None, :], 3, {"n": {"$lt": 100}})
    assert hits[0].id == "r5" and all(h.metadata["n"] < 100 for h in hits)


def test_an_ivf_index_waits_for_rows_to_train_on(catalog: PgCatalog) -> None:
    collection = catalog.create(
        "vectors_ivf", index="ivf", index_options={"nlist": 4, "nprobe": 2, "threshold": 200}
    )
    rows = random_rows(collection.config.dimension, 300, seed=4)
    collection.store(rows)
    for _ in range(600):
        if collection.index_in_use == "ivf":
            break
        time.sleep(0.1)
    assert collection.index_in_use == "ivf"
    (hits,) = collection.search(rows[9].chunks[0].vector[None, :], 5, {"rare": False})
    assert len(hits) == 5 and hits[0].id == "r9"


def test_half_precision_stores_halfvec_and_finds_the_same(
    catalog: PgCatalog, encoder: Encoder
) -> None:
    collection = catalog.create("half", index="hnsw", index_options={"quantization": "half"})
    collection.upsert([NewDocument("The cat sat on the mat.", "cat"), NewDocument("Stocks fell.")])
    (hits,) = collection.search(collection.embed_queries(["kitten"]), 1)
    assert hits[0].id == "cat"
    sampled, vectors = collection.sample_chunks(10)
    assert len(sampled) == 2 and vectors.shape == (2, encoder.dimension)


@pytest.mark.parametrize(
    ("index", "options", "named"),
    [
        ("HNSW32,Flat", {}, "index"),
        ("IVF16,PQ8", {}, "index"),
        ("hnsw", {"quantization": "sq8"}, "index_options.quantization"),
        ("hnsw", {"compact_fraction": 0.2}, "index_options.compact_fraction"),
        ("hnsw", {"m": 500}, "index_options.m"),
        ("ivf", {"nlist": 8, "nprobe": 9}, "index_options.nprobe"),
        ("auto", {"then": "flat"}, "index_options.then"),
        ("flat", {"ef_search": 10}, "index_options.ef_search"),
    ],
)
def test_index_choices_this_backend_lacks_are_refused_by_name(
    catalog: PgCatalog, index: str, options: dict[str, object], named: str
) -> None:
    with pytest.raises(BadInput, match=named.replace(".", r"\.")):
        catalog.create("refused", index=index, index_options=options)
    with pytest.raises(NotFound):
        catalog.get("refused")


def test_every_catalog_on_the_database_sees_creations_and_deletions(
    database_url: str, catalog: PgCatalog, encoder: Encoder
) -> None:
    other = PgCatalog(Database(database_url, pool_size=2), encoder)
    other.open_all()
    try:
        catalog.create("shared")
        assert "shared" in other.names()
        other.get("shared").upsert([NewDocument("hello there", "h")])
        assert catalog.get("shared").get("h") is not None
        with pytest.raises(Conflict):
            other.create("shared")
        other.delete("shared")
        with pytest.raises(NotFound):
            catalog.get("shared")
        catalog.create("shared")  # the name again: a new, empty collection
        assert catalog.get("shared").counts()["documents"] == 0
    finally:
        other.close()


def test_the_schema_is_created_once_when_processes_start_together(database_url: str) -> None:
    errors: list[BaseException] = []

    def start() -> None:
        try:
            with psycopg.connect(database_url) as conn:
                migrate(conn)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with psycopg.connect(database_url) as conn:
        assert conn.execute("SELECT version FROM semsearch_schema").fetchall() == [
            (SCHEMA_VERSION,)
        ]


def test_a_job_is_read_from_the_database_by_another_runner(catalog: PgCatalog) -> None:
    store = PgJobStore(catalog.db)
    done = threading.Event()

    def work(job: Job) -> None:
        job.documents += 3
        job.files_done += 1
        done.set()

    job = JobRunner(store).submit("c", 1, work)
    assert done.wait(10)
    elsewhere = JobRunner(store)
    for _ in range(100):
        seen = elsewhere.get(job.id)
        if seen is not None and seen.status == "done":
            break
        time.sleep(0.05)
    assert seen is not None and seen.to_dict()["documents"] == 3
    assert elsewhere.get("nope") is None
