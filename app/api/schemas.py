"""Request and response models of the HTTP API."""

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from app.store.filters import validate_metadata

MAX_ID_CHARS = 256


def _check_text(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty or only whitespace")
    return value


def _check_text_list(value: list[str] | None) -> list[str] | None:
    for i, text in enumerate(value or []):
        if not text.strip():
            raise ValueError(f"item {i} must not be empty or only whitespace")
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
    _metadata = field_validator("metadata")(validate_metadata)


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
    query_language: str | None = Field(
        None,
        pattern=r"^[a-z]{2,3}$",
        description="Language of the query; when it differs from the collection's language "
        "the query is translated first.",
    )
    mode: Literal["dense", "lexical", "hybrid"] = Field(
        "dense",
        description="dense: cosine similarity of embeddings; lexical: BM25 over the chunks; "
        "hybrid: both rankings fused by reciprocal rank.",
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
        return None if value is None else _check_text(value)

    _queries = field_validator("queries")(_check_text_list)

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
        "hybrid: the reciprocal rank fusion score."
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


# -- embeddings ----------------------------------------------------------------------------
class EmbedRequest(StrictModel):
    texts: list[str] = Field(
        min_length=1, description="Texts to embed (at most the limit, default 1000)."
    )

    _texts = field_validator("texts")(_check_text_list)


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


# -- models --------------------------------------------------------------------------------
class ModelInfo(BaseModel):
    name: str = Field(description="Model id or path as configured.")
    task: Literal["embedding", "generation", "translation", "reranking"] = Field(
        description="What it serves."
    )
    architecture: Literal["encoder", "decoder", "encoder-decoder"] = Field(
        description="Transformer architecture."
    )
    loaded: bool = Field(description="Whether it is in memory now.")
    state: Literal["loaded", "loading", "not_loaded", "failed"] = Field(description="Load state.")
    error: str | None = Field(None, description="Why it failed to load.")
    parameters: int | None = Field(None, description="Number of parameters, once loaded.")
    dimension: int | None = Field(None, description="Embedding dimension (encoders).")
    languages: list[str] | None = Field(None, description="Language codes (translators, loaded).")


class ModelList(BaseModel):
    models: list[ModelInfo] = Field(description="Every model the service can serve.")


# -- generation ----------------------------------------------------------------------------
def _check_stop(value: list[str] | None) -> list[str] | None:
    if value is not None:
        if len(value) > 4:
            raise ValueError("at most 4 stop strings")
        if any(not s for s in value):
            raise ValueError("stop strings must not be empty")
    return value


class SamplingFields(StrictModel):
    temperature: float = Field(0.0, ge=0, le=2, description="0 is greedy; up to 2.")
    top_p: float | None = Field(None, gt=0, le=1, description="Nucleus sampling mass, in (0, 1].")
    stop: list[str] | None = Field(None, description="Up to 4 strings that end the generation.")
    seed: int | None = Field(None, description="Makes sampling reproducible.")
    stream: bool = Field(False, description="Answer as Server-Sent Events.")

    _stop = field_validator("stop")(_check_stop)


class GenerateRequest(SamplingFields):
    prompt: str = Field(description="Text to continue (not empty; at most the prompt token limit).")
    max_new_tokens: int = Field(128, ge=1, description="Tokens to generate (1 to the limit, 512).")

    _prompt = field_validator("prompt")(_check_text)


class Usage(BaseModel):
    prompt_tokens: int = Field(description="Tokens in the prompt.")
    completion_tokens: int = Field(description="Tokens generated.")


class GenerateResponse(BaseModel):
    text: str = Field(description="The generated text.")
    model: str = Field(description="Generator name.")
    usage: Usage = Field(description="Token counts.")
    finish_reason: Literal["stop", "length", "cancelled"] = Field(
        description="stop: end of text or a stop string; length: max_new_tokens reached."
    )


class ChatMessage(StrictModel):
    role: Literal["system", "user", "assistant"] = Field(description="Who speaks.")
    content: str = Field(description="What is said.")


class ChatRequest(BaseModel):
    """OpenAI chat completions request (the fields the service honours)."""

    model: str | None = Field(None, description="Ignored: the service's generator answers.")
    messages: list[ChatMessage] = Field(min_length=1, description="The conversation so far.")
    max_tokens: int | None = Field(None, ge=1, description="Tokens to generate (default 128).")
    max_completion_tokens: int | None = Field(None, ge=1, description="Alias of max_tokens.")
    temperature: float = Field(0.0, ge=0, le=2, description="0 is greedy; up to 2.")
    top_p: float | None = Field(None, gt=0, le=1, description="Nucleus sampling mass, in (0, 1].")
    stop: str | list[str] | None = Field(None, description="Up to 4 stop strings.")
    seed: int | None = Field(None, description="Makes sampling reproducible.")
    stream: bool = Field(False, description="Answer as Server-Sent Events chunks.")
    n: int = Field(1, ge=1, le=1, description="Only 1 is supported.")


# -- translation ---------------------------------------------------------------------------
class TranslateRequest(StrictModel):
    text: str | None = Field(None, description="One text. Give text or texts.")
    texts: list[str] | None = Field(None, min_length=1, description="Several texts.")
    source: str = Field(min_length=2, max_length=16, description="Source language code, e.g. en.")
    target: str = Field(min_length=2, max_length=16, description="Target language code, e.g. pt.")

    @model_validator(mode="after")
    def _one_input(self) -> "TranslateRequest":
        if (self.text is None) == (self.texts is None):
            raise ValueError("give exactly one of text, texts")
        return self


class TranslateResponse(BaseModel):
    translations: list[str] = Field(description="One translation per input text, in order.")
    model: str = Field(description="Translator name.")


class LanguagePair(BaseModel):
    source: str = Field(description="Source language code.")
    target: str = Field(description="Target language code.")


class LanguagesResponse(BaseModel):
    model: str = Field(description="Translator name.")
    pairs: list[LanguagePair] = Field(description="Supported translation directions.")


# -- ask -----------------------------------------------------------------------------------
class AskRequest(StrictModel):
    question: str = Field(description="The question (not empty).")
    k: int = Field(4, ge=1, le=20, description="Sources to retrieve (1-20).")
    max_new_tokens: int = Field(256, ge=1, description="Tokens of the answer (1 to the limit).")
    filter: dict[str, Any] | None = Field(None, description="Metadata filter for the sources.")
    stream: bool = Field(False, description="Answer as Server-Sent Events.")

    _question = field_validator("question")(_check_text)


class Source(BaseModel):
    id: str = Field(description="Document id; cited as [n] by position.")
    score: float = Field(description="Cosine similarity to the question.")
    text: str = Field(description="The passage given to the model (the best chunk).")


class AskResponse(BaseModel):
    answer: str = Field(description="The generated answer, citing sources as [1], [2] ...")
    sources: list[Source] = Field(description="The sources given to the model, in citation order.")
    model: str = Field(description="Generator name.")
    usage: Usage = Field(description="Token counts.")
    finish_reason: Literal["stop", "length", "cancelled"] = Field(description="Why it ended.")


# -- files ---------------------------------------------------------------------------------
class FileReport(BaseModel):
    name: str = Field(description="The uploaded file's name.")
    documents: int = Field(description="Documents stored from it.")
    warnings: list[str] = Field(
        default_factory=list, description="Lines or rows skipped, and why (at most 100)."
    )
    error: str | None = Field(None, description="Why the file was not stored, if it was not.")


class FilesResponse(BaseModel):
    files: list[FileReport] = Field(description="One report per uploaded file, in order.")
    documents: int = Field(description="Documents stored from all files.")


class JobAccepted(BaseModel):
    id: str = Field(description="Job id.")
    status: str = Field(description="queued, running, done or failed.")
    status_url: str = Field(description="Where to follow its progress.")


class JobStatus(BaseModel):
    id: str = Field(description="Job id.")
    collection: str = Field(description="Target collection.")
    status: Literal["queued", "running", "done", "failed"] = Field(description="Where it is.")
    files_total: int = Field(description="Files in the upload.")
    files_done: int = Field(description="Files finished (stored or reported).")
    documents: int = Field(description="Documents stored so far.")
    chunks: int = Field(description="Chunks embedded and stored so far.")
    files: list[FileReport] = Field(description="One report per finished file.")
    errors: list[str] = Field(description="The files that could not be stored, and why.")
    error: str | None = Field(None, description="Why the job failed as a whole.")
    created_at: float = Field(description="Unix time it was accepted.")
    finished_at: float | None = Field(None, description="Unix time it finished.")


# -- snapshots -----------------------------------------------------------------------------
class SnapshotInfo(BaseModel):
    path: str = Field(description="Absolute path of the snapshot folder on the server.")
    collection: str = Field(description="The collection it copies.")
    documents: int = Field(description="Documents in the snapshot.")
    chunks: int = Field(description="Chunks in the snapshot.")
    seq: int = Field(description="Sequence number of the last write the snapshot holds.")
    created: str = Field(description="When it was taken, UTC, ISO 8601.")


class SnapshotList(BaseModel):
    snapshots: list[SnapshotInfo] = Field(description="The snapshots found, oldest first.")
