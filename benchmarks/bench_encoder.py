"""Encoder speed and agreement: torch vs ONNX Runtime (float32) vs ONNX Runtime (int8).

Loads the configured encoder (SEMSEARCH_ENCODER) with each backend, exporting the ONNX models
into SEMSEARCH_MODEL_CACHE_DIR first if they are not there yet. Then, on short texts (the first
King James verses) and single queries, measures texts/s at one batch size and single-text
latency, plus the cosine of each backend's vectors with torch's. The backends take turns on
every batch and every query, so a busy machine slows them alike; the ratios are what to read.
--threads 1 runs every backend on one thread, which a shared machine disturbs least.

    .venv/bin/python benchmarks/bench_encoder.py
    .venv/bin/python benchmarks/bench_encoder.py --threads 1
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from app.config import Settings  # noqa: E402
from app.models.encoder import Encoder  # noqa: E402
from tests.helpers import kjv_verses  # noqa: E402

BACKENDS = ("torch", "onnx", "onnx-int8")
SPEED_GOAL = 2.0
COSINE_GOAL = 0.99
QUERIES = [
    "how do I reset my password", "a kitten", "error XJ-4471", "what is the capital of France",
    "stock markets fell", "python sort a list of tuples", "Jesus wept", "tomato soup recipe",
    "who built the ark", "love thy neighbour", "faiss index types", "the sermon on the mount",
    "God", "kings of Israel", "how to bake bread", "interest rates rose",
    "the prodigal son", "why is the sky blue", "hello", "parable of the sower",
]  # fmt: skip


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.asarray((a * b).sum(axis=1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=2000, help="verses to embed (max 31,103)")
    parser.add_argument("--batch", type=int, default=64, help="texts per encode call")
    parser.add_argument("--queries", type=int, default=200, help="single-text latency samples")
    parser.add_argument(
        "--threads", type=int, default=0, help="threads per backend (default: the libraries' own)"
    )
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    settings = Settings()
    encoders: dict[str, Encoder] = {}
    for backend in BACKENDS:
        started = time.perf_counter()
        encoders[backend] = Encoder(
            settings.encoder, batch_size=args.batch, backend=backend,
            cache_dir=settings.model_cache_dir, threads=args.threads,
        )  # fmt: skip
        print(f"loaded {backend:<9} in {time.perf_counter() - started:6.1f} s", flush=True)
    texts = [str(v["text"]) for v in kjv_verses(args.texts)]
    batches = [texts[i : i + args.batch] for i in range(0, len(texts), args.batch)]
    queries = [QUERIES[i % len(QUERIES)] for i in range(args.queries)]
    for encoder in encoders.values():
        encoder.encode(batches[0])
        encoder.encode(queries[:5], batch_size=1)

    spent = dict.fromkeys(BACKENDS, 0.0)
    vectors: dict[str, list[np.ndarray]] = {b: [] for b in BACKENDS}
    for batch in batches:
        for backend, encoder in encoders.items():
            started = time.perf_counter()
            vectors[backend].append(encoder.encode(batch))
            spent[backend] += time.perf_counter() - started
    latency: dict[str, list[float]] = {b: [] for b in BACKENDS}
    single: dict[str, list[np.ndarray]] = {b: [] for b in BACKENDS}
    for query in queries:
        for backend, encoder in encoders.items():
            started = time.perf_counter()
            single[backend].append(encoder.encode([query]))
            latency[backend].append(time.perf_counter() - started)

    reference = np.vstack(vectors["torch"])
    reference_single = np.vstack(single["torch"])
    load = os.getloadavg()[0]
    print(
        f"\nencoder {settings.encoder}; {len(texts)} verses at batch {args.batch}, "
        f"{len(queries)} single queries; {os.cpu_count()} cores, "
        f"{args.threads or 'default'} threads, load average {load:.1f}\n"
    )
    header = (
        f"{'backend':<10}{'texts/s':>9}{'x torch':>9}{'p50 ms':>9}{'x torch':>9}"
        f"{'cos min':>9}{'cos mean':>10}{'query cos min':>15}{'query cos mean':>16}"
    )
    print(header)
    print("-" * len(header))
    torch_rate = len(texts) / spent["torch"]
    torch_p50 = statistics.median(latency["torch"])
    verdicts = []
    for backend in BACKENDS:
        rate = len(texts) / spent[backend]
        p50 = statistics.median(latency[backend])
        on_texts = cosines(np.vstack(vectors[backend]), reference)
        on_queries = cosines(np.vstack(single[backend]), reference_single)
        print(
            f"{backend:<10}{rate:>9.0f}{rate / torch_rate:>8.2f}x{p50 * 1000:>9.2f}"
            f"{torch_p50 / p50:>8.2f}x{on_texts.min():>9.4f}{on_texts.mean():>10.4f}"
            f"{on_queries.min():>15.4f}{on_queries.mean():>16.4f}"
        )
        if backend != "torch":
            verdicts.append(
                f"{backend}: throughput {rate / torch_rate:.2f}x "
                f"({'met' if rate / torch_rate >= SPEED_GOAL else 'NOT met'}), "
                f"latency {torch_p50 / p50:.2f}x "
                f"({'met' if torch_p50 / p50 >= SPEED_GOAL else 'NOT met'}), "
                f"verse cosine min {on_texts.min():.4f} "
                f"({'met' if on_texts.min() >= COSINE_GOAL else 'NOT met'}), "
                f"query cosine min {on_queries.min():.4f} "
                f"({'met' if on_queries.min() >= COSINE_GOAL else 'NOT met'})"
            )
    print(f"\ngoals: >= {SPEED_GOAL:.0f}x torch, cosine with torch >= {COSINE_GOAL}")
    for verdict in verdicts:
        print(f"  {verdict}")


if __name__ == "__main__":
    main()
