"""Fixtures: a store backend per parameter, so every test that asks for one runs on each."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from app.models.encoder import Encoder
from tests.store.backends import BACKENDS, Backend, make_backend


@pytest.fixture(params=BACKENDS)
def store_backend(
    request: pytest.FixtureRequest, tmp_path: Path, encoder: Encoder
) -> Iterator[Backend]:
    """A backend whose collections live for one test."""
    backend = make_backend(request.param, tmp_path, encoder, _postgres(request))
    yield backend
    backend.close()


@pytest.fixture(scope="module", params=BACKENDS)
def module_store_backend(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, encoder: Encoder
) -> Iterator[Backend]:
    """A backend whose collections live for one test module."""
    backend = make_backend(
        request.param, tmp_path_factory.mktemp(request.param), encoder, _postgres(request)
    )
    yield backend
    backend.close()


def _postgres(request: pytest.FixtureRequest) -> str | None:
    """The test PostgreSQL server's URL, started only when a postgres backend is asked for."""
    if request.param != "postgres":
        return None
    url: str = request.getfixturevalue("postgres_url")
    return url
