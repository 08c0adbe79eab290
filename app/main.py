"""create_app(settings): builds the services in the lifespan, mounts the routes and middleware."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from app import __version__
from app.api.errors import install_error_handlers
from app.api.middleware import install_middleware
from app.api.middleware.keys import load_api_keys
from app.api.openapi import install_openapi
from app.api.routes import ROUTERS
from app.api.scopes import RouteTable
from app.config import Settings
from app.metrics import AppMetrics
from app.models.encoder import Encoder
from app.services import Services


def create_app(settings: Settings | None = None, encoder: Encoder | None = None) -> FastAPI:
    """The service; `encoder` lets an embedding program share an already loaded model."""
    settings = settings or Settings()
    api_keys = load_api_keys(settings)  # bad key configuration fails here, at start
    services = Services(settings, encoder)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        services.start()
        try:
            yield
        finally:
            services.stop()

    app = FastAPI(
        title="semsearch",
        version=__version__,
        description="Semantic search over your own documents: encoder embeddings in FAISS, "
        "documents durable in SQLite.",
        lifespan=lifespan,
    )
    app.state.services = services
    app.state.api_keys = api_keys
    app.state.metrics = AppMetrics(services)
    for router in ROUTERS:
        app.include_router(router)
    install_error_handlers(app)
    install_openapi(app, settings, bool(api_keys))
    routes = app.state.routes = RouteTable.from_app(app, ROUTERS)
    install_middleware(app, settings, api_keys, app.state.metrics, routes)
    return app
