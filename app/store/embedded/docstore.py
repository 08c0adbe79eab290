"""SQLite document store of one collection: documents, chunks, vectors, sequence numbers.
The source of truth."""

import json
import re
import sqlite3
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from app.store.filters import compile_filter, merge_metadata
from app.store.interface import ChunkRow, DocumentRow, StoredDocument

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS documents (
    num INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    text TEXT NOT NULL,
    metadata TEXT NOT NULL,
    seq INTEGER NOT NULL,
    updated_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS chunks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    doc_num INTEGER NOT NULL,
    idx INTEGER NOT NULL,
    start INTEGER NOT NULL,
    end INTEGER NOT NULL,
    vector BLOB NOT NULL,
    seq INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS chunks_by_doc ON chunks(doc_num);
CREATE INDEX IF NOT EXISTS chunks_by_seq ON chunks(seq);
CREATE TABLE IF NOT EXISTS tombstones (chunk_id INTEGER PRIMARY KEY, seq INTEGER NOT NULL);
CREATE VIRTUAL TABLE IF NOT EXISTS chunks_fts
    USING fts5(text, tokenize = 'unicode61 remove_diacritics 2');
"""
WORD = re.compile(r"\w+", re.UNICODE)
MAX_QUERY_TERMS = 64


def fts_query(text: str) -> str | None:
    """A user's text as an FTS5 query matching any of its words (BM25 ranks the matches)."""
    terms = list(dict.fromkeys(w.lower() for w in WORD.findall(text)))[:MAX_QUERY_TERMS]
    return " OR ".join(f'"{t}"' for t in terms) if terms else None


@dataclass(frozen=True)
class ChunkHit:
    """A chunk found by a search, with its document."""

    chunk_id: int
    doc_num: int
    index: int
    start: int
    end: int
    document: StoredDocument


@dataclass(frozen=True)
class WriteResult:
    """What one committed write changed, for the vector index to follow."""

    seq: int
    added_ids: np.ndarray
    added_vectors: np.ndarray
    removed_ids: np.ndarray


def _connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=30.0)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA foreign_keys=OFF")
    return conn


class DocStore:
    """One collection's SQLite file. Writes go through one connection under a lock; each
    reading thread has its own connection, so reads never wait for a write (WAL)."""

    def __init__(self, path: Path, dimension: int) -> None:
        self.path = path
        self.dimension = dimension
        self._writer = _connect(path)
        self._writer.executescript(SCHEMA)
        self._sync_lexical_index()
        self._write_lock = threading.Lock()
        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []
        self._readers_lock = threading.Lock()
        self._closed = False

    def _sync_lexical_index(self) -> None:
        """Rebuild the full-text index from the chunks if the two disagree (a store written
        before the index existed)."""
        conn = self._writer
        chunks = conn.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]
        indexed = conn.execute("SELECT COUNT(*) FROM chunks_fts").fetchone()[0]
        if chunks == indexed:
            return
        with conn:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("DELETE FROM chunks_fts")
            conn.execute(
                "INSERT INTO chunks_fts(rowid, text) SELECT c.id, "
                "substr(d.text, c.start + 1, c.end - c.start) "
                "FROM chunks c JOIN documents d ON d.num = c.doc_num"
            )

    # -- connections ---------------------------------------------------------------------------
    def _reader(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = _connect(self.path)
            conn.execute("PRAGMA query_only=ON")
            self._local.conn = conn
            with self._readers_lock:
                self._readers.append(conn)
        return conn

    def close(self) -> None:
        with self._write_lock, self._readers_lock:
            if self._closed:
                return
            self._closed = True
            for conn in self._readers:
                conn.close()
            self._writer.close()

    # -- meta ----------------------------------------------------------------------------------
    def get_meta(self) -> dict[str, Any]:
        rows = self._reader().execute("SELECT key, value FROM meta").fetchall()
        return {k: json.loads(v) for k, v in rows}

    def set_meta(self, values: dict[str, Any]) -> None:
        with self._write_lock:
            self._writer.executemany(
                "INSERT INTO meta(key, value) VALUES (?, ?) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                [(k, json.dumps(v)) for k, v in values.items()],
            )

    def last_seq(self) -> int:
        row = self._reader().execute("SELECT value FROM meta WHERE key = 'seq'").fetchone()
        return int(json.loads(row[0])) if row else 0

    # -- writes --------------------------------------------------------------------------------
    def _next_seq(self, conn: sqlite3.Connection) -> int:
        row = conn.execute("SELECT value FROM meta WHERE key = 'seq'").fetchone()
        seq = (int(json.loads(row[0])) if row else 0) + 1
        conn.execute(
            "INSERT INTO meta(key, value) VALUES ('seq', ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (json.dumps(seq),),
        )
        return seq

    def _tombstone_chunks_of(
        self, conn: sqlite3.Connection, doc_nums: list[int], seq: int
    ) -> list[int]:
        removed: list[int] = []
        for i in range(0, len(doc_nums), 500):
            part = doc_nums[i : i + 500]
            marks = ",".join("?" * len(part))
            ids = [
                r[0]
                for r in conn.execute(f"SELECT id FROM chunks WHERE doc_num IN ({marks})", part)
            ]
            if ids:
                conn.executemany(
                    "INSERT OR REPLACE INTO tombstones(chunk_id, seq) VALUES (?, ?)",
                    [(cid, seq) for cid in ids],
                )
                conn.execute(f"DELETE FROM chunks WHERE doc_num IN ({marks})", part)
                id_marks = ",".join("?" * len(ids))
                conn.execute(f"DELETE FROM chunks_fts WHERE rowid IN ({id_marks})", ids)
            removed += ids
        return removed

    def _nums_of(self, conn: sqlite3.Connection, ids: list[str]) -> dict[str, int]:
        found: dict[str, int] = {}
        for i in range(0, len(ids), 500):
            part = ids[i : i + 500]
            marks = ",".join("?" * len(part))
            found.update(conn.execute(f"SELECT id, num FROM documents WHERE id IN ({marks})", part))
        return found

    def write(self, upserts: list[DocumentRow], deletes: list[str]) -> tuple[WriteResult, int]:
        """Apply upserts and deletes in one transaction under a new sequence number.

        Returns what changed and how many of `deletes` existed.
        """
        with self._write_lock:
            conn = self._writer
            conn.execute("BEGIN IMMEDIATE")
            try:
                seq = self._next_seq(conn)
                now = time.time()
                existing = self._nums_of(conn, [d.id for d in upserts] + deletes)
                removed = self._tombstone_chunks_of(conn, list(existing.values()), seq)
                deleted = [existing[i] for i in deletes if i in existing]
                for i in range(0, len(deleted), 500):
                    part = deleted[i : i + 500]
                    conn.execute(
                        f"DELETE FROM documents WHERE num IN ({','.join('?' * len(part))})", part
                    )
                chunk_params: list[tuple[Any, ...]] = []
                chunk_texts: list[str] = []
                vectors: list[np.ndarray] = []
                for doc in upserts:
                    (num,) = conn.execute(
                        "INSERT INTO documents(id, text, metadata, seq, updated_at) "
                        "VALUES (?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET "
                        "text = excluded.text, metadata = excluded.metadata, "
                        "seq = excluded.seq, updated_at = excluded.updated_at RETURNING num",
                        (doc.id, doc.text, json.dumps(doc.metadata), seq, now),
                    ).fetchone()
                    for chunk in doc.chunks:
                        vector = np.ascontiguousarray(chunk.vector, dtype=np.float32)
                        chunk_params.append(
                            (num, chunk.index, chunk.start, chunk.end, vector.tobytes(), seq)
                        )
                        vectors.append(vector)
                        chunk_texts.append(doc.text[chunk.start : chunk.end])
                first = conn.execute("SELECT COALESCE(MAX(id), 0) FROM chunks").fetchone()[0]
                seq_row = conn.execute(
                    "SELECT seq FROM sqlite_sequence WHERE name = 'chunks'"
                ).fetchone()
                next_id = max(first, seq_row[0] if seq_row else 0) + 1
                ids = np.arange(next_id, next_id + len(chunk_params), dtype=np.int64)
                conn.executemany(
                    "INSERT INTO chunks(id, doc_num, idx, start, end, vector, seq) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [(int(cid), *params) for cid, params in zip(ids, chunk_params, strict=True)],
                )
                conn.executemany(
                    "INSERT INTO chunks_fts(rowid, text) VALUES (?, ?)",
                    [(int(cid), t) for cid, t in zip(ids, chunk_texts, strict=True)],
                )
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        added = np.stack(vectors) if vectors else np.zeros((0, self.dimension), dtype=np.float32)
        result = WriteResult(seq, ids, added, np.asarray(removed, dtype=np.int64))
        return result, len(deleted)

    def patch_metadata(self, doc_id: str, patch: dict[str, Any]) -> StoredDocument | None:
        """Merge `patch` (RFC 7396) into a document's metadata in one transaction; its text,
        chunks and vectors stay as they are. None for an unknown id."""
        with self._write_lock:
            conn = self._writer
            conn.execute("BEGIN IMMEDIATE")
            try:
                row = conn.execute(
                    "SELECT text, metadata, num FROM documents WHERE id = ?", (doc_id,)
                ).fetchone()
                if row is None:
                    conn.execute("ROLLBACK")
                    return None
                metadata = merge_metadata(json.loads(row[1]), patch)
                conn.execute(
                    "UPDATE documents SET metadata = ?, updated_at = ? WHERE num = ?",
                    (json.dumps(metadata), time.time(), row[2]),
                )
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        return StoredDocument(doc_id, row[0], metadata, row[2])

    def prune_tombstones(self, up_to_seq: int) -> None:
        with self._write_lock:
            self._writer.execute("DELETE FROM tombstones WHERE seq <= ?", (up_to_seq,))

    # -- reads ---------------------------------------------------------------------------------
    def count(self) -> tuple[int, int]:
        conn = self._reader()
        docs = conn.execute("SELECT COUNT(*) FROM documents").fetchone()[0]
        chunks = conn.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]
        return int(docs), int(chunks)

    def has_multi_chunk_documents(self) -> bool:
        """Whether some document has more than one chunk. Both counts read an index only; a
        test of `idx > 0` would read the whole chunks table whenever no chunk matches."""
        _, chunks = self.count()
        row = self._reader().execute("SELECT COUNT(DISTINCT doc_num) FROM chunks").fetchone()
        return chunks > int(row[0])

    def get(self, doc_id: str) -> StoredDocument | None:
        row = (
            self._reader()
            .execute("SELECT id, text, metadata, num FROM documents WHERE id = ?", (doc_id,))
            .fetchone()
        )
        return StoredDocument(row[0], row[1], json.loads(row[2]), row[3]) if row else None

    def page(
        self, limit: int, after: int, filter_: dict[str, Any] | None = None
    ) -> list[StoredDocument]:
        where, params = compile_filter(filter_) if filter_ else ("1", [])
        rows = self._reader().execute(
            "SELECT id, text, metadata, num FROM documents "
            f"WHERE num > ? AND {where} ORDER BY num LIMIT ?",
            [after, *params, limit],
        )
        return [StoredDocument(r[0], r[1], json.loads(r[2]), r[3]) for r in rows]

    def count_matching(self, filter_: dict[str, Any] | None = None) -> int:
        if not filter_:
            return self.count()[0]
        where, params = compile_filter(filter_)
        row = self._reader().execute(f"SELECT COUNT(*) FROM documents WHERE {where}", params)
        return int(row.fetchone()[0])

    def ids_matching(self, filter_: dict[str, Any]) -> list[str]:
        where, params = compile_filter(filter_)
        rows = self._reader().execute(f"SELECT id FROM documents WHERE {where}", params)
        return [r[0] for r in rows]

    def chunk_ids_matching(self, filter_: dict[str, Any]) -> np.ndarray:
        where, params = compile_filter(filter_)
        rows = self._reader().execute(
            "SELECT chunks.id FROM chunks JOIN documents ON documents.num = chunks.doc_num "
            f"WHERE {where}",
            params,
        )
        return np.fromiter((r[0] for r in rows), dtype=np.int64)

    def lexical_chunks(
        self, text: str, limit: int, filter_: dict[str, Any] | None = None
    ) -> list[tuple[int, float]]:
        """The best chunks by BM25 for text, as (chunk id, score), best first; higher is better."""
        query = fts_query(text)
        if query is None:
            return []
        where, params = compile_filter(filter_) if filter_ else ("1", [])
        rows = self._reader().execute(
            "SELECT chunks_fts.rowid, -bm25(chunks_fts) AS score FROM chunks_fts "
            "JOIN chunks ON chunks.id = chunks_fts.rowid "
            "JOIN documents ON documents.num = chunks.doc_num "
            f"WHERE chunks_fts MATCH ? AND {where} ORDER BY bm25(chunks_fts) LIMIT ?",
            [query, *params, limit],
        )
        return [(int(r[0]), float(r[1])) for r in rows]

    def chunk_hits(self, chunk_ids: list[int]) -> dict[int, ChunkHit]:
        if not chunk_ids:
            return {}
        marks = ",".join("?" * len(chunk_ids))
        rows = self._reader().execute(
            "SELECT c.id, c.doc_num, c.idx, c.start, c.end, d.id, d.text, d.metadata "
            f"FROM chunks c JOIN documents d ON d.num = c.doc_num WHERE c.id IN ({marks})",
            chunk_ids,
        )
        return {
            r[0]: ChunkHit(
                r[0], r[1], r[2], r[3], r[4], StoredDocument(r[5], r[6], json.loads(r[7]), r[1])
            )
            for r in rows
        }

    def export(self, after: int, limit: int) -> list[tuple[int, DocumentRow]]:
        """Up to `limit` documents with `num` above `after`, in `num` order, with their chunks
        and vectors, read in one transaction (one snapshot of the file)."""
        conn = self._reader()
        conn.execute("BEGIN")
        try:
            docs = conn.execute(
                "SELECT num, id, text, metadata FROM documents WHERE num > ? ORDER BY num LIMIT ?",
                (after, limit),
            ).fetchall()
            chunks: dict[int, list[ChunkRow]] = {int(d[0]): [] for d in docs}
            nums = list(chunks)
            for i in range(0, len(nums), 500):
                part = nums[i : i + 500]
                rows = conn.execute(
                    "SELECT doc_num, idx, start, end, vector FROM chunks "
                    f"WHERE doc_num IN ({','.join('?' * len(part))}) ORDER BY doc_num, idx",
                    part,
                )
                for num, idx, start, end, blob in rows:
                    vector = np.frombuffer(blob, dtype=np.float32).copy()
                    chunks[num].append(ChunkRow(idx, start, end, vector))
        finally:
            conn.execute("COMMIT")
        return [
            (int(num), DocumentRow(doc_id, text, json.loads(meta), chunks[int(num)]))
            for num, doc_id, text, meta in docs
        ]

    def vectors_since(
        self, seq: int, batch: int = 10_000
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """All stored chunk vectors written after `seq`, as (ids, vectors) batches."""
        conn = self._reader()
        last = 0
        while True:
            rows = conn.execute(
                "SELECT id, vector FROM chunks WHERE seq > ? AND id > ? ORDER BY id LIMIT ?",
                (seq, last, batch),
            ).fetchall()
            if not rows:
                return
            ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
            vectors = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32)
            yield ids, vectors.reshape(len(rows), self.dimension)
            last = int(ids[-1])

    def tombstones_since(self, seq: int) -> np.ndarray:
        rows = self._reader().execute("SELECT chunk_id FROM tombstones WHERE seq > ?", (seq,))
        return np.fromiter((r[0] for r in rows), dtype=np.int64)
