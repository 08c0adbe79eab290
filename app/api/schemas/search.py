"""Search requests and hits."""

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from app.api.schemas.common import (
    NON_BLANK,
    VECTOR_ITEMS,
    NonBlankText,
    StrictModel,
    check_text,
    check_text_list,
    check_vector,
    exactly_one_of,
    filter_schema,
)
from app.store.ranking import DEFAULT_ALPHA

# The rules between fields, in JSON Schema: alpha weighs a convex hybrid fusion only; a vector
# is searched densely and cannot be reranked (the cross-encoder reads query text).
FIELD_RULES: dict[str, Any] = {
    "allOf": [
        {
            "anyOf": [
                {"properties": {"alpha": {"type": "null"}}},
                {
                    "required": ["mode"],
                    "properties": {"mode": {"const": "hybrid"}, "fusion": {"const": "convex"}},
                },
            ]
        },
        {
            "anyOf": [
                {"properties": {"vector": {"type": "null"}}},
                {"properties": {"mode": {"const": "dense"}, "rerank": {"const": False}}},
            ]
        },
    ]
}


class SearchRequest(StrictModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={**exactly_one_of("query", "queries", "vector"), **FIELD_RULES},
    )

    query: str | None = Field(
        None,
        description="Query text. Give exactly one of query, queries, vector.",
        json_schema_extra=NON_BLANK,
    )
    queries: list[NonBlankText] | None = Field(
        None, min_length=1, description="Several queries answered at once."
    )
    vector: list[float] | None = Field(
        None,
        min_length=1,
        description="A query vector of the collection's dimension (dense mode only), "
        "not all zeros.",
        json_schema_extra=VECTOR_ITEMS,
    )
    k: int = Field(
        10, ge=1, description="Number of documents per query (1 to the limit, default 1000)."
    )
    filter: dict[str, Any] | None = Field(
        None,
        description='Metadata filter: {"lang": "en"}, {"year": {"$gte": 2020}}; '
        "operators $eq, $ne, $in, $nin, $gt, $gte, $lt, $lte. Applied inside the vector search.",
        json_schema_extra=filter_schema(),
    )
    min_score: float | None = Field(None, ge=-1, le=1, description="Drop hits scoring below this.")
    query_language: str | None = Field(
        None,
        pattern=r"^[a-z]{2,3}$",
        description="Language of the query; when it differs from the collection's language "
        "the query is translated first.",
    )
    mode: Literal["dense", "lexical", "hybrid"] = Field(
        "dense",
        description="dense: cosine similarity of embeddings; lexical: BM25 over the chunks; "
        "hybrid: both rankings fused (see fusion).",
    )
    fusion: Literal["convex", "rrf"] = Field(
        "convex",
        description="How hybrid fuses its two rankings. convex: dense scores divided by the best, "
        "lexical ones by the second best (capped at 1), then alpha * dense + (1 - alpha) * "
        "lexical; "
        "rrf: reciprocal rank fusion, the sum of 1 / (60 + rank).",
    )
    alpha: float | None = Field(
        None,
        ge=0,
        le=1,
        description=f"Weight of the dense ranking in a convex hybrid fusion (default "
        f"{DEFAULT_ALPHA}); 1 ranks by dense scores, 0 by lexical ones. Only with mode hybrid "
        "and fusion convex.",
    )
    offset: int = Field(0, ge=0, le=10_000, description="Skip this many ranked documents.")
    highlights: bool = Field(
        False, description="Add each hit's best-matching sentences with character offsets."
    )
    rerank: bool = Field(
        False,
        description="Re-score the top candidates with the configured cross-encoder "
        "(SEMSEARCH_RERANKER); score is then the reranker's.",
    )

    @field_validator("query")
    @classmethod
    def _query_text(cls, value: str | None) -> str | None:
        return None if value is None else check_text(value)

    _queries = field_validator("queries")(check_text_list)
    _vector = field_validator("vector")(check_vector)

    @model_validator(mode="after")
    def _one_query(self) -> "SearchRequest":
        given = [n for n in ("query", "queries", "vector") if getattr(self, n) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of query, queries, vector")
        return self


class ChunkOut(BaseModel):
    index: int = Field(description="Position of the chunk in its document.")
    text: str = Field(description="Text of the best-matching chunk.")


class HighlightOut(BaseModel):
    text: str = Field(description="A sentence of the hit's best chunk.")
    start: int = Field(description="Its start offset in the document's text (characters).")
    end: int = Field(description="Its end offset in the document's text (characters).")
    score: float = Field(description="Cosine similarity of the sentence to the query.")


class SearchHit(BaseModel):
    id: str = Field(description="Document id.")
    score: float = Field(
        description="dense: cosine similarity of the best chunk; lexical: its BM25 score; "
        "hybrid: the fused score (0 to 1 for convex fusion)."
    )
    text: str = Field(description="Full document text.")
    metadata: dict[str, Any] = Field(description="Document metadata.")
    chunk: ChunkOut = Field(description="The document's best-matching chunk.")
    highlights: list[HighlightOut] | None = Field(
        None, description="Best-matching sentences of the chunk, when asked for."
    )


class SearchResponse(BaseModel):
    results: list[SearchHit] | list[list[SearchHit]] = Field(
        description="Hits, best first; a list of hit lists when `queries` was given."
    )
    took_ms: float = Field(description="Time spent serving the search, in milliseconds.")
    searched: str | list[str] | None = Field(
        None, description="The query text(s) searched, after translation; null without one."
    )
