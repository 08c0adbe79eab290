"""The models the service can serve and their load state."""

from fastapi import APIRouter

from app.api.deps import ServicesDep
from app.api.responses import BAD_INPUT
from app.api.schemas import ModelInfo, ModelList

router = APIRouter(tags=["models"])


@router.get("/models", response_model=ModelList, responses=BAD_INPUT, summary="List models")
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
        )
    ]
    entries += [ModelInfo.model_validate(m.describe()) for m in services.registry.models()]
    return ModelList(models=entries)
