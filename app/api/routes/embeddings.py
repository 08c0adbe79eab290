"""Raw embeddings: the service's own /embed and the OpenAI-compatible /v1/embeddings."""

import base64

import numpy as np
from fastapi import APIRouter

from app.api.deps import ServicesDep
from app.api.responses import BAD_INPUT
from app.api.schemas.embeddings import (
    EmbedRequest,
    EmbedResponse,
    OpenAIEmbedding,
    OpenAIEmbeddingRequest,
    OpenAIEmbeddingResponse,
    OpenAIUsage,
    TextTokens,
    TokenInfo,
)
from app.api.scopes import needs
from app.embedding import embed_documents, embed_sentences, embed_tokens
from app.errors import BadInput
from app.limits import check_count, check_texts
from app.models.encoder import TokenEmbeddings

router = APIRouter(tags=["embeddings"])


def as_base64(vectors: np.ndarray) -> str:
    """float32 little-endian values, row after row, in base64."""
    return base64.b64encode(vectors.astype("<f4").tobytes()).decode()


def text_tokens(index: int, text: TokenEmbeddings, encoding_format: str | None) -> TextTokens:
    tokens = [
        TokenInfo(token=token, id=id_, start=start, end=end, special=special)
        for token, id_, (start, end), special in zip(
            text.tokens, text.ids, text.offsets, text.special, strict=True
        )
    ]
    vectors = as_base64(text.vectors) if encoding_format == "base64" else text.vectors.tolist()
    return TextTokens(index=index, tokens=tokens, embeddings=vectors)


@router.post(
    "/embed",
    response_model=EmbedResponse,
    response_model_exclude_none=True,
    responses=BAD_INPUT,
    summary="Embed texts: per sentence, per document or per token",
    description="`level` picks what comes back: `sentence` (the default), one vector per text "
    "read up to the encoder's window; `document`, one vector per text pooled from its chunks, "
    "so a long text counts to its end; `token`, each token's vector before pooling, with its "
    "string and offsets, at most `max_embed_tokens` tokens in one request.",
    openapi_extra=needs("read"),
)
def embed(body: EmbedRequest, services: ServicesDep) -> EmbedResponse:
    settings = services.settings
    check_count("texts", len(body.texts), settings.max_embed_texts)
    check_texts("texts", body.texts, settings)
    encoder = services.encoder
    reply = EmbedResponse(model=encoder.name, dimension=encoder.dimension, level=body.level)
    if body.level == "token":
        texts = embed_tokens(encoder, body.texts, settings)
        reply.truncated = [i for i, text in enumerate(texts) if text.truncated]
        reply.token_embeddings = [
            text_tokens(i, text, body.encoding_format) for i, text in enumerate(texts)
        ]
        return reply
    if body.level == "document":
        embedded = embed_documents(encoder, body.texts, settings)
    else:
        embedded = embed_sentences(encoder, body.texts)
    reply.embeddings = embedded.vectors.tolist()
    reply.truncated, reply.chunks = embedded.truncated, embedded.chunks
    return reply


@router.post(
    "/v1/embeddings",
    response_model=OpenAIEmbeddingResponse,
    responses=BAD_INPUT,
    summary="OpenAI-compatible embeddings",
    openapi_extra=needs("read"),
)
def openai_embeddings(
    body: OpenAIEmbeddingRequest, services: ServicesDep
) -> OpenAIEmbeddingResponse:
    texts = [body.input] if isinstance(body.input, str) else body.input
    if not texts:
        raise BadInput("input: must be a non-empty string or a non-empty list of strings")
    for i, text in enumerate(texts):
        if not text.strip():
            raise BadInput(f"input.{i}: must not be empty or only whitespace")
    check_count("input", len(texts), services.settings.max_embed_texts)
    check_texts("input", texts, services.settings)
    encoder = services.encoder
    if body.dimensions is not None and body.dimensions != encoder.dimension:
        raise BadInput(f"dimensions: {encoder.name} embeds in {encoder.dimension} dimensions only")
    vectors = encoder.encode(texts)
    tokens = sum(encoder.count_tokens(texts))
    data = [
        OpenAIEmbedding(
            index=i,
            embedding=as_base64(v) if body.encoding_format == "base64" else v.tolist(),
        )
        for i, v in enumerate(vectors)
    ]
    return OpenAIEmbeddingResponse(
        data=data, model=encoder.name, usage=OpenAIUsage(prompt_tokens=tokens, total_tokens=tokens)
    )
