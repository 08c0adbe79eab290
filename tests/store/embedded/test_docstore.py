"""The SQLite store compiles a filter into the chunk ids a FAISS search may return."""

from pathlib import Path

import numpy as np

from app.store.embedded.docstore import DocStore
from app.store.interface import ChunkRow, DocumentRow

DOCS = {"a": {"lang": "en"}, "b": {"lang": "en"}, "c": {"lang": "fr"}}


def test_chunk_ids_follow_the_filter(tmp_path: Path) -> None:
    store = DocStore(tmp_path / "docstore.sqlite", 2)
    vec = np.ones(2, dtype=np.float32)
    rows = [DocumentRow(i, f"text {i}", m, [ChunkRow(0, 0, 6, vec)]) for i, m in DOCS.items()]
    store.write(rows, [])
    assert len(store.chunk_ids_matching({"lang": "en"})) == 2
    store.close()
