"""Every index type adds, searches, deletes, filters and survives a snapshot; auto and the
types that train move from exact search to their index in the background; bad specs say why."""

import threading
import zlib
from pathlib import Path
from typing import Any

import faiss
import numpy as np
import pytest

from app.errors import BadInput
from app.models.encoder import Encoder
from app.store.catalog import Catalog
from app.store.embedded.collection import Collection
from app.store.embedded.index_spec import parse_index
from app.store.embedded.layout import SNAPSHOT_FILE
from app.store.embedded.vectors import HEADER_V1, MAGIC_V1, VectorIndex
from app.store.interface import ChunkRow, CollectionConfig, DocumentRow, IndexDefaults

DIM = 384
GROUPS = 5
WAIT_S = 120


def clustered(n: int, seed: int, centers: int = 12) -> np.ndarray:
    """Unit vectors around a few centers, like embeddings of a few topics."""
    rng = np.random.default_rng(seed)
    middle = rng.normal(size=(centers, DIM)).astype(np.float32)
    x = middle[rng.integers(0, centers, n)] + 0.6 * rng.normal(size=(n, DIM)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def rows(vectors: np.ndarray, start: int) -> list[DocumentRow]:
    return [
        DocumentRow(
            f"d{start + i}",
            f"document {start + i}",
            {"group": (start + i) % GROUPS, "n": start + i},
            [ChunkRow(0, 0, 10, v)],
        )
        for i, v in enumerate(vectors)
    ]


def store(c: Collection, vectors: np.ndarray, start: int, batch: int = 100) -> None:
    for at in range(0, len(vectors), batch):
        c.store(rows(vectors[at : at + batch], start + at))


def ids_of(c: Collection, query: np.ndarray, k: int, filter_: Any = None) -> list[str]:
    (hits,) = c.search(query[None, :], k, filter_)
    return [h.id for h in hits]


def settle(c: Collection) -> None:
    """Wait until no background build runs and none is due."""
    for _ in range(10):
        assert c.index_builder.wait(WAIT_S), "index build did not finish"
        if not c.index_builder.maybe_start():
            return
    raise AssertionError("index builds kept starting")


@pytest.fixture
def catalog(tmp_path: Path, encoder: Encoder) -> Catalog:
    return Catalog(tmp_path / "data", encoder)


# index, options, FAISS index in use once built
TYPES: list[tuple[str, dict[str, Any], str]] = [
    ("flat", {}, "Flat"),
    ("flat", {"quantization": "sq8", "threshold": 200}, "SQ8"),
    ("flat", {"quantization": "pq", "pq_m": 8, "threshold": 300}, "IVF1,PQ8np"),
    ("hnsw", {"m": 8, "ef_construction": 32, "compact_fraction": 0.5}, "HNSW8,Flat"),
    ("hnsw", {"m": 8, "quantization": "sq8", "threshold": 200}, "HNSW8,SQ8"),
    ("ivf", {"nlist": 8, "nprobe": 2, "threshold": 200}, "IVF8,Flat"),
    ("ivf", {"nlist": 8, "quantization": "sq8", "threshold": 200}, "IVF8,SQ8"),
    ("ivf", {"nlist": 4, "quantization": "pq", "pq_m": 8, "threshold": 300}, "IVF4,PQ8np"),
    ("ivf", {"threshold": 400}, "IVF8,Flat"),  # nlist follows the size: 400 vectors, 8 lists
    ("auto", {"threshold": 200, "m": 8}, "HNSW8,Flat"),
    ("auto", {"then": "ivf", "threshold": 200, "nlist": 4}, "IVF4,Flat"),
    ("PCA64,IVF4,Flat", {"threshold": 200}, "PCA64,IVF4,Flat"),
    ("HNSW8,Flat", {}, "HNSW8,Flat"),
    ("Flat", {}, "Flat"),
]


@pytest.mark.parametrize(("index", "options", "in_use"), TYPES, ids=lambda v: str(v))
def test_each_type_adds_searches_deletes_filters_and_reopens(
    catalog: Catalog, encoder: Encoder, index: str, options: dict[str, Any], in_use: str
) -> None:
    c = catalog.create("c", index=index, index_options=options)
    vectors = clustered(400, seed=1)
    store(c, vectors, 0)
    settle(c)
    assert c.vectors.in_use == in_use
    assert c.counts() == {"documents": 400, "chunks": 400, "vectors": 400}

    # Each vector finds itself (quantized codes may rank a near neighbour first).
    found = sum(f"d{i}" in ids_of(c, vectors[i], 5) for i in range(0, 400, 10))
    assert found >= 38, found

    # Deletes: gone from every result, and k hits still come back.
    deleted = {f"d{i}" for i in range(0, 400, 4)}
    c.delete(sorted(deleted))
    for i in range(1, 400, 40):
        got = ids_of(c, vectors[i], 50)
        assert len(got) == 50 and not deleted & set(got)

    # A filter applies inside the search: all k hits match, however narrow it is.
    got = ids_of(c, vectors[3], 20, {"group": 3})
    assert len(got) == 20 and all(int(d[1:]) % GROUPS == 3 for d in got)
    narrow = {"n": {"$in": [7, 333, 398, 4]}}  # d4 is deleted
    assert sorted(ids_of(c, vectors[0], 10, narrow)) == ["d333", "d398", "d7"]

    settle(c)
    before = [ids_of(c, vectors[i], 10) for i in range(1, 400, 50)]
    c.snapshot()
    label = c.vectors.in_use
    c.close()
    reopened = Collection.open(c.folder, encoder)
    try:
        assert reopened.vectors.in_use == label and not reopened.index_builder.building
        assert reopened.counts() == {"documents": 300, "chunks": 300, "vectors": 300}
        assert [ids_of(reopened, vectors[i], 10) for i in range(1, 400, 50)] == before
        got = ids_of(reopened, vectors[5], 300)
        assert len(got) == 300 and not deleted & set(got)
    finally:
        reopened.close()


def test_auto_moves_over_in_the_background_while_searches_and_writes_go_on(
    catalog: Catalog,
) -> None:
    c = catalog.create("auto", index="auto", index_options={"threshold": 300, "m": 8})
    vectors = clustered(500, seed=2)
    store(c, vectors[:250], 0)
    assert c.vectors.in_use == "Flat" and not c.index_builder.building
    during: dict[str, Any] = {}

    def meanwhile() -> None:
        # Runs inside the build, after it has read SQLite and before it swaps.
        during["building"] = c.index_builder.building
        during["in_use"] = c.vectors.in_use
        during["top"] = [ids_of(c, vectors[i], 1)[0] for i in range(0, 300, 30)]
        store(c, vectors[300:500], 300)  # written during the build: caught up by seq
        c.delete(["d0", "d301"])
        during["searched_after_writes"] = ids_of(c, vectors[450], 1)

    c.index_builder.after_first_pass = meanwhile
    store(c, vectors[250:300], 250)  # reaches the threshold: the build starts
    settle(c)
    assert during["building"] and during["in_use"] == "Flat"
    assert during["top"] == [f"d{i}" for i in range(0, 300, 30)]
    assert during["searched_after_writes"] == ["d450"]
    assert c.vectors.in_use == "HNSW8,Flat"
    assert c.counts() == {"documents": 498, "chunks": 498, "vectors": 498}
    for i in range(1, 500, 25):
        if i != 301:
            assert ids_of(c, vectors[i], 1) == [f"d{i}"]
    got = ids_of(c, vectors[0], 498)
    assert len(got) == 498 and "d0" not in got and "d301" not in got


def test_hnsw_hides_deleted_vectors_then_compacts_them_away(catalog: Catalog) -> None:
    c = catalog.create("h", index="hnsw", index_options={"m": 8, "compact_fraction": 0.3})
    vectors = clustered(300, seed=3)
    store(c, vectors, 0)
    c.delete([f"d{i}" for i in range(0, 60)])  # 20%: hidden by a filter
    assert c.vectors.removed_pending == 60 and not c.index_builder.building
    assert c.counts()["vectors"] == 240
    got = ids_of(c, vectors[10], 240)
    assert len(got) == 240 and not {f"d{i}" for i in range(60)} & set(got)
    c.delete([f"d{i}" for i in range(60, 100)])  # 100 of 300: past 30%, rebuilt
    settle(c)
    assert c.vectors.removed_pending == 0 and c.vectors.in_use == "HNSW8,Flat"
    assert c.counts() == {"documents": 200, "chunks": 200, "vectors": 200}
    assert ids_of(c, vectors[150], 1) == ["d150"]


def test_searches_run_while_another_thread_writes_during_a_build(catalog: Catalog) -> None:
    c = catalog.create("busy", index="ivf", index_options={"nlist": 8, "threshold": 400})
    vectors = clustered(800, seed=4)
    store(c, vectors[:399], 0)
    errors: list[BaseException] = []
    started = threading.Event()

    def writer() -> None:
        try:
            started.wait(WAIT_S)
            store(c, vectors[400:800], 400, batch=50)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    thread = threading.Thread(target=writer)
    thread.start()
    c.index_builder.after_first_pass = started.set
    store(c, vectors[399:400], 399)
    for i in range(0, 400, 20):  # searches during the build and the writes
        assert ids_of(c, vectors[i], 1) == [f"d{i}"]
    thread.join(WAIT_S)
    settle(c)
    assert not errors
    assert c.vectors.in_use == "IVF8,Flat"
    assert c.counts() == {"documents": 800, "chunks": 800, "vectors": 800}
    got = ids_of(c, vectors[0], 800)
    assert len(got) == 800


def test_an_ivf_with_automatic_nlist_is_retrained_as_it_grows(catalog: Catalog) -> None:
    c = catalog.create("grow", index="ivf", index_options={"threshold": 100})
    vectors = clustered(500, seed=5)
    store(c, vectors[:100], 0)
    settle(c)
    assert c.vectors.in_use == "IVF2,Flat"  # 100 vectors: 2 lists of at least 39
    store(c, vectors[100:500], 100)
    settle(c)
    assert c.vectors.in_use == "IVF8,Flat"
    assert ids_of(c, vectors[444], 1) == ["d444"]


def test_a_collection_without_index_options_opens_as_flat(tmp_path: Path, encoder: Encoder) -> None:
    info = encoder.info
    meta = CollectionConfig("old", info.name, info.dimension, info.normalized, "flat").to_meta()
    del meta["index_options"]
    config = CollectionConfig.from_meta(meta)
    c = Collection.create(tmp_path / "old", config, encoder)
    store(c, clustered(20, seed=6), 0)
    assert c.vectors.in_use == "Flat" and c.counts()["vectors"] == 20


def test_a_snapshot_in_the_earlier_format_still_loads(tmp_path: Path) -> None:
    vectors = clustered(30, seed=7)
    index = faiss.IndexIDMap(faiss.IndexFlatIP(DIM))
    index.add_with_ids(vectors, np.arange(30, dtype=np.int64))
    payload = faiss.serialize_index(index).tobytes()
    header = HEADER_V1.pack(MAGIC_V1, 9, zlib.crc32(payload), len(payload))
    (tmp_path / SNAPSHOT_FILE).write_bytes(header + payload)
    loaded = VectorIndex.load(tmp_path / SNAPSHOT_FILE, DIM)
    assert loaded.seq == 9 and loaded.ntotal == 30 and loaded.in_use == "Flat"
    assert loaded.search(vectors[[4]], 1)[1][0, 0] == 4


# -- bad specs -----------------------------------------------------------------------------
BAD: list[tuple[Any, Any, list[str]]] = [
    ("nope", None, ["index:", "flat, hnsw, ivf, auto", "FAISS"]),
    ("IVF16,Flat,RFlat", None, ["index:", "IVF<nlist> takes one codes part", "supported:"]),
    ("PQ8x4fs", None, ["index:", "PQ8x4fs: unsupported index"]),
    # Sizes FAISS would crash the process on rather than raise.
    ("HNSW0", None, ["index:", "HNSW M must be from 4 to 128"]),
    ("IVF4_HNSW1,Flat", None, ["index:", "HNSW M must be from 4 to 128"]),
    ("IVF4,PQ8x0", None, ["index:", "bits must be from 1 to 16"]),
    ("RR0,Flat", None, ["index:", "RR0: unsupported index"]),
    ("PCA0,Flat", None, ["index:", "output dimension must be from 1 to 384"]),
    ("OPQ7_64,IVF4,PQ8", None, ["index:", "m dividing n"]),
    ("IVF4,PQ7", None, ["index:", "m must divide the dimension 384"]),
    ("IVF1000000,Flat", None, ["index:", "at most 65536"]),
    ("Flat;rm", None, ["index:", "characters"]),
    ("hnsw", {"m": 2}, ["index_options.m", "allowed 4-128"]),
    ("hnsw", {"m": "32"}, ["index_options.m", "integer from 4 to 128"]),
    ("hnsw", {"m": True}, ["index_options.m", "integer"]),
    ("hnsw", {"ef_search": 0}, ["index_options.ef_search", "allowed 1-4096"]),
    ("hnsw", {"nlist": 8}, ["index_options.nlist", "unknown option", "allowed:"]),
    ("hnsw", {"quantization": "pq"}, ["index_options.quantization", "none, sq8"]),
    ("hnsw", {"compact_fraction": 1.5}, ["index_options.compact_fraction", "0.01-0.9"]),
    ("ivf", {"nlist": 0}, ["index_options.nlist", "allowed 1-65536"]),
    ("ivf", {"nlist": 16, "nprobe": 17}, ["index_options.nprobe", "allowed 1-16"]),
    ("ivf", {"quantization": "pq", "pq_m": 7}, ["index_options.pq_m", "divide", "384"]),
    ("ivf", {"pq_m": 8}, ["index_options.pq_m", "only with quantization 'pq'"]),
    ("ivf", {"nlist": 64, "threshold": 10}, ["index_options.threshold", "allowed 64-"]),
    ("flat", {"quantization": "pq", "threshold": 100}, ["index_options.threshold", "256"]),
    ("flat", {"threshold": 100}, ["index_options.threshold", "needs no threshold"]),
    ("flat", {"quantization": "int4"}, ["index_options.quantization", "none, sq8, pq"]),
    ("auto", {"then": "flat"}, ["index_options.then", "hnsw, ivf"]),
    ("auto", {"threshold": 0}, ["index_options.threshold", "allowed 1-"]),
    ("auto", {"then": "ivf", "m": 8}, ["index_options.m", "unknown option for index auto"]),
    ("IVF16,Flat", {"ef_search": 8}, ["index_options.ef_search", "only to an HNSW"]),
    ("HNSW16,Flat", {"nprobe": 8}, ["index_options.nprobe", "only to an IVF"]),
    ("flat", [], ["index_options", "object"]),
]


@pytest.mark.parametrize(("index", "options", "words"), BAD, ids=lambda v: str(v))
def test_a_bad_index_spec_names_the_field_and_the_limit(
    index: Any, options: Any, words: list[str]
) -> None:
    with pytest.raises(BadInput) as err:
        parse_index(index, options, DIM)
    for word in words:
        assert word in err.value.message, err.value.message


def test_defaults_are_filled_in_and_kept(encoder: Encoder) -> None:
    defaults = IndexDefaults(auto_threshold=1234, compact_fraction=0.2)
    spec = parse_index("auto", None, DIM, defaults)
    assert spec.options == {
        "then": "hnsw",
        "m": 32,
        "ef_construction": 80,
        "ef_search": 64,
        "quantization": "none",
        "threshold": 1234,
        "compact_fraction": 0.2,
    }
    # Stored options read back the same, whatever the defaults are later.
    assert parse_index("auto", spec.options, DIM).options == spec.options
    assert parse_index(None, None, DIM).options == {"quantization": "none"}
    ivf = parse_index("ivf", {"quantization": "pq"}, DIM)
    assert ivf.options["pq_m"] == 48 and ivf.options["threshold"] == 10_000
    assert parse_index("IVF64,SQ8", None, DIM).options == {"nprobe": 32, "threshold": 39 * 64}
    # A factory string that trains waits for what its quantizers need: 2^10 centroids here.
    assert parse_index("IVF4,PQ8x10", None, DIM).options["threshold"] == 39 * 1024
    with pytest.raises(BadInput, match="allowed 1024-"):
        parse_index("IVF4,PQ8x10", {"threshold": 1000}, DIM)
