"""Raw embeddings: the service's own /embed and the OpenAI-compatible /v1/embeddings."""

import base64

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
)
from app.api.scopes import needs
from app.errors import BadInput
from app.limits import check_count, check_texts

router = APIRouter(tags=["embeddings"])


@router.post(
    "/embed",
    response_model=EmbedResponse,
    responses=BAD_INPUT,
    summary="Embed texts",
    openapi_extra=needs("read"),
)
def embed(body: EmbedRequest, services: ServicesDep) -> EmbedResponse:
    check_count("texts", len(body.texts), services.settings.max_embed_texts)
    check_texts("texts", body.texts, services.settings)
    encoder = services.encoder
    vectors = encoder.encode(body.texts)
    return EmbedResponse(
        model=encoder.name, dimension=encoder.dimension, embeddings=vectors.tolist()
    )


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
            embedding=base64.b64encode(v.astype("<f4").tobytes()).decode()
            if body.encoding_format == "base64"
            else v.tolist(),
        )
        for i, v in enumerate(vectors)
    ]
    return OpenAIEmbeddingResponse(
        data=data, model=encoder.name, usage=OpenAIUsage(prompt_tokens=tokens, total_tokens=tokens)
    )
