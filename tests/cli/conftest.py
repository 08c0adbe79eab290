"""What the command tests share: a real keyed server, a folder of every kind of file, and ways
to run `semsearch ingest` and read a collection back."""

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from app.cli import main
from app.store.embedded.docstore import DocStore
from tests.helpers import ServerProcess, all_ids

MAX_TEXT_CHARS = 5000
CLI_KEY = "cli-test-key-0123456789"
AUTH = {"Authorization": f"Bearer {CLI_KEY}"}
EXPECTED_IDS = sorted(
    [
        "docs/README.md",
        "docs/cats.txt",
        "docs/faq.jsonl#line=1",
        "docs/faq.jsonl#line=2",
        "docs/guide/README.md",
        "docs/table.csv#row=1",
        "docs/table.csv#row=2",
    ]
)


@pytest.fixture(scope="package")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """`semsearch serve` with a write key and a small text limit, for every command test."""
    data_dir = tmp_path_factory.mktemp("cli-server") / "data"
    env = {
        "SEMSEARCH_MAX_TEXT_CHARS": str(MAX_TEXT_CHARS),
        "SEMSEARCH_API_KEYS": f"{CLI_KEY}:write",
    }
    proc = ServerProcess(data_dir, env=env)
    proc.start()
    yield proc
    assert proc.stop() == 0, proc.log()


@pytest.fixture
def docs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder tree with every kind of file the walk meets; the --url state goes to tmp_path."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    root = tmp_path / "docs"
    (root / "guide").mkdir(parents=True)
    (root / ".hidden").mkdir()
    (root / "cats.txt").write_text("Cats sleep all day on the warm mat.\n")
    (root / "README.md").write_text("# Project\n\nAn overview of the project.\n")
    (root / "guide" / "README.md").write_text("# Guide\n\nHow to reset your password.\n")
    (root / "faq.jsonl").write_text(
        '{"text": "Dogs like long walks in the park."}\n'
        '{"text": "Parrots can learn to speak.", "metadata": {"lang": "en"}}\n'
        "this line is not JSON\n"
    )
    (root / "table.csv").write_text("text,year\nApples grow on trees.,2020\nPears too.,2021\n")
    (root / ".hidden" / "secret.txt").write_text("never ingested")
    (root / "image.png").write_bytes(b"\x89PNG\r\n")
    (root / "broken.pdf").write_bytes(b"this is not a PDF at all")
    return root


def ingest_url(server: ServerProcess, collection: str, *args: str) -> int:
    command = ["ingest", *args, "--collection", collection, "--url", server.url]
    return main([*command, "--api-key", CLI_KEY])


def ids_over_http(server: ServerProcess, collection: str) -> list[str]:
    with httpx.Client(base_url=server.url, headers=AUTH) as client:
        ids, _ = all_ids(client, collection, 100)
    return sorted(ids)


def text_over_http(server: ServerProcess, collection: str, doc_id: str) -> str:
    url = f"{server.url}/collections/{collection}/documents?limit=100"
    page = httpx.get(url, headers=AUTH).json()
    return next(str(d["text"]) for d in page["documents"] if d["id"] == doc_id)


def ids_in_folder(data_dir: Path, collection: str) -> list[str]:
    """The ids stored in a data folder's collection, read from its SQLite file."""
    store = DocStore(data_dir / collection / "docstore.sqlite", 0)
    try:
        return sorted(d.id for d in store.page(100, 0))
    finally:
        store.close()
