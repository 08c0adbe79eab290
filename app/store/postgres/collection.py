"""One collection in PostgreSQL: documents, chunks and vectors in its own two tables, written
one transaction per batch and searched with pgvector and full text, filters inside the scan."""

import logging
import re
import threading
from typing import Any

import numpy as np
import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from app.errors import BadInput
from app.models.encoder import Encoder
from app.store import encoding
from app.store.filters import merge_metadata
from app.store.interface import (
    ChunkRow,
    CollectionConfig,
    CollectionStore,
    DocumentRow,
    Hit,
    NewDocument,
    StoredDocument,
)
from app.store.postgres.database import Database, one
from app.store.postgres.filters import pg_filter, refuse_nul
from app.store.postgres.index import PgIndexSpec, parse_pg_index
from app.store.postgres.schema import ann_index_name, tables
from app.store.ranking import DEFAULT_FUSION, check_search_mode, rank_queries

log = logging.getLogger(__name__)

WORD = re.compile(r"\w+", re.UNICODE)
MAX_QUERY_TERMS = 64
TEXT_SEARCH_CONFIG = "simple"  # no stemming or stop words, as the embedded backend's FTS5
BUILD_LOCK_BASE = 0x73656D730000  # + collection id: one index build per collection at a time
MAX_SCAN_TUPLES = "100000"  # rows an iterative index scan visits before the exact fallback


def text_query(text: str) -> str | None:
    """A user's text as a tsquery matching any of its words (ranked by ts_rank)."""
    terms = list(dict.fromkeys(w.lower() for w in WORD.findall(text)))[:MAX_QUERY_TERMS]
    return " | ".join(f"'{t}'" for t in terms) if terms else None


def index_spec_of(config: CollectionConfig) -> PgIndexSpec:
    """A collection's checked index choice; one whose options cannot be read searches exactly."""
    try:
        return parse_pg_index(config.index, config.index_options)
    except BadInput as exc:
        log.warning("collection %s: index unusable (%s); exact search", config.name, exc)
        return parse_pg_index("flat", {})


def create_ann_index(
    conn: psycopg.Connection, collection_id: int, spec: PgIndexSpec, rows: int, concurrently: bool
) -> None:
    """The collection's pgvector index (HNSW or ivfflat) on inner product."""
    _, chunks = tables(collection_id)
    ops = sql.SQL("halfvec_ip_ops" if spec.half else "vector_ip_ops")
    if spec.target == "hnsw":
        method = sql.SQL("hnsw")
        params = sql.SQL("m = {}, ef_construction = {}").format(
            sql.Literal(spec.options["m"]), sql.Literal(spec.options["ef_construction"])
        )
    else:
        method = sql.SQL("ivfflat")
        params = sql.SQL("lists = {}").format(sql.Literal(spec.lists(rows)))
    conn.execute(
        sql.SQL(
            "CREATE INDEX {how} IF NOT EXISTS {name} ON {chunks} "
            "USING {method} (embedding {ops}) WITH ({params})"
        ).format(
            how=sql.SQL("CONCURRENTLY" if concurrently else ""),
            name=sql.Identifier(ann_index_name(collection_id)),
            chunks=chunks,
            method=method,
            ops=ops,
            params=params,
        )
    )


def ann_index_state(conn: psycopg.Connection, collection_id: int) -> bool | None:
    """True: the vector index serves searches; False: it is being built (or a build failed);
    None: there is none."""
    valid = one(
        conn,
        "SELECT indisvalid FROM pg_index WHERE indexrelid = to_regclass(%s)",
        (ann_index_name(collection_id),),
    )
    return None if valid is None else bool(valid)


class PgCollection:
    """A collection stored in PostgreSQL. It holds no state of its own beyond its config, so
    any number of processes can serve it at once."""

    def __init__(
        self, db: Database, collection_id: int, config: CollectionConfig, encoder: Encoder
    ) -> None:
        self.db = db
        self.id = collection_id
        self.config = config
        self.encoder = encoder
        self.spec = index_spec_of(config)
        self.docs, self.chunks = tables(collection_id)
        # Vectors travel in binary: as text, each of their floats is formatted in Python and
        # parsed by the server (about 0.4 ms of the service's CPU per 384-d vector).
        self._vector = sql.SQL("%b::vector::halfvec" if self.spec.half else "%b::vector")
        self._index_ready = self.spec.target == "flat"
        self._builder: threading.Thread | None = None
        self._builder_lock = threading.Lock()

    # -- state ---------------------------------------------------------------------------------
    @property
    def encoder_mismatch(self) -> str | None:
        return encoding.encoder_mismatch(self.config, self.encoder)

    def _index_state(self) -> bool | None:
        return self.db.run(lambda conn: ann_index_state(conn, self.id))

    def _uses_index(self) -> bool:
        """Whether searches go through the vector index (remembered once it is built)."""
        if not self._index_ready:
            self._index_ready = self._index_state() is True
        return self._index_ready

    @property
    def index_in_use(self) -> str:
        return self.spec.target if self._uses_index() else "flat"

    @property
    def index_building(self) -> bool:
        if self._builder is not None and self._builder.is_alive():
            return True
        return not self._index_ready and self._index_state() is False

    def snapshot(self) -> bool:
        """Nothing to persist: every acknowledged write is committed in the database."""
        return False

    def close(self) -> None:
        builder = self._builder
        if builder is not None:
            builder.join(timeout=1)

    # -- writes --------------------------------------------------------------------------------
    def upsert(
        self,
        documents: list[NewDocument],
        chunk_tokens: int = 0,
        overlap: int = 32,
        replace_source: str | None = None,
    ) -> list[str]:
        refuse_nul("replace_source", replace_source)
        rows = self.prepare(documents, chunk_tokens, overlap)
        self.store(rows, replace_source)
        return [r.id for r in rows]

    def prepare(
        self, documents: list[NewDocument], chunk_tokens: int = 0, overlap: int = 32
    ) -> list[DocumentRow]:
        encoding.require_encoder(self.config, self.encoder)
        for i, d in enumerate(documents):
            refuse_nul(f"documents.{i}", {"id": d.id, "text": d.text, "metadata": d.metadata})
        return encoding.prepare_documents(self.encoder, documents, chunk_tokens, overlap)

    def store(self, rows: list[DocumentRow], replace_source: str | None = None) -> None:
        """Write prepared documents in one transaction: committed on return."""
        stale = {"source": replace_source} if replace_source else None
        self.db.run(lambda conn: self._write(conn, rows, [], stale))
        self._maybe_build()

    def delete(self, doc_ids: list[str]) -> int:
        return self.db.run(lambda conn: self._write(conn, [], doc_ids, None))

    def delete_matching(self, filter_: dict[str, Any]) -> int:
        if not filter_:
            raise BadInput(
                "filter: must name at least one field; to delete every document, "
                "delete the collection"
            )
        pg_filter(filter_)
        return self.db.run(lambda conn: self._write(conn, [], [], filter_))

    def _write(
        self,
        conn: psycopg.Connection,
        rows: list[DocumentRow],
        deletes: list[str],
        stale_filter: dict[str, Any] | None,
    ) -> int:
        """Deletes and upserts in the caller's transaction; returns how many were deleted.
        An upserted document's old chunks go in the same transaction as its new ones come."""
        deleted = 0
        if deletes:
            cur = conn.execute(
                sql.SQL("DELETE FROM {} WHERE id = ANY(%s)").format(self.docs), (deletes,)
            )
            deleted += cur.rowcount
        if stale_filter:
            where, params = pg_filter(stale_filter)
            kept = [r.id for r in rows]
            cur = conn.execute(
                sql.SQL("DELETE FROM {} WHERE {} AND NOT (id = ANY(%s))").format(self.docs, where),
                [*params, kept],
            )
            deleted += cur.rowcount
        if rows:
            self._upsert(conn, rows)
        return deleted

    def _upsert(self, conn: psycopg.Connection, rows: list[DocumentRow]) -> None:
        latest = encoding.latest_by_id(rows)
        ordered = [latest[i] for i in sorted(latest)]  # one lock order for every writer
        nums: dict[str, int] = dict(
            conn.execute(
                sql.SQL(
                    "INSERT INTO {} (id, text, metadata) "
                    "SELECT * FROM unnest(%s::text[], %s::text[], %s::jsonb[]) "
                    "ON CONFLICT (id) DO UPDATE SET text = excluded.text, "
                    "metadata = excluded.metadata, updated_at = now() RETURNING id, num"
                ).format(self.docs),
                (
                    [r.id for r in ordered],
                    [r.text for r in ordered],
                    [Jsonb(r.metadata) for r in ordered],
                ),
            ).fetchall()
        )
        conn.execute(
            sql.SQL("DELETE FROM {} WHERE doc_num = ANY(%s)").format(self.chunks),
            (list(nums.values()),),
        )
        columns: list[list[Any]] = [[], [], [], [], [], [], []]
        for r in ordered:
            meta = Jsonb(r.metadata)
            for c in r.chunks:
                values = (
                    nums[r.id],
                    c.index,
                    c.start,
                    c.end,
                    meta,
                    r.text[c.start : c.end],
                    np.asarray(c.vector, dtype=np.float32),
                )
                for column, value in zip(columns, values, strict=True):
                    column.append(value)
        if not columns[0]:
            return
        vector = sql.SQL("v::halfvec" if self.spec.half else "v")
        conn.execute(
            sql.SQL(
                "INSERT INTO {} (doc_num, idx, start_at, end_at, metadata, tsv, embedding) "
                "SELECT d, i, s, e, m, to_tsvector({cfg}::regconfig, t), {vector} FROM unnest("
                "%s::bigint[], %s::int[], %s::int[], %s::int[], %s::jsonb[], %s::text[], "
                "%b::vector[]) AS u(d, i, s, e, m, t, v)"
            ).format(self.chunks, cfg=sql.Literal(TEXT_SEARCH_CONFIG), vector=vector),
            columns,
        )

    def patch_metadata(self, doc_id: str, patch: dict[str, Any]) -> StoredDocument | None:
        """Merge `patch` (RFC 7396) into a document's metadata; nothing is embedded again."""
        refuse_nul("metadata", patch)

        def work(conn: psycopg.Connection) -> StoredDocument | None:
            row = conn.execute(
                sql.SQL("SELECT text, metadata, num FROM {} WHERE id = %s FOR UPDATE").format(
                    self.docs
                ),
                (doc_id,),
            ).fetchone()
            if row is None:
                return None
            merged = merge_metadata(row[1], patch)
            conn.execute(
                sql.SQL("UPDATE {} SET metadata = %s, updated_at = now() WHERE num = %s").format(
                    self.docs
                ),
                (Jsonb(merged), row[2]),
            )
            conn.execute(
                sql.SQL("UPDATE {} SET metadata = %s WHERE doc_num = %s").format(self.chunks),
                (Jsonb(merged), row[2]),
            )
            return StoredDocument(doc_id, row[0], merged, row[2])

        return self.db.run(work)

    # -- the vector index, built in the background past its threshold ------------------------
    def _maybe_build(self) -> None:
        if self._index_ready or self.spec.threshold == 0:
            return
        if self._builder is not None and self._builder.is_alive():
            return
        rows = self.db.run(
            lambda conn: one(conn, sql.SQL("SELECT count(*) FROM {}").format(self.chunks))
        )
        if int(rows) < self.spec.threshold:
            return
        with self._builder_lock:
            if self._builder is None or not self._builder.is_alive():
                self._builder = threading.Thread(
                    target=self._build, name=f"semsearch-pg-index-{self.id}", daemon=True
                )
                self._builder.start()

    def _build(self) -> None:
        """Build the vector index with CREATE INDEX CONCURRENTLY, writes going on meanwhile;
        one process at a time (an advisory lock), a failed build's leftover dropped first."""
        try:
            with self.db.autocommit() as conn:
                if not one(conn, "SELECT pg_try_advisory_lock(%s)", (BUILD_LOCK_BASE + self.id,)):
                    return
                try:
                    state = ann_index_state(conn, self.id)
                    if state is True:
                        self._index_ready = True
                        return
                    if state is False:
                        conn.execute(
                            sql.SQL("DROP INDEX CONCURRENTLY IF EXISTS {}").format(
                                sql.Identifier(ann_index_name(self.id))
                            )
                        )
                    rows = int(
                        one(conn, sql.SQL("SELECT count(*) FROM {}").format(self.chunks)) or 0
                    )
                    log.info(
                        "collection %s: building its %s index", self.config.name, self.spec.target
                    )
                    create_ann_index(conn, self.id, self.spec, rows, concurrently=True)
                    self._index_ready = ann_index_state(conn, self.id) is True
                finally:
                    conn.execute("SELECT pg_advisory_unlock(%s)", (BUILD_LOCK_BASE + self.id,))
        except Exception:
            log.exception("collection %s: index build failed", self.config.name)

    # -- reads ---------------------------------------------------------------------------------
    def get(self, doc_id: str) -> StoredDocument | None:
        row = self.db.run(
            lambda conn: conn.execute(
                sql.SQL("SELECT id, text, metadata, num FROM {} WHERE id = %s").format(self.docs),
                (doc_id,),
            ).fetchone()
        )
        return StoredDocument(*row) if row else None

    def page(
        self, limit: int, after: int, filter_: dict[str, Any] | None = None
    ) -> list[StoredDocument]:
        where, params = pg_filter(filter_)
        rows = self.db.run(
            lambda conn: conn.execute(
                sql.SQL(
                    "SELECT id, text, metadata, num FROM {} WHERE num > %s AND {} "
                    "ORDER BY num LIMIT %s"
                ).format(self.docs, where),
                [after, *params, limit],
            ).fetchall()
        )
        return [StoredDocument(*r) for r in rows]

    def count_matching(self, filter_: dict[str, Any] | None = None) -> int:
        where, params = pg_filter(filter_)
        query = sql.SQL("SELECT count(*) FROM {} WHERE {}").format(self.docs, where)
        return int(self.db.run(lambda conn: one(conn, query, params)))

    def ids_matching(self, filter_: dict[str, Any]) -> list[str]:
        where, params = pg_filter(filter_)
        query = sql.SQL("SELECT id FROM {} WHERE {}").format(self.docs, where)
        return [r[0] for r in self.db.run(lambda conn: conn.execute(query, params).fetchall())]

    def counts(self) -> dict[str, int]:
        query = sql.SQL("SELECT (SELECT count(*) FROM {}), (SELECT count(*) FROM {})").format(
            self.docs, self.chunks
        )
        documents, chunks = self.db.run(lambda conn: conn.execute(query).fetchone()) or (0, 0)
        return {"documents": int(documents), "chunks": int(chunks), "vectors": int(chunks)}

    def export(self, after: int, limit: int) -> list[tuple[int, DocumentRow]]:
        """Up to `limit` documents with `num` above `after`, in `num` order, with their chunks
        and vectors (halfvec ones widened to float32). One statement, so one snapshot: the
        documents and their chunks as they were at one moment."""
        kind = sql.SQL("halfvec" if self.spec.half else "vector")
        query = sql.SQL(
            "WITH d AS MATERIALIZED (SELECT num, id, text, metadata FROM {docs} "
            "WHERE num > %s ORDER BY num LIMIT %s) "
            "SELECT num, id, text, metadata, NULL::integer, NULL::integer, NULL::integer, "
            "NULL::{kind} FROM d "
            "UNION ALL "
            "SELECT c.doc_num, NULL, NULL, NULL, c.idx, c.start_at, c.end_at, c.embedding "
            "FROM {chunks} c JOIN d ON c.doc_num = d.num "
            "ORDER BY 1, 5 NULLS FIRST"
        ).format(docs=self.docs, chunks=self.chunks, kind=kind)
        rows = self.db.run(
            lambda conn: conn.cursor(binary=True).execute(query, (after, limit)).fetchall()
        )
        out: list[tuple[int, DocumentRow]] = []
        for num, doc_id, text, metadata, idx, start, end, vector in rows:
            if idx is None:  # the document's row comes before its chunks
                out.append((int(num), DocumentRow(doc_id, text, metadata, [])))
            else:
                out[-1][1].chunks.append(ChunkRow(idx, start, end, _array(vector)))
        return out

    def sample_chunks(self, limit: int) -> tuple[list[Hit], np.ndarray]:
        """Up to `limit` chunks spread evenly over the collection in storage order, each as a
        Hit (score 0.0) with its document, and their stored vectors, row for row."""
        none = np.zeros((0, self.config.dimension), np.float32)
        if limit < 1:
            return [], none

        def work(conn: psycopg.Connection) -> list[tuple[Any, ...]]:
            total = int(one(conn, sql.SQL("SELECT count(*) FROM {}").format(self.chunks)))
            if total == 0:
                return []
            wanted = np.unique(np.linspace(0, total - 1, min(limit, total)).round())
            cur = conn.cursor(binary=True)
            return cur.execute(
                sql.SQL(
                    "WITH numbered AS (SELECT id, row_number() OVER (ORDER BY id) - 1 AS r "
                    "FROM {chunks}) "
                    "SELECT d.id, d.text, d.metadata, c.idx, c.start_at, c.end_at, c.embedding "
                    "FROM numbered n JOIN {chunks} c ON c.id = n.id "
                    "JOIN {docs} d ON d.num = c.doc_num WHERE n.r = ANY(%s) ORDER BY c.id"
                ).format(chunks=self.chunks, docs=self.docs),
                ([int(w) for w in wanted],),
            ).fetchall()

        rows = self.db.run(work)
        if not rows:
            return [], none
        hits = [Hit(r[0], 0.0, r[1], r[2], r[3], r[1][r[4] : r[5]], r[4]) for r in rows]
        return hits, np.vstack([_array(r[6]) for r in rows])

    # -- search --------------------------------------------------------------------------------
    def embed_queries(self, queries: list[str]) -> np.ndarray:
        encoding.require_encoder(self.config, self.encoder)
        return self.encoder.encode(queries)

    def check_vectors(self, vectors: np.ndarray, field_name: str = "vector") -> None:
        encoding.check_vectors(self.config, vectors, field_name)

    def search(
        self,
        queries: np.ndarray | None,
        k: int,
        filter_: dict[str, Any] | None = None,
        min_score: float | None = None,
        *,
        texts: list[str] | None = None,
        mode: str = "dense",
        offset: int = 0,
        fusion: str = DEFAULT_FUSION,
        alpha: float | None = None,
    ) -> list[list[Hit]]:
        """The documents ranked offset+1 .. offset+k for each query, each with its best chunk.

        dense: inner product of the query vectors (cosine for normalised encoders); lexical:
        full text ranked by ts_rank (needs `texts`); hybrid: the two fused as on every backend.
        """
        check_search_mode(mode, queries, texts, fusion, alpha)
        if queries is not None and mode != "lexical":
            self.check_vectors(queries)
        where = pg_filter(filter_)
        count = len(queries) if queries is not None else len(texts or [])

        def dense(i: int, depth: int, least: float | None) -> list[Hit]:
            assert queries is not None
            return self._dense(queries[i], depth, where, least)

        def lexical(i: int, depth: int) -> list[Hit]:
            return self._lexical((texts or [])[i], depth, where)

        return rank_queries(count, k, offset, min_score, mode, dense, lexical, fusion, alpha)

    def _dense(
        self,
        query: np.ndarray,
        k: int,
        where: tuple[sql.Composable, list[Any]],
        min_score: float | None,
    ) -> list[Hit]:
        fetch = max(k * 2, k + 8)
        while True:
            rows = self._nearest_chunks(np.asarray(query, dtype=np.float32), fetch, where)
            exhausted = len(rows) < fetch
            if min_score is not None and rows and rows[-1][0] < min_score:
                rows = [r for r in rows if r[0] >= min_score]
                exhausted = True
            best = _best_chunks(rows)
            if len(best) >= k or exhausted:
                return best[:k]
            fetch *= 4

    def _nearest_chunks(
        self, query: np.ndarray, fetch: int, where: tuple[sql.Composable, list[Any]]
    ) -> list[tuple[Any, ...]]:
        """The `fetch` chunks nearest the query among those the filter allows, best first.
        Through the vector index, an iterative scan keeps going until enough rows pass the
        filter; if it stops short (the scan's limit), an exact scan answers instead, so a
        search returns k hits whenever k exist."""
        condition, params = where
        query_sql = sql.SQL(
            "WITH top AS MATERIALIZED (SELECT doc_num, idx, start_at, end_at, "
            "embedding <#> {vector} AS distance FROM {chunks} WHERE {condition} "
            "ORDER BY distance LIMIT %s) "
            "SELECT -top.distance, d.id, d.text, d.metadata, top.idx, top.start_at, "
            "top.end_at, d.num FROM top JOIN {docs} d ON d.num = top.doc_num "
            "ORDER BY top.distance"
        ).format(vector=self._vector, chunks=self.chunks, condition=condition, docs=self.docs)
        args = [query, *params, fetch]
        if not self._uses_index():
            return self.db.rows(query_sql, args)
        settings = {
            **self.spec.search_settings(),
            "hnsw.iterative_scan": "strict_order",
            "hnsw.max_scan_tuples": MAX_SCAN_TUPLES,
            "ivfflat.iterative_scan": "relaxed_order",
        }
        rows = self.db.rows(query_sql, args, settings)
        if len(rows) < fetch:
            exact = {"enable_indexscan": "off"}
            rows = self.db.rows(query_sql, args, exact)
        rows.sort(key=lambda r: -r[0])  # ivfflat's relaxed order
        return rows

    def _lexical(self, text: str, k: int, where: tuple[sql.Composable, list[Any]]) -> list[Hit]:
        query = text_query(text)
        if query is None:
            return []
        condition, params = where
        query_sql = sql.SQL(
            "WITH q AS (SELECT to_tsquery({cfg}::regconfig, %s) AS q), "
            "top AS MATERIALIZED (SELECT c.doc_num, c.idx, c.start_at, c.end_at, "
            "ts_rank(c.tsv, q.q) AS score FROM {chunks} c, q WHERE c.tsv @@ q.q AND {condition} "
            "ORDER BY score DESC, c.id LIMIT %s) "
            "SELECT top.score, d.id, d.text, d.metadata, top.idx, top.start_at, top.end_at, "
            "d.num FROM top JOIN {docs} d ON d.num = top.doc_num ORDER BY top.score DESC"
        ).format(
            cfg=sql.Literal(TEXT_SEARCH_CONFIG),
            chunks=self.chunks,
            condition=condition,
            docs=self.docs,
        )
        fetch = max(k * 2, k + 8)
        while True:
            rows = self.db.rows(query_sql, [query, *params, fetch])
            best = _best_chunks(rows)
            if len(best) >= k or len(rows) < fetch:
                return best[:k]
            fetch *= 4


def _best_chunks(rows: list[tuple[Any, ...]]) -> list[Hit]:
    """Ranked chunk rows (score, id, text, metadata, idx, start, end, num) as hits, keeping
    each document's first (best) chunk."""
    best: dict[int, Hit] = {}
    for score, doc_id, text, metadata, idx, start, end, num in rows:
        if num not in best:
            best[num] = Hit(doc_id, float(score), text, metadata, idx, text[start:end], start)
    return list(best.values())


def _array(value: Any) -> np.ndarray:
    """A vector as loaded by pgvector (an array, or a HalfVector) as float32."""
    if isinstance(value, np.ndarray):
        return value.astype(np.float32)
    return np.asarray(value.to_numpy(), dtype=np.float32)


implements: type[CollectionStore] = PgCollection  # mypy checks it against the interface
