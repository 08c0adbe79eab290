"""The database schema: versioned, created and migrated at start under an advisory lock, so
that replicas starting together apply each step once."""

import psycopg
from psycopg import sql

# pg_advisory_xact_lock key: "semsearch" in ASCII, trimmed to a bigint.
MIGRATION_LOCK = 0x73656D736561

# Each step runs once, in order, in the transaction that records the new version.
MIGRATIONS: list[str] = [
    # 1: the catalog and upload jobs; each collection's tables are created with it.
    """
    CREATE EXTENSION IF NOT EXISTS vector;
    CREATE TABLE IF NOT EXISTS semsearch_collections (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        name text NOT NULL UNIQUE,
        config jsonb NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE TABLE IF NOT EXISTS semsearch_jobs (
        id text PRIMARY KEY,
        collection text NOT NULL,
        state jsonb NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX IF NOT EXISTS semsearch_jobs_by_time ON semsearch_jobs (updated_at);
    """,
]
SCHEMA_VERSION = len(MIGRATIONS)


def migrate(conn: psycopg.Connection) -> int:
    """Bring the schema to SCHEMA_VERSION; returns the version found before."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
        conn.execute("CREATE TABLE IF NOT EXISTS semsearch_schema (version integer NOT NULL)")
        row = conn.execute("SELECT version FROM semsearch_schema").fetchone()
        found = int(row[0]) if row else 0
        if found > SCHEMA_VERSION:
            raise RuntimeError(
                f"the database schema is version {found}; this semsearch knows up to "
                f"{SCHEMA_VERSION}: upgrade semsearch"
            )
        for step in MIGRATIONS[found:]:
            conn.execute(step)  # type: ignore[call-overload]
        if row is None:
            conn.execute("INSERT INTO semsearch_schema(version) VALUES (%s)", (SCHEMA_VERSION,))
        else:
            conn.execute("UPDATE semsearch_schema SET version = %s", (SCHEMA_VERSION,))
    return found


def tables(collection_id: int) -> tuple[sql.Identifier, sql.Identifier]:
    """A collection's documents and chunks tables."""
    return (
        sql.Identifier(f"semsearch_c{collection_id}_documents"),
        sql.Identifier(f"semsearch_c{collection_id}_chunks"),
    )


def ann_index_name(collection_id: int) -> str:
    return f"semsearch_c{collection_id}_ann"


def create_collection_tables(
    conn: psycopg.Connection, collection_id: int, dimension: int, half: bool
) -> None:
    """A collection's documents and chunks: metadata as JSONB with a GIN index, vectors in a
    pgvector column (halfvec for half precision), full text as tsvector with a GIN index.
    Chunks carry their document's metadata so that a filter applies inside the vector scan."""
    docs, chunks = tables(collection_id)
    kind = sql.SQL("halfvec" if half else "vector")
    prefix = f"semsearch_c{collection_id}"
    names = {
        n: sql.Identifier(f"{prefix}_{n}") for n in ("doc_meta", "by_doc", "fts", "chunk_meta")
    }
    statements = [
        "CREATE TABLE {docs} ("
        " num bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
        " id text NOT NULL UNIQUE,"
        " text text NOT NULL,"
        " metadata jsonb NOT NULL,"
        " updated_at timestamptz NOT NULL DEFAULT now())",
        "CREATE INDEX {doc_meta} ON {docs} USING gin (metadata jsonb_path_ops)",
        "CREATE TABLE {chunks} ("
        " id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
        " doc_num bigint NOT NULL REFERENCES {docs}(num) ON DELETE CASCADE,"
        " idx integer NOT NULL,"
        " start_at integer NOT NULL,"
        " end_at integer NOT NULL,"
        " metadata jsonb NOT NULL,"
        " tsv tsvector NOT NULL,"
        " embedding {kind}({dim}) NOT NULL)",
        "CREATE INDEX {by_doc} ON {chunks} (doc_num)",
        "CREATE INDEX {fts} ON {chunks} USING gin (tsv)",
        "CREATE INDEX {chunk_meta} ON {chunks} USING gin (metadata jsonb_path_ops)",
    ]
    for statement in statements:
        conn.execute(
            sql.SQL(statement).format(  # type: ignore[arg-type]
                docs=docs, chunks=chunks, kind=kind, dim=sql.Literal(dimension), **names
            )
        )


def drop_collection_tables(conn: psycopg.Connection, collection_id: int) -> None:
    docs, chunks = tables(collection_id)
    conn.execute(sql.SQL("DROP TABLE IF EXISTS {chunks}, {docs}").format(chunks=chunks, docs=docs))
