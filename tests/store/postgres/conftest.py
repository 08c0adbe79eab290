"""Fixtures: a database of its own for each test module, and a catalog over it."""

from collections.abc import Iterator

import pytest

from app.models.encoder import Encoder
from app.store.postgres.catalog import PgCatalog
from app.store.postgres.database import Database
from tests.store.postgres.server import drop_database, fresh_database


@pytest.fixture(scope="module")
def database_url(postgres_url: str) -> Iterator[str]:
    url = fresh_database(postgres_url)
    yield url
    drop_database(url)


@pytest.fixture(scope="module")
def catalog(database_url: str, encoder: Encoder) -> Iterator[PgCatalog]:
    db = Database(database_url, pool_size=4)
    catalog = PgCatalog(db, encoder)
    catalog.open_all()
    yield catalog
    catalog.close()
