"""Collections and their snapshots."""

from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator

from app.api.schemas.common import StrictModel
from app.store.embedded import index_spec as embedded
from app.store.interface import NAME_PATTERN
from app.store.postgres import index as postgres

INDEX_TYPES = ("flat", "hnsw", "ivf", "auto")


class CreateCollection(StrictModel):
    name: str = Field(
        description="1-64 characters of A-Z, a-z, 0-9, _ and -.",
        examples=["docs"],
        json_schema_extra={"pattern": f"^{NAME_PATTERN.pattern}$"},
    )
    model: str | None = Field(None, description="Encoder to embed with; defaults to the service's.")
    index: str | None = Field(
        None,
        description="Vector index: 'flat' (exact, the default), 'hnsw' (graph), 'ivf' "
        "(inverted lists), 'auto' (exact while small, then hnsw or ivf, built in the "
        "background). The embedded backend also takes a FAISS index_factory string such as "
        "'IVF256,SQ8', checked by FAISS when the collection is created; this schema does not "
        "describe those strings.",
        examples=["flat", "auto", "hnsw"],
        json_schema_extra={"anyOf": [{"enum": list(INDEX_TYPES)}, {"type": "null"}]},
    )
    index_options: dict[str, Any] | None = Field(
        None,
        description="Options of the index type. hnsw: m, ef_construction, ef_search, "
        "quantization ('none' | 'sq8'), threshold, compact_fraction. ivf: nlist, nprobe, "
        "quantization ('none' | 'sq8' | 'pq'), pq_m, threshold. flat: quantization, pq_m, "
        "threshold. auto: then ('hnsw' | 'ivf'), threshold, and the options of `then`. "
        "The schema states each type's options and ranges for this server's backend, "
        "except two rules between options: with ivf and nlist given, nprobe is at most nlist "
        "and threshold at least nlist (on PostgreSQL also ef_construction at least twice m).",
        examples=[{"m": 32, "ef_search": 64}],
    )
    language: str = Field(
        "en",
        pattern=r"^[a-z]{2,3}$",
        description="Language code of the documents (e.g. en, pt); queries in another "
        "language are translated to it.",
    )

    @field_validator("index_options")
    @classmethod
    def _whole_numbers(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        """JSON does not tell 5 from 5.0: an option's whole number is read as an integer."""
        if value is None:
            return None
        return {
            k: int(v) if isinstance(v, float) and v.is_integer() else v for k, v in value.items()
        }


def _int(lo: int, hi: int) -> dict[str, Any]:
    return {"type": "integer", "minimum": lo, "maximum": hi}


def _options(properties: dict[str, Any], quantization: Any = None) -> dict[str, Any]:
    """An object of exactly these options; `quantization`, when given, is required."""
    shape: dict[str, Any] = {
        "type": "object",
        "additionalProperties": False,
        "properties": dict(properties),
    }
    if quantization is not None:
        shape["properties"]["quantization"] = {"const": quantization}
        shape["required"] = ["quantization"]
    return shape


def _embedded_options(dimension: int) -> dict[str, list[dict[str, Any]]]:
    """The options each index type of the embedded backend takes (app/store/embedded)."""
    top = embedded.MAX_THRESHOLD
    most = embedded.MAX_NLIST
    pq = {
        "pq_m": {"enum": embedded.divisors(dimension)},
        "threshold": _int(embedded.PQ_CENTROIDS, top),
    }
    hnsw = {
        "m": _int(4, 128),
        "ef_construction": _int(8, 1024),
        "ef_search": _int(1, 4096),
        "quantization": {"enum": ["none", "sq8"]},
        "threshold": _int(1, top),
        "compact_fraction": {"type": "number", "minimum": 0.01, "maximum": 0.9},
    }
    ivf = {
        "nlist": {"anyOf": [_int(1, most), {"type": "null"}]},
        "nprobe": _int(1, most),
        "quantization": {"enum": ["none", "sq8"]},
        "threshold": _int(1, top),
    }
    return {
        "flat": [
            _options({"quantization": {"const": "none"}}),
            _options({"threshold": _int(1, top)}, "sq8"),
            _options(pq, "pq"),
        ],
        "hnsw": [_options(hnsw)],
        "ivf": [_options(ivf), _options({**ivf, **pq}, "pq")],
    }


def _postgres_options() -> dict[str, list[dict[str, Any]]]:
    """The options each index type takes on PostgreSQL (app/store/postgres/index.py)."""
    top = postgres.MAX_THRESHOLD
    quantization = {"enum": list(postgres.QUANTIZATIONS)}
    return {
        "flat": [_options({"quantization": quantization})],
        "hnsw": [
            _options(
                {
                    "m": _int(2, 100),
                    "ef_construction": _int(4, 1000),
                    "ef_search": _int(1, 1000),
                    "quantization": quantization,
                    "threshold": _int(1, top),
                }
            )
        ],
        "ivf": [
            _options(
                {
                    "nlist": {"anyOf": [_int(1, postgres.MAX_LISTS), {"type": "null"}]},
                    "nprobe": _int(1, postgres.MAX_LISTS),
                    "quantization": quantization,
                    "threshold": _int(1, top),
                }
            )
        ],
    }


def index_rules(dimension: int, on_postgres: bool) -> dict[str, Any]:
    """JSON Schema of `index` with its `index_options`: one branch per index type."""
    per_type = _postgres_options() if on_postgres else _embedded_options(dimension)
    auto = []
    for then in embedded.AUTO_TARGETS:
        for shape in per_type[then]:
            moving = {**shape, "properties": {**shape["properties"], "then": {"const": then}}}
            if then != "hnsw":  # hnsw is what auto moves to when `then` is not given
                moving["required"] = [*moving.get("required", []), "then"]
            auto.append(moving)
    per_type["auto"] = auto
    branches = []
    for kind, shapes in per_type.items():
        index: dict[str, Any] = {"const": kind}
        if kind == "flat":  # the default: no index given means flat
            index = {"anyOf": [index, {"type": "null"}]}
        branch: dict[str, Any] = {
            "properties": {
                "index": index,
                "index_options": {"anyOf": [*shapes, {"type": "null"}]},
            }
        }
        if kind != "flat":
            branch["required"] = ["index"]
        branches.append(branch)
    return {"oneOf": branches}


class CollectionInfo(BaseModel):
    name: str = Field(description="Collection name.")
    model: str = Field(description="Encoder that embedded the collection.")
    dimension: int = Field(description="Vector dimension.")
    normalized: bool = Field(description="Whether vectors are unit length (score = cosine).")
    index: str = Field(description="Vector index type chosen at creation.")
    index_options: dict[str, Any] = Field(
        default_factory=dict, description="The index's options, defaults filled in."
    )
    index_in_use: str = Field(
        description="FAISS factory string of the index serving searches now: 'Flat' (exact) "
        "until an index that trains, or an auto index past its threshold, has been built."
    )
    index_building: bool = Field(
        False, description="Whether a new index is being built in the background."
    )
    language: str = Field(description="Language of the documents.")
    documents: int = Field(description="Number of documents.")
    chunks: int = Field(description="Number of chunks stored in SQLite.")
    vectors: int = Field(description="Number of vectors in the FAISS index.")
    status: Literal["ready", "encoder_mismatch"] = Field(description="Whether it can be used.")
    detail: str | None = Field(None, description="Why not, when status is not ready.")


class CollectionList(BaseModel):
    collections: list[CollectionInfo] = Field(description="Every collection.")


class SnapshotInfo(BaseModel):
    path: str = Field(description="Absolute path of the snapshot folder on the server.")
    collection: str = Field(description="The collection it copies.")
    documents: int = Field(description="Documents in the snapshot.")
    chunks: int = Field(description="Chunks in the snapshot.")
    seq: int = Field(description="Sequence number of the last write the snapshot holds.")
    created: str = Field(description="When it was taken, UTC, ISO 8601.")


class SnapshotList(BaseModel):
    snapshots: list[SnapshotInfo] = Field(description="The snapshots found, oldest first.")
