"""Prometheus metrics in the text exposition format."""

from fastapi import APIRouter, Request, Response

from app.api.scopes import needs
from app.metrics import CONTENT_TYPE, AppMetrics

router = APIRouter(tags=["operations"])


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text format."}},
    summary="Request counts and latencies, collections, encoder batching, model state",
    openapi_extra=needs("read"),
)
def metrics(request: Request) -> Response:
    """Sync on purpose: counting documents reads SQLite, off the event loop."""
    app_metrics: AppMetrics = request.app.state.metrics
    return Response(app_metrics.exposition(), media_type=CONTENT_TYPE)
