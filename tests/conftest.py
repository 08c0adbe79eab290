"""Fixtures: the real encoder loaded once, apps on temporary data folders."""

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from app.config import Settings  # noqa: E402
from app.main import create_app  # noqa: E402
from app.models.encoder import Encoder  # noqa: E402


@pytest.fixture(scope="session")
def encoder() -> Encoder:
    return Encoder(Settings().encoder)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data", snapshot_interval_s=3600)


@pytest.fixture
def client(settings: Settings, encoder: Encoder) -> Iterator[TestClient]:
    """The real app (real encoder, SQLite, FAISS) in-process, ready to serve."""
    app = create_app(settings, encoder)
    with TestClient(app) as c:
        assert app.state.services.wait_ready(60)
        yield c
