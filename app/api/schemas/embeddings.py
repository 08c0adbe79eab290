"""Embeddings, native and OpenAI-shaped."""

from typing import Literal

from pydantic import BaseModel, Field, field_validator

from app.api.schemas.common import StrictModel, check_text_list


class EmbedRequest(StrictModel):
    texts: list[str] = Field(
        min_length=1, description="Texts to embed (at most the limit, default 1000)."
    )

    _texts = field_validator("texts")(check_text_list)


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
