"""The models and their state."""

from typing import Literal

from pydantic import BaseModel, Field


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
    levels: list[str] | None = Field(
        None, description="The /embed levels it serves: sentence, document, token (encoders)."
    )
    window_tokens: int | None = Field(
        None, description="Tokens it reads of one text, special tokens included (encoders)."
    )
    languages: list[str] | None = Field(None, description="Language codes (translators, loaded).")


class ModelList(BaseModel):
    models: list[ModelInfo] = Field(description="Every model the service can serve.")
