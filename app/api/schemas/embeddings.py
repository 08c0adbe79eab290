"""Embeddings, native and OpenAI-shaped."""

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from app.api.schemas.common import NonBlankText, StrictModel, check_text_list
from app.embedding import Level

EncodingFormat = Literal["float", "base64"]


# encoding_format is for level "token" only.
TOKEN_LEVEL_FORMAT: dict[str, Any] = {
    "if": {"required": ["level"], "properties": {"level": {"const": "token"}}},
    "else": {"properties": {"encoding_format": {"type": "null"}}},
}


class EmbedRequest(StrictModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra=TOKEN_LEVEL_FORMAT)

    texts: list[NonBlankText] = Field(
        min_length=1, description="Texts to embed (at most the limit, default 1000)."
    )
    level: Level = Field(
        "sentence",
        description="'sentence': one vector per text, read up to the encoder's window (the "
        "texts cut there are listed in `truncated`). 'document': each text cut into the "
        "overlapping chunks ingest makes, their vectors averaged into one unit vector (the "
        "chunk count per text in `chunks`). 'token': each token's contextual vector before "
        "pooling, with its string and character offsets (at most max_embed_tokens in all).",
    )
    encoding_format: EncodingFormat | None = Field(
        None,
        description="Level 'token' only: 'float' (the default) or 'base64' (each text's "
        "vectors as little-endian float32, token after token).",
    )

    _texts = field_validator("texts")(check_text_list)

    @field_validator("encoding_format")
    @classmethod
    def _token_level_only(cls, value: str | None, info: ValidationInfo) -> str | None:
        level = info.data.get("level")
        if value is not None and level is not None and level != "token":
            raise ValueError(f"level {level!r} does not take it; only level 'token' does")
        return value


class TokenInfo(BaseModel):
    token: str = Field(description="The token as the tokenizer writes it (e.g. '##s', '[CLS]').")
    id: int = Field(description="Its id in the tokenizer's vocabulary.")
    start: int = Field(description="Offset of its first character in the text (0 if special).")
    end: int = Field(description="Offset after its last character (0 if special).")
    special: bool = Field(description="Whether the tokenizer added it ([CLS], [SEP], ...).")


class TextTokens(BaseModel):
    index: int = Field(description="Position of the text in the request.")
    tokens: list[TokenInfo] = Field(description="The tokens the encoder read, in order.")
    embeddings: list[list[float]] | str = Field(
        description="One vector per token, before pooling and not normalised (or base64 of "
        "the float32 values, token after token)."
    )


class EmbedResponse(BaseModel):
    model: str = Field(description="Encoder name.")
    dimension: int = Field(description="Vector dimension.")
    level: Level = Field(description="The level asked for.")
    embeddings: list[list[float]] | None = Field(
        None, description="Levels 'sentence' and 'document': one unit vector per text."
    )
    truncated: list[int] | None = Field(
        None,
        description="Levels 'sentence' and 'token': indexes of the texts longer than the "
        "encoder's window, read only up to it.",
    )
    chunks: list[int] | None = Field(
        None, description="Level 'document': the chunks each text was pooled from."
    )
    token_embeddings: list[TextTokens] | None = Field(
        None, description="Level 'token': each text's tokens and their vectors."
    )


class OpenAIEmbeddingRequest(BaseModel):
    input: NonBlankText | Annotated[list[NonBlankText], Field(min_length=1)] = Field(
        description="A text or a list of texts."
    )
    model: str | None = Field(
        None, description="Ignored beyond a check: the service's encoder answers."
    )
    encoding_format: EncodingFormat = Field("float", description="float or base64.")
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
