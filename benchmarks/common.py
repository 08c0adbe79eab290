"""What the benchmark scripts share: HTTP ingest, percentiles and the peak memory of a process."""

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx


def percentile(values: list[float], p: float) -> float:
    """The nearest-rank p-th percentile of `values`."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def peak_rss_mib(pid: int) -> float:
    """The process's high-water resident set size in MiB (Linux /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def http_ingest(url: str, collection: str, verses: list[dict], batch: int, workers: int) -> float:
    """POST the verses in requests of `batch`, `workers` at a time; returns the seconds taken."""
    batches = [
        [{"id": v["citation"], "text": v["text"], "metadata": {"book": v["book"]}} for v in part]
        for part in (verses[i : i + batch] for i in range(0, len(verses), batch))
    ]

    def send(docs: list[dict]) -> None:
        with httpx.Client(base_url=url, timeout=600) as http:
            r = http.post(f"/collections/{collection}/documents", json={"documents": docs})
            r.raise_for_status()

    started = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(send, batches))
    return time.perf_counter() - started
