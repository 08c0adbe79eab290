"""The models the service can serve and their load state."""

from fastapi import APIRouter

from app.api.deps import ServicesDep
from app.api.responses import BAD_INPUT
from app.api.schemas.model_status import ModelInfo, ModelList
from app.api.scopes import needs
from app.embedding import LEVELS

router = APIRouter(tags=["models"])


@router.get(
    "/models",
    response_model=ModelList,
    responses=BAD_INPUT,
    summary="List models",
    openapi_extra=needs("read"),
)
def list_models(services: ServicesDep) -> ModelList:
    encoder = services.encoder
    entries = [
        ModelInfo(
            name=encoder.name,
            task="embedding",
            architecture="encoder",
            loaded=True,
            state="loaded",
            parameters=encoder.parameters,
            dimension=encoder.dimension,
            levels=list(LEVELS),
            window_tokens=encoder.max_seq_length,
        )
    ]
    entries += [ModelInfo.model_validate(m.describe()) for m in services.registry.models()]
    return ModelList(models=entries)
