"""What a collection asks of its vector index: the type chosen at creation, its options
checked and completed with defaults, and the FAISS factory string that serves it."""

import math
import re
from dataclasses import dataclass
from typing import Any

import faiss

from app.errors import BadInput
from app.store.interface import IndexDefaults

INDEX_TYPES = ("flat", "hnsw", "ivf", "auto")
QUANTIZATIONS = ("none", "sq8", "pq")
AUTO_TARGETS = ("hnsw", "ivf")
EXACT = "Flat"  # the exact index every collection that trains or grows starts on

MAX_FACTORY_CHARS = 120
MAX_FACTORY_NUMBER = 65_536
FACTORY_CHARS = re.compile(r"[A-Za-z0-9_,.()=+-]+")
MAX_THRESHOLD = 1_000_000_000
MAX_NLIST = 65_536
PQ_CENTROIDS = 256  # 8-bit codes: each sub-quantizer trains 256 centroids
POINTS_PER_CENTROID = 39  # FAISS's k-means asks for at least this many points per centroid
SQ8_TRAIN = 1_000  # vectors an 8-bit scalar quantizer learns its ranges from
REGROW_FACTOR = 4  # an ivf index with automatic nlist is retrained after growing this much

DEFAULT_M = 32
DEFAULT_EF_CONSTRUCTION = 80
DEFAULT_EF_SEARCH = 64
DEFAULT_NPROBE = 32


@dataclass(frozen=True)
class _IntRange:
    lo: int
    hi: int
    why: str = ""

    def check(self, field: str, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise BadInput(f"{field}: must be an integer from {self.lo} to {self.hi}")
        if not self.lo <= value <= self.hi:
            why = f" ({self.why})" if self.why else ""
            raise BadInput(f"{field}: {value} is out of range; allowed {self.lo}-{self.hi}{why}")
        return value


def _choice(field: str, value: Any, allowed: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in allowed:
        raise BadInput(f"{field}: {value!r} is not one of {', '.join(allowed)}")
    return value


def _fraction(field: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
        raise BadInput(f"{field}: must be a number from 0.01 to 0.9")
    if not 0.01 <= value <= 0.9:
        raise BadInput(f"{field}: {value} is out of range; allowed 0.01-0.9")
    return float(value)


def divisors(n: int) -> list[int]:
    return [i for i in range(1, n + 1) if n % i == 0]


def auto_nlist(n: int) -> int:
    """Inverted lists for n vectors: the power of two nearest sqrt(n), lowered to leave at
    least POINTS_PER_CENTROID training vectors per list."""
    nearest = 2 ** round(math.log2(max(1.0, math.sqrt(n))))
    trainable = 2 ** int(math.log2(max(1, n // POINTS_PER_CENTROID)))
    return int(min(nearest, trainable, MAX_NLIST))


# Options each type accepts (auto accepts those of the type it moves to, plus `then`).
_OPTIONS: dict[str, tuple[str, ...]] = {
    "flat": ("quantization", "pq_m", "threshold"),
    "hnsw": ("m", "ef_construction", "ef_search", "quantization", "threshold", "compact_fraction"),
    "ivf": ("nlist", "nprobe", "quantization", "pq_m", "threshold"),
    "factory": ("threshold", "nprobe", "ef_search", "compact_fraction"),
}
_QUANTIZATIONS_OF = {"flat": QUANTIZATIONS, "hnsw": ("none", "sq8"), "ivf": QUANTIZATIONS}


@dataclass(frozen=True)
class IndexSpec:
    """A checked index choice. `options` holds every option of the type with its value, so
    that a collection keeps behaving as it was created whatever the defaults become."""

    index: str
    options: dict[str, Any]
    dimension: int

    # -- what it resolves to -------------------------------------------------------------------
    @property
    def target_type(self) -> str:
        """flat, hnsw, ivf, or factory (a FAISS index_factory string)."""
        if self.index == "auto":
            return str(self.options["then"])
        return self.index if self.index in INDEX_TYPES else "factory"

    @property
    def threshold(self) -> int:
        """Vectors the collection holds before its target index is built; until then
        searches are exact. 0: the target index is used from the start."""
        return int(self.options.get("threshold", 0))

    @property
    def ef_search(self) -> int:
        return int(self.options.get("ef_search") or DEFAULT_EF_SEARCH)

    @property
    def nprobe(self) -> int:
        return int(self.options.get("nprobe") or DEFAULT_NPROBE)

    @property
    def compact_fraction(self) -> float:
        return float(self.options.get("compact_fraction") or IndexDefaults.compact_fraction)

    @property
    def auto_nlist(self) -> bool:
        """Whether nlist follows the collection's size (ivf without an explicit nlist)."""
        return self.target_type == "ivf" and self.options.get("nlist") is None

    def target_factory(self, n: int) -> str:
        """The FAISS factory string of the target index for a collection of n vectors."""
        o = self.options
        kind = self.target_type
        if kind == "factory":
            return self.index
        quantization = o.get("quantization", "none")
        # np: no polysemous training, which takes minutes and serves only Hamming filtering.
        codes = {"none": "Flat", "sq8": "SQ8", "pq": f"PQ{o.get('pq_m')}np"}[quantization]
        if kind == "hnsw":
            return f"HNSW{o['m']},{codes}"
        if kind == "ivf":
            return f"IVF{o.get('nlist') or auto_nlist(n)},{codes}"
        # flat: IndexPQ cannot filter searches; one inverted list holding PQ codes is the same
        # exhaustive scan and can.
        return "IVF1," + codes if quantization == "pq" else codes

    @property
    def exact_only(self) -> bool:
        """True when the target is the exact index itself (plain flat, or the string Flat)."""
        return self.target_factory(1) == EXACT

    def describe(self) -> dict[str, Any]:
        return dict(self.options)


# -- parsing and checking ----------------------------------------------------------------------
def parse_index(
    index: str | None,
    options: dict[str, Any] | None,
    dimension: int,
    defaults: IndexDefaults | None = None,
) -> IndexSpec:
    """Check an index choice and complete its options; BadInput names the field and limit."""
    defaults = defaults or IndexDefaults()
    index = "flat" if index is None else index
    if not isinstance(index, str) or not index.strip():
        raise BadInput(f"index: must be one of {', '.join(INDEX_TYPES)} or a FAISS factory string")
    index = index.strip()
    if options is None:
        options = {}
    if not isinstance(options, dict):
        raise BadInput("index_options: must be an object")
    kind = index if index in INDEX_TYPES else "factory"
    if kind == "factory":
        _check_factory(index, dimension)
    given = dict(options)
    if kind == "auto":
        then = _choice("index_options.then", given.pop("then", "hnsw"), AUTO_TARGETS)
        resolved = _resolve(then, given, dimension, defaults, auto=True)
        resolved = {"then": then, **resolved}
    else:
        resolved = _resolve(kind, given, dimension, defaults, auto=False, factory=index)
    return IndexSpec(index, resolved, dimension)


def spec_from_config(index: str, options: dict[str, Any] | None, dimension: int) -> IndexSpec:
    """The spec of an existing collection (options already complete; old ones have none)."""
    return parse_index(index, options or {}, dimension)


def _resolve(
    kind: str,
    given: dict[str, Any],
    dimension: int,
    defaults: IndexDefaults,
    *,
    auto: bool,
    factory: str = "",
) -> dict[str, Any]:
    allowed = _OPTIONS[kind] + (("then",) if auto else ())
    for name in given:
        if name not in allowed:
            label = "auto" if auto else (kind if kind != "factory" else "a factory string")
            raise BadInput(
                f"index_options.{name}: unknown option for index {label}; "
                f"allowed: {', '.join(sorted(allowed))}"
            )
    out: dict[str, Any] = {}
    if kind == "factory":
        return _resolve_factory(factory, given, dimension, defaults)

    quantization = _choice(
        "index_options.quantization", given.get("quantization", "none"), _QUANTIZATIONS_OF[kind]
    )
    if kind == "hnsw":
        out["m"] = _IntRange(4, 128).check("index_options.m", given.get("m", DEFAULT_M))
        out["ef_construction"] = _IntRange(8, 1024).check(
            "index_options.ef_construction", given.get("ef_construction", DEFAULT_EF_CONSTRUCTION)
        )
        out["ef_search"] = _IntRange(1, 4096).check(
            "index_options.ef_search", given.get("ef_search", DEFAULT_EF_SEARCH)
        )
    nlist: int | None = None
    if kind == "ivf":
        raw = given.get("nlist")
        nlist = None if raw is None else _IntRange(1, MAX_NLIST).check("index_options.nlist", raw)
        out["nlist"] = nlist
        out["nprobe"] = _IntRange(1, nlist or MAX_NLIST, "at most nlist" if nlist else "").check(
            "index_options.nprobe", given.get("nprobe", min(DEFAULT_NPROBE, nlist or MAX_NLIST))
        )
    out["quantization"] = quantization
    if quantization == "pq":
        pq_m = given.get("pq_m", _default_pq_m(dimension))
        _IntRange(1, dimension).check("index_options.pq_m", pq_m)
        if dimension % pq_m:
            raise BadInput(
                f"index_options.pq_m: {pq_m} does not divide the dimension {dimension}; "
                f"allowed: {', '.join(map(str, divisors(dimension)))}"
            )
        out["pq_m"] = pq_m
    elif "pq_m" in given:
        raise BadInput("index_options.pq_m: applies only with quantization 'pq'")

    # How many vectors before the target index is built.
    least, enough, why = 1, 0, ""
    if kind == "ivf":
        least = nlist or 1
        enough = POINTS_PER_CENTROID * nlist if nlist else 10_000
        why = f"ivf trains {nlist} lists" if nlist else ""
    if quantization == "pq":
        if least < PQ_CENTROIDS:
            least, why = PQ_CENTROIDS, "product quantization trains 256 centroids"
        enough = max(enough, POINTS_PER_CENTROID * PQ_CENTROIDS)
    elif quantization == "sq8":
        enough = max(enough, SQ8_TRAIN)
    if auto:
        enough = max(enough, defaults.auto_threshold)
    trains = enough > 0
    if "threshold" in given or trains:
        if not trains and kind == "flat":
            raise BadInput("index_options.threshold: plain flat search needs no threshold")
        out["threshold"] = _IntRange(least, MAX_THRESHOLD, why).check(
            "index_options.threshold", given.get("threshold", max(enough, least))
        )
    if kind == "hnsw":
        out["compact_fraction"] = _fraction(
            "index_options.compact_fraction",
            given.get("compact_fraction", defaults.compact_fraction),
        )
    return out


def _default_pq_m(dimension: int) -> int:
    """The largest divisor of the dimension up to dimension / 8: 48 bytes a vector for 384."""
    return max(d for d in divisors(dimension) if d <= max(1, dimension // 8))


def _resolve_factory(
    factory: str, given: dict[str, Any], dimension: int, defaults: IndexDefaults
) -> dict[str, Any]:
    probe = faiss.index_factory(dimension, factory, faiss.METRIC_INNER_PRODUCT)
    core = core_index(probe)
    out: dict[str, Any] = {}
    ivf = faiss.try_extract_index_ivf(probe)
    if ivf is not None:
        out["nprobe"] = _IntRange(1, int(ivf.nlist), "at most nlist").check(
            "index_options.nprobe", given.get("nprobe", min(DEFAULT_NPROBE, int(ivf.nlist)))
        )
    elif "nprobe" in given:
        raise BadInput("index_options.nprobe: applies only to an IVF index")
    hnsw = isinstance(core, faiss.IndexHNSW)
    if hnsw:
        out["ef_search"] = _IntRange(1, 4096).check(
            "index_options.ef_search", given.get("ef_search", DEFAULT_EF_SEARCH)
        )
        out["compact_fraction"] = _fraction(
            "index_options.compact_fraction",
            given.get("compact_fraction", defaults.compact_fraction),
        )
    else:
        for name in ("ef_search", "compact_fraction"):
            if name in given:
                raise BadInput(f"index_options.{name}: applies only to an HNSW index")
    if not probe.is_trained:
        nlist = int(ivf.nlist) if ivf is not None else 1
        least = max(nlist, _pq_centroids(factory))
        enough = max(SQ8_TRAIN, POINTS_PER_CENTROID * least)
        out["threshold"] = _IntRange(least, MAX_THRESHOLD, "vectors it needs to train").check(
            "index_options.threshold", given.get("threshold", enough)
        )
    elif "threshold" in given:
        out["threshold"] = _IntRange(1, MAX_THRESHOLD).check(
            "index_options.threshold", given["threshold"]
        )
    return out


FACTORY_FORM = (
    "[IDMap,] then any of PCA<n>, PCAR<n>, OPQ<m>[_<n>], L2norm, then one of Flat, "
    "SQ8 (or SQ4, SQ6, SQfp16), HNSW<M>[,Flat or ,SQ8], IVF<nlist>[_HNSW<M>],<codes> "
    "where codes is Flat, SQ8, PQ<m>[x<bits>][np] or PQ<m>x4fs"
)
_TRANSFORM = re.compile(r"(?:PCA|PCAR|PCAW|PCAWR)(\d+)|OPQ(\d+)(?:_(\d+))?|L2norm")
_SQ = re.compile(r"SQ(?:4|6|8|fp16)")
_HNSW = re.compile(r"HNSW(\d+)")
_IVF = re.compile(r"IVF(\d+)(?:_HNSW(\d+))?")
_PQ = re.compile(r"PQ(\d+)(?:x(\d+))?(?:np)?|PQ(\d+)x4fsr?")


def _pq_centroids(factory: str) -> int:
    """Centroids each product quantizer in the string trains (2^bits; OPQ trains 256)."""
    most = PQ_CENTROIDS if "OPQ" in factory else 1
    for part in factory.split(","):
        if p := _PQ.fullmatch(part):
            most = max(most, 2 ** int(p.group(2) or (4 if p.group(3) else 8)))
    return most


def _check_factory(factory: str, dimension: int) -> None:
    """A factory string of the supported forms, with sizes FAISS handles: FAISS aborts the
    process on some degenerate sizes (M = 0, 0 bits, 0 dimensions) instead of raising."""
    known = ", ".join(INDEX_TYPES)
    if len(factory) > MAX_FACTORY_CHARS or not FACTORY_CHARS.fullmatch(factory):
        raise BadInput(
            f"index: {factory[:40]!r} is not one of {known}, nor a FAISS index_factory string "
            f"(at most {MAX_FACTORY_CHARS} characters of A-Z, a-z, 0-9 and _,.()=+-)"
        )
    if any(int(n) > MAX_FACTORY_NUMBER for n in re.findall(r"\d+", factory)):
        raise BadInput(f"index: numbers in a factory string must be at most {MAX_FACTORY_NUMBER}")
    problem = _factory_problem(factory.split(","), dimension)
    if problem:
        raise BadInput(
            f"index: {factory!r} is not one of {known}, nor a supported FAISS index_factory "
            f"string ({problem}); supported: {FACTORY_FORM}"
        )
    try:
        probe = faiss.index_factory(dimension, factory, faiss.METRIC_INNER_PRODUCT)
    except (RuntimeError, ValueError, TypeError) as exc:
        reason = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
        raise BadInput(
            f"index: {factory!r} is not a FAISS index_factory string FAISS can build for "
            f"dimension {dimension} ({reason[:160]})"
        ) from exc
    core = core_index(probe)
    filterable = faiss.IndexIVF | faiss.IndexFlat | faiss.IndexScalarQuantizer | faiss.IndexHNSW
    if not isinstance(core, filterable):
        raise BadInput(
            f"index: {factory!r} builds a {type(core).__name__}, which cannot filter searches"
        )


def _factory_problem(parts: list[str], dimension: int) -> str | None:
    """What is wrong with the components of a factory string, or None."""
    d = dimension
    if parts and parts[0] in ("IDMap", "IDMap2"):
        parts = parts[1:]
    while parts and (t := _TRANSFORM.fullmatch(parts[0])):
        if t.group(1) is not None:  # PCA<n>
            if not 1 <= int(t.group(1)) <= d:
                return f"{parts[0]}: output dimension must be from 1 to {d}"
            d = int(t.group(1))
        elif t.group(2) is not None:  # OPQ<m>[_<n>]
            m, out = int(t.group(2)), int(t.group(3) or d)
            if not 1 <= out <= d or m < 1 or out % m:
                return f"{parts[0]}: OPQ<m>_<n> needs 1 <= n <= {d} and m dividing n"
            d = out
        parts = parts[1:]
    if not parts:
        return "no index after the transforms"
    head, rest = parts[0], parts[1:]
    if head == "Flat" or _SQ.fullmatch(head):
        return None if not rest else f"nothing may follow {head}"
    if h := _HNSW.fullmatch(head):
        if not 4 <= int(h.group(1)) <= 128:
            return "HNSW M must be from 4 to 128"
        if not rest or (len(rest) == 1 and (rest[0] == "Flat" or rest[0] == "SQ8")):
            return None
        return "HNSW<M> may be followed by Flat or SQ8 only"
    if i := _IVF.fullmatch(head):
        if not 1 <= int(i.group(1)) <= MAX_NLIST:
            return f"IVF nlist must be from 1 to {MAX_NLIST}"
        if i.group(2) is not None and not 4 <= int(i.group(2)) <= 128:
            return "HNSW M must be from 4 to 128"
        if len(rest) != 1:
            return "IVF<nlist> takes one codes part: Flat, SQ8, PQ<m>..."
        codes = rest[0]
        if codes == "Flat" or _SQ.fullmatch(codes):
            return None
        if p := _PQ.fullmatch(codes):
            m = int(p.group(1) or p.group(3))
            bits = int(p.group(2) or 8)
            if not 1 <= m <= d or d % m:
                return f"PQ<m>: m must divide the dimension {d}"
            if not 1 <= bits <= 16:
                return "PQ<m>x<bits>: bits must be from 1 to 16"
            return None
        return f"{codes}: unsupported codes"
    return f"{head}: unsupported index"


def core_index(index: faiss.Index) -> faiss.Index:
    """The index under IDMap and pre-transform wrappers, downcast to its class."""
    index = faiss.downcast_index(index)
    while isinstance(index, faiss.IndexIDMap | faiss.IndexPreTransform):
        index = faiss.downcast_index(index.index)
    return index
