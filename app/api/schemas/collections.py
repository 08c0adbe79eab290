"""Collections and their snapshots."""

from typing import Any, Literal

from pydantic import BaseModel, Field

from app.api.schemas.common import StrictModel


class CreateCollection(StrictModel):
    name: str = Field(description="1-64 characters of A-Z, a-z, 0-9, _ and -.", examples=["docs"])
    model: str | None = Field(None, description="Encoder to embed with; defaults to the service's.")
    index: str | None = Field(
        None,
        description="Vector index: 'flat' (exact, the default), 'hnsw' (graph), 'ivf' "
        "(inverted lists), 'auto' (exact while small, then hnsw or ivf, built in the "
        "background), or a FAISS index_factory string such as 'IVF256,SQ8'.",
        examples=["flat", "auto", "hnsw"],
    )
    index_options: dict[str, Any] | None = Field(
        None,
        description="Options of the index type. hnsw: m, ef_construction, ef_search, "
        "quantization ('none' | 'sq8'), threshold, compact_fraction. ivf: nlist, nprobe, "
        "quantization ('none' | 'sq8' | 'pq'), pq_m, threshold. flat: quantization, pq_m, "
        "threshold. auto: then ('hnsw' | 'ivf'), threshold, and the options of `then`.",
        examples=[{"m": 32, "ef_search": 64}],
    )
    language: str = Field(
        "en",
        pattern=r"^[a-z]{2,3}$",
        description="Language code of the documents (e.g. en, pt); queries in another "
        "language are translated to it.",
    )


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
