"""Index types on PostgreSQL: `flat` (exact scan), `hnsw` and `ivf` (pgvector's HNSW and
ivfflat), `auto` (exact until a threshold, then HNSW or ivfflat built concurrently). Options
the embedded backend alone offers (FAISS factory strings, sq8/pq quantization, compaction) are
refused with a 400 naming them."""

import math
from dataclasses import dataclass
from typing import Any

from app.errors import BadInput
from app.store.interface import IndexDefaults

INDEX_TYPES = ("flat", "hnsw", "ivf", "auto")
QUANTIZATIONS = ("none", "half")
AUTO_TARGETS = ("hnsw", "ivf")
DEFAULT_M = 16
DEFAULT_EF_CONSTRUCTION = 64
DEFAULT_EF_SEARCH = 64
DEFAULT_NPROBE = 10
IVF_THRESHOLD = 10_000  # rows an ivf index waits for before it trains its lists
MAX_LISTS = 32_768
MAX_THRESHOLD = 1_000_000_000

_OPTIONS: dict[str, tuple[str, ...]] = {
    "flat": ("quantization",),
    "hnsw": ("m", "ef_construction", "ef_search", "quantization", "threshold"),
    "ivf": ("nlist", "nprobe", "quantization", "threshold"),
}
_EMBEDDED_ONLY = {
    "pq_m": "product quantization",
    "compact_fraction": "HNSW compaction (PostgreSQL reclaims deleted rows with VACUUM)",
}


@dataclass(frozen=True)
class PgIndexSpec:
    """A checked index choice with every option filled in."""

    index: str
    options: dict[str, Any]

    @property
    def target(self) -> str:
        """flat, hnsw or ivf: the index searches use once it is built."""
        return str(self.options["then"]) if self.index == "auto" else self.index

    @property
    def threshold(self) -> int:
        """Rows before the target index is built; 0 builds it with the collection."""
        return int(self.options.get("threshold", 0))

    @property
    def half(self) -> bool:
        return self.options.get("quantization") == "half"

    def lists(self, rows: int) -> int:
        """ivfflat lists: as asked, or pgvector's advice (rows / 1000, sqrt(rows) past 1M)."""
        if self.options.get("nlist"):
            return int(self.options["nlist"])
        wanted = rows // 1000 if rows <= 1_000_000 else int(math.sqrt(rows))
        return max(1, min(MAX_LISTS, wanted))

    def search_settings(self) -> dict[str, str]:
        """Per-transaction settings of a search on the built index."""
        if self.target == "hnsw":
            return {"hnsw.ef_search": str(self.options["ef_search"])}
        if self.target == "ivf":
            return {"ivfflat.probes": str(self.options["nprobe"])}
        return {}


def _int(field: str, value: Any, lo: int, hi: int, why: str = "") -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadInput(f"{field}: must be an integer from {lo} to {hi}")
    if not lo <= value <= hi:
        note = f" ({why})" if why else ""
        raise BadInput(f"{field}: {value} is out of range; allowed {lo}-{hi}{note}")
    return value


def parse_pg_index(
    index: str | None, options: dict[str, Any] | None, defaults: IndexDefaults | None = None
) -> PgIndexSpec:
    """Check an index choice for PostgreSQL and complete its options."""
    defaults = defaults or IndexDefaults()
    index = "flat" if index is None else index
    if not isinstance(index, str) or index.strip() not in INDEX_TYPES:
        raise BadInput(
            f"index: {str(index)[:40]!r} is not one of {', '.join(INDEX_TYPES)}; FAISS factory "
            "strings are offered by the embedded backend only, not on PostgreSQL"
        )
    index = index.strip()
    if options is None:
        options = {}
    if not isinstance(options, dict):
        raise BadInput("index_options: must be an object")
    given = dict(options)
    if index == "auto":
        then = given.pop("then", "hnsw")
        if then not in AUTO_TARGETS:
            raise BadInput(f"index_options.then: {then!r} is not one of {', '.join(AUTO_TARGETS)}")
        resolved = _resolve(then, given, "auto")
        if "threshold" not in given:
            resolved["threshold"] = defaults.auto_threshold
        return PgIndexSpec(index, {"then": then, **resolved})
    return PgIndexSpec(index, _resolve(index, given, index))


def _resolve(kind: str, given: dict[str, Any], label: str) -> dict[str, Any]:
    allowed = _OPTIONS[kind]
    for name in given:
        if name in _EMBEDDED_ONLY:
            raise BadInput(
                f"index_options.{name}: {_EMBEDDED_ONLY[name]} is offered by the embedded "
                "backend only, not on PostgreSQL"
            )
        if name not in allowed:
            raise BadInput(
                f"index_options.{name}: unknown option for index {label} on PostgreSQL; "
                f"allowed: {', '.join(sorted(allowed))}"
            )
    out: dict[str, Any] = {}
    quantization = given.get("quantization", "none")
    if quantization not in QUANTIZATIONS:
        raise BadInput(
            f"index_options.quantization: {quantization!r} is not one of "
            f"{', '.join(QUANTIZATIONS)} on PostgreSQL (half stores halfvec; sq8 and pq are "
            "offered by the embedded backend only)"
        )
    out["quantization"] = quantization
    if kind == "hnsw":
        out["m"] = _int("index_options.m", given.get("m", DEFAULT_M), 2, 100)
        out["ef_construction"] = _int(
            "index_options.ef_construction",
            given.get("ef_construction", max(DEFAULT_EF_CONSTRUCTION, 2 * out["m"])),
            2 * out["m"],
            1000,
            "at least twice m",
        )
        out["ef_search"] = _int(
            "index_options.ef_search", given.get("ef_search", DEFAULT_EF_SEARCH), 1, 1000
        )
    if kind == "ivf":
        raw = given.get("nlist")
        nlist = None if raw is None else _int("index_options.nlist", raw, 1, MAX_LISTS)
        out["nlist"] = nlist
        out["nprobe"] = _int(
            "index_options.nprobe",
            given.get("nprobe", min(DEFAULT_NPROBE, nlist or MAX_LISTS)),
            1,
            nlist or MAX_LISTS,
            "at most nlist" if nlist else "",
        )
        least = nlist or 1
        out["threshold"] = _int(
            "index_options.threshold",
            given.get("threshold", max(IVF_THRESHOLD, 39 * least)),
            least,
            MAX_THRESHOLD,
            "ivfflat trains its lists on the rows present",
        )
    elif "threshold" in given:
        out["threshold"] = _int("index_options.threshold", given["threshold"], 1, MAX_THRESHOLD)
    return out
