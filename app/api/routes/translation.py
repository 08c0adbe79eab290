"""Translation with the encoder-decoder model."""

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool

from app.api.deps import ServicesDep
from app.api.responses import BAD_INPUT, OVERLOADED
from app.api.schemas.translation import (
    LanguagePair,
    LanguagesResponse,
    TranslateRequest,
    TranslateResponse,
)
from app.api.scopes import needs
from app.errors import BadInput
from app.limits import check_count
from app.models.seq2seq import Translator
from app.services import Services
from app.translation import translate_texts

router = APIRouter(prefix="/translate", tags=["translation"])


async def load_translator(services: Services) -> Translator:
    return await run_in_threadpool(services.registry.translator.get)


@router.post(
    "",
    response_model=TranslateResponse,
    responses={**BAD_INPUT, **OVERLOADED},
    summary="Translate one text or several",
    openapi_extra=needs("read", heavy=True),
)
async def translate(body: TranslateRequest, services: ServicesDep) -> TranslateResponse:
    settings = services.settings
    texts = [body.text] if body.text is not None else list(body.texts or [])
    field = "text" if body.text is not None else "texts"
    check_count(field, len(texts), settings.max_translate_texts)
    for i, text in enumerate(texts):
        where = field if body.text is not None else f"texts.{i}"
        if not text.strip():
            raise BadInput(f"{where}: must not be empty or only whitespace")
        if len(text) > settings.max_translate_chars:
            raise BadInput(
                f"{where}: {len(text)} characters is over the limit of "
                f"{settings.max_translate_chars}"
            )
    model = services.registry.translator
    assert model.limiter is not None
    async with model.limiter.slot():
        translator = await load_translator(services)
        out = await run_in_threadpool(translate_texts, translator, texts, body.source, body.target)
    return TranslateResponse(translations=out, model=translator.name)


@router.get(
    "/languages",
    response_model=LanguagesResponse,
    responses=OVERLOADED,
    summary="Supported translation directions",
    openapi_extra=needs("read"),
)
async def languages(services: ServicesDep) -> LanguagesResponse:
    translator = await load_translator(services)
    pairs = [LanguagePair(source=s, target=t) for s, t in translator.pairs()]
    return LanguagesResponse(model=translator.name, pairs=pairs)
