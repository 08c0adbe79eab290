"""Snapshots are states that existed, and restore brings them back whole or not at all."""

import json
import logging
import threading
from pathlib import Path

import pytest

from app.errors import BadInput, Conflict
from app.models.encoder import Encoder
from app.store.catalog import Catalog
from app.store.embedded.backup import (
    MANIFEST_FILE,
    Snapshot,
    list_snapshots,
    read_snapshot,
    restore_snapshot,
    snapshot_root,
    write_snapshot,
)
from app.store.embedded.collection import Collection
from app.store.embedded.layout import DOCSTORE_FILE, SNAPSHOT_FILE
from app.store.interface import DocumentRow, NewDocument
from tests.helpers import kjv_verses

QUERIES = ["the light of the world", "bread and wine", "the waters of the deep"]
BATCH = 3
BATCHES = 40
SNAPSHOT_AFTER = (5, 15, 25)  # batches written when the test takes each snapshot


@pytest.fixture(scope="module")
def rows(encoder: Encoder, tmp_path_factory: pytest.TempPathFactory) -> list[DocumentRow]:
    """King James verses chunked and embedded once, ready to store any number of times."""
    catalog = Catalog(tmp_path_factory.mktemp("prepare"), encoder)
    verses = kjv_verses(BATCH * BATCHES)
    prepared = catalog.create("p").prepare([NewDocument(v["text"], v["citation"]) for v in verses])
    catalog.close()
    return prepared


def ids_of(collection: Collection) -> set[str]:
    return {d.id for d in collection.page(100_000, 0)}


def results(collection: Collection) -> list[list[tuple[str, float]]]:
    hits = collection.search(collection.embed_queries(QUERIES), 5, texts=QUERIES, mode="hybrid")
    hits += collection.search(collection.embed_queries(QUERIES), 5)
    return [[(h.id, round(h.score, 5)) for h in q] for q in hits]


def open_restored(data_dir: Path, encoder: Encoder, name: str) -> tuple[Catalog, Collection]:
    catalog = Catalog(data_dir, encoder)
    catalog.open_all()
    return catalog, catalog.get(name)


def test_snapshots_taken_during_an_ingest_are_states_that_existed(
    tmp_path: Path,
    encoder: Encoder,
    rows: list[DocumentRow],
    caplog: pytest.LogCaptureFixture,
) -> None:
    catalog = Catalog(tmp_path / "data", encoder)
    collection = catalog.create("bible")
    states: dict[int, frozenset[str]] = {}
    reached = {n: threading.Event() for n in SNAPSHOT_AFTER}
    snapshots_done = threading.Event()
    errors: list[str] = []

    def writer() -> None:
        """Adds, replaces (new chunk ids, tombstones) and deletes; records each state by seq."""
        live: set[str] = set()
        try:
            for n in range(BATCHES):
                batch = rows[n * BATCH : (n + 1) * BATCH]
                replaced = rows[(n // 2) * BATCH : (n // 2) * BATCH + 2] if n % 3 == 1 else []
                collection.store(batch + [r for r in replaced if r.id in live])
                live |= {r.id for r in batch}
                states[collection.docstore.last_seq()] = frozenset(live)
                if n % 4 == 3:
                    gone = sorted(live)[:2]
                    collection.delete(gone)
                    live -= set(gone)
                    states[collection.docstore.last_seq()] = frozenset(live)
                if n + 1 in reached:
                    reached[n + 1].set()
                if n + 1 == 30:
                    snapshots_done.wait(60)  # every snapshot lands before the ingest ends
        except Exception as exc:  # reported below
            errors.append(repr(exc))
        finally:
            for event in reached.values():
                event.set()

    def live_snapshots() -> None:
        """The service's own index snapshots, which prune tombstones, running all along."""
        for _ in range(200):
            if snapshots_done.is_set():
                return
            collection.snapshot()
            snapshots_done.wait(0.005)

    threads = [threading.Thread(target=writer), threading.Thread(target=live_snapshots)]
    for thread in threads:
        thread.start()
    root = snapshot_root(None, tmp_path / "data")
    taken: list[Snapshot] = []
    for n in SNAPSHOT_AFTER:
        assert reached[n].wait(60)
        taken.append(write_snapshot(collection, root))
    snapshots_done.set()
    for thread in threads:
        thread.join(60)
    assert errors == []
    final_seq = collection.docstore.last_seq()
    catalog.close()

    assert [s.path for s in list_snapshots(root, "bible")] == [s.path for s in taken]
    assert len({s.path for s in taken}) == 3
    assert [s.manifest.seq for s in taken] == sorted(s.manifest.seq for s in taken)
    caplog.set_level(logging.WARNING, logger="app.store.embedded.collection")
    for i, snapshot in enumerate(taken):
        m = snapshot.manifest
        assert m.index_seq <= m.seq < final_seq
        restored = restore_snapshot(snapshot.path, tmp_path / f"restored{i}")
        assert restored.name == "bible" and not restored.replaced
        copy_catalog, copy = open_restored(tmp_path / f"restored{i}", encoder, "bible")
        assert ids_of(copy) == states[m.seq]
        assert copy.counts() == {"documents": m.documents, "chunks": m.chunks, "vectors": m.chunks}
        for row in rows[:: BATCH * 7]:
            if row.id in states[m.seq]:
                (hits,) = copy.search(row.chunks[0].vector[None, :], 1)
                assert hits[0].id == row.id
        copy_catalog.close()
    assert "rebuilding" not in caplog.text, "the index should come forward from the copy"


def test_restore_under_a_new_name_gives_the_same_documents_and_search_results(
    tmp_path: Path, encoder: Encoder, rows: list[DocumentRow]
) -> None:
    catalog = Catalog(tmp_path / "data", encoder)
    original = catalog.create("bible", language="en")
    original.store(rows[:80])
    original.delete([rows[0].id])
    snapshot = write_snapshot(original, tmp_path / "snaps")
    expected_docs = original.page(1000, 0)
    expected = results(original)
    original.store(rows[80:100])  # after the snapshot: not in it
    catalog.close()

    assert sorted(p.name for p in snapshot.path.iterdir()) == sorted(
        [DOCSTORE_FILE, SNAPSHOT_FILE, MANIFEST_FILE]
    )
    manifest = json.loads((snapshot.path / MANIFEST_FILE).read_text())
    assert manifest["collection"] == "bible" and manifest["format"] == 1
    assert manifest["documents"] == manifest["chunks"] == 79
    assert manifest["config"]["model"] == encoder.name

    restored = restore_snapshot(snapshot.path, tmp_path / "new", name="bible_copy")
    assert restored.folder == tmp_path / "new" / "bible_copy"
    assert sorted(p.name for p in (tmp_path / "new").iterdir()) == ["bible_copy"]
    copy_catalog, copy = open_restored(tmp_path / "new", encoder, "bible_copy")
    assert copy.config.name == "bible_copy" and copy.config.language == "en"
    assert [(d.id, d.text, d.metadata) for d in copy.page(1000, 0)] == [
        (d.id, d.text, d.metadata) for d in expected_docs
    ]
    assert results(copy) == expected
    copy_catalog.close()


@pytest.fixture
def snapshot(tmp_path: Path, encoder: Encoder, rows: list[DocumentRow]) -> Snapshot:
    catalog = Catalog(tmp_path / "data", encoder)
    collection = catalog.create("small")
    collection.store(rows[:10])
    taken = write_snapshot(collection, tmp_path / "snaps")
    catalog.close()
    return taken


def restore_fails(snapshot: Path, data_dir: Path, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        restore_snapshot(snapshot, data_dir)
    assert not data_dir.exists() or list(data_dir.iterdir()) == []


def test_a_missing_or_damaged_snapshot_is_refused_and_restores_nothing(
    tmp_path: Path, snapshot: Snapshot
) -> None:
    target = tmp_path / "target"
    path = snapshot.path
    restore_fails(tmp_path / "nowhere", target, BadInput, "no such folder")

    manifest = json.loads((path / MANIFEST_FILE).read_text())
    (path / MANIFEST_FILE).write_text("{not json")
    restore_fails(path, target, BadInput, "manifest.json is not readable JSON")
    (path / MANIFEST_FILE).write_text(json.dumps({**manifest, "format": 99}))
    restore_fails(path, target, BadInput, "format 99 is unknown; this version reads format 1")
    (path / MANIFEST_FILE).write_text(json.dumps({**manifest, "seq": "7"}))
    restore_fails(path, target, BadInput, "'seq' must be a whole number")
    (path / MANIFEST_FILE).write_text(json.dumps({**manifest, "collection": "a b"}))
    restore_fails(path, target, BadInput, "is not a valid collection name")
    (path / MANIFEST_FILE).write_text(json.dumps({**manifest, "files": {}}))
    restore_fails(path, target, BadInput, "'files' must give the bytes and sha256")
    (path / MANIFEST_FILE).unlink()
    restore_fails(path, target, BadInput, "manifest.json is missing")
    (path / MANIFEST_FILE).write_text(json.dumps(manifest))

    index = (path / SNAPSHOT_FILE).read_bytes()
    (path / SNAPSHOT_FILE).write_bytes(index[:-10])
    restore_fails(path, target, BadInput, r"vectors.faiss holds \d+ bytes; the manifest records")
    (path / SNAPSHOT_FILE).write_bytes(index[:-1] + bytes([index[-1] ^ 0xFF]))
    restore_fails(path, target, BadInput, "vectors.faiss does not match its checksum")
    (path / SNAPSHOT_FILE).write_bytes(index)
    store = (path / DOCSTORE_FILE).read_bytes()
    (path / DOCSTORE_FILE).unlink()
    restore_fails(path, target, BadInput, "docstore.sqlite is missing")
    (path / DOCSTORE_FILE).write_bytes(store)

    assert read_snapshot(path).manifest == snapshot.manifest
    assert restore_snapshot(path, target).folder == target / "small"


def test_an_existing_collection_is_replaced_only_when_forced(
    tmp_path: Path, encoder: Encoder, snapshot: Snapshot, rows: list[DocumentRow]
) -> None:
    data_dir = tmp_path / "data"
    catalog = Catalog(data_dir, encoder)
    catalog.open_all()
    catalog.get("small").store(rows[10:20])
    catalog.close()
    before = sorted(p.name for p in data_dir.iterdir())

    with pytest.raises(Conflict, match="'small' already exists .* give --force"):
        restore_snapshot(snapshot.path, data_dir)
    with pytest.raises(BadInput, match="'no/slashes' is not a valid collection name"):
        restore_snapshot(snapshot.path, data_dir, name="no/slashes")
    assert sorted(p.name for p in data_dir.iterdir()) == before

    restored = restore_snapshot(snapshot.path, data_dir, force=True)
    assert restored.replaced
    assert sorted(p.name for p in data_dir.iterdir()) == before  # nothing left over
    catalog, collection = open_restored(data_dir, encoder, "small")
    assert ids_of(collection) == {r.id for r in rows[:10]}
    catalog.close()
