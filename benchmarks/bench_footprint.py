"""The service's footprint: its memory after start and after an ingest, and the CPU time a lone
query costs beside its wall time.

Starts the real service on 127.0.0.1 (its default settings, plus any --server-env), reads the
server's /proc/<pid>/status (VmRSS, RssAnon, RssFile, VmHWM) once ready, after ingesting King
James verses over HTTP and after single queries sent --gap-ms apart; the CPU time of those
queries is the server's utime + stime (/proc/<pid>/stat) over the whole run of queries, divided
by their count, printed beside their mean wall time as seen by the client. The CPU's flags
that matter to the encoder are printed first.

    .venv/bin/python benchmarks/bench_footprint.py
    .venv/bin/python benchmarks/bench_footprint.py --server-env SEMSEARCH_ENCODER_BACKEND=torch

Every load is bounded in requests.
"""

import argparse
import os
import random
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from bench_service import Searcher  # noqa: E402
from common import http_ingest  # noqa: E402

from app.models.encoder_onnx import cpu_flags  # noqa: E402
from tests.helpers import ServerProcess, kjv_verses  # noqa: E402

STATUS_FIELDS = ("VmRSS", "RssAnon", "RssFile", "VmHWM")
ENCODER_FLAGS = ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "amx_int8")


def memory_mib(pid: int) -> dict[str, float]:
    """The STATUS_FIELDS of a process, in MiB."""
    found = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in STATUS_FIELDS:
            found[name] = int(value.split()[0]) / 1024
    return found


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, all its threads, in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def show(stage: str, pid: int) -> None:
    m = memory_mib(pid)
    print(f"{stage:<32}" + "".join(f"{m.get(f, float('nan')):>10.1f}" for f in STATUS_FIELDS))


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--docs", type=int, default=4000, help="verses to ingest")
    parser.add_argument("--batch", type=int, default=256, help="documents per ingest request")
    parser.add_argument("--queries", type=int, default=200, help="lone queries")
    parser.add_argument("--gap-ms", type=float, default=20, help="pause between lone queries")
    parser.add_argument(
        "--server-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a setting for the service, e.g. SEMSEARCH_ENCODER_BACKEND=torch (repeatable)",
    )
    args = parser.parse_args()
    server_env = dict(item.split("=", 1) for item in args.server_env)
    flags = cpu_flags()
    print(f"cpus {os.cpu_count()}; flags: {' '.join(f for f in ENCODER_FLAGS if f in flags)}")
    print(f"service settings: {server_env}")

    verses = kjv_verses(args.docs)
    rng = random.Random(11)
    texts = [str(v["text"]) for v in verses]
    queries = [" ".join(t.split()[:6]) for t in rng.sample(texts, min(len(texts), args.queries))]
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        server = ServerProcess(Path(tmp) / "data", env=server_env).start(timeout=600)
        assert server.proc is not None
        pid = server.proc.pid
        try:
            print(f"ready after {time.perf_counter() - started:.1f} s")
            print(f"\n{'MiB':<32}" + "".join(f"{f:>10}" for f in STATUS_FIELDS))
            show("after start", pid)
            ingest_s = http_ingest(server.url, "bench", verses, args.batch, 2)
            show(f"after ingesting {len(verses)} verses", pid)
            one = Searcher(server.port)
            for q in queries[:20]:
                one(q)
            walls = []
            cpu_before = cpu_seconds(pid)
            for q in queries:
                walls.append(one(q))
                time.sleep(args.gap_ms / 1000)
            cpu_ms = (cpu_seconds(pid) - cpu_before) * 1000 / len(queries)
            one.close()
            show(f"after {len(queries)} queries", pid)
        except Exception:
            print(server.log(), file=sys.stderr)
            raise
        finally:
            server.stop()
    wall_ms = float(np.mean(walls))
    print(f"\ningest: {len(verses) / ingest_s:.1f} docs/s")
    print(
        f"lone queries {args.gap_ms:g} ms apart: wall {wall_ms:.2f} ms a query (mean; p50 "
        f"{np.median(walls):.2f}), server CPU {cpu_ms:.2f} ms a query = "
        f"{cpu_ms / wall_ms:.2f}x wall (target <= 1.5x)"
    )


if __name__ == "__main__":
    main()
