"""A DirectRoute endpoint gets its validated path parameters and the Request, and a route that
declares anything it would skip fails at start."""

from typing import Annotated

import pytest
from fastapi import APIRouter, Depends, FastAPI, Path, Request, Response
from fastapi.testclient import TestClient

from app.api.direct_route import DirectRoute
from app.api.routes import search


async def echo(name: Annotated[str, Path(max_length=5)], request: Request) -> Response:
    return Response(f"{name}:{(await request.body()).decode()}")


def app_with(endpoint: object) -> FastAPI:
    router = APIRouter()
    router.add_api_route(
        "/items/{name}", endpoint, methods=["POST"], route_class_override=DirectRoute
    )  # type: ignore[arg-type]
    app = FastAPI()
    app.include_router(router)
    return app


def test_endpoint_gets_its_path_parameters_and_reads_its_own_body() -> None:
    client = TestClient(app_with(echo))
    reply = client.post("/items/abc", content=b"raw body")
    assert reply.status_code == 200
    assert reply.text == "abc:raw body"


def test_path_parameters_are_validated_as_declared() -> None:
    client = TestClient(app_with(echo))
    reply = client.post("/items/toolong", content=b"")
    assert reply.status_code == 422
    assert reply.json()["detail"][0]["loc"] == ["path", "name"]


async def with_dependency(
    name: str, request: Request, user: str = Depends(lambda: "x")
) -> Response:
    return Response(name)


async def with_query(name: str, request: Request, limit: int = 3) -> Response:
    return Response(name)


def sync_endpoint(name: str, request: Request) -> Response:
    return Response(name)


async def without_request(name: str) -> Response:
    return Response(name)


@pytest.mark.parametrize("endpoint", [with_dependency, with_query, sync_endpoint, without_request])
def test_a_route_declaring_what_it_would_skip_fails_at_start(endpoint: object) -> None:
    with pytest.raises(TypeError, match="DirectRoute"):
        app_with(endpoint)


def test_search_by_post_is_a_direct_route() -> None:
    posts = [r for r in search.router.routes if getattr(r, "methods", None) == {"POST"}]
    assert [type(r) for r in posts] == [DirectRoute]
