"""`semsearch copy`: collections moved between a data folder and PostgreSQL keep their ids,
texts, metadata, chunks, vectors and search results, nothing embedded again; an interrupted
copy resumes; counts that differ and bad sources or targets are clear errors."""

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import numpy as np
import psycopg
import pytest

from app.cli import main
from app.cli.output import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE
from app.models.encoder import Encoder
from app.store.catalog import Catalog
from app.store.embedded.collection import Collection
from app.store.interface import CollectionStore, DocumentRow, NewDocument
from app.store.postgres.catalog import PgCatalog
from app.store.postgres.collection import PgCollection
from app.store.postgres.database import Database
from tests.store.postgres.server import drop_database, fresh_database

TOPICS = ["cats", "soup", "rivers", "engines", "gardens", "music", "stars", "bread"]
QUERIES = ["a kitten asleep", "tomato and basil", "the night sky"]


def documents() -> list[NewDocument]:
    """Short and long documents (one chunk and several), metadata of every JSON kind."""
    docs = []
    for i in range(23):
        topic = TOPICS[i % len(TOPICS)]
        text = f"Document {i} is about {topic}. " + " ".join(
            f"Part {j} of document {i} goes on about {topic}." for j in range(12 if i % 3 else 1)
        )
        meta = {"topic": topic, "n": i, "even": i % 2 == 0, "tags": [topic, "all"]}
        docs.append(NewDocument(text, f"doc-{i:02d}", meta))
    docs.append(NewDocument("Ünïcode and emoji 🐈 stay as they are.", "doc/ü", {"lang": None}))
    return docs


@pytest.fixture
def source_dir(tmp_path: Path, encoder: Encoder, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A data folder with two collections, one multi-chunk; checkpoints go under tmp_path."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    data_dir = tmp_path / "source"
    catalog = Catalog(data_dir, encoder)
    catalog.create("docs").upsert(documents(), chunk_tokens=24, overlap=4)
    catalog.create("notes", index="hnsw").upsert(documents()[:5])
    catalog.close()
    return data_dir


@pytest.fixture
def database(postgres_url: str) -> Iterator[str]:
    """A fresh database, as a libpq connection string."""
    conninfo = fresh_database(postgres_url)
    yield conninfo
    drop_database(conninfo)


@pytest.fixture
def database_url(database: str) -> str:
    """The same database as a postgresql:// URL."""
    info = psycopg.conninfo.conninfo_to_dict(database)
    query = urlencode({k: v for k, v in info.items() if k not in ("user", "dbname", "password")})
    return f"postgresql://{quote(str(info.get('user', '')))}@/{info['dbname']}?{query}"


def export_all(collection: CollectionStore) -> list[DocumentRow]:
    rows: list[DocumentRow] = []
    after = 0
    while page := collection.export(after, 7):
        rows += [row for _, row in page]
        after = page[-1][0]
    return rows


def open_folder(data_dir: Path, name: str, encoder: Encoder) -> Collection:
    return Collection.open(data_dir / name, encoder)


def open_database(url: str, name: str, encoder: Encoder) -> tuple[PgCatalog, CollectionStore]:
    catalog = PgCatalog(Database(url, pool_size=2), encoder)
    catalog.open_all()
    return catalog, catalog.get(name)


def assert_same_rows(a: list[DocumentRow], b: list[DocumentRow], atol: float = 0.0) -> None:
    assert [r.id for r in a] == [r.id for r in b]
    for x, y in zip(a, b, strict=True):
        assert (x.text, x.metadata) == (y.text, y.metadata), x.id
        assert [(c.index, c.start, c.end) for c in x.chunks] == [
            (c.index, c.start, c.end) for c in y.chunks
        ], x.id
        for cx, cy in zip(x.chunks, y.chunks, strict=True):
            if atol:
                np.testing.assert_allclose(cx.vector, cy.vector, atol=atol)
            else:
                np.testing.assert_array_equal(cx.vector, cy.vector)


def ranked(collection: CollectionStore, encoder: Encoder, **kwargs: Any) -> list[list[Any]]:
    """Each query's hits as (id, score, chunk), equal scores in id order."""
    hits = collection.search(encoder.encode(QUERIES), 5, texts=QUERIES, **kwargs)
    return [
        sorted(((h.id, round(h.score, 4), h.chunk_index) for h in query), key=lambda t: -t[1])
        for query in hits
    ]


def test_a_round_trip_through_postgres_keeps_everything(
    source_dir: Path,
    database_url: str,
    database: str,
    tmp_path: Path,
    encoder: Encoder,
    capsys: pytest.CaptureFixture[str],
) -> None:
    back = tmp_path / "back"
    assert main(["copy", "--from", str(source_dir), "--to", database_url]) == EXIT_OK
    out = capsys.readouterr().out
    assert "copied collection 'docs'" in out and "copied collection 'notes'" in out
    assert "counts match" in out
    assert main(["copy", "--from", database, "--to", str(back)]) == EXIT_OK  # key=value form

    catalog, middle = open_database(database_url, "docs", encoder)
    original = open_folder(source_dir, "docs", encoder)
    returned = open_folder(back, "docs", encoder)
    try:
        rows = export_all(original)
        assert any(len(r.chunks) > 1 for r in rows)
        assert_same_rows(rows, export_all(middle))
        assert_same_rows(rows, export_all(returned))
        assert returned.config == original.config
        assert middle.config.model == original.config.model
        assert original.counts() == middle.counts() == returned.counts()
        assert ranked(returned, encoder) == ranked(original, encoder)
        assert ranked(middle, encoder) == ranked(original, encoder)
        for mode in ("lexical", "hybrid"):
            assert [[h[0] for h in q] for q in ranked(returned, encoder, mode=mode)] == [
                [h[0] for h in q] for q in ranked(original, encoder, mode=mode)
            ]
        notes = catalog.get("notes")
        assert notes.config.index == "hnsw" and notes.index_in_use == "hnsw"
    finally:
        original.close()
        returned.close()
        catalog.close()


def test_half_precision_on_postgres_keeps_vectors_within_its_precision(
    source_dir: Path, database_url: str, tmp_path: Path, encoder: Encoder
) -> None:
    back = tmp_path / "back"
    half = ["--index", "flat", "--index-options", '{"quantization": "half"}']
    command = ["copy", "--from", str(source_dir), "--to", database_url, "--collection", "docs"]
    assert main([*command, *half]) == EXIT_OK
    assert main(["copy", "--from", database_url, "--to", str(back)]) == EXIT_OK

    catalog, middle = open_database(database_url, "docs", encoder)
    original = open_folder(source_dir, "docs", encoder)
    returned = open_folder(back, "docs", encoder)
    try:
        assert isinstance(middle, PgCollection) and middle.spec.half
        assert returned.config.index_options.get("quantization") == "none"
        assert_same_rows(export_all(original), export_all(returned), atol=2e-3)
        assert [q[0][0] for q in ranked(returned, encoder)] == [
            q[0][0] for q in ranked(original, encoder)
        ]
    finally:
        original.close()
        returned.close()
        catalog.close()


def test_an_interrupted_copy_resumes_after_the_last_page(
    source_dir: Path,
    database_url: str,
    encoder: Encoder,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    written: list[str] = []
    store = PgCollection.store

    def store_then_stop(self: PgCollection, rows: list[DocumentRow], *args: Any) -> None:
        if len(written) == 10:
            raise KeyboardInterrupt
        store(self, rows, *args)
        written.extend(r.id for r in rows)

    command = ["copy", "--from", str(source_dir), "--to", database_url, "--collection", "docs"]
    monkeypatch.setattr(PgCollection, "store", store_then_stop)
    assert main([*command, "--batch", "5"]) == EXIT_INTERRUPTED
    assert "run the same command again to resume" in capsys.readouterr().err
    catalog, middle = open_database(database_url, "docs", encoder)
    try:
        assert middle.counts()["documents"] == 10
    finally:
        catalog.close()

    written.clear()
    monkeypatch.setattr(
        PgCollection,
        "store",
        lambda self, rows, *a: (store(self, rows, *a), written.extend(r.id for r in rows)),
    )
    assert main([*command, "--batch", "5"]) == EXIT_OK
    captured = capsys.readouterr()
    assert "resuming after 10 documents" in captured.err
    assert "14 this run, resumed after 10" in captured.out
    original = open_folder(source_dir, "docs", encoder)
    catalog, middle = open_database(database_url, "docs", encoder)
    try:
        rows = export_all(original)
        assert written == [r.id for r in rows[10:]], "only the pages not copied before"
        assert_same_rows(rows, export_all(middle))
    finally:
        original.close()
        catalog.close()


def test_a_checkpoint_the_target_no_longer_matches_starts_over(
    source_dir: Path, tmp_path: Path, encoder: Encoder, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "target"
    store = Collection.store
    calls: list[int] = []

    def store_then_stop(self: Collection, rows: list[DocumentRow], *args: Any) -> None:
        if calls:
            raise KeyboardInterrupt
        calls.append(len(rows))
        store(self, rows, *args)

    command = ["copy", "--from", str(source_dir), "--to", str(target), "--collection", "docs"]
    monkeypatch.setattr(Collection, "store", store_then_stop)
    assert main([*command, "--batch", "4"]) == EXIT_INTERRUPTED
    monkeypatch.setattr(Collection, "store", store)
    catalog = Catalog(target, encoder)
    catalog.open_all()
    catalog.delete("docs")
    catalog.close()
    assert main(command) == EXIT_OK
    original, copied = (
        open_folder(source_dir, "docs", encoder),
        open_folder(target, "docs", encoder),
    )
    try:
        assert_same_rows(export_all(original), export_all(copied))
    finally:
        original.close()
        copied.close()


def test_counts_that_differ_fail_the_copy(
    source_dir: Path, tmp_path: Path, encoder: Encoder, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "target"
    command = ["copy", "--from", str(source_dir), "--to", str(target), "--collection", "notes"]
    assert main(command) == EXIT_OK
    catalog = Catalog(source_dir, encoder)
    catalog.open_all()
    catalog.get("notes").delete(["doc-00"])
    catalog.close()
    assert main(command) == EXIT_FAILED
    err = capsys.readouterr().err
    assert "counts differ: source 4 documents" in err and "target 5 documents" in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--from", "{tmp}/nowhere", "--to", "{tmp}/t"], "--from: no data folder at"),
        (["--from", "{tmp}/empty", "--to", "{tmp}/t"], "holds no collections"),
        (["--from", "{src}", "--to", "{src}"], "--to: the same place as --from"),
        (["--from", "{src}", "--to", "{tmp}/t", "--collection", "nope"], "'nope' is not a"),
        (["--from", "{src}", "--to", "{tmp}/t", "--collection", "../x"], "--collection: "),
        (["--from", "{src}", "--to", "{tmp}/file"], "is a file, not a data folder"),
        (["--from", "mysql://db/x", "--to", "{tmp}/t"], "mysql:// is not supported"),
        (["--from", "{src}", "--to", "{tmp}/t", "--index", "nope"], "--index: index: 'nope'"),
        (
            ["--from", "{src}", "--to", "{tmp}/t", "--index", "hnsw", "--index-options", "[1]"],
            "--index-options: must be a JSON object",
        ),
        (["--from", "{src}", "--to", "{tmp}/t", "--batch", "0"], "--batch: 0 is out of range"),
    ],
)
def test_a_bad_source_or_target_is_a_usage_error(
    args: list[str],
    message: str,
    source_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "file").write_text("not a folder")
    filled = [a.format(tmp=tmp_path, src=source_dir) for a in args]
    try:
        code = main(["copy", *filled])
    except SystemExit as exc:  # argparse's own errors
        code = int(exc.code or 0)
    assert code == EXIT_USAGE
    assert message in capsys.readouterr().err
    assert not (tmp_path / "t" / "docs").exists()


def test_an_unreachable_database_is_named(
    source_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    nowhere = f"postgresql://postgres@/postgres?host={tmp_path}"  # no server on that socket
    assert main(["copy", "--from", str(source_dir), "--to", nowhere]) == EXIT_FAILED
    assert "unavailable" in capsys.readouterr().err
    assert main(["copy", "--from", nowhere, "--to", str(tmp_path / "t")]) == EXIT_FAILED
    assert "--from: postgres on" in capsys.readouterr().err


def test_a_database_without_collections_is_a_usage_error(
    database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["copy", "--from", database_url, "--to", str(tmp_path / "t")]) == EXIT_USAGE
    assert "holds no semsearch collections" in capsys.readouterr().err


def test_a_target_collection_of_another_encoder_is_refused(
    source_dir: Path, database_url: str, encoder: Encoder, capsys: pytest.CaptureFixture[str]
) -> None:
    from dataclasses import replace

    catalog = PgCatalog(Database(database_url, pool_size=2), encoder)
    catalog.open_all()
    source = open_folder(source_dir, "docs", encoder)
    catalog.create_from_config(replace(source.config, model="another-encoder"))
    source.close()
    catalog.close()
    command = ["copy", "--from", str(source_dir), "--to", database_url, "--collection", "docs"]
    assert main(command) == EXIT_FAILED
    assert "exists on the target with encoder 'another-encoder'" in capsys.readouterr().err
