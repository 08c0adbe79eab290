"""What the benchmark scripts share: percentiles and the peak memory of a process."""

from pathlib import Path


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
