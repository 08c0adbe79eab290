"""Request and response models of the HTTP API."""

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from app.store.filters import validate_key

MAX_METADATA_KEYS = 64
MAX_ID_CHARS = 256


def _check_text(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty or only whitespace")
    return value


def _check_metadata(value: dict[str, Any]) -> dict[str, Any]:
    if len(value) > MAX_METADATA_KEYS:
        raise ValueError(f"at most {MAX_METADATA_KEYS} keys")
    for key, item in value.items():
        try:
            validate_key(key, "metadata")
        except Exception as exc:
            raise ValueError(str(exc).removeprefix("metadata: ")) from exc
        items = item if isinstance(item, list) else [item]
        for v in items:
            if v is not None and not isinstance(v, str | int | float | bool):
                raise ValueError(
                    f"{key!r} must be a string, number, boolean, null or a list of those "
                    "(metadata is a flat JSON object)"
                )
    return value


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid")


# -- errors --------------------------------------------------------------------------------
class ErrorDetail(BaseModel):
    code: str = Field(description="Machine-readable error code, e.g. invalid_request, not_found.")
    message: str = Field(description="What was wrong, naming the field and the limit.")


class ErrorResponse(BaseModel):
    error: ErrorDetail = Field(description="The error.")


# -- health --------------------------------------------------------------------------------
class HealthResponse(BaseModel):
    status: str = Field(description="'ok' while the process lives; 'ready' once it serves.")


# -- collections ---------------------------------------------------------------------------
class CreateCollection(StrictModel):
    name: str = Field(description="1-64 characters of A-Z, a-z, 0-9, _ and -.", examples=["docs"])
    model: str | None = Field(None, description="Encoder to embed with; defaults to the service's.")
    index: str | None = Field(None, description="Vector index type: 'flat' (exact search).")


class CollectionInfo(BaseModel):
    name: str = Field(description="Collection name.")
    model: str = Field(description="Encoder that embedded the collection.")
    dimension: int = Field(description="Vector dimension.")
    normalized: bool = Field(description="Whether vectors are unit length (score = cosine).")
    index: str = Field(description="Vector index type.")
    language: str = Field(description="Language of the documents.")
    documents: int = Field(description="Number of documents.")
    chunks: int = Field(description="Number of chunks stored in SQLite.")
    vectors: int = Field(description="Number of vectors in the FAISS index.")
    status: Literal["ready", "encoder_mismatch"] = Field(description="Whether it can be used.")
    detail: str | None = Field(None, description="Why not, when status is not ready.")


class CollectionList(BaseModel):
    collections: list[CollectionInfo] = Field(description="Every collection.")


# -- documents -----------------------------------------------------------------------------
class DocumentIn(StrictModel):
    id: str | None = Field(
        None,
        min_length=1,
        max_length=MAX_ID_CHARS,
        description="Document id; an existing id is replaced. Generated when missing.",
    )
    text: str = Field(description="The document's text; long texts are split into chunks.")
    metadata: dict[str, Any] = Field(
        default_factory=dict,
        description="Flat JSON object: values are strings, numbers, booleans, null "
        "or lists of those.",
    )

    _text = field_validator("text")(_check_text)
    _metadata = field_validator("metadata")(_check_metadata)


class IngestRequest(StrictModel):
    documents: list[DocumentIn] = Field(
        min_length=1,
        description="Documents to add or replace (at most the batch limit, default 1000).",
    )

    @model_validator(mode="after")
    def _unique_ids(self) -> "IngestRequest":
        seen: set[str] = set()
        for i, doc in enumerate(self.documents):
            if doc.id is not None:
                if doc.id in seen:
                    raise ValueError(
                        f"documents.{i}.id: {doc.id!r} appears more than once in the batch"
                    )
                seen.add(doc.id)
        return self


class IngestResponse(BaseModel):
    ids: list[str] = Field(description="Ids of the stored documents, in request order.")


class Document(BaseModel):
    id: str = Field(description="Document id.")
    text: str = Field(description="Full text.")
    metadata: dict[str, Any] = Field(description="Metadata as stored.")


class DocumentPage(BaseModel):
    documents: list[Document] = Field(description="One page, in insertion order.")
    next: str | None = Field(
        description="Cursor for the next page (pass as `after`); null at the end."
    )


# -- search --------------------------------------------------------------------------------
class SearchRequest(StrictModel):
    query: str | None = Field(
        None, description="Query text. Give exactly one of query, queries, vector."
    )
    queries: list[str] | None = Field(
        None, min_length=1, description="Several queries answered at once."
    )
    vector: list[float] | None = Field(
        None, min_length=1, description="A query vector of the collection's dimension."
    )
    k: int = Field(
        10, ge=1, description="Number of documents per query (1 to the limit, default 1000)."
    )
    filter: dict[str, Any] | None = Field(
        None,
        description='Metadata filter: {"lang": "en"}, {"year": {"$gte": 2020}}; '
        "operators $eq, $ne, $in, $nin, $gt, $gte, $lt, $lte. Applied inside the vector search.",
    )
    min_score: float | None = Field(None, ge=-1, le=1, description="Drop hits scoring below this.")

    @field_validator("query")
    @classmethod
    def _query_text(cls, value: str | None) -> str | None:
        return None if value is None else _check_text(value)

    @field_validator("queries")
    @classmethod
    def _queries_text(cls, value: list[str] | None) -> list[str] | None:
        if value is not None:
            for i, q in enumerate(value):
                if not q.strip():
                    raise ValueError(f"item {i} must not be empty or only whitespace")
        return value

    @model_validator(mode="after")
    def _one_query(self) -> "SearchRequest":
        given = [n for n in ("query", "queries", "vector") if getattr(self, n) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of query, queries, vector")
        return self


class ChunkOut(BaseModel):
    index: int = Field(description="Position of the chunk in its document.")
    text: str = Field(description="Text of the best-matching chunk.")


class SearchHit(BaseModel):
    id: str = Field(description="Document id.")
    score: float = Field(description="Cosine similarity of the best chunk to the query.")
    text: str = Field(description="Full document text.")
    metadata: dict[str, Any] = Field(description="Document metadata.")
    chunk: ChunkOut = Field(description="The document's best-matching chunk.")


class SearchResponse(BaseModel):
    results: list[SearchHit] | list[list[SearchHit]] = Field(
        description="Hits, best first; a list of hit lists when `queries` was given."
    )
    took_ms: float = Field(description="Time spent serving the search, in milliseconds.")


# -- embeddings ----------------------------------------------------------------------------
class EmbedRequest(StrictModel):
    texts: list[str] = Field(
        min_length=1, description="Texts to embed (at most the limit, default 1000)."
    )

    @field_validator("texts")
    @classmethod
    def _texts(cls, value: list[str]) -> list[str]:
        for i, t in enumerate(value):
            if not t.strip():
                raise ValueError(f"item {i} must not be empty or only whitespace")
        return value


class EmbedResponse(BaseModel):
    model: str = Field(description="Encoder name.")
    dimension: int = Field(description="Vector dimension.")
    embeddings: list[list[float]] = Field(description="One unit vector per text.")


class OpenAIEmbeddingRequest(BaseModel):
    input: str | list[str] = Field(description="A text or a list of texts.")
    model: str | None = Field(
        None, description="Ignored beyond a check: the service's encoder answers."
    )
    encoding_format: Literal["float", "base64"] = Field("float", description="float or base64.")
    dimensions: int | None = Field(None, description="Must equal the encoder's dimension if given.")
    user: str | None = Field(None, description="Ignored.")


class OpenAIEmbedding(BaseModel):
    object: Literal["embedding"] = Field("embedding", description="Always 'embedding'.")
    index: int = Field(description="Position of the input.")
    embedding: list[float] | str = Field(description="The vector (or base64 of float32 values).")


class OpenAIUsage(BaseModel):
    prompt_tokens: int = Field(description="Tokens read.")
    total_tokens: int = Field(description="Tokens read.")


class OpenAIEmbeddingResponse(BaseModel):
    object: Literal["list"] = Field("list", description="Always 'list'.")
    data: list[OpenAIEmbedding] = Field(description="One embedding per input.")
    model: str = Field(description="Encoder name.")
    usage: OpenAIUsage = Field(description="Token counts.")
